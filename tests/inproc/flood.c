/*
 * Flow control over argv[2] (STREAM_INPROC or DATAGRAM_INPROC): a sender on
 * its own thread floods argv[3] MiB (default 256) in random-sized sends
 * (1 byte .. 64 KiB), keeping up to 64 MiB unacknowledged by SENT, into a
 * receiver that does not read for a while.  What the sender sees reported
 * SENT must stall at the documented bound instead of growing with the
 * flood:
 *   1. the receiver's loop does not run: at most the 16 MiB high-water
 *      mark (plus one message) is handed over;
 *   2. streams only: the loop runs but the application does not read: at
 *      most three marks (receive buffer, and the queue behind it);
 * then the receiver reads everything and every byte must arrive once and
 * in order (one message per send, of its size, on DATAGRAM_INPROC), with
 * SENT adding up to the whole flood.
 */
#include <stdlib.h>

#include "transport_test.h"

#define HIGH_WATER (16ull << 20) /* documented with the protocols in evpl_core.h */
#define MAX_SEND   65536u
#define WINDOW     (64ull << 20)
#define SETTLE_S   0.3

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static int                   stream;
static uint64_t              total;

struct sender {
    struct evpl      *evpl;
    struct evpl_bind *bind;
    unsigned int      rng;
    uint64_t          sent, sends;
    _Atomic uint64_t  acked, acked_msgs; /* SENT totals, read by the main thread */
    atomic_int        disconnected;
    unsigned char     buf[MAX_SEND];
};

struct receiver {
    struct evpl      *evpl;
    struct evpl_bind *bind;
    int               reading;
    uint64_t          received, msgs;
    atomic_int        attached, disconnected;
};

static struct sender   snd = {.rng = 7};
static struct receiver rcv;

static void
check_bytes(const unsigned char *p, unsigned int len)
{
    for (unsigned int i = 0; i < len; i++) {
        if (p[i] != tt_pattern(rcv.received + i, 5)) {
            test_fail("byte %llu is %u, want %u", (unsigned long long) (rcv.received + i), p[i],
                      tt_pattern(rcv.received + i, 5));
        }
    }
    rcv.received += len;
    test_assert(rcv.received <= total);
}

static void
drain(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_iovec iov[16];
    int               n, len;

    while ((n = evpl_recvv(evpl, bind, iov, 16, 1 << 20, &len)) > 0) {
        for (int i = 0; i < n; i++) {
            check_bytes(iov[i].data, iov[i].length);
            evpl_iovec_release(evpl, &iov[i]);
        }
    }
}

static void
receiver_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    (void) arg;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        break;
    case EVPL_NOTIFY_RECV_DATA:
        /* Not reading: the bytes stay in the receive buffer. */
        if (rcv.reading) {
            drain(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_RECV_MSG:
        test_assert(!stream);
        test_assert(notify->recv_msg.length >= 1 && notify->recv_msg.length <= MAX_SEND);
        rcv.msgs++;
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            check_bytes(notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
            evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&rcv.disconnected, 1);
        break;
    default:
        test_fail("receiver: unexpected notification %u", notify->notify_type);
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    (void) evpl;
    (void) segment_callback;
    (void) private_data;
    *notify_callback = receiver_notify;
    *conn_private    = NULL;
    rcv.bind         = bind;
    atomic_store(&rcv.attached, 1);
}

static void
sender_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    (void) evpl;
    (void) bind;
    (void) arg;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        break;
    case EVPL_NOTIFY_SENT:
        atomic_fetch_add(&snd.acked, notify->sent.bytes);
        atomic_fetch_add(&snd.acked_msgs, notify->sent.msgs);
        test_assert(atomic_load(&snd.acked) <= snd.sent);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&snd.disconnected, 1);
        break;
    default:
        test_fail("sender: unexpected notification %u", notify->notify_type);
    }
}

static void
pump(void)
{
    while (snd.sent < total && snd.sent - atomic_load(&snd.acked) < WINDOW) {
        unsigned int len;

        snd.rng = snd.rng * 1103515245u + 12345u;
        len     = 1 + (snd.rng >> 8) % MAX_SEND;
        if (len > total - snd.sent) {
            len = (unsigned int) (total - snd.sent);
        }
        for (unsigned int i = 0; i < len; i++) {
            snd.buf[i] = tt_pattern(snd.sent + i, 5);
        }
        evpl_send(snd.evpl, snd.bind, snd.buf, len);
        snd.sent += len;
        snd.sends++;
    }
}

static void *
sender_thread(void *arg)
{
    double start = tt_now();

    (void) arg;
    snd.evpl = tt_loop_create();
    snd.bind = evpl_connect(snd.evpl, protocol, NULL, endpoint, sender_notify, NULL, NULL);
    test_assert(snd.bind != NULL);
    evpl_bind_request_send_notifications(snd.evpl, snd.bind);
    while (atomic_load(&snd.acked) < total) {
        pump();
        evpl_continue(snd.evpl);
        test_assert_msg(tt_now() - start < 240, "sender: timed out (sent %llu acked %llu)",
                        (unsigned long long) snd.sent,
                        (unsigned long long) atomic_load(&snd.acked));
        test_assert(!atomic_load(&snd.disconnected));
    }
    if (!stream) {
        test_assert_eq(atomic_load(&snd.acked_msgs), snd.sends);
    }
    evpl_finish(snd.evpl, snd.bind);
    tt_run_until(snd.evpl, &snd.disconnected, 30);
    evpl_destroy(snd.evpl);
    return NULL;
}

/* Wait (running the receiver's loop or not) until SENT reached at least
 * `reach`, then a little longer, and check it stalled at no more than `cap`. */
static void
expect_stall(int run_loop, uint64_t reach, uint64_t cap, const char *what)
{
    double   start = tt_now(), settled;
    uint64_t acked;

    while (atomic_load(&snd.acked) < reach) {
        if (run_loop) {
            evpl_continue(rcv.evpl);
        } else {
            usleep(1000);
        }
        test_assert_msg(tt_now() - start < 120, "%s: SENT reached only %llu of %llu", what,
                        (unsigned long long) atomic_load(&snd.acked), (unsigned long long) reach);
    }
    settled = tt_now();
    while (tt_now() - settled < SETTLE_S) {
        if (run_loop) {
            evpl_continue(rcv.evpl);
        } else {
            usleep(1000);
        }
    }
    acked = atomic_load(&snd.acked);
    fprintf(stderr, "%s: %llu bytes SENT, %llu consumed\n", what, (unsigned long long) acked,
            (unsigned long long) rcv.received);
    test_assert_msg(acked <= cap, "%s: %llu bytes SENT, bound %llu", what,
                    (unsigned long long) acked, (unsigned long long) cap);
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    pthread_t                     thread;
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
    stream   = evpl_protocol_is_stream(protocol);
    total = test_transfer_bytes((uint64_t) (argc > 3 ? atoi(argv[3]) : 256) << 20, 4 * HIGH_WATER);
    test_assert(total > 3 * HIGH_WATER + MAX_SEND);

    rcv.evpl = tt_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(rcv.evpl, listener, attach_cb, NULL);
    endpoint = tt_listen(listener, protocol, "flood");

    test_assert(pthread_create(&thread, NULL, sender_thread, NULL) == 0);
    tt_run_until(rcv.evpl, &rcv.attached, 30);

    /* 1. The receiving loop stands still: its queue fills to the mark. */
    expect_stall(0, stream ? HIGH_WATER : HIGH_WATER - MAX_SEND, HIGH_WATER + MAX_SEND,
                 "receiver stopped");
    if (stream) {
        /* 2. The loop runs, the application does not read. */
        expect_stall(1, 2 * HIGH_WATER, 3 * HIGH_WATER + MAX_SEND, "receiver not reading");
        test_assert_eq(rcv.received, 0);
    }

    /* 3. Read everything. */
    rcv.reading = 1;
    if (stream) {
        drain(rcv.evpl, rcv.bind); /* no new arrival would say so */
    }
    {
        double start = tt_now();

        while (rcv.received < total) {
            evpl_continue(rcv.evpl);
            test_assert_msg(tt_now() - start < 240, "receiver: timed out at %llu of %llu",
                            (unsigned long long) rcv.received, (unsigned long long) total);
        }
    }
    tt_run_until(rcv.evpl, &rcv.disconnected, 30);
    pthread_join(thread, NULL);
    test_assert_eq(rcv.received, total);
    test_assert_eq(atomic_load(&snd.acked), total);
    if (!stream) {
        test_assert_eq(rcv.msgs, snd.sends);
    }

    evpl_listener_destroy(listener);
    evpl_listener_detach(rcv.evpl, binding);
    evpl_destroy(rcv.evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
