/*
 * Traffic spinning (src/core/traffic.c, contract 11.2): a loop that owns a
 * connection spins on its wait mechanism while messages flow -- pure poll
 * passes, which skip the core wait, happen -- and goes back to sleeping in
 * the kernel once the traffic stops; a loop configured with poll_mode 0
 * never spins.  Passes are counted with the loop hooks: every pass ends with
 * iteration_end, only full passes run pre_wait.
 *
 * The server runs on its own thread; the client loop on the main thread does
 * ping-pong of 64-byte messages, one in flight.  Once the client has closed
 * its connection the server loop, left without a traffic poll, must sleep
 * too (activity latched just before the poll went away once kept its wait
 * at timeout 0 for good: an idle server busy-looping).
 */
#include "net_test.h"

#define MSG_SIZE 64

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static atomic_int            server_stop;
static atomic_ulong          server_passes;

struct counts {
    uint64_t passes;
    uint64_t full;
};

static void
count_pass(struct evpl *evpl, void *data)
{
    (void) evpl;
    ((struct counts *) data)->passes++;
}

static void
count_full(struct evpl *evpl, void *data)
{
    (void) evpl;
    ((struct counts *) data)->full++;
}

/* ---- server: echo every whole message ------------------------------------ */

static void
server_pass(struct evpl *evpl, void *data)
{
    (void) evpl;
    (void) data;
    atomic_fetch_add(&server_passes, 1);
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[MSG_SIZE];

    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        while (evpl_recv(evpl, bind, buf, MSG_SIZE, EVPL_RECV_FLAG_ALL_OR_NONE) == MSG_SIZE) {
            evpl_send(evpl, bind, buf, MSG_SIZE);
        }
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void *
server_thread(void *arg)
{
    struct evpl                  *evpl = net_loop_create();
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_loop_hooks        hooks = {server_pass, NULL, NULL, NULL};
    atomic_int                   *ready = arg;

    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);
    evpl_set_loop_hooks(evpl, &hooks);
    atomic_store(ready, 1);
    while (!atomic_load(&server_stop)) {
        evpl_continue(evpl);
    }
    evpl_set_loop_hooks(evpl, NULL);
    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return NULL;
}

/* ---- client ---------------------------------------------------------------- */

struct client {
    atomic_int connected;
    atomic_int replies;
    int        disconnected;
};

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct client *c = data;
    char           buf[MSG_SIZE];

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_store(&c->connected, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        while (evpl_recv(evpl, bind, buf, MSG_SIZE, EVPL_RECV_FLAG_ALL_OR_NONE) == MSG_SIZE) {
            for (int i = 0; i < MSG_SIZE; i++) {
                test_assert_eq((unsigned char) buf[i], (unsigned char) (i + 1));
            }
            atomic_fetch_add(&c->replies, 1);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        c->disconnected = 1;
        break;
    }
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/*
 * Ping-pong for at least `rounds` round trips and 200 ms on a fresh loop
 * (poll_mode as given), then idle for 400 ms.  Returns the pure passes seen
 * during the traffic and the passes of the last 300 ms of idleness.
 */
static void
run_client(int poll_mode, int rounds, uint64_t *pure_busy, uint64_t *idle_passes)
{
    struct evpl_thread_config *config = evpl_thread_config_init();
    struct counts              counts = {0, 0};
    struct evpl_loop_hooks     hooks  = {count_pass, count_full, NULL, &counts};
    struct client              c;
    struct evpl               *evpl;
    struct evpl_bind          *bind;
    char                       msg[MSG_SIZE];
    uint64_t                   start, idle_from, before;

    memset(&c, 0, sizeof(c));
    for (int i = 0; i < MSG_SIZE; i++) {
        msg[i] = (char) (i + 1);
    }
    evpl_thread_config_set_wait_ms(config, 50);
    evpl_thread_config_set_poll_mode(config, poll_mode);
    evpl = evpl_create(config);
    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, &c);
    test_assert(bind != NULL);
    net_run_until(evpl, &c.connected, 20);

    evpl_set_loop_hooks(evpl, &hooks);
    start = now_ms();
    for (int sent = 0; sent < rounds || now_ms() - start < 200; sent++) {
        evpl_send(evpl, bind, msg, MSG_SIZE);
        while (atomic_load(&c.replies) <= sent) {
            evpl_continue(evpl);
            test_assert(now_ms() - start < 30000);
        }
    }
    *pure_busy = counts.passes - counts.full;

    /* Traffic stopped: after spin_ns (1 ms by default) the loop must sleep,
     * waking only for its 50 ms wait_ms. */
    idle_from = now_ms();
    before    = 0;
    while (now_ms() - idle_from < 400) {
        if (before == 0 && now_ms() - idle_from >= 100) {
            before = counts.passes;
        }
        evpl_continue(evpl);
    }
    *idle_passes = counts.passes - before;

    evpl_set_loop_hooks(evpl, NULL);
    evpl_close(evpl, bind);
    while (!c.disconnected) {
        evpl_continue(evpl);
    }
    evpl_destroy(evpl);
}

int
main(int argc, char **argv)
{
    atomic_int ready = 0;
    pthread_t  thread;
    uint64_t   pure, idle;
    uint64_t   before;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "spin");

    pthread_create(&thread, NULL, server_thread, &ready);
    while (!atomic_load(&ready)) {
        usleep(1000);
    }

    /* Default hybrid mode: spins under traffic, sleeps when it stops. */
    run_client(1, 5000, &pure, &idle);
    test_assert(pure > 0);
    /* Sleeping, the loop runs ~6 passes in 300 ms (50 ms wait_ms); a
     * spinning one would run hundreds of thousands. */
    test_assert(idle < 100);

    /* The client's connection is gone (run_client waited for DISCONNECTED;
     * the server sees the hang-up within a pass or two): after 100 ms the
     * server loop sleeps, ~6 passes in 300 ms, not millions. */
    usleep(100000);
    before = atomic_load(&server_passes);
    usleep(300000);
    test_assert(atomic_load(&server_passes) - before < 100);

    /* poll_mode 0: never a pure poll pass. */
    run_client(0, 2000, &pure, &idle);
    test_assert_eq(pure, 0);
    test_assert(idle < 100);

    atomic_store(&server_stop, 1);
    pthread_join(thread, NULL);
    evpl_endpoint_close(endpoint);
    return 0;
}
