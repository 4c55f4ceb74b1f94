/*
 * A peer that floods faster than the application reads: the client queues
 * 96 MiB while the server application ignores RECV_DATA.  The server must
 * stop reading once its receive buffer is full (bounded memory), so the
 * client's SENT progress stalls well short of the total (the kernel windows
 * push back); then the server drains from a timer and every byte arrives in
 * order and the client's SENT total reaches exactly what it queued.
 */
#include "net_test.h"

#define TOTAL (96u << 20)
#define CHUNK (1u << 20)

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static struct evpl_bind     *server_bind;
static atomic_int            draining, client_stalled, server_done, client_done;
static atomic_ullong         client_reported;
static uint64_t              received;

static void
drain(struct evpl *evpl)
{
    static unsigned char buf[65536];
    int                  n;

    while (server_bind && (n = evpl_recv(evpl, server_bind, buf, sizeof(buf), 0)) > 0) {
        for (int i = 0; i < n; i++) {
            if (buf[i] != (unsigned char) (received + i)) {
                test_fail("byte %llu corrupted", (unsigned long long) (received + i));
            }
        }
        received += n;
    }
    if (received == TOTAL) {
        atomic_store(&server_done, 1);
    }
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        if (atomic_load(&draining)) {
            drain(evpl);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        if (bind == server_bind) {
            server_bind = NULL;
        }
        break;
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    server_bind      = bind;
    *notify_callback = server_notify;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_SENT) {
        atomic_fetch_add(&client_reported, notify->sent.bytes);
    }
}

static void *
client_thread(void *arg)
{
    struct evpl       *evpl = net_loop_create();
    struct evpl_bind  *bind;
    unsigned char     *chunk = malloc(CHUNK);
    unsigned long long last  = 0;
    int                still = 0;

    (void) arg;
    for (unsigned int i = 0; i < CHUNK; i++) {
        chunk[i] = (unsigned char) i; /* CHUNK is a multiple of 256 */
    }
    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    evpl_bind_request_send_notifications(evpl, bind);
    for (unsigned int off = 0; off < TOTAL; off += CHUNK) {
        evpl_send(evpl, bind, chunk, CHUNK);
    }
    free(chunk);

    /* wait until progress stops (the server is not reading) */
    while (!atomic_load(&client_stalled)) {
        evpl_continue(evpl);
        unsigned long long now = atomic_load(&client_reported);
        still                  = (now == last && now > 0) ? still + 1 : 0;
        last                   = now;
        if (still > 20) { /* ~1 s without progress (50 ms waits) */
            test_assert_msg(now < TOTAL, "sender was never pushed back");
            atomic_store(&client_stalled, 1);
        }
    }
    while (atomic_load(&client_reported) < TOTAL) {
        evpl_continue(evpl);
    }
    test_assert_eq(atomic_load(&client_reported), TOTAL);
    evpl_close(evpl, bind);
    atomic_store(&client_done, 1);
    evpl_destroy(evpl);
    return NULL;
}

static struct evpl_timer drain_timer;

static void
drain_tick(struct evpl *evpl, struct evpl_timer *timer)
{
    (void) timer;
    drain(evpl);
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl                  *evpl;
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "flood");

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    pthread_create(&thread, NULL, client_thread, NULL);
    net_run_until(evpl, &client_stalled, 30);
    /* the server buffered no more than its high-water mark plus one read */
    test_assert_msg(atomic_load(&client_reported) < TOTAL / 2, "client handed over %llu bytes",
                    (unsigned long long) atomic_load(&client_reported));

    atomic_store(&draining, 1);
    evpl_add_timer(evpl, &drain_timer, drain_tick, 10000);
    net_run_until(evpl, &server_done, 60);
    evpl_remove_timer(evpl, &drain_timer);
    pthread_join(thread, NULL);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return 0;
}
