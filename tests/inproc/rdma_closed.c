/*
 * RDMA operations on a bind that is being closed (evpl_close() called, its
 * DISCONNECTED not yet delivered) fail with ENOTCONN -- never inside the
 * call, always on a later step of the loop -- and a write's TAKE_REF
 * references are dropped.  argv[2]: DATAGRAM_INPROC or DATAGRAM_TCP_RDMA.
 */
#include <errno.h>

#include "transport_test.h"

static atomic_int connected, disconnected;
static int        read_status = -1, write_status = -1;
static int        in_call;

static void
notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *n, void *p)
{
    (void) bind;
    (void) p;
    if (n->notify_type == EVPL_NOTIFY_CONNECTED) {
        atomic_fetch_add(&connected, 1);
    } else if (n->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&disconnected, 1);
    } else if (n->notify_type == EVPL_NOTIFY_RECV_MSG) {
        evpl_iovecs_release(evpl, n->recv_msg.iovec, n->recv_msg.niov);
    }
}

TEST_ATTACH_NOTIFY(attach, notify)

static void
read_done(int status, void *p)
{
    (void) p;
    test_assert_msg(!in_call, "RDMA completion ran inside the call");
    read_status = status;
}

static void
write_done(int status, void *p)
{
    (void) p;
    test_assert_msg(!in_call, "RDMA completion ran inside the call");
    write_status = status;
}

int
main(int argc, char **argv)
{
    evpl_test_init(argc, argv);

    enum evpl_protocol_id         proto    = tt_protocol(argc, argv, 2, "DATAGRAM_INPROC");
    struct evpl                  *evpl     = tt_loop_create();
    struct evpl_listener         *listener = evpl_listener_create();
    struct evpl_listener_binding *binding  = evpl_listener_attach(evpl, listener, attach, NULL);
    struct evpl_endpoint         *ep       = tt_listen(listener, proto, "rdmaclosed");
    struct evpl_bind             *bind = evpl_connect(evpl, proto, NULL, ep, notify, NULL, NULL);

    test_assert(bind != NULL);
    while (atomic_load(&connected) < 2) {
        evpl_continue(evpl);
    }

    struct evpl_iovec local, target;

    test_assert_eq(evpl_iovec_alloc(evpl, 4096, 4096, 1, 0, &local), 1);
    test_assert_eq(evpl_iovec_alloc(evpl, 4096, 4096, 1, 0, &target), 1);

    uint32_t rkey;
    uint64_t raddr;

    evpl_rdma_get_address(evpl, bind, &target, &rkey, &raddr);

    evpl_close(evpl, bind);

    struct evpl_iovec give;

    evpl_iovec_clone(&give, &local);
    in_call = 1;
    evpl_rdma_read(evpl, bind, rkey, raddr, &local, 1, read_done, NULL);
    evpl_rdma_write(evpl, bind, rkey, raddr, &give, 1, EVPL_RDMA_FLAG_TAKE_REF, write_done, NULL);
    in_call = 0;
    test_assert_eq(read_status, -1);
    test_assert_eq(write_status, -1);

    while (atomic_load(&disconnected) < 2) {
        evpl_continue(evpl);
    }
    test_assert_eq(read_status, ENOTCONN);
    test_assert_eq(write_status, ENOTCONN);

    evpl_iovec_release(evpl, &local);
    evpl_iovec_release(evpl, &target);
    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    /* A leaked TAKE_REF reference would be reported here (and by ASan). */
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    return 0;
}
