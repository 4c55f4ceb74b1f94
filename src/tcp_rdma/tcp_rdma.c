/*
 * DATAGRAM_TCP_RDMA: messages over a TCP connection, plus one-sided RDMA
 * reads and writes emulated by the peer's library (framing in wire.h).
 *
 * Sending.  Three sources feed the socket: the bind's send ring (application
 * messages, one MSG frame each), our RDMA requests, and the responses we owe
 * the peer for its requests.  Messages and requests go out in the order the
 * application submitted them: each request remembers how many messages were
 * queued before it (after_msgs) and waits at the frame boundaries until
 * exactly those have been written.  The peer handles frames in arrival
 * order, so a message sent before an RDMA write is delivered before the write
 * lands, a read sees what earlier messages caused, and a message sent after
 * an operation (e.g. "done" from a write completion) arrives after it.
 * Responses belong to the peer's order, not ours; they go first at every
 * boundary.  One writev covers as many frames as fit; a partially written
 * frame is finished before anything else.
 *
 * A READ_RESP is written straight from the registered memory it reads.  To
 * keep the peer's order, the bytes are snapshotted into a private copy before
 * anything later in the peer's stream can change that memory (a message
 * handed to our application, a write applied), unless they are already out.
 *
 * Receiving.  Bytes are read straight into the loop's pooled receive buffer
 * and appended (by reference) to bind->recv_ring, which this transport uses
 * as its reassembly buffer; complete MSG frames are handed to the
 * application as views of those buffers, without a copy.
 *
 * Listening and accepting reuse the kernel-socket helpers of src/socket/.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/loop.h"
#include "memory/allocator.h"
#include "socket/socket.h"
#include "tcp_rdma/registration.h"
#include "tcp_rdma/tcp_rdma.h"
#include "tcp_rdma/wire.h"

#define evpl_tcp_rdma_debug(...) evpl_log_debug("tcp_rdma", __VA_ARGS__)
#define evpl_tcp_rdma_error(...) evpl_log_error("tcp_rdma", __VA_ARGS__)

/* Full-size reads per dispatch before other events get a turn. */
#define READS_PER_DISPATCH 8
/* MSG frames per writev (their headers live on the stack). */
#define TX_MAX_MSGS 64

#define TX_NONE 0
#define TX_RESP 1 /* a response we owe the peer */
#define TX_REQ  2 /* one of our RDMA requests */
#define TX_MSG  3 /* an application message of the send ring */

/* A control frame (request or response): header plus optional payload. */
struct tcp_rdma_frame {
    struct tcp_rdma_frame *next;
    struct tcp_rdma_hdr    hdr;        /* wire order */
    uint64_t               length;     /* header + payload bytes */
    uint64_t               after_msgs; /* requests: messages to write before this one */
    const void            *raw;        /* READ_RESP: registered memory, until snapshotted */
    uint32_t               raw_len;
    int                    niov; /* WRITE_REQ, snapshotted READ_RESP: owned references */
    struct evpl_iovec     *iov;
    struct evpl_iovec      iov_inline[2];
};

/* A FIFO of control frames. */
struct tcp_rdma_queue {
    struct tcp_rdma_frame *head;
    struct tcp_rdma_frame *tail;
};

/* An RDMA operation we started and the peer has not answered yet. */
struct tcp_rdma_op {
    struct tcp_rdma_op *next;
    uint64_t            id;
    int                 read;
    uint64_t            length;
    int                 niov; /* read: destination clones */
    struct evpl_iovec  *iov;
    struct evpl_iovec   iov_inline[2];
    void (*callback)(int status, void *private_data);
    void *private_data;
};

/* Per-bind state (bind->backend_private). */
struct tcp_rdma {
    struct evpl_event     event; /* first: the event pointer finds the bind */
    int                   connecting;
    int                   closed;
    struct evpl_deferral  tx_deferral;
    struct tcp_rdma_queue resp;      /* responses owed to the peer */
    struct tcp_rdma_queue req;       /* our requests, in submission order */
    uint64_t              msgs_done; /* messages of the send ring fully written */
    int                   resp_raw;  /* queued READ_RESPs still pointing at memory */
    struct tcp_rdma_op   *op_head;
    struct tcp_rdma_op   *op_tail;
    uint64_t              next_id;
    uint64_t              tx_off; /* bytes of the current frame already written */
    int                   tx_cur; /* source of that frame: TX_NONE, TX_RESP, ... */
    int                   rx_have_hdr;
    struct tcp_rdma_hdr   rx_hdr; /* decoded header of the frame being received */
    struct evpl_iovec    *msg_iov;
    unsigned int          msg_iov_max;
};

_Static_assert(sizeof(struct tcp_rdma) <= EVPL_BIND_PRIVATE_SIZE, "tcp_rdma state too large");

static void tcp_rdma_read_cb(struct evpl *evpl, struct evpl_event *event);
static void tcp_rdma_write_cb(struct evpl *evpl, struct evpl_event *event);
static void tcp_rdma_error_cb(struct evpl *evpl, struct evpl_event *event);
static void tx_flush(struct evpl *evpl, struct evpl_bind *bind);

static inline struct tcp_rdma *
tcp_rdma_of(struct evpl_bind *bind)
{
    return evpl_bind_private(bind);
}

/* ---- the receive ring as a reassembly buffer ------------------------------ */

static void
rx_copy(struct evpl_iovec_ring *ring, void *dst, uint64_t length)
{
    uint64_t done = 0;

    for (unsigned int i = 0; done < length; i++) {
        struct evpl_iovec *e    = evpl_iovec_ring_at(ring, i);
        uint64_t           take = e->length < length - done ? e->length : length - done;

        memcpy((char *) dst + done, e->data, take);
        done += take;
    }
}

static void
rx_consume(struct evpl *evpl, struct evpl_iovec_ring *ring, uint64_t length)
{
    ring->length -= length;
    while (length) {
        struct evpl_iovec *e = evpl_iovec_ring_front(ring);

        if (e->length <= length) {
            length -= e->length;
            evpl_iovec_release_internal(evpl, e);
            evpl_iovec_ring_pop(ring);
        } else {
            e->data = (char *) e->data + length;
            e->length -= length;
            length = 0;
        }
    }
}

/* Move the first length bytes of the ring into s->msg_iov (owned references);
 * returns the number of iovecs. */
static int
rx_take(struct evpl *evpl, struct tcp_rdma *s, struct evpl_iovec_ring *ring, uint64_t length)
{
    unsigned int n    = 0;
    uint64_t     left = length;

    (void) evpl;
    for (unsigned int i = 0; left; i++, n++) {
        unsigned int elen = evpl_iovec_ring_at(ring, i)->length;
        left -= elen < left ? elen : left;
    }
    if (n > s->msg_iov_max) {
        unsigned int       max = n < 16 ? 16 : n * 2;
        struct evpl_iovec *p   = realloc(s->msg_iov, max * sizeof(*p));

        evpl_abort_if(p == NULL, "tcp_rdma", "out of memory receiving a message");
        s->msg_iov     = p;
        s->msg_iov_max = max;
    }

    left = length;
    for (unsigned int i = 0; i < n; i++) {
        struct evpl_iovec *e = evpl_iovec_ring_front(ring);

        s->msg_iov[i] = *e;
        if (e->length <= left) {
            left -= e->length;
            ring->length -= e->length;
            evpl_iovec_ring_pop(ring);
        } else {
            s->msg_iov[i].length = left;
            evpl_iovec_ref_incr(e->ref);
            e->data = (char *) e->data + left;
            e->length -= left;
            ring->length -= left;
            left = 0;
        }
    }
    return n;
}

/* ---- control queue and outstanding operations ----------------------------- */

static struct tcp_rdma_frame *
frame_new(unsigned int type, uint32_t length, uint64_t id, uint64_t address, uint32_t key,
          uint32_t status)
{
    struct tcp_rdma_frame *f = calloc(1, sizeof(*f));

    evpl_abort_if(f == NULL, "tcp_rdma", "out of memory queueing an RDMA frame");
    tcp_rdma_hdr_encode(&f->hdr, type, length, id, address, key, status);
    f->length = TCP_RDMA_HDR_LONG;
    return f;
}

static void
frame_free(struct evpl *evpl, struct tcp_rdma_frame *f)
{
    evpl_iovecs_release_internal(evpl, f->iov, f->niov);
    if (f->iov != f->iov_inline) {
        free(f->iov);
    }
    free(f);
}

/* Queue a control frame and have it written at the end of the pass. */
static void
ctl_push(struct evpl *evpl, struct tcp_rdma *s, struct tcp_rdma_queue *q, struct tcp_rdma_frame *f)
{
    f->next = NULL;
    if (q->tail) {
        q->tail->next = f;
    } else {
        q->head = f;
    }
    q->tail = f;
    if (!s->tx_deferral.armed) {
        evpl_defer(evpl, &s->tx_deferral);
    }
}

static void
ctl_pop(struct evpl *evpl, struct tcp_rdma *s, struct tcp_rdma_queue *q)
{
    struct tcp_rdma_frame *f = q->head;

    q->head = f->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    if (f->raw_len) {
        s->resp_raw--;
    }
    frame_free(evpl, f);
}

/*
 * Copy the payload of every queued READ_RESP that still points at registered
 * memory, before the peer's later frames may change that memory: the read
 * then returns what the memory held when the request arrived.  The copy has
 * the same bytes at the same offsets, so a partially written frame simply
 * continues from it.
 */
static void
resp_snapshot(struct evpl *evpl, struct tcp_rdma *s)
{
    for (struct tcp_rdma_frame *f = s->resp.head; s->resp_raw && f; f = f->next) {
        unsigned int max;
        int          n;

        if (f->raw_len == 0) {
            continue;
        }
        max    = f->raw_len / evpl_buffer_size() + 2;
        f->iov = max <= 2 ? f->iov_inline : malloc(max * sizeof(*f->iov));
        evpl_abort_if(f->iov == NULL, "tcp_rdma", "out of memory copying an RDMA read response");
        n = evpl_iovec_alloc(evpl, f->raw_len, 0, max, 0, f->iov);
        evpl_abort_if(n <= 0, "tcp_rdma", "cannot allocate %u bytes for an RDMA read response",
                      f->raw_len);
        for (int i = 0, off = 0; i < n; off += f->iov[i].length, i++) {
            memcpy(f->iov[i].data, (const char *) f->raw + off, f->iov[i].length);
        }
        f->niov    = n;
        f->raw     = NULL;
        f->raw_len = 0;
        s->resp_raw--;
    }
}

static struct evpl_iovec *
iov_array(struct evpl_iovec *inline_iov, int niov)
{
    struct evpl_iovec *iov;

    if (niov <= 2) {
        return inline_iov;
    }
    iov = malloc(niov * sizeof(*iov));
    evpl_abort_if(iov == NULL, "tcp_rdma", "out of memory queueing an RDMA operation");
    return iov;
}

static void
op_push(struct tcp_rdma *s, struct tcp_rdma_op *op)
{
    op->next = NULL;
    if (s->op_tail) {
        s->op_tail->next = op;
    } else {
        s->op_head = op;
    }
    s->op_tail = op;
}

/* Unlink the oldest operation (the caller completes and frees it). */
static struct tcp_rdma_op *
op_pop(struct tcp_rdma *s)
{
    struct tcp_rdma_op *op = s->op_head;

    s->op_head = op->next;
    if (s->op_head == NULL) {
        s->op_tail = NULL;
    }
    return op;
}

static void
op_complete(struct evpl *evpl, struct tcp_rdma_op *op, int status)
{
    evpl_iovecs_release_internal(evpl, op->iov, op->niov);
    if (op->iov != op->iov_inline) {
        free(op->iov);
    }
    op->callback(status, op->private_data);
    free(op);
}

/* ---- receiving ------------------------------------------------------------ */

static void
serve_read(struct evpl *evpl, struct tcp_rdma *s, const struct tcp_rdma_hdr *h)
{
    void                  *mem = evpl_emu_rdma_resolve(h->key, h->address, h->length);
    struct tcp_rdma_frame *f;

    if (mem == NULL) {
        evpl_tcp_rdma_debug("peer read of %u bytes at key %u address 0x%llx refused", h->length,
                            h->key, (unsigned long long) h->address);
        f = frame_new(TCP_RDMA_READ_RESP, 0, h->id, 0, 0, EINVAL);
    } else {
        /* Sent straight from our memory (slabs stay mapped): like real
         * RDMA, a concurrent local write may or may not be seen. */
        f          = frame_new(TCP_RDMA_READ_RESP, h->length, h->id, 0, 0, 0);
        f->raw     = mem;
        f->raw_len = h->length;
        f->length += h->length;
        if (f->raw_len) {
            s->resp_raw++;
        }
    }
    ctl_push(evpl, s, &s->resp, f);
}

static void
serve_write(struct evpl *evpl, struct evpl_bind *bind, struct tcp_rdma *s,
            const struct tcp_rdma_hdr *h)
{
    void    *mem    = evpl_emu_rdma_resolve(h->key, h->address, h->length);
    uint32_t status = 0;

    if (mem == NULL) {
        evpl_tcp_rdma_debug("peer write of %u bytes at key %u address 0x%llx refused", h->length,
                            h->key, (unsigned long long) h->address);
        status = EINVAL;
    } else {
        resp_snapshot(evpl, s); /* earlier reads must not see this write */
        rx_copy(&bind->recv_ring, mem, h->length);
    }
    rx_consume(evpl, &bind->recv_ring, h->length);
    ctl_push(evpl, s, &s->resp, frame_new(TCP_RDMA_WRITE_RESP, 0, h->id, 0, 0, status));
}

/* A response for the oldest operation; returns -1 on a protocol error. */
static int
finish_op(struct evpl *evpl, struct evpl_bind *bind, struct tcp_rdma *s,
          const struct tcp_rdma_hdr *h)
{
    struct tcp_rdma_op *op     = s->op_head;
    uint32_t            plen   = tcp_rdma_payload_len(h);
    int                 status = (int) h->status;

    if (op == NULL || op->id != h->id || op->read != (h->type == TCP_RDMA_READ_RESP)) {
        return -1;
    }
    if (op->read && status == 0) {
        if (plen != op->length) {
            return -1;
        }
        for (int i = 0; i < op->niov; i++) {
            rx_copy(&bind->recv_ring, op->iov[i].data, op->iov[i].length);
            rx_consume(evpl, &bind->recv_ring, op->iov[i].length);
        }
    } else if (plen) {
        rx_consume(evpl, &bind->recv_ring, plen);
    }
    op_complete(evpl, op_pop(s), status);
    return 0;
}

/* Handle every complete frame in the receive ring. */
static void
rx_process(struct evpl *evpl, struct evpl_bind *bind)
{
    struct tcp_rdma        *s    = tcp_rdma_of(bind);
    struct evpl_iovec_ring *ring = &bind->recv_ring;

    while (!evpl_bind_closing(bind)) {
        struct tcp_rdma_hdr *h = &s->rx_hdr;
        uint32_t             plen;

        if (!s->rx_have_hdr) {
            unsigned int hlen;

            if (ring->length < TCP_RDMA_HDR_SHORT) {
                break;
            }
            rx_copy(ring, h, 1);
            if (h->type < TCP_RDMA_MSG || h->type > TCP_RDMA_WRITE_RESP) {
                evpl_tcp_rdma_error("protocol error: unknown frame type %u", h->type);
                evpl_bind_transport_closed(evpl, bind);
                break;
            }
            hlen = tcp_rdma_hdr_len(h->type);
            if (ring->length < hlen) {
                break;
            }
            rx_copy(ring, h, hlen);
            rx_consume(evpl, ring, hlen);
            tcp_rdma_hdr_decode(h);
            s->rx_have_hdr = 1;
        }

        plen = tcp_rdma_payload_len(h);
        if (ring->length < plen) {
            break;
        }
        s->rx_have_hdr = 0;

        switch (h->type) {
        case TCP_RDMA_MSG: {
            int n = rx_take(evpl, s, ring, plen);

            /* The application may change memory an earlier read targets. */
            resp_snapshot(evpl, s);
            /* The references pass to the application. */
            evpl_bind_recv_msg(evpl, bind, s->msg_iov, n, plen, NULL);
            break;
        }
        case TCP_RDMA_READ_REQ:
            serve_read(evpl, s, h);
            break;
        case TCP_RDMA_WRITE_REQ:
            serve_write(evpl, bind, s, h);
            break;
        default:
            if (finish_op(evpl, bind, s, h) < 0) {
                evpl_tcp_rdma_error("protocol error: unexpected RDMA response id %llu",
                                    (unsigned long long) h->id);
                evpl_bind_transport_closed(evpl, bind);
                return;
            }
            break;
        }
    }
}

static void
tcp_rdma_read_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind = evpl_bind_from_private(event);
    struct tcp_rdma  *s    = tcp_rdma_of(bind);
    int               got = 0, eof = 0;

    if (s->connecting) {
        return; /* no read interest yet; the latched state is kept for later */
    }
    if (evpl_bind_closing(bind)) {
        evpl_event_mark_unreadable(evpl, event);
        return;
    }

    for (int round = 0; round < READS_PER_DISPATCH; round++) {
        int     drained;
        ssize_t rc = evpl_bind_recv_readv(evpl, bind, event, &drained);

        if (rc <= 0) {
            if (rc < 0 && !drained) {
                evpl_tcp_rdma_debug("recv failed: %s", strerror((int) -rc));
            }
            if (drained) {
                evpl_event_mark_unreadable(evpl, event);
            } else {
                eof = 1;
            }
            break;
        }
        got = 1;
        if (drained) {
            evpl_event_mark_unreadable(evpl, event);
            break;
        }
    }

    /* Complete frames that arrived before the end of stream count. */
    if (got) {
        rx_process(evpl, bind);
    }
    if (eof) {
        evpl_event_mark_unreadable(evpl, event);
        evpl_bind_transport_closed(evpl, bind);
    }
}

/* ---- sending -------------------------------------------------------------- */

/* Add [base + *skip, base + len) to the gather list; 0 when the list is full. */
static inline int
tx_emit(struct iovec *iov, int *n, int max, const void *base, uint64_t len, uint64_t *skip,
        uint64_t *total)
{
    if (*skip >= len) {
        *skip -= len;
        return 1;
    }
    if (*n == max) {
        return 0;
    }
    iov[*n].iov_base = (char *) base + *skip;
    iov[*n].iov_len  = len - *skip;
    *total += len - *skip;
    (*n)++;
    *skip = 0;
    return 1;
}

static inline int
tx_pending(struct evpl_bind *bind, struct tcp_rdma *s)
{
    return s->resp.head != NULL || s->req.head != NULL ||
           evpl_dgram_ring_count(&bind->dgram_ring) != 0;
}

/*
 * What goes out at a frame boundary, given the heads of the two control
 * queues, the messages written so far and those still queued: a response,
 * else the next request once every message queued before it is out, else the
 * next message.  tx_gather() and tx_advance() both decide through this, so
 * they agree on the order.
 */
static inline int
tx_next(const struct tcp_rdma_frame *resp, const struct tcp_rdma_frame *req, uint64_t msgs_done,
        unsigned int msgs_left)
{
    if (resp) {
        return TX_RESP;
    }
    if (req && req->after_msgs <= msgs_done) {
        return TX_REQ;
    }
    return msgs_left ? TX_MSG : TX_NONE;
}

/* Gather a control frame (header, then payload from memory or iovecs). */
static inline int
tx_emit_frame(struct iovec *iov, int *n, int max, const struct tcp_rdma_frame *f, uint64_t *skip,
              uint64_t *total)
{
    int ok = tx_emit(iov, n, max, &f->hdr, TCP_RDMA_HDR_LONG, skip, total);

    if (ok && f->raw_len) {
        ok = tx_emit(iov, n, max, f->raw, f->raw_len, skip, total);
    }
    for (int i = 0; ok && i < f->niov; i++) {
        ok = tx_emit(iov, n, max, f->iov[i].data, f->iov[i].length, skip, total);
    }
    return ok;
}

/*
 * Fill iov with the frames to write, in the order tx_advance() retires them:
 * the partially written frame first, then at each boundary whatever tx_next()
 * picks.  Returns the entry count.
 */
static int
tx_gather(struct evpl_bind *bind, struct tcp_rdma *s, struct iovec *iov, int max,
          struct tcp_rdma_hdr *msg_hdr, uint64_t *total)
{
    struct tcp_rdma_frame *resp  = s->resp.head;
    struct tcp_rdma_frame *req   = s->req.head;
    unsigned int           nmsgs = evpl_dgram_ring_count(&bind->dgram_ring);
    unsigned int           msg_i = 0, iov_i = 0, nhdr = 0;
    int                    cur  = s->tx_cur;
    uint64_t               skip = s->tx_off;
    int                    n    = 0;

    *total = 0;
    for (;;) {
        int kind = cur != TX_NONE ? cur : tx_next(resp, req, s->msgs_done + msg_i, nmsgs - msg_i);
        int ok   = 1;

        if (kind == TX_NONE) {
            break;
        }
        if (kind == TX_RESP) {
            ok   = tx_emit_frame(iov, &n, max, resp, &skip, total);
            resp = resp->next;
        } else if (kind == TX_REQ) {
            ok  = tx_emit_frame(iov, &n, max, req, &skip, total);
            req = req->next;
        } else {
            struct evpl_dgram *d = evpl_dgram_ring_at(&bind->dgram_ring, msg_i);

            if (nhdr == TX_MAX_MSGS) {
                break;
            }
            tcp_rdma_hdr_encode(&msg_hdr[nhdr], TCP_RDMA_MSG, d->length, 0, 0, 0, 0);
            ok = tx_emit(iov, &n, max, &msg_hdr[nhdr], TCP_RDMA_HDR_SHORT, &skip, total);
            nhdr++;
            for (unsigned int i = 0; ok && i < d->niov; i++) {
                struct evpl_iovec *e = evpl_iovec_ring_at(&bind->send_ring, iov_i + i);

                ok = tx_emit(iov, &n, max, e->data, e->length, &skip, total);
            }
            iov_i += d->niov;
            msg_i++;
        }
        if (!ok) {
            break;
        }
        cur = TX_NONE;
    }
    return n;
}

/* bytes were written: retire whole frames, remember how far into the next. */
static void
tx_advance(struct evpl *evpl, struct evpl_bind *bind, struct tcp_rdma *s, uint64_t bytes)
{
    while (bytes) {
        uint64_t rem;

        if (s->tx_cur == TX_NONE) {
            s->tx_cur = tx_next(s->resp.head, s->req.head, s->msgs_done,
                                evpl_dgram_ring_count(&bind->dgram_ring));
            evpl_abort_if(s->tx_cur == TX_NONE, "tcp_rdma", "wrote %llu bytes beyond the queues",
                          (unsigned long long) bytes);
        }
        if (s->tx_cur == TX_RESP) {
            rem = s->resp.head->length - s->tx_off;
        } else if (s->tx_cur == TX_REQ) {
            rem = s->req.head->length - s->tx_off;
        } else {
            rem = TCP_RDMA_HDR_SHORT + evpl_dgram_ring_front(&bind->dgram_ring)->length - s->tx_off;
        }
        if (bytes < rem) {
            s->tx_off += bytes;
            return;
        }
        bytes -= rem;
        if (s->tx_cur == TX_RESP) {
            ctl_pop(evpl, s, &s->resp);
        } else if (s->tx_cur == TX_REQ) {
            ctl_pop(evpl, s, &s->req);
        } else {
            evpl_bind_send_pop_msg(evpl, bind);
            s->msgs_done++;
        }
        s->tx_cur = TX_NONE;
        s->tx_off = 0;
    }
}

static void
tx_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct tcp_rdma    *s   = tcp_rdma_of(bind);
    struct iovec       *iov = evpl_bind_scratch_iovec(evpl);
    int                 max = evpl_bind_max_iov();
    struct tcp_rdma_hdr msg_hdr[TX_MAX_MSGS];

    if (s->connecting || s->closed) {
        return;
    }
    while (tx_pending(bind, s)) {
        uint64_t      total;
        int           n   = tx_gather(bind, s, iov, max, msg_hdr, &total);
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t       rc  = sendmsg(s->event.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                evpl_event_mark_unwritable(evpl, &s->event);
                evpl_event_write_interest(evpl, &s->event);
                break;
            }
            evpl_tcp_rdma_debug("send failed: %s", strerror(errno));
            evpl_bind_transport_closed(evpl, bind);
            return;
        }
        tx_advance(evpl, bind, s, rc);
        if ((uint64_t) rc < total) {
            /* The socket buffer is full; wait for the next writable edge. */
            evpl_event_mark_unwritable(evpl, &s->event);
            evpl_event_write_interest(evpl, &s->event);
            break;
        }
    }
    if (!tx_pending(bind, s)) {
        evpl_event_write_disinterest(evpl, &s->event);
    }
    evpl_bind_flushed(evpl, bind);
}

/* Our control frames go out at the end of the pass, batched like sends. */
static void
tx_deferred(struct evpl *evpl, void *private_data)
{
    struct evpl_bind *bind = private_data;

    if ((bind->flags & (EVPL_BIND_CONNECTED | EVPL_BIND_CLOSED)) == EVPL_BIND_CONNECTED) {
        tx_flush(evpl, bind);
    }
}

static void
tcp_rdma_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    tx_flush(evpl, bind);
}

/* ---- connection setup and teardown ---------------------------------------- */

static void
state_init(struct evpl_bind *bind, int fd)
{
    struct tcp_rdma *s = tcp_rdma_of(bind);

    s->event.fd             = fd;
    s->event.read_callback  = tcp_rdma_read_cb;
    s->event.write_callback = tcp_rdma_write_cb;
    s->event.error_callback = tcp_rdma_error_cb;
    evpl_deferral_init(&s->tx_deferral, tx_deferred, bind);
}

static int
tcp_rdma_connect(struct evpl *evpl, struct evpl_bind *bind)
{
    struct tcp_rdma     *s      = tcp_rdma_of(bind);
    struct evpl_address *remote = bind->remote;
    int                  fd, rc;

    state_init(bind, -1);
    fd = socket(evpl_address_family(remote), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    evpl_socket_tcp_setup(fd); /* accepted sockets got it from the listener */

    /* Register after connect(): the mechanism then reports the real state
     * of the attempt rather than that of an unconnected socket. */
    rc = connect(fd, &remote->sa, remote->addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    s->connecting = 1;
    s->event.fd   = fd;
    rc            = evpl_event_add_traffic(evpl, &s->event);
    if (rc < 0) {
        close(fd);
        s->event.fd = -1;
        return rc;
    }
    evpl_event_write_interest(evpl, &s->event);
    return 0;
}

/* The non-blocking connect finished (writable or error reported). */
static void
connect_complete(struct evpl *evpl, struct evpl_bind *bind)
{
    struct tcp_rdma *s   = tcp_rdma_of(bind);
    int              err = evpl_socket_connect_result(s->event.fd);

    if (err < 0) {
        evpl_event_mark_unwritable(evpl, &s->event); /* not over yet */
        return;
    }
    s->connecting = 0;
    evpl_event_write_disinterest(evpl, &s->event);
    if (err) {
        evpl_tcp_rdma_debug("connect failed: %s", strerror(err));
        evpl_bind_transport_closed(evpl, bind);
        return;
    }
    evpl_socket_set_local_address(bind, s->event.fd);
    evpl_event_read_interest(evpl, &s->event);
    evpl_bind_connected(evpl, bind);
    if ((s->resp.head || s->req.head) && !s->tx_deferral.armed) {
        evpl_defer(evpl, &s->tx_deferral); /* RDMA requested before the connection was up */
    }
}

static void
tcp_rdma_write_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind = evpl_bind_from_private(event);
    struct tcp_rdma  *s    = tcp_rdma_of(bind);

    if (s->connecting) {
        connect_complete(evpl, bind);
        return;
    }
    if ((bind->flags & EVPL_BIND_CLOSED) || !tx_pending(bind, s)) {
        evpl_event_write_disinterest(evpl, event);
        return;
    }
    tx_flush(evpl, bind);
}

static void
tcp_rdma_error_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind = evpl_bind_from_private(event);
    struct tcp_rdma  *s    = tcp_rdma_of(bind);

    if (s->connecting) {
        connect_complete(evpl, bind);
        return;
    }
    if (!evpl_bind_closing(bind)) {
        /* Reading surfaces the error or end of stream, after any data. */
        tcp_rdma_read_cb(evpl, event);
    }
}

static int
tcp_rdma_attach(struct evpl *evpl, struct evpl_bind *bind, struct evpl_handoff *handoff)
{
    struct tcp_rdma *s = tcp_rdma_of(bind);
    int              rc;

    state_init(bind, handoff->fd);
    rc = evpl_event_add_traffic(evpl, &s->event);
    if (rc < 0) {
        close(handoff->fd);
        handoff->fd = -1;
        return rc;
    }
    handoff->fd = -1;
    evpl_socket_set_local_address(bind, s->event.fd);
    evpl_event_read_interest(evpl, &s->event);
    return 0;
}

static void
tcp_rdma_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct tcp_rdma *s = tcp_rdma_of(bind);

    s->closed = 1;
    if (s->event.fd >= 0) {
        evpl_event_remove(evpl, &s->event);
        close(s->event.fd);
        s->event.fd = -1;
    }
    evpl_remove_deferral(evpl, &s->tx_deferral);
    while (s->resp.head) {
        ctl_pop(evpl, s, &s->resp);
    }
    while (s->req.head) {
        ctl_pop(evpl, s, &s->req);
    }
    /* Operations the peer will never answer fail; their owners hear it. */
    while (s->op_head) {
        op_complete(evpl, op_pop(s), ECONNRESET);
    }
    free(s->msg_iov);
    s->msg_iov     = NULL;
    s->msg_iov_max = 0;
}

/* ---- RDMA operations ------------------------------------------------------ */

/*
 * A request submitted now follows every message queued so far: those already
 * written, the one being written, and those waiting in the send ring.
 */
static inline uint64_t
req_after_msgs(struct evpl_bind *bind, const struct tcp_rdma *s)
{
    return s->msgs_done + evpl_dgram_ring_count(&bind->dgram_ring);
}

static uint64_t
iov_total(const struct evpl_iovec *iov, int niov)
{
    uint64_t total = 0;

    for (int i = 0; i < niov; i++) {
        total += iov[i].length;
    }
    return total;
}

static void
tcp_rdma_rdma_read(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                   uint64_t remote_address, struct evpl_iovec *iov, int niov,
                   void (*callback)(int status, void *private_data), void *private_data)
{
    struct tcp_rdma       *s = tcp_rdma_of(bind);
    struct tcp_rdma_op    *op;
    struct tcp_rdma_frame *f;
    uint64_t               total = iov_total(iov, niov);

    evpl_abort_if(total > UINT32_MAX, "tcp_rdma", "RDMA read of %llu bytes exceeds 4 GiB",
                  (unsigned long long) total);
    if (s->closed) {
        /* Past close there is no pass left to defer to. */
        callback(ENOTCONN, private_data);
        return;
    }
    op = calloc(1, sizeof(*op));
    evpl_abort_if(op == NULL, "tcp_rdma", "out of memory queueing an RDMA read");
    op->id           = ++s->next_id;
    op->read         = 1;
    op->length       = total;
    op->callback     = callback;
    op->private_data = private_data;
    op->niov         = niov;
    op->iov          = iov_array(op->iov_inline, niov);
    for (int i = 0; i < niov; i++) {
        evpl_iovec_clone(&op->iov[i], &iov[i]);
    }
    op_push(s, op);
    f = frame_new(TCP_RDMA_READ_REQ, (uint32_t) total, op->id, remote_address, remote_key, 0);
    f->after_msgs = req_after_msgs(bind, s);
    ctl_push(evpl, s, &s->req, f);
}

static void
tcp_rdma_rdma_write(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                    uint64_t remote_address, struct evpl_iovec *iov, int niov, unsigned int flags,
                    void (*callback)(int status, void *private_data), void *private_data)
{
    struct tcp_rdma       *s = tcp_rdma_of(bind);
    struct tcp_rdma_op    *op;
    struct tcp_rdma_frame *f;
    uint64_t               total = iov_total(iov, niov);

    evpl_abort_if(total > UINT32_MAX, "tcp_rdma", "RDMA write of %llu bytes exceeds 4 GiB",
                  (unsigned long long) total);
    if (s->closed) {
        if (flags & EVPL_RDMA_FLAG_TAKE_REF) {
            evpl_iovecs_release_internal(evpl, iov, niov);
        }
        callback(ENOTCONN, private_data);
        return;
    }
    op = calloc(1, sizeof(*op));
    evpl_abort_if(op == NULL, "tcp_rdma", "out of memory queueing an RDMA write");
    op->id           = ++s->next_id;
    op->length       = total;
    op->callback     = callback;
    op->private_data = private_data;
    op->iov          = op->iov_inline;
    op_push(s, op);

    f = frame_new(TCP_RDMA_WRITE_REQ, (uint32_t) total, op->id, remote_address, remote_key, 0);
    f->niov = niov;
    f->iov  = iov_array(f->iov_inline, niov);
    for (int i = 0; i < niov; i++) {
        if (flags & EVPL_RDMA_FLAG_TAKE_REF) {
            f->iov[i] = iov[i];
        } else {
            evpl_iovec_clone(&f->iov[i], &iov[i]);
        }
    }
    f->length += total;
    f->after_msgs = req_after_msgs(bind, s);
    ctl_push(evpl, s, &s->req, f);
}

static void
tcp_rdma_get_address(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovec,
                     uint32_t *r_key, uint64_t *r_address)
{
    (void) evpl;
    (void) bind;
    if (evpl_emu_rdma_address(iovec, r_key, r_address) < 0) {
        *r_key     = 0;
        *r_address = 0;
    }
}

/* Control frames (RDMA responses owed to the peer, our own requests) are
 * output a graceful finish must not cut off. */
static int
tcp_rdma_pending_output(struct evpl_bind *bind)
{
    const struct tcp_rdma *s = tcp_rdma_of(bind);

    return s->resp.head != NULL || s->req.head != NULL;
}

/* ---- registration --------------------------------------------------------- */

static const struct evpl_protocol_ops tcp_rdma_ops = {
    .connect          = tcp_rdma_connect,
    .attach           = tcp_rdma_attach,
    .handoff_discard  = evpl_socket_handoff_discard,
    .listen           = evpl_socket_tcp_listen,
    .listen_close     = evpl_socket_listen_stop,
    .flush            = tcp_rdma_flush,
    .close            = tcp_rdma_close,
    .rdma_read        = tcp_rdma_rdma_read,
    .rdma_write       = tcp_rdma_rdma_write,
    .rdma_get_address = tcp_rdma_get_address,
    .pending_output   = tcp_rdma_pending_output,
};

static const struct evpl_protocol tcp_rdma_protocol = {
    .id    = EVPL_DATAGRAM_TCP_RDMA,
    .name  = "DATAGRAM_TCP_RDMA",
    .flags = EVPL_PROTOCOL_CONNECTED | EVPL_PROTOCOL_RDMA,
    .ops   = &tcp_rdma_ops,
};

void
evpl_tcp_rdma_register(void)
{
    evpl_protocol_register(&tcp_rdma_protocol);
}
