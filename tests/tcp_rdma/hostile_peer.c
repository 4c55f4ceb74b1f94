/*
 * DATAGRAM_TCP_RDMA against a hand-written peer speaking the wire format of
 * src/tcp_rdma/wire.h over a plain socket: reads and writes outside the
 * memory the server registered are refused with a non-zero status (never
 * served, never a crash), a valid read returns the right bytes, and a
 * response nobody asked for, an unknown frame type or a frame cut short by
 * the peer's close end the connection (server DISCONNECTED) without harm to
 * the process or to other connections.
 */
#include <errno.h>
#include <stdint.h>

#include "../../src/tcp_rdma/wire.h"
#include "../inproc/transport_test.h"

#define SIZE 4096

static struct evpl_endpoint *endpoint;
static atomic_int            stop, disconnects;
static struct evpl_iovec     bufs[8];
static int                   nbufs;

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    (void) bind;
    (void) arg;
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
        }
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&disconnects, 1);
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    struct evpl_iovec *buf = &bufs[nbufs++];
    uint32_t           msg[4];
    uint64_t           addr;

    (void) segment_callback;
    (void) private_data;
    *notify_callback = server_notify;
    *conn_private    = NULL;
    test_assert_eq(evpl_iovec_alloc(evpl, SIZE, 0, 1, 0, buf), 1);
    memset(buf->data, 0xab, SIZE);
    evpl_rdma_get_address(evpl, bind, buf, &msg[0], &addr);
    msg[1] = 0;
    memcpy(&msg[2], &addr, sizeof(addr));
    evpl_send(evpl, bind, msg, sizeof(msg));
}

static void *
server_thread(void *arg)
{
    struct evpl                  *evpl = tt_loop_create();
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;

    listener            = evpl_listener_create();
    binding             = evpl_listener_attach(evpl, listener, attach_cb, NULL);
    endpoint            = tt_listen(listener, EVPL_DATAGRAM_TCP_RDMA, "hostile");
    *(atomic_int *) arg = 1;
    tt_run_until(evpl, &stop, 120);
    evpl_listener_destroy(listener);
    evpl_listener_detach(evpl, binding);
    for (int i = 0; i < nbufs; i++) {
        evpl_iovec_release(evpl, &bufs[i]);
    }
    evpl_destroy(evpl);
    return NULL;
}

static void
xwrite(int fd, const void *p, size_t len)
{
    test_assert(write(fd, p, len) == (ssize_t) len);
}

static void
xread(int fd, void *p, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t rc = read(fd, (char *) p + got, len - got);
        test_assert_msg(rc > 0, "read: %zd (%s)", rc, rc < 0 ? strerror(errno) : "EOF");
        got += rc;
    }
}

/* Connect and read the server's (key, address) greeting. */
static int
peer_open(uint32_t *key, uint64_t *addr)
{
    struct sockaddr_in  sin = {.sin_family = AF_INET};
    struct tcp_rdma_hdr h;
    uint32_t            msg[4];
    int                 fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_port        = htons(evpl_endpoint_port(endpoint));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    xread(fd, &h, TCP_RDMA_HDR_SHORT);
    test_assert_eq(h.type, TCP_RDMA_MSG);
    test_assert_eq(le32toh(h.length), sizeof(msg));
    xread(fd, msg, sizeof(msg));
    *key = msg[0];
    memcpy(addr, &msg[2], sizeof(*addr));
    test_assert(*key != 0);
    return fd;
}

static void
request(int fd, unsigned int type, uint32_t length, uint64_t id, uint64_t addr, uint32_t key,
        const void *payload)
{
    struct tcp_rdma_hdr h;

    tcp_rdma_hdr_encode(&h, type, length, id, addr, key, 0);
    xwrite(fd, &h, TCP_RDMA_HDR_LONG);
    if (payload) {
        xwrite(fd, payload, length);
    }
}

static void
response(int fd, unsigned int type, uint64_t id, struct tcp_rdma_hdr *h)
{
    xread(fd, h, TCP_RDMA_HDR_LONG);
    tcp_rdma_hdr_decode(h);
    test_assert_eq(h->type, type);
    test_assert_eq(h->id, id);
}

static void
expect_eof(int fd)
{
    char    c;
    ssize_t rc = read(fd, &c, 1);

    test_assert_msg(rc <= 0, "connection still open");
}

int
main(int argc, char **argv)
{
    struct tcp_rdma_hdr h;
    unsigned char       data[64];
    pthread_t           thread;
    atomic_int          ready = 0;
    uint32_t            key;
    uint64_t            addr;
    int                 fd, fd2;
    /* The hostile peer's bad frames are logged as protocol errors. */
    evpl_test_log_expect("protocol error");

    evpl_test_init(argc, argv);
    test_assert(pthread_create(&thread, NULL, server_thread, &ready) == 0);
    while (!atomic_load(&ready)) {
        usleep(1000);
    }

    fd = peer_open(&key, &addr);

    /* Unknown key, address outside the slab, a range running off its end. */
    request(fd, TCP_RDMA_READ_REQ, 16, 1, addr, key + 77777, NULL);
    response(fd, TCP_RDMA_READ_RESP, 1, &h);
    test_assert(h.status != 0 && h.length == 0);
    request(fd, TCP_RDMA_READ_REQ, 16, 2, 4096, key, NULL);
    response(fd, TCP_RDMA_READ_RESP, 2, &h);
    test_assert(h.status != 0);
    request(fd, TCP_RDMA_READ_REQ, 0xffffffffu, 3, addr, key, NULL);
    response(fd, TCP_RDMA_READ_RESP, 3, &h);
    test_assert(h.status != 0);
    memset(data, 0x11, sizeof(data));
    request(fd, TCP_RDMA_WRITE_REQ, sizeof(data), 4, 64, key, data);
    response(fd, TCP_RDMA_WRITE_RESP, 4, &h);
    test_assert(h.status != 0);

    /* A valid write then read round-trips. */
    request(fd, TCP_RDMA_WRITE_REQ, sizeof(data), 5, addr + 100, key, data);
    response(fd, TCP_RDMA_WRITE_RESP, 5, &h);
    test_assert_eq(h.status, 0);
    request(fd, TCP_RDMA_READ_REQ, 128, 6, addr + 36, key, NULL);
    response(fd, TCP_RDMA_READ_RESP, 6, &h);
    test_assert_eq(h.status, 0);
    test_assert_eq(h.length, 128);
    {
        unsigned char back[128];
        xread(fd, back, sizeof(back));
        for (int i = 0; i < 128; i++) {
            test_assert(back[i] == (i >= 64 ? 0x11 : 0xab));
        }
    }

    /* A second connection stays up while the first misbehaves. */
    fd2 = peer_open(&key, &addr);

    /* A response nobody asked for: protocol error, connection closed. */
    request(fd, TCP_RDMA_WRITE_RESP, 0, 999, 0, 0, NULL);
    expect_eof(fd);
    close(fd);

    /* An unknown frame type on a third connection. */
    fd = peer_open(&key, &addr);
    memset(&h, 0, sizeof(h));
    h.type = 99;
    xwrite(fd, &h, TCP_RDMA_HDR_LONG);
    expect_eof(fd);
    close(fd);

    /* A write cut short by the peer's close. */
    fd = peer_open(&key, &addr);
    request(fd, TCP_RDMA_WRITE_REQ, 1000, 1, addr, key, NULL);
    xwrite(fd, data, 10);
    close(fd);

    /* The survivor still works. */
    request(fd2, TCP_RDMA_READ_REQ, 8, 42, addr, key, NULL);
    response(fd2, TCP_RDMA_READ_RESP, 42, &h);
    test_assert_eq(h.status, 0);
    xread(fd2, data, 8);
    close(fd2);

    while (atomic_load(&disconnects) < 4) {
        usleep(1000);
    }
    atomic_store(&stop, 1);
    pthread_join(thread, NULL);
    evpl_endpoint_close(endpoint);
    return 0;
}
