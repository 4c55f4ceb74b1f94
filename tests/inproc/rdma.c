/*
 * Emulated RDMA (API §15, §19.2) over argv[2] (DATAGRAM_INPROC or
 * DATAGRAM_TCP_RDMA), client on its own thread: the server allocates 4 KiB
 * in its attach callback and sends (rkey, raddr); the client reads the
 * pattern, writes a new one and sends "done" from the write completion; the
 * server then sees the new pattern.  Also: completions never run inside the
 * call, bad keys/addresses/ranges complete with a non-zero status and the
 * connection keeps working, memory outside the library has no address, and
 * a bind that is not RDMA-capable answers ENOTSUP synchronously.
 */
#include <errno.h>
#include <stdint.h>

#include "transport_test.h"

#define SIZE 4096

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;

/* ---- server ---------------------------------------------------------------- */

static struct evpl_iovec server_buf;
static atomic_int        server_verified, server_disconnected;

struct addr_msg {
    uint32_t type; /* 1: address, 2: done, 3: ok, 4: ping after failures */
    uint32_t key;
    uint64_t address;
};

static unsigned char
pattern(int which, int i)
{
    return (unsigned char) (which * 77 + i * 13 + (i >> 8));
}

static void
msg_get(struct evpl_notify *notify, struct addr_msg *m)
{
    test_assert_eq(notify->recv_msg.length, sizeof(*m));
    unsigned int off = 0;
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        memcpy((char *) m + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        off += notify->recv_msg.iovec[i].length;
    }
}

static void
msg_release(struct evpl *evpl, struct evpl_notify *notify)
{
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
    }
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct addr_msg m, reply = {0};

    (void) arg;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        break;
    case EVPL_NOTIFY_RECV_MSG:
        msg_get(notify, &m);
        msg_release(evpl, notify);
        if (m.type == 2) {
            /* The write landed before "done" (ordering of §15). */
            const unsigned char *p = server_buf.data;
            for (int i = 0; i < SIZE; i++) {
                test_assert_msg(p[i] == pattern(2, i), "byte %d: %u, want %u", i, p[i],
                                pattern(2, i));
            }
            atomic_store(&server_verified, 1);
            reply.type = 3;
        } else {
            test_assert_eq(m.type, 4);
            reply.type = 4;
        }
        evpl_send(evpl, bind, &reply, sizeof(reply));
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
    struct addr_msg m = {.type = 1};
    unsigned char  *p;

    (void) segment_callback;
    (void) private_data;
    *notify_callback = server_notify;
    *conn_private    = NULL;

    test_assert(evpl_bind_is_rdma(bind));
    test_assert_eq(evpl_iovec_alloc(evpl, SIZE, 0, 1, 0, &server_buf), 1);
    p = server_buf.data;
    for (int i = 0; i < SIZE; i++) {
        p[i] = pattern(1, i);
    }
    evpl_rdma_get_address(evpl, bind, &server_buf, &m.key, &m.address);
    test_assert(m.key != 0);
    test_assert(m.address == (uint64_t) (uintptr_t) server_buf.data);
    evpl_send(evpl, bind, &m, sizeof(m));
}

/* ---- client ---------------------------------------------------------------- */

struct client {
    struct evpl      *evpl;
    struct evpl_bind *bind;
    struct addr_msg   remote;
    struct evpl_iovec rbuf, wbuf;
    int               in_call;
    int               step;
    int               failures;
    atomic_int        done, disconnected;
};

static void client_bad_ops(struct client *c);

static void
write_done(int status, void *arg)
{
    struct client  *c = arg;
    struct addr_msg m = {.type = 2};

    test_assert(!c->in_call);
    test_assert_eq(status, 0);
    evpl_send(c->evpl, c->bind, &m, sizeof(m));
}

static void
read_done(int status, void *arg)
{
    struct client       *c = arg;
    const unsigned char *p = c->rbuf.data;
    unsigned char       *w = c->wbuf.data;

    test_assert(!c->in_call);
    test_assert_eq(status, 0);
    for (int i = 0; i < SIZE; i++) {
        test_assert_msg(p[i] == pattern(1, i), "read byte %d: %u", i, p[i]);
    }
    for (int i = 0; i < SIZE; i++) {
        w[i] = pattern(2, i);
    }
    /* Written in two pieces, to exercise the gather path. */
    struct evpl_iovec parts[2];
    evpl_iovec_clone_segment(&parts[0], &c->wbuf, 0, 1000);
    evpl_iovec_clone_segment(&parts[1], &c->wbuf, 1000, SIZE - 1000);
    c->in_call = 1;
    evpl_rdma_write(c->evpl, c->bind, c->remote.key, c->remote.address, parts, 2,
                    EVPL_RDMA_FLAG_TAKE_REF, write_done, c);
    c->in_call = 0;
}

static void
bad_done(int status, void *arg)
{
    struct client  *c = arg;
    struct addr_msg m = {.type = 4};

    test_assert(!c->in_call);
    test_assert_msg(status != 0, "an out-of-bounds RDMA operation succeeded");
    if (++c->failures == 4) {
        /* The connection survives refused operations. */
        evpl_send(c->evpl, c->bind, &m, sizeof(m));
    }
}

static void
client_bad_ops(struct client *c)
{
    struct evpl_iovec small;

    evpl_iovec_clone_segment(&small, &c->rbuf, 0, 64);
    c->in_call = 1;
    /* Key 0, an unknown key, an address below the slab, and one far past
     * its end. */
    evpl_rdma_read(c->evpl, c->bind, 0, c->remote.address, &small, 1, bad_done, c);
    evpl_rdma_read(c->evpl, c->bind, c->remote.key + 100000, c->remote.address, &small, 1, bad_done,
                   c);
    evpl_rdma_read(c->evpl, c->bind, c->remote.key, 16, &small, 1, bad_done, c);
    evpl_rdma_write(c->evpl, c->bind, c->remote.key, c->remote.address + (1ull << 40), &small, 1, 0,
                    bad_done, c);
    c->in_call = 0;
    evpl_iovec_release(c->evpl, &small);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct client  *c = arg;
    struct addr_msg m;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        break;
    case EVPL_NOTIFY_RECV_MSG:
        msg_get(notify, &m);
        msg_release(evpl, notify);
        if (m.type == 1) {
            c->remote = m;
            client_bad_ops(c);
        } else if (m.type == 4) {
            test_assert_eq(c->failures, 4);
            c->in_call = 1;
            evpl_rdma_read(evpl, bind, c->remote.key, c->remote.address, &c->rbuf, 1, read_done, c);
            c->in_call = 0;
        } else {
            test_assert_eq(m.type, 3);
            evpl_close(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&c->disconnected, 1);
        atomic_store(&c->done, 1);
        break;
    default:
        test_fail("client: unexpected notification %u", notify->notify_type);
    }
}

static int        enotsup_calls;
static atomic_int lost_done;

static void
enotsup_cb(int status, void *arg)
{
    (void) arg;
    test_assert_eq(status, ENOTSUP);
    enotsup_calls++;
}

static void
lost_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    (void) evpl;
    (void) bind;
    (void) arg;
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_store(&lost_done, 1);
    }
}

/* A bind that is not RDMA-capable: ENOTSUP before the call returns. */
static void
check_enotsup(struct evpl *evpl, struct evpl_iovec *iov)
{
    struct evpl_endpoint *ep = evpl_endpoint_create_inproc("rdma-nobody");
    struct evpl_bind     *bind;
    uint32_t              key  = 1;
    uint64_t              addr = 1;

    bind = evpl_connect(evpl, EVPL_STREAM_INPROC, NULL, ep, lost_notify, NULL, NULL);
    test_assert(bind != NULL);
    test_assert(!evpl_bind_is_rdma(bind));
    evpl_rdma_read(evpl, bind, 1, 1, iov, 1, enotsup_cb, NULL);
    test_assert_eq(enotsup_calls, 1);
    evpl_rdma_write(evpl, bind, 1, 1, iov, 1, 0, enotsup_cb, NULL);
    test_assert_eq(enotsup_calls, 2);
    evpl_rdma_get_address(evpl, bind, iov, &key, &addr);
    test_assert(key == 0 && addr == 0);
    tt_run_until(evpl, &lost_done, 10);
    evpl_endpoint_close(ep);
}

static void *
client_thread(void *arg)
{
    struct client *c    = arg;
    struct evpl   *evpl = tt_loop_create();

    c->evpl = evpl;
    test_assert_eq(evpl_iovec_alloc(evpl, SIZE, 0, 1, 0, &c->rbuf), 1);
    test_assert_eq(evpl_iovec_alloc(evpl, SIZE, 0, 1, 0, &c->wbuf), 1);
    memset(c->rbuf.data, 0, SIZE);
    check_enotsup(evpl, &c->rbuf);

    c->bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, c);
    test_assert(c->bind != NULL);
    test_assert(evpl_bind_is_rdma(c->bind));

    /* Memory the library did not allocate has no RDMA address. */
    {
        static char           foreign[64];
        struct evpl_iovec_ref fake = {.flags = 0, .slab = NULL};
        struct evpl_iovec     fiov = {.data = foreign, .length = 64, .ref = &fake};
        uint32_t              key  = 1;
        uint64_t              addr = 1;

        evpl_rdma_get_address(evpl, c->bind, &fiov, &key, &addr);
        test_assert(key == 0 && addr == 0);
    }

    tt_run_until(evpl, &c->done, 60);
    evpl_iovec_release(evpl, &c->rbuf);
    evpl_iovec_release(evpl, &c->wbuf);
    evpl_destroy(evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl                  *evpl;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct client                 c = {0};
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol = tt_protocol(argc, argv, 2, "DATAGRAM_INPROC");

    evpl     = tt_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, attach_cb, NULL);
    endpoint = tt_listen(listener, protocol, "rdma");

    test_assert(pthread_create(&thread, NULL, client_thread, &c) == 0);
    tt_run_until(evpl, &server_disconnected, 60);
    pthread_join(thread, NULL);

    test_assert(atomic_load(&server_verified));
    test_assert_eq(c.failures, 4);
    test_assert_eq(atomic_load(&server_disconnected), 1);

    evpl_iovec_release(evpl, &server_buf);
    evpl_listener_destroy(listener);
    evpl_listener_detach(evpl, binding);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
