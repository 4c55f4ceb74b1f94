/*
 * Teardown under traffic over argv[2] (STREAM_INPROC or DATAGRAM_INPROC):
 * SERVERS server loops (a thread pool attached to one listener) echo
 * everything they receive, while rounds of CLIENTS client threads, FLOWS
 * connections each, send continuously and destroy their loop abruptly
 * (evpl_destroy() with every connection open) as soon as some echo came
 * back -- so server loops are delivering and flushing on connections whose
 * peer loop is being torn down on another thread.  argv[3] is the number of
 * rounds (default 150).  Every accepted connection must end with
 * DISCONNECTED; under ASan/TSan the run must be clean (it once read the
 * destroyed client loop's wakeup state from a server flush).
 */
#include <stdlib.h>

#include "transport_test.h"

#define SERVERS 3
#define CLIENTS 3
#define FLOWS   4
#define CHUNK   4096
#define ENOUGH  (64u << 10) /* echo bytes a client waits for before it dies */
#define CAP     (1u << 20)  /* bytes one flow sends at most */

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static atomic_int            server_attached, server_disconnected;

struct client {
    struct evpl      *evpl;
    struct evpl_bind *bind[FLOWS];
    uint64_t          sent[FLOWS];
    uint64_t          received;
    unsigned int      round;
};

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct evpl_iovec iov[16];
    int               n, len;

    (void) arg;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        break;
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recvv(evpl, bind, iov, 16, 1 << 20, &len)) > 0) {
            evpl_sendv(evpl, bind, iov, n, len, EVPL_SEND_FLAG_TAKE_REF);
        }
        break;
    case EVPL_NOTIFY_RECV_MSG:
        evpl_sendv(evpl, bind, notify->recv_msg.iovec, notify->recv_msg.niov,
                   notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disconnected, 1);
        break;
    default:
        test_fail("server: unexpected notification %u", notify->notify_type);
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) segment_callback;
    (void) private_data;
    *notify_callback = server_notify;
    *conn_private    = NULL;
    atomic_fetch_add(&server_attached, 1);
}

static void *
server_init(struct evpl *evpl, void *private_data)
{
    return evpl_listener_attach(evpl, private_data, attach_cb, NULL);
}

static void
server_shutdown(struct evpl *evpl, void *private_data)
{
    evpl_listener_detach(evpl, private_data);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct client *c = arg;
    char           buf[16384];
    int            n;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
    case EVPL_NOTIFY_DISCONNECTED:
        break;
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            c->received += n;
        }
        break;
    case EVPL_NOTIFY_RECV_MSG:
        c->received += notify->recv_msg.length;
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    default:
        test_fail("client: unexpected notification %u", notify->notify_type);
    }
}

static void *
client_thread(void *arg)
{
    struct client *c = arg;
    char           chunk[CHUNK];
    double         start;

    memset(chunk, 0x5a ^ (int) c->round, sizeof(chunk));
    c->evpl = tt_loop_create();
    for (int f = 0; f < FLOWS; f++) {
        c->bind[f] = evpl_connect(c->evpl, protocol, NULL, endpoint, client_notify, NULL, c);
        test_assert(c->bind[f] != NULL);
    }
    start = tt_now();
    while (c->received < ENOUGH) {
        for (int f = 0; f < FLOWS; f++) {
            if (c->sent[f] < CAP) {
                /* Vary the size so messages and flush batches differ. */
                unsigned int len = 1 + (unsigned int) ((c->sent[f] * 7 + c->round) % CHUNK);

                evpl_send(c->evpl, c->bind[f], chunk, len);
                c->sent[f] += len;
            }
        }
        evpl_continue(c->evpl);
        test_assert_msg(tt_now() - start < 60, "client: no echo (received %llu)",
                        (unsigned long long) c->received);
    }
    /* Die with every connection open and echoes still on their way. */
    evpl_destroy(c->evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_listener   *listener;
    struct evpl_threadpool *servers;
    int                     rounds;
    double                  start;
    /*
     * KNOWN (issue 18): a loop destroyed while a peer loop still holds the
     * buffers it sent (in flight on the in-process transport) reports them
     * as leaked by the application.  The report is misleading, not a leak
     * of this test; expected until the library attributes such buffers to
     * the receiving loop.
     */
    evpl_test_log_expect("still holds references");

    evpl_test_init(argc, argv);
    protocol = tt_protocol(argc, argv, 2, "STREAM_INPROC");
    rounds   = argc > 3 ? atoi(argv[3]) : 150;

    listener = evpl_listener_create();
    servers  = evpl_threadpool_create(NULL, SERVERS, server_init, server_shutdown, listener);
    endpoint = tt_listen(listener, protocol, "teardown");

    for (int r = 0; r < rounds; r++) {
        struct client clients[CLIENTS];
        pthread_t     threads[CLIENTS];

        memset(clients, 0, sizeof(clients));
        for (int i = 0; i < CLIENTS; i++) {
            clients[i].round = (unsigned int) r;
            test_assert(pthread_create(&threads[i], NULL, client_thread, &clients[i]) == 0);
        }
        for (int i = 0; i < CLIENTS; i++) {
            pthread_join(threads[i], NULL);
        }
    }

    /* Every connection reached a server loop and ended there. */
    start = tt_now();
    while (atomic_load(&server_disconnected) < rounds * CLIENTS * FLOWS) {
        test_assert_msg(tt_now() - start < 30, "servers: %d of %d connections still open",
                        rounds * CLIENTS * FLOWS - atomic_load(&server_disconnected),
                        rounds * CLIENTS * FLOWS);
        usleep(1000);
    }
    test_assert_eq(atomic_load(&server_attached), rounds * CLIENTS * FLOWS);

    evpl_threadpool_destroy(servers);
    evpl_listener_destroy(listener);
    evpl_endpoint_close(endpoint);
    return 0;
}
