/*
 * evpl_sendtoepv (API 6.6): each call sends one datagram of exactly length
 * bytes to the endpoint, trimming the last iovec needed; with TAKE_REF the
 * iovecs beyond length are released by the library, with flags 0 the caller
 * keeps (and here at once releases) its reference while the bytes still go
 * out; nbufvecs == 0 sends nothing.  The stream receive functions refuse a
 * datagram bind (-1, EINVAL, *length 0).  The harness's leak check at
 * evpl_destroy() proves every reference was dropped exactly once.
 */
#include <errno.h>

#include "net_test.h"

static int  datagrams, disconnected;
static char got[2][16];
static int  got_len[2];

static void
recv_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *n, void *arg)
{
    (void) bind;
    (void) arg;
    if (n->notify_type == EVPL_NOTIFY_DISCONNECTED) { /* at evpl_destroy() */
        disconnected++;
        return;
    }
    test_assert_eq(n->notify_type, EVPL_NOTIFY_RECV_MSG);
    test_assert(datagrams < 2);
    test_assert(n->recv_msg.length < sizeof(got[0]));
    for (unsigned int i = 0, off = 0; i < n->recv_msg.niov; i++) {
        memcpy(got[datagrams] + off, n->recv_msg.iovec[i].data, n->recv_msg.iovec[i].length);
        off += n->recv_msg.iovec[i].length;
    }
    got_len[datagrams++] = (int) n->recv_msg.length;
    evpl_iovecs_release(evpl, n->recv_msg.iovec, n->recv_msg.niov);
}

static void
send_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *n, void *arg)
{
    (void) evpl;
    (void) bind;
    (void) arg;
    test_assert_msg(n->notify_type == EVPL_NOTIFY_DISCONNECTED,
                    "sender: unexpected notification %u", n->notify_type);
    disconnected++;
}

static void
alloc_text(struct evpl *evpl, struct evpl_iovec *iov, const char *text)
{
    test_assert_eq(evpl_iovec_alloc(evpl, (unsigned int) strlen(text), 0, 1, 0, iov), 1);
    memcpy(iov->data, text, strlen(text));
}

int
main(int argc, char **argv)
{
    struct evpl          *evpl;
    struct evpl_endpoint *ep_send, *ep_recv;
    struct evpl_bind     *sender, *receiver;
    struct evpl_iovec     iov[3], plain;

    evpl_test_init(argc, argv);
    evpl     = net_loop_create();
    sender   = net_udp_bind(evpl, "127.0.0.1", send_notify, NULL, &ep_send, NULL);
    receiver = net_udp_bind(evpl, "127.0.0.1", recv_notify, NULL, &ep_recv, NULL);
    test_assert(receiver != NULL);

    {
        char              buf[8];
        struct evpl_iovec v[2];
        int               length = 5;

        errno = 0;
        test_assert_eq(evpl_recv(evpl, receiver, buf, sizeof(buf), 0), -1);
        test_assert_eq(errno, EINVAL);
        test_assert_eq(evpl_peek(evpl, receiver, buf, sizeof(buf)), -1);
        test_assert_eq(evpl_peekv(evpl, receiver, v, 2, 8), -1);
        test_assert_eq(evpl_recvv(evpl, receiver, v, 2, 8, &length), -1);
        test_assert_eq(length, 0);
    }

    /* 12 bytes offered, 6 sent: "abcd", "ef" of "efgh"; "ijkl" released. */
    alloc_text(evpl, &iov[0], "abcd");
    alloc_text(evpl, &iov[1], "efgh");
    alloc_text(evpl, &iov[2], "ijkl");
    evpl_sendtoepv(evpl, sender, ep_recv, iov, 3, 6, EVPL_SEND_FLAG_TAKE_REF);
    evpl_sendtoepv(evpl, sender, ep_recv, iov, 0, 0, EVPL_SEND_FLAG_TAKE_REF); /* no-op */

    alloc_text(evpl, &plain, "XYZ");
    evpl_sendtoepv(evpl, sender, ep_recv, &plain, 1, 3, 0);
    evpl_iovec_release(evpl, &plain);

    for (int i = 0; i < 2000 && datagrams < 2; i++) {
        evpl_continue(evpl);
    }
    test_assert_eq(datagrams, 2);
    test_assert_eq(got_len[0], 6);
    test_assert(memcmp(got[0], "abcdef", 6) == 0);
    test_assert_eq(got_len[1], 3);
    test_assert(memcmp(got[1], "XYZ", 3) == 0);
    /* Nothing more arrives (the nbufvecs == 0 call sent nothing). */
    for (int i = 0; i < 5; i++) {
        evpl_continue(evpl);
    }
    test_assert_eq(datagrams, 2);

    evpl_destroy(evpl);
    test_assert_eq(disconnected, 2);
    evpl_endpoint_close(ep_send);
    evpl_endpoint_close(ep_recv);
    return 0;
}
