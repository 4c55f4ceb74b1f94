/*
 * Bound datagram flow control (contract 19.2): two UDP binds on port and
 * port + 1 exchange 4-byte datagrams with evpl_sendtoep().  The sender keeps
 * 100 datagrams in flight, decrementing its in-flight count by sent.msgs, so
 * the SENT counts must cover every datagram exactly once.  The receiver
 * echoes each datagram to its sender with evpl_sendto(recv_msg.addr) (the
 * library must take its own address reference, A.2).  Finally evpl_finish()
 * on the sender with one datagram queued closes it after that datagram went
 * out.
 */
#include "net_test.h"

#define TOTAL    20000
#define INFLIGHT 100

static struct evpl_endpoint *ep_a, *ep_b;
static int                   queued, inflight, reported_msgs, echoes, received, finished_seen;
static int                   a_closed, b_closed;

static void
a_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    (void) bind;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_SENT:
        test_assert_eq(notify->sent.bytes, notify->sent.msgs * 4);
        inflight -= notify->sent.msgs;
        reported_msgs += notify->sent.msgs;
        test_assert(inflight >= 0);
        break;
    case EVPL_NOTIFY_RECV_MSG:
        test_assert_eq(notify->recv_msg.length, 4);
        echoes++;
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    case EVPL_NOTIFY_CONNECTED:
        test_fail("CONNECTED on a bound datagram bind");
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        a_closed = 1;
        break;
    }
}

static void
b_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char addr[EVPL_ADDRESS_STRLEN];

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_MSG:
        test_assert_eq(notify->recv_msg.length, 4);
        test_assert(notify->recv_msg.addr != NULL);
        received++;
        if (*(uint32_t *) notify->recv_msg.iovec[0].data == 0xfffffffeu) {
            finished_seen = 1;
        }
        /* echo the datagram back, by reference, to its sender */
        evpl_sendtov(evpl, bind, notify->recv_msg.addr, notify->recv_msg.iovec,
                     notify->recv_msg.niov, notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        b_closed = 1;
        break;
    }
    (void) addr;
}

int
main(int argc, char **argv)
{
    struct evpl      *evpl;
    struct evpl_bind *a = NULL, *b = NULL;
    int               port = 0;
    struct timespec   start, now;

    evpl_test_init(argc, argv);
    evpl = net_loop_create();

    /* find port, port+1 both free */
    for (int tries = 0; tries < 50 && !port; tries++) {
        int p = net_free_port(SOCK_DGRAM);
        if (p >= 65535) {
            continue;
        }
        ep_a = evpl_endpoint_create("127.0.0.1", p);
        ep_b = evpl_endpoint_create("127.0.0.1", p + 1);
        a    = evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep_a, a_notify, NULL);
        b    = a ? evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep_b, b_notify, NULL) : NULL;
        if (a && b) {
            port = p;
        } else {
            if (a) {
                evpl_close(evpl, a);
            }
            evpl_endpoint_close(ep_a);
            evpl_endpoint_close(ep_b);
        }
    }
    test_assert(port != 0);

    evpl_bind_request_send_notifications(evpl, a);

    /* Top the window up between passes, so the receiver (same loop) gets
     * to read before the next burst and the socket buffer does not
     * overflow. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (reported_msgs < TOTAL) {
        while (queued < TOTAL && inflight < INFLIGHT) {
            uint32_t v = queued++;
            evpl_sendtoep(evpl, a, ep_b, &v, sizeof(v));
            inflight++;
        }
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 20, "stuck at %d reported", reported_msgs);
    }
    test_assert_eq(reported_msgs, TOTAL);
    test_assert_eq(inflight, 0);
    /* loopback UDP may drop under pressure, but not most of it */
    while (received < TOTAL * 9 / 10 || echoes < TOTAL * 8 / 10) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 20, "received %d, echoed %d", received, echoes);
    }

    /* datagrams to a port nobody listens on are sent (and counted) all
     * the same, and the bind keeps working */
    {
        struct evpl_endpoint *closed = evpl_endpoint_create("127.0.0.1", net_free_port(SOCK_DGRAM));
        int                   before = reported_msgs, got = received;
        for (int i = 0; i < 10; i++) {
            uint32_t v = 7;
            evpl_sendtoep(evpl, a, closed, &v, sizeof(v));
            inflight++;
        }
        uint32_t v = 8;
        evpl_sendtoep(evpl, a, ep_b, &v, sizeof(v));
        inflight++;
        while (reported_msgs < before + 11 || received == got) {
            evpl_continue(evpl);
            clock_gettime(CLOCK_MONOTONIC, &now);
            test_assert_msg(now.tv_sec - start.tv_sec < 20, "closed-port sends stuck");
        }
        evpl_endpoint_close(closed);
    }

    /* finish with a datagram queued: it goes out, then DISCONNECTED */
    uint32_t last = 0xfffffffeu;
    evpl_sendtoep(evpl, a, ep_b, &last, sizeof(last));
    inflight++;
    evpl_finish(evpl, a);
    test_assert(evpl_bind_is_closing(a));
    while (!a_closed || !finished_seen) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 20, "finish did not complete");
    }

    evpl_close(evpl, b);
    while (!b_closed) {
        evpl_continue(evpl);
    }
    evpl_destroy(evpl);
    evpl_endpoint_close(ep_a);
    evpl_endpoint_close(ep_b);
    return 0;
}
