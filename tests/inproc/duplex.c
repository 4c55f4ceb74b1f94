/*
 * Full-duplex bulk transfer (API §19.2) over argv[2], the two ends on two
 * threads: each sends argv[3] MiB (default 32) in random-sized evpl_send()
 * calls (1 byte .. 64 KiB on streams, 1 .. 4000 bytes as messages) while
 * receiving; every byte must arrive once, in order, and on message protocols
 * every send must arrive as one message of its size.  Senders keep at most
 * argv[4] MiB (default 8) unacknowledged by SENT notifications, 0 for no
 * limit: both sides then queue their whole flood at once and only the
 * transport's flow control (which holds sends back while the peer's queue
 * is full) paces them, in both directions at the same time.  sent.bytes and
 * sent.msgs must add up exactly.
 */
#include <stdlib.h>

#include "transport_test.h"

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static uint64_t              total;
static uint64_t              window;
static int                   stream;
static atomic_int            client_finished;

struct side {
    const char       *name;
    unsigned int      seed_out, seed_in;
    struct evpl      *evpl;
    struct evpl_bind *bind;
    unsigned int      rng;
    uint64_t          sent, acked, received;
    uint64_t          sends, acked_msgs, msgs_in;
    atomic_int        connected, done_rx, disconnected;
    unsigned char    *buf;
};

static struct side server_side = {.name = "server", .seed_out = 11, .seed_in = 22, .rng = 1};
static struct side client_side = {.name = "client", .seed_out = 22, .seed_in = 11, .rng = 2};

static unsigned int
rnd(struct side *s)
{
    s->rng = s->rng * 1103515245u + 12345u;
    return s->rng >> 8;
}

static void
check_bytes(struct side *s, const unsigned char *p, unsigned int len)
{
    for (unsigned int i = 0; i < len; i++) {
        if (p[i] != tt_pattern(s->received + i, s->seed_in)) {
            test_fail("%s: byte %llu is %u, want %u", s->name,
                      (unsigned long long) (s->received + i), p[i],
                      tt_pattern(s->received + i, s->seed_in));
        }
    }
    s->received += len;
    test_assert(s->received <= total);
    if (s->received == total) {
        atomic_store(&s->done_rx, 1);
    }
}

static void
pump(struct side *s)
{
    unsigned int max = stream ? 65536 : 4000;

    while (s->bind && s->sent < total && (window == 0 || s->sent - s->acked < window)) {
        unsigned int len = 1 + rnd(s) % max;

        if (len > total - s->sent) {
            len = total - s->sent;
        }
        for (unsigned int i = 0; i < len; i++) {
            s->buf[i] = tt_pattern(s->sent + i, s->seed_out);
        }
        evpl_send(s->evpl, s->bind, s->buf, len);
        s->sent += len;
        s->sends++;
    }
}

static void
side_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct side      *s = arg;
    struct evpl_iovec iov[16];
    int               n, len;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_store(&s->connected, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recvv(evpl, bind, iov, 16, 1 << 20, &len)) > 0) {
            for (int i = 0; i < n; i++) {
                check_bytes(s, iov[i].data, iov[i].length);
                evpl_iovec_release(evpl, &iov[i]);
            }
        }
        break;
    case EVPL_NOTIFY_RECV_MSG:
        test_assert(!stream);
        test_assert(notify->recv_msg.length >= 1 && notify->recv_msg.length <= 4000);
        s->msgs_in++;
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            check_bytes(s, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
            evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
        }
        break;
    case EVPL_NOTIFY_SENT:
        s->acked += notify->sent.bytes;
        s->acked_msgs += notify->sent.msgs;
        test_assert(s->acked <= s->sent);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&s->disconnected, 1);
        break;
    default:
        test_fail("%s: unexpected notification %u", s->name, notify->notify_type);
    }
}

/* Drive one side until it has sent and received everything. */
static void
side_run(struct side *s)
{
    double start = tt_now();

    while (!atomic_load(&s->done_rx) || s->acked < total) {
        pump(s);
        evpl_continue(s->evpl);
        test_assert_msg(tt_now() - start < 240, "%s: timed out (sent %llu acked %llu rx %llu)",
                        s->name, (unsigned long long) s->sent, (unsigned long long) s->acked,
                        (unsigned long long) s->received);
        test_assert(!atomic_load(&s->disconnected));
    }
    test_assert_eq(s->acked, total);
    if (!stream) {
        test_assert_eq(s->acked_msgs, s->sends);
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    (void) segment_callback;
    (void) private_data;
    *notify_callback = side_notify;
    *conn_private    = &server_side;
    server_side.evpl = evpl;
    server_side.bind = bind;
    evpl_bind_request_send_notifications(evpl, bind);
}

static void *
client_thread(void *arg)
{
    struct side *s = arg;

    s->evpl = tt_loop_create();
    s->bind = evpl_connect(s->evpl, protocol, NULL, endpoint, side_notify, NULL, s);
    test_assert(s->bind != NULL);
    evpl_bind_request_send_notifications(s->evpl, s->bind);
    side_run(s);
    atomic_store(&client_finished, 1);
    /* The server closes once both sides are done. */
    tt_run_until(s->evpl, &s->disconnected, 30);
    evpl_destroy(s->evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol = tt_protocol(argc, argv, 2, "STREAM_INPROC");
    stream   = evpl_protocol_is_stream(protocol);
    total    = test_transfer_bytes((uint64_t) (argc > 3 ? atoi(argv[3]) : 32) << 20, 32ull << 20);
    window   = (uint64_t) (argc > 4 ? atoi(argv[4]) : 8) << 20;

    server_side.buf  = malloc(65536);
    client_side.buf  = malloc(65536);
    server_side.evpl = tt_loop_create();
    listener         = evpl_listener_create();
    binding          = evpl_listener_attach(server_side.evpl, listener, attach_cb, NULL);
    endpoint         = tt_listen(listener, protocol, "duplex");

    test_assert(pthread_create(&thread, NULL, client_thread, &client_side) == 0);
    side_run(&server_side);
    tt_run_until(server_side.evpl, &client_finished, 60);

    evpl_close(server_side.evpl, server_side.bind);
    tt_run_until(server_side.evpl, &server_side.disconnected, 30);
    pthread_join(thread, NULL);
    test_assert(atomic_load(&client_side.disconnected));

    evpl_listener_destroy(listener);
    evpl_listener_detach(server_side.evpl, binding);
    evpl_destroy(server_side.evpl);
    evpl_endpoint_close(endpoint);
    free(server_side.buf);
    free(client_side.buf);
    return 0;
}
