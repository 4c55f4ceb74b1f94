/*
 * STREAM_IO_URING_TCP: the protocol ops.
 *
 * Per connection: one multishot receive into the loop's provided-buffer ring
 * (re-armed when the kernel ends it), at most one send in flight (so bytes
 * leave in order), and the socket registered in the ring's fixed-file table.
 * Receives append zero-copy views of the chunks to the bind's receive ring;
 * the bytes of a whole completion batch are handed up once per connection.
 *
 * Sends above a size threshold use IORING_OP_SEND_ZC / SENDMSG_ZC, which
 * report twice: the data completion (bytes taken) and, later, a notification
 * once the kernel no longer reads the pages.  The send record holds its own
 * references on the iovecs until then, so the bind's send ring can move on
 * at the first completion.  Loopback peers never use zero copy: the kernel
 * copies on loopback anyway and the notification is pure overhead.
 *
 * A connection's state outlives its bind: ops->close cancels everything on
 * the socket and the state is freed when the last completion has come back.
 * A copying send still in flight at that point keeps the memory it reads
 * alive with references taken in close.
 */
#include "io_uring/uring.h"

#ifdef EVPL_HAVE_LIBURING

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/shared.h"
#include "memory/allocator.h"
#include "socket/socket.h"

#define CONN_RECV     0x01u /* receive armed */
#define CONN_SEND     0x02u /* a send is in flight */
#define CONN_CONNECT  0x04u /* connect in flight */
#define CONN_EOF      0x08u /* end of stream or error seen; delivery closes the bind */
#define CONN_DELIVER  0x10u /* queued on ur->deliver */
#define CONN_NEWDATA  0x20u /* bytes appended since the last delivery */
#define CONN_ZC       0x40u /* zero-copy sends allowed (peer is not local) */
#define CONN_FALLBACK 0x80u /* private-buffer receive in flight (after ENOBUFS) */

/* Smallest send that goes zero-copy (non-loopback peers); see docs/io_uring.md. */
#define EVPL_URING_ZC_MIN_DEFAULT (32u * 1024)

static unsigned int zc_min  = EVPL_URING_ZC_MIN_DEFAULT;
static int          zc_loop = 0; /* knob: allow zero copy on loopback (measurements) */

struct evpl_uring_zc {
    struct evpl_uring_zc   *next; /* free list / busy list */
    struct evpl_uring_zc   *prev;
    struct evpl_uring_conn *conn;
    int                     nrefs;
    struct evpl_iovec_ref  *refs[]; /* max_iov */
};

struct evpl_uring_conn {
    struct evpl_uring      *ur;
    struct evpl_bind       *bind; /* NULL once closed */
    int                     fd;
    int                     slot; /* fixed-file index or -1 */
    unsigned int            flags;
    unsigned int            inflight; /* completions still due */
    struct evpl_uring_conn *deliver_next;
    struct evpl_uring_conn *prev, *next; /* ur->conns */
    struct msghdr           msg;
    struct iovec           *iov;
    unsigned int            send_entries; /* send ring entries the send in flight covers */
    struct evpl_uring_zc   *zc;           /* zero-copy send awaiting its data completion */
    struct evpl_iovec_ref **held;         /* references kept for a send in flight at close */
    int                     nheld;
    struct evpl_iovec_ref  *fb_ref; /* private receive buffer (fallback) */
    void                   *fb_data;
    struct sockaddr_storage addr; /* connect target: must outlive the bind */
    socklen_t               addrlen;
};

struct evpl_uring_listen {
    struct evpl_uring         *ur;
    struct evpl_listen_socket *ls; /* NULL once closed */
    int                        fd;
    int                        armed; /* multishot accept in flight */
    int                        retry_armed;
    struct evpl_timer          retry;
    struct evpl_uring_listen  *prev, *next;
};

static inline struct evpl_uring_conn *
conn_of(struct evpl_bind *bind)
{
    return *(struct evpl_uring_conn **) evpl_bind_private(bind);
}

static inline void
conn_set(struct evpl_bind *bind, struct evpl_uring_conn *conn)
{
    *(struct evpl_uring_conn **) evpl_bind_private(bind) = conn;
}

static inline int
conn_fd(const struct evpl_uring_conn *conn)
{
    return conn->slot >= 0 ? conn->slot : conn->fd;
}

static inline void
conn_sqe_file(struct io_uring_sqe *sqe, const struct evpl_uring_conn *conn)
{
    if (conn->slot >= 0) {
        sqe->flags |= IOSQE_FIXED_FILE;
    }
}

static inline void
sqe_data(struct io_uring_sqe *sqe, void *object, unsigned int op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t) (uintptr_t) object | op);
}

/* The options every TCP transport sets (TCP_NODELAY, keepalive, user
 * timeout): see evpl_socket_tcp_setup(). */
static void
socket_tune(int fd)
{
    evpl_socket_tcp_setup(fd);
}

static int
addr_is_local(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;

        if ((ntohl(x->sin_addr.s_addr) >> 24) == 127) {
            return 1;
        }
        return b->ss_family == AF_INET && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;

        if (IN6_IS_ADDR_LOOPBACK(&x->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&x->sin6_addr)) {
            return 1;
        }
        return b->ss_family == AF_INET6 &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return 1;
}

/* Local address of the bind, and whether zero copy may be used. */
static void
conn_learn_addresses(struct evpl_uring_conn *conn, struct evpl_bind *bind)
{
    struct sockaddr_storage local, peer;
    socklen_t               llen = sizeof(local), plen = sizeof(peer);

    if (getsockname(conn->fd, (struct sockaddr *) &local, &llen) < 0) {
        return;
    }
    if (bind->local == NULL) {
        bind->local = evpl_address_create((struct sockaddr *) &local, llen);
    }
    if (getpeername(conn->fd, (struct sockaddr *) &peer, &plen) == 0 &&
        (zc_loop || !addr_is_local(&peer, &local))) {
        conn->flags |= CONN_ZC;
    }
}

/* ---- connection state ----------------------------------------------------- */

static struct evpl_uring_conn *
conn_new(struct evpl_uring *ur, struct evpl_bind *bind, int fd)
{
    struct evpl_uring_conn *conn = calloc(1, sizeof(*conn));

    if (conn == NULL) {
        return NULL;
    }
    conn->iov = calloc(evpl_bind_max_iov(), sizeof(*conn->iov));
    if (conn->iov == NULL) {
        free(conn);
        return NULL;
    }
    conn->ur   = ur;
    conn->bind = bind;
    conn->fd   = fd;
    conn->slot = evpl_uring_slot_get(ur, fd);
    conn->next = ur->conns;
    if (ur->conns) {
        ur->conns->prev = conn;
    }
    ur->conns = conn;
    conn_set(bind, conn);
    return conn;
}

static void
conn_release_held(struct evpl *evpl, struct evpl_uring_conn *conn)
{
    for (int i = 0; i < conn->nheld; i++) {
        evpl_iovec_ref_release(evpl, conn->held[i]);
    }
    free(conn->held);
    conn->held  = NULL;
    conn->nheld = 0;
}

static void
conn_free(struct evpl_uring_conn *conn)
{
    struct evpl_uring *ur = conn->ur;

    if (conn->prev) {
        conn->prev->next = conn->next;
    } else {
        ur->conns = conn->next;
    }
    if (conn->next) {
        conn->next->prev = conn->prev;
    }
    conn_release_held(ur->evpl, conn);
    if (conn->fb_ref) {
        evpl_iovec_ref_release(ur->evpl, conn->fb_ref);
    }
    free(conn->iov);
    free(conn);
}

static inline void
conn_maybe_free(struct evpl_uring_conn *conn)
{
    if (conn->bind == NULL && conn->inflight == 0) {
        conn_free(conn);
    }
}

static inline void
conn_op_started(struct evpl_uring_conn *conn)
{
    conn->inflight++;
    conn->ur->inflight++;
}

static inline void
conn_op_done(struct evpl_uring_conn *conn)
{
    conn->inflight--;
    conn->ur->inflight--;
}

/* Queue the connection for delivery at the end of the completion batch. */
static inline void
conn_queue_deliver(struct evpl_uring_conn *conn, unsigned int what)
{
    conn->flags |= what;
    if (!(conn->flags & CONN_DELIVER)) {
        conn->flags |= CONN_DELIVER;
        conn->deliver_next = conn->ur->deliver;
        conn->ur->deliver  = conn;
    }
}

void
evpl_uring_deliver(struct evpl_uring *ur)
{
    while (ur->deliver) {
        struct evpl_uring_conn *conn = ur->deliver;
        struct evpl_bind       *bind = conn->bind;

        ur->deliver = conn->deliver_next;
        conn->flags &= ~CONN_DELIVER;
        if (bind == NULL) {
            continue;
        }
        if ((conn->flags & CONN_NEWDATA) && !evpl_bind_closing(bind)) {
            conn->flags &= ~CONN_NEWDATA;
            evpl_bind_recv_stream(ur->evpl, bind);
        }
        /* Data that arrived before the end of stream went up first. */
        if (conn->flags & CONN_EOF) {
            evpl_bind_transport_closed(ur->evpl, bind);
        }
    }
}

/* ---- zero-copy send records ---------------------------------------------- */

static struct evpl_uring_zc *
zc_get(struct evpl_uring *ur)
{
    struct evpl_uring_zc *zc = ur->zc_free;

    if (zc) {
        ur->zc_free = zc->next;
    } else {
        zc = malloc(sizeof(*zc) + evpl_bind_max_iov() * sizeof(zc->refs[0]));
        evpl_abort_if(zc == NULL, "io_uring", "out of memory for a zero-copy send");
    }
    zc->prev = NULL;
    zc->next = ur->zc_busy;
    if (ur->zc_busy) {
        ur->zc_busy->prev = zc;
    }
    ur->zc_busy = zc;
    return zc;
}

static void
zc_put(struct evpl_uring *ur, struct evpl_uring_zc *zc)
{
    for (int i = 0; i < zc->nrefs; i++) {
        evpl_iovec_ref_release(ur->evpl, zc->refs[i]);
    }
    if (zc->prev) {
        zc->prev->next = zc->next;
    } else {
        ur->zc_busy = zc->next;
    }
    if (zc->next) {
        zc->next->prev = zc->prev;
    }
    zc->next    = ur->zc_free;
    ur->zc_free = zc;
}

/* ---- receive ---------------------------------------------------------------- */

static void
conn_arm_recv(struct evpl_uring_conn *conn)
{
    struct evpl_uring   *ur  = conn->ur;
    struct io_uring_sqe *sqe = evpl_uring_sqe(ur);

    /* Each receive takes at most EVPL_BIND_RECV_READ_MAX bytes of the
     * selected chunk, for the same cache reason as stream reads (streaming
     * over loopback measured +9% against whole-chunk receives).  Kernels
     * before 6.15 refuse a length on multishot receives: recv_len is then 0
     * (the whole chunk). */
    if (ur->no_multishot) {
        io_uring_prep_recv(sqe, conn_fd(conn), NULL, EVPL_BIND_RECV_READ_MAX, 0);
    } else {
        io_uring_prep_recv_multishot(sqe, conn_fd(conn), NULL, ur->recv_len, 0);
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = EVPL_URING_BGID;
    conn_sqe_file(sqe, conn);
    sqe_data(sqe, conn, EVPL_URING_OP_RECV);
    conn->flags |= CONN_RECV;
    conn_op_started(conn);
}

/* Every provided buffer is held by the application: receive into a pooled
 * buffer of our own so the connection keeps moving. */
static void
conn_arm_fallback(struct evpl_uring_conn *conn)
{
    struct evpl_uring   *ur = conn->ur;
    struct io_uring_sqe *sqe;
    void                *data;
    unsigned int         size;

    conn->fb_ref  = evpl_buffer_get(ur->evpl, &data, &size);
    conn->fb_data = data;
    sqe           = evpl_uring_sqe(ur);
    io_uring_prep_recv(sqe, conn_fd(conn), data, size, 0);
    conn_sqe_file(sqe, conn);
    sqe_data(sqe, conn, EVPL_URING_OP_FALLBACK);
    conn->flags |= CONN_FALLBACK;
    conn_op_started(conn);
}

static inline int
conn_receiving(const struct evpl_uring_conn *conn)
{
    return conn->bind && !(conn->flags & CONN_EOF) && !evpl_bind_closing(conn->bind);
}

static void
recv_complete(struct evpl_uring *ur, struct evpl_uring_conn *conn, const struct io_uring_cqe *cqe)
{
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    int res  = cqe->res;

    if (!more) {
        conn->flags &= ~CONN_RECV;
        conn_op_done(conn);
    }

    if (res > 0) {
        unsigned int           bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        struct evpl_iovec_ref *ref;
        void                  *data = evpl_uring_bufs_recv(ur->bufs, bid, (unsigned int) res, &ref);

        if (conn_receiving(conn)) {
            evpl_bind_recv_append(ur->evpl, conn->bind, data, (unsigned int) res, ref);
            conn_queue_deliver(conn, CONN_NEWDATA);
        }
        evpl_uring_bufs_recv_done(ur->evpl, ur->bufs, bid,
                                  (cqe->flags & IORING_CQE_F_BUF_MORE) != 0);
    } else if (res == 0) {
        if (conn->bind) {
            conn_queue_deliver(conn, CONN_EOF);
        }
    } else if (res == -ENOBUFS) {
        /* Out of provided buffers: grow the ring, or (at its cap) receive
         * into a private buffer.  Never a reason to drop the connection. */
        if (conn_receiving(conn) && !evpl_uring_bufs_grow(ur->evpl, ur->bufs)) {
            conn_arm_fallback(conn);
        }
    } else if (res == -EINVAL && !ur->no_multishot && ur->recv_len) {
        evpl_uring_info("multishot receive takes no length cap here; receiving whole chunks");
        ur->recv_len = 0;
    } else if (res == -EINVAL && !ur->no_multishot) {
        evpl_uring_info("multishot receive unsupported; using one-shot receives");
        ur->no_multishot = 1;
    } else if (res != -ECANCELED) {
        evpl_uring_debug("recv failed: %s", strerror(-res));
        if (conn->bind) {
            conn_queue_deliver(conn, CONN_EOF);
        }
    }

    if (!more && !(conn->flags & (CONN_RECV | CONN_FALLBACK)) && conn_receiving(conn)) {
        conn_arm_recv(conn);
    }
    conn_maybe_free(conn);
}

static void
fallback_complete(struct evpl_uring *ur, struct evpl_uring_conn *conn,
                  const struct io_uring_cqe *cqe)
{
    struct evpl_iovec_ref *ref = conn->fb_ref;
    int                    res = cqe->res;

    conn->fb_ref = NULL;
    conn->flags &= ~CONN_FALLBACK;
    conn_op_done(conn);

    if (res > 0) {
        if (conn_receiving(conn)) {
            evpl_bind_recv_append(ur->evpl, conn->bind, conn->fb_data, (unsigned int) res, ref);
            conn_queue_deliver(conn, CONN_NEWDATA);
        }
    } else if (res != -ECANCELED && conn->bind) {
        if (res < 0) {
            evpl_uring_debug("recv failed: %s", strerror(-res));
        }
        conn_queue_deliver(conn, CONN_EOF);
    }
    evpl_iovec_ref_release(ur->evpl, ref);

    if (!(conn->flags & CONN_RECV) && conn_receiving(conn)) {
        conn_arm_recv(conn);
    }
    conn_maybe_free(conn);
}

/* ---- send --------------------------------------------------------------------- */

static void
conn_send(struct evpl_uring_conn *conn, struct evpl_bind *bind)
{
    struct evpl_uring   *ur = conn->ur;
    struct io_uring_sqe *sqe;
    uint64_t             bytes;
    unsigned int         entries;
    int       n     = evpl_bind_send_gather(bind, conn->iov, evpl_bind_max_iov(), &bytes, &entries);
    const int flags = MSG_NOSIGNAL | MSG_WAITALL;

    if (n == 0) {
        return;
    }
    sqe = evpl_uring_sqe(ur);
    if (n > 1) {
        memset(&conn->msg, 0, sizeof(conn->msg));
        conn->msg.msg_iov    = conn->iov;
        conn->msg.msg_iovlen = (size_t) n;
    }
    if ((conn->flags & CONN_ZC) && bytes >= zc_min) {
        struct evpl_uring_zc *zc = zc_get(ur);

        /* Our own references: the send ring lets go at the data completion,
         * the kernel may read the pages until the notification. */
        zc->conn  = conn;
        zc->nrefs = (int) entries;
        for (int i = 0; i < (int) entries; i++) {
            zc->refs[i] = evpl_iovec_ring_at(&bind->send_ring, (unsigned int) i)->ref;
            evpl_iovec_ref_incr(zc->refs[i]);
        }
        if (n == 1) {
            io_uring_prep_send_zc(sqe, conn_fd(conn), conn->iov[0].iov_base, conn->iov[0].iov_len,
                                  flags, 0);
        } else {
            io_uring_prep_sendmsg_zc(sqe, conn_fd(conn), &conn->msg, flags);
        }
        sqe_data(sqe, zc, EVPL_URING_OP_ZC);
        conn->zc = zc;
    } else {
        if (n == 1) {
            io_uring_prep_send(sqe, conn_fd(conn), conn->iov[0].iov_base, conn->iov[0].iov_len,
                               flags);
        } else {
            io_uring_prep_sendmsg(sqe, conn_fd(conn), &conn->msg, flags);
        }
        sqe_data(sqe, conn, EVPL_URING_OP_SEND);
    }
    conn_sqe_file(sqe, conn);
    conn->send_entries = entries;
    conn->flags |= CONN_SEND;
    conn_op_started(conn);
}

/* The data completion of a send (copying or zero-copy). */
static void
send_done(struct evpl_uring *ur, struct evpl_uring_conn *conn, int res)
{
    struct evpl_bind *bind = conn->bind;

    conn->flags &= ~CONN_SEND;
    if (bind == NULL) {
        conn_release_held(ur->evpl, conn);
        return;
    }
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN) {
            conn_send(conn, bind);
            return;
        }
        if (res != -ECANCELED) {
            evpl_uring_debug("send failed: %s", strerror(-res));
        }
        conn_queue_deliver(conn, CONN_EOF);
        return;
    }
    evpl_bind_send_advance(ur->evpl, bind, (uint64_t) res);
    if (!evpl_iovec_ring_empty(&bind->send_ring)) {
        conn_send(conn, bind);
    }
    evpl_bind_flushed(ur->evpl, bind);
}

static void
uring_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_uring_conn *conn = conn_of(bind);

    if (!(conn->flags & CONN_SEND) && !evpl_iovec_ring_empty(&bind->send_ring)) {
        conn_send(conn, bind);
    }
    evpl_bind_flushed(evpl, bind);
}

/* ---- completions ---------------------------------------------------------------- */

static void accept_complete(struct evpl_uring *ur, struct evpl_uring_listen *l,
                            const struct io_uring_cqe *cqe);

static void
connect_complete(struct evpl_uring *ur, struct evpl_uring_conn *conn, int res)
{
    struct evpl_bind *bind = conn->bind;

    conn->flags &= ~CONN_CONNECT;
    conn_op_done(conn);
    if (bind == NULL) {
        conn_maybe_free(conn);
        return;
    }
    if (res < 0) {
        evpl_uring_debug("connect failed: %s", strerror(-res));
        evpl_bind_transport_closed(ur->evpl, bind);
        return;
    }
    conn_learn_addresses(conn, bind);
    conn_arm_recv(conn);
    evpl_bind_connected(ur->evpl, bind);
}

void
evpl_uring_complete(struct evpl_uring *ur, const struct io_uring_cqe *cqe)
{
    uint64_t     data = cqe->user_data;
    unsigned int op   = data & EVPL_URING_OP_MASK;
    void        *obj  = (void *) (uintptr_t) (data & ~(uint64_t) EVPL_URING_OP_MASK);

    switch (op) {
    case EVPL_URING_OP_RECV:
        recv_complete(ur, obj, cqe);
        break;
    case EVPL_URING_OP_SEND: {
        struct evpl_uring_conn *conn = obj;

        conn_op_done(conn);
        send_done(ur, conn, cqe->res);
        conn_maybe_free(conn);
        break;
    }
    case EVPL_URING_OP_ZC: {
        struct evpl_uring_zc   *zc   = obj;
        struct evpl_uring_conn *conn = zc->conn;

        if (cqe->flags & IORING_CQE_F_NOTIF) {
            /* The kernel is done with the pages. */
            zc_put(ur, zc);
            conn_op_done(conn);
            conn_maybe_free(conn);
            break;
        }
        conn->zc = NULL;
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            zc_put(ur, zc); /* no notification follows */
            conn_op_done(conn);
        }
        send_done(ur, conn, cqe->res);
        conn_maybe_free(conn);
        break;
    }
    case EVPL_URING_OP_CONNECT:
        connect_complete(ur, obj, cqe->res);
        break;
    case EVPL_URING_OP_ACCEPT:
        accept_complete(ur, obj, cqe);
        break;
    case EVPL_URING_OP_FALLBACK:
        fallback_complete(ur, obj, cqe);
        break;
    case EVPL_URING_OP_CLOSE:
        ur->inflight--;
        evpl_uring_slot_done(ur, (int) (data >> 3));
        break;
    default:
        evpl_abort("io_uring", __FILE__, __LINE__, "completion with unknown tag %u", op);
    }
}

/* ---- connect / attach / close ------------------------------------------------------- */

static int
uring_connect(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_address    *remote = bind->remote;
    struct evpl_uring      *ur;
    struct evpl_uring_conn *conn;
    struct io_uring_sqe    *sqe;
    int                     fd, rc;

    conn_set(bind, NULL);
    ur = evpl_uring_get(evpl, &rc);
    if (ur == NULL) {
        return rc;
    }
    /* Blocking socket on purpose: io_uring polls for readiness itself, and
     * an O_NONBLOCK file would make it return EAGAIN instead. */
    fd = socket(evpl_address_family(remote), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        evpl_uring_put(ur);
        return rc;
    }
    socket_tune(fd);
    conn = conn_new(ur, bind, fd);
    if (conn == NULL) {
        close(fd);
        evpl_uring_put(ur);
        return -ENOMEM;
    }
    memcpy(&conn->addr, &remote->sa, remote->addrlen);
    conn->addrlen = remote->addrlen;

    sqe = evpl_uring_sqe(ur);
    io_uring_prep_connect(sqe, conn_fd(conn), (struct sockaddr *) &conn->addr, conn->addrlen);
    conn_sqe_file(sqe, conn);
    sqe_data(sqe, conn, EVPL_URING_OP_CONNECT);
    conn->flags |= CONN_CONNECT;
    conn_op_started(conn);
    return 0;
}

static int
uring_attach(struct evpl *evpl, struct evpl_bind *bind, struct evpl_handoff *handoff)
{
    struct evpl_uring      *ur;
    struct evpl_uring_conn *conn;
    int                     rc;

    conn_set(bind, NULL);
    ur = evpl_uring_get(evpl, &rc);
    if (ur == NULL) {
        close(handoff->fd);
        handoff->fd = -1;
        return rc;
    }
    conn = conn_new(ur, bind, handoff->fd);
    if (conn == NULL) {
        close(handoff->fd);
        handoff->fd = -1;
        evpl_uring_put(ur);
        return -ENOMEM;
    }
    handoff->fd = -1;
    conn_learn_addresses(conn, bind);
    conn_arm_recv(conn);
    return 0;
}

static void
uring_handoff_discard(struct evpl_handoff *handoff)
{
    if (handoff->fd >= 0) {
        close(handoff->fd);
        handoff->fd = -1;
    }
}

static void
uring_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_uring_conn *conn = conn_of(bind);
    struct evpl_uring      *ur;

    if (conn == NULL) {
        return; /* connect failed before any transport existed */
    }
    ur = conn->ur;
    conn_set(bind, NULL);
    conn->bind = NULL;

    /* A copying send still reads the send ring's memory, which the bind
     * layer releases when we return: keep it alive until the completion. */
    if ((conn->flags & CONN_SEND) && conn->zc == NULL && conn->send_entries > 0) {
        conn->held = malloc((size_t) conn->send_entries * sizeof(*conn->held));
        evpl_abort_if(conn->held == NULL, "io_uring", "out of memory closing a connection");
        for (int i = 0; i < (int) conn->send_entries; i++) {
            conn->held[i] = evpl_iovec_ring_at(&bind->send_ring, (unsigned int) i)->ref;
            evpl_iovec_ref_incr(conn->held[i]);
        }
        conn->nheld = (int) conn->send_entries;
    }

    if (conn->inflight) {
        struct io_uring_sqe *sqe = evpl_uring_sqe(ur);

        io_uring_prep_cancel_fd(sqe, conn_fd(conn),
                                IORING_ASYNC_CANCEL_ALL |
                                    (conn->slot >= 0 ? IORING_ASYNC_CANCEL_FD_FIXED : 0));
        io_uring_sqe_set_data64(sqe, 0);
    }
    if (conn->slot >= 0) {
        evpl_uring_slot_close(ur, conn->slot);
        conn->slot = -1;
    }
    /* The cancellation names the descriptor: submit it while it exists. */
    evpl_uring_submit_now(ur);
    close(conn->fd);
    conn->fd = -1;

    conn_maybe_free(conn);
    evpl_uring_put(ur);
    (void) evpl;
}

void
evpl_uring_conns_abandon(struct evpl_uring *ur)
{
    while (ur->conns) {
        conn_free(ur->conns);
    }
    while (ur->zc_busy) {
        zc_put(ur, ur->zc_busy);
    }
    while (ur->zc_free) {
        struct evpl_uring_zc *zc = ur->zc_free;

        ur->zc_free = zc->next;
        free(zc);
    }
    while (ur->listens) {
        struct evpl_uring_listen *l = ur->listens;

        ur->listens = l->next;
        free(l);
    }
}

/* ---- listening ------------------------------------------------------------------------ */

static inline struct evpl_uring_listen **
listen_slot(struct evpl_listen_socket *ls)
{
    return (struct evpl_uring_listen **) ls->backend_private;
}

static void
listen_free(struct evpl_uring_listen *l)
{
    struct evpl_uring *ur = l->ur;

    if (l->prev) {
        l->prev->next = l->next;
    } else {
        ur->listens = l->next;
    }
    if (l->next) {
        l->next->prev = l->prev;
    }
    free(l);
}

static void
listen_arm(struct evpl_uring_listen *l)
{
    struct io_uring_sqe *sqe = evpl_uring_sqe(l->ur);

    /* Blocking accepted sockets, as in connect. */
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
    sqe_data(sqe, l, EVPL_URING_OP_ACCEPT);
    l->armed = 1;
    l->ur->inflight++;
}

static void
listen_retry_cb(struct evpl *evpl, struct evpl_timer *timer)
{
    struct evpl_uring_listen *l =
        (struct evpl_uring_listen *) ((char *) timer - offsetof(struct evpl_uring_listen, retry));

    (void) evpl;
    l->retry_armed = 0;
    if (l->ls && !l->armed) {
        listen_arm(l);
    }
}

static void
accept_complete(struct evpl_uring *ur, struct evpl_uring_listen *l, const struct io_uring_cqe *cqe)
{
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    int res  = cqe->res;

    if (!more) {
        l->armed = 0;
        ur->inflight--;
    }
    if (res >= 0) {
        if (l->ls) {
            struct evpl_handoff    *handoff = evpl_handoff_alloc(l->ls->protocol);
            struct sockaddr_storage ss;
            socklen_t               len = sizeof(ss);

            socket_tune(res);
            handoff->fd = res;
            if (getpeername(res, (struct sockaddr *) &ss, &len) == 0) {
                handoff->remote = evpl_address_create((struct sockaddr *) &ss, len);
            }
            evpl_listener_handoff(l->ls->listener, handoff);
        } else {
            close(res);
        }
    } else if (res != -ECANCELED && l->ls) {
        if (!more && !l->retry_armed) {
            /* Out of descriptors and the like: leave connections queued in
             * the kernel and look again shortly instead of spinning. */
            evpl_uring_error("accept: %s; retrying in 10 ms", strerror(-res));
            l->retry_armed = 1;
            evpl_add_oneshot_timer(ur->evpl, &l->retry, listen_retry_cb, 10000);
        }
        return;
    }
    if (!more) {
        if (l->ls) {
            listen_arm(l);
        } else {
            listen_free(l);
        }
    }
}

static int
uring_listen(struct evpl_listen_socket *ls)
{
    struct evpl_uring        *ur;
    struct evpl_uring_listen *l;
    int                       fd, rc;

    *listen_slot(ls) = NULL;
    ur               = evpl_uring_get(ls->loop, &rc);
    if (ur == NULL) {
        return rc;
    }
    /* Blocking, as for connect: io_uring waits for readiness itself. */
    fd = evpl_socket_tcp_bind(ls->address, SOCK_CLOEXEC);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    if (listen(fd, (int) evpl_config()->max_pending) < 0) {
        rc = -errno;
        close(fd);
        goto fail;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        close(fd);
        rc = -ENOMEM;
        goto fail;
    }
    l->ur   = ur;
    l->ls   = ls;
    l->fd   = fd;
    l->next = ur->listens;
    if (ur->listens) {
        ur->listens->prev = l;
    }
    ur->listens      = l;
    *listen_slot(ls) = l;
    listen_arm(l);
    evpl_uring_submit_now(ur);
    return 0;

fail:
    evpl_uring_put(ur);
    return rc;
}

static void
uring_listen_close(struct evpl_listen_socket *ls)
{
    struct evpl_uring_listen *l = *listen_slot(ls);
    struct evpl_uring        *ur;

    if (l == NULL) {
        return;
    }
    ur               = l->ur;
    *listen_slot(ls) = NULL;
    l->ls            = NULL;
    if (l->retry_armed) {
        evpl_remove_timer(ur->evpl, &l->retry);
        l->retry_armed = 0;
    }
    if (l->armed) {
        struct io_uring_sqe *sqe = evpl_uring_sqe(ur);

        io_uring_prep_cancel_fd(sqe, l->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, 0);
        evpl_uring_submit_now(ur);
    }
    close(l->fd);
    l->fd = -1;
    if (!l->armed) {
        listen_free(l);
    }
    evpl_uring_put(ur);
}

/* ---- registration --------------------------------------------------------------------- */

static const struct evpl_protocol_ops uring_tcp_ops = {
    .connect         = uring_connect,
    .attach          = uring_attach,
    .handoff_discard = uring_handoff_discard,
    .listen          = uring_listen,
    .listen_close    = uring_listen_close,
    .flush           = uring_flush,
    .close           = uring_close,
};

static const struct evpl_protocol uring_tcp_protocol = {
    .id    = EVPL_STREAM_IO_URING_TCP,
    .name  = "STREAM_IO_URING_TCP",
    .flags = EVPL_PROTOCOL_STREAM | EVPL_PROTOCOL_CONNECTED,
    .ops   = &uring_tcp_ops,
};

/*
 * Can this process use io_uring the way the backend does?  A tiny ring, the
 * opcodes we issue and a provided-buffer ring.  Fails under a seccomp
 * profile that blocks io_uring_setup (default container runtimes), with
 * kernel.io_uring_disabled, and on kernels older than 5.19.
 */
static int
uring_probe(void)
{
    static const int          ops[] = {IORING_OP_RECV,   IORING_OP_SEND,    IORING_OP_SENDMSG,
                                       IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_ASYNC_CANCEL,
                                       IORING_OP_CLOSE};
    struct io_uring           ring;
    struct io_uring_probe    *probe;
    struct io_uring_buf_ring *br;
    int                       rc = io_uring_queue_init(4, &ring, 0);

    if (rc < 0) {
        return rc;
    }
    probe = io_uring_get_probe_ring(&ring);
    if (probe == NULL) {
        rc = -ENOSYS;
        goto out;
    }
    for (unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (!io_uring_opcode_supported(probe, ops[i])) {
            rc = -EOPNOTSUPP;
        }
    }
    io_uring_free_probe(probe);
    if (rc < 0) {
        goto out;
    }
    br = evpl_uring_setup_buf_ring(&ring, 2, 0, 0, &rc);
    if (br) {
        evpl_uring_free_buf_ring(&ring, br, 2, 0, 1);
        rc = 0;
    }
out:
    io_uring_queue_exit(&ring);
    return rc;
}

static void
read_knobs(void)
{
    const char *v = getenv("EVPL_IO_URING_ZC_MIN");

    if (v && *v) {
        zc_min = (unsigned int) strtoul(v, NULL, 0);
    }
    v       = getenv("EVPL_IO_URING_ZC_LOOPBACK");
    zc_loop = v && *v && *v != '0';
}

void
evpl_io_uring_register(const struct evpl_global_config *config)
{
    int rc;

    if (!config->io_uring_enabled) {
        return;
    }
    rc = uring_probe();
    if (rc < 0) {
        evpl_uring_info("io_uring unavailable (%s): STREAM_IO_URING_TCP disabled", strerror(-rc));
        return;
    }
    read_knobs();
    evpl_protocol_register(&uring_tcp_protocol);
}

#else /* !EVPL_HAVE_LIBURING */

void
evpl_io_uring_register(const struct evpl_global_config *config)
{
    (void) config;
}

#endif /* EVPL_HAVE_LIBURING */
