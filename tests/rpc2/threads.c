/*
 * One server served by two attached loops (a thread pool), four client
 * threads each with its own loop and connection, 400 echo calls each with
 * up to 16 outstanding, every reply checked byte for byte.  The listener
 * spreads the connections over both server loops, and each server loop
 * sees ACCEPTED and DISCONNECTED for its own connections.  Protocol from
 * argv[2].  Meant for TSan too.
 */
#include "net_test.h"
#include "echo_prog.h"

#define NCLIENTS 4
#define NCALLS   400
#define WINDOW   16

static enum evpl_protocol_id    protocol;
static struct evpl_endpoint    *ep;
static struct evpl_rpc2_server *server;
static struct ECHO_V1           sprog, cprog;
static atomic_int               server_index, accepted[2], server_gone[2];

struct server_loop {
    struct evpl_rpc2_thread *rpc2;
    int                      index;
};

static void
server_notify(struct evpl_rpc2_thread *thread, struct evpl_rpc2_conn *conn,
              struct evpl_rpc2_notify *n, void *private_data)
{
    struct server_loop *loop = private_data;

    (void) thread;
    (void) conn;
    if (n->notify_type == EVPL_RPC2_NOTIFY_ACCEPTED) {
        atomic_fetch_add(&accepted[loop->index], 1);
    } else if (n->notify_type == EVPL_RPC2_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&server_gone[loop->index], 1);
    }
}

static void
server_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            echo_iovecr *arg, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct server_loop *loop = private_data;

    (void) cred;
    test_assert(conn->server_private_data == loop);
    test_assert(send_reply_ECHO(e, NULL, arg, encoding) == 0);
}

static void *
server_init(struct evpl *evpl, void *private_data)
{
    struct server_loop *loop = calloc(1, sizeof(*loop));

    (void) private_data;
    loop->index = atomic_fetch_add(&server_index, 1);
    loop->rpc2  = evpl_rpc2_thread_init(evpl, NULL, 0, server_notify, NULL);
    evpl_rpc2_server_attach(loop->rpc2, server, loop);
    return loop;
}

static void
server_shutdown(struct evpl *evpl, void *private_data)
{
    struct server_loop *loop = private_data;

    (void) evpl;
    evpl_rpc2_server_detach(loop->rpc2, server);
    evpl_rpc2_thread_destroy(loop->rpc2);
    free(loop);
}

struct client {
    pthread_t    tid;
    int          id;
    struct evpl *evpl;
    int          issued, completed, connected;
};

static uint8_t
pattern(uint32_t seed, uint32_t i)
{
    return (uint8_t) (i * 7u + seed);
}

static void issue(struct client *c, struct evpl_rpc2_conn *conn);

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status,
          void *private_data)
{
    struct client *c    = private_data;
    uint32_t       seed = (uint32_t) (c->id * 100000 + c->completed);
    uint32_t       size = (seed * 2654435761u) % 70000u, off = 0;

    (void) verf;
    test_assert_eq(status, 0);
    test_assert_eq(res->length, size);
    for (int i = 0; i < res->niov; i++) {
        for (uint32_t j = 0; j < res->iov[i].length; j++, off++) {
            test_assert_eq(((uint8_t *) res->iov[i].data)[j], pattern(seed, off));
        }
        evpl_iovec_release(e, &res->iov[i]);
    }
    c->completed++;
}

/* Replies come back in order on one connection, so completion n checks call n. */
static void
issue(struct client *c, struct evpl_rpc2_conn *conn)
{
    uint32_t          seed = (uint32_t) (c->id * 100000 + c->issued);
    uint32_t          size = (seed * 2654435761u) % 70000u, off = 0;
    struct evpl_iovec iov[8];
    echo_iovecr       arg = {.iov = iov, .niov = 0, .length = size};

    if (size) {
        arg.niov = evpl_iovec_alloc(c->evpl, size, 0, 8, 0, iov);
        test_assert(arg.niov > 0);
        for (int i = 0; i < arg.niov; i++) {
            for (uint32_t j = 0; j < iov[i].length; j++) {
                ((uint8_t *) iov[i].data)[j] = pattern(seed, off++);
            }
        }
    }
    c->issued++;
    send_call_ECHO(&cprog.rpc2, c->evpl, conn, NULL, &arg, echo_done, c);
}

static void
client_notify(struct evpl_rpc2_thread *thread, struct evpl_rpc2_conn *conn,
              struct evpl_rpc2_notify *n, void *private_data)
{
    struct client *c = private_data;

    (void) thread;
    (void) conn;
    if (n->notify_type == EVPL_RPC2_NOTIFY_CONNECTED) {
        c->connected = 1;
    }
}

static void *
client_main(void *arg)
{
    struct client            *c        = arg;
    struct evpl_rpc2_program *progs[1] = {&cprog.rpc2};
    struct evpl_rpc2_thread  *rpc2;
    struct evpl_rpc2_conn    *conn;
    struct timespec           s, n;

    c->evpl = net_loop_create();
    rpc2    = evpl_rpc2_thread_init(c->evpl, progs, 1, client_notify, c);
    conn    = evpl_rpc2_client_connect(rpc2, protocol, ep, NULL, 0, NULL);
    test_assert(conn != NULL);
    clock_gettime(CLOCK_MONOTONIC, &s);
    while (c->completed < NCALLS) {
        while (c->issued < NCALLS && c->issued - c->completed < WINDOW) {
            issue(c, conn);
        }
        evpl_continue(c->evpl);
        clock_gettime(CLOCK_MONOTONIC, &n);
        test_assert_msg(n.tv_sec - s.tv_sec < 100, "client %d timed out at %d", c->id,
                        c->completed);
    }
    test_assert(c->connected);
    evpl_rpc2_client_disconnect(rpc2, conn);
    evpl_rpc2_thread_destroy(rpc2);
    evpl_destroy(c->evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1] = {&sprog.rpc2};
    struct evpl_threadpool   *pool;
    static struct client      clients[NCLIENTS];
    struct timespec           s, n;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    ECHO_V1_init(&sprog);
    ECHO_V1_init(&cprog);
    sprog.recv_call_ECHO = server_echo;
    server               = evpl_rpc2_server_init(progs, 1);
    ep                   = net_endpoint(protocol, "rpc2-threads");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    pool = evpl_threadpool_create(NULL, 2, server_init, server_shutdown, NULL);

    for (int i = 0; i < NCLIENTS; i++) {
        clients[i].id = i;
        test_assert(pthread_create(&clients[i].tid, NULL, client_main, &clients[i]) == 0);
    }
    for (int i = 0; i < NCLIENTS; i++) {
        pthread_join(clients[i].tid, NULL);
        test_assert_eq(clients[i].completed, NCALLS);
    }
    /* Every server connection goes down once its client has gone. */
    clock_gettime(CLOCK_MONOTONIC, &s);
    while (atomic_load(&server_gone[0]) + atomic_load(&server_gone[1]) < NCLIENTS) {
        usleep(1000);
        clock_gettime(CLOCK_MONOTONIC, &n);
        test_assert_msg(n.tv_sec - s.tv_sec < 20, "server connections still up");
    }
    test_assert_eq(atomic_load(&accepted[0]) + atomic_load(&accepted[1]), NCLIENTS);
    test_assert(atomic_load(&accepted[0]) > 0 && atomic_load(&accepted[1]) > 0);
    evpl_threadpool_destroy(pool);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    return 0;
}
