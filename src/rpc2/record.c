/*
 * RFC 5531 section 11 record marking over stream binds.
 *
 * Receive: the bind's segment callback frames the stream into pieces of at
 * most RPC2_PIECE_MAX bytes, each delivered as RECV_MSG with references to
 * the received buffers.  A piece that starts a fragment carries the 4-byte
 * record mark in front, which is trimmed off.  Pieces are appended to the
 * conn's reassembly array (references, never bytes) until the piece that
 * ends the last fragment, and the complete record goes to the server or
 * client layer.  A record whose fragments add up to more than the thread's
 * limit closes the connection.
 *
 * Send: every message goes out as one fragment.  The record mark and the
 * RPC header are written into the headroom the caller reserved in front of
 * the payload when it fits, otherwise into a small header buffer of their
 * own sent just before the payload.
 */
#include <stdlib.h>

#include "rpc2_internal.h"

int
rpc2_record_segment(struct evpl *evpl, struct evpl_bind *bind, void *private_data)
{
    struct rpc2_conn *conn = private_data;
    uint32_t          piece;

    if (conn->at_header) {
        uint8_t  mark[4];
        uint32_t length;

        if (evpl_peek(evpl, bind, mark, 4) < 4) {
            return 0;
        }
        length          = rpc2_get_u32(mark) & 0x7fffffffu;
        conn->last_frag = (mark[0] & 0x80) != 0;
        if ((uint64_t) conn->pub.reasm_length + length > conn->pub.thread->max_record) {
            evpl_rpc2_error("record of more than %u bytes (fragment of %u after %u): closing",
                            conn->pub.thread->max_record, length, conn->pub.reasm_length);
            conn->closing = 1;
            return -1;
        }
        conn->frag_left    = length;
        conn->piece_header = 1;
    } else {
        conn->piece_header = 0;
    }
    piece = conn->frag_left < RPC2_PIECE_MAX ? conn->frag_left : RPC2_PIECE_MAX;
    conn->frag_left -= piece;
    conn->at_header  = conn->frag_left == 0;
    conn->piece_last = conn->at_header && conn->last_frag;
    return (int) (piece + (conn->piece_header ? 4 : 0));
}

/* Room for n more iovecs in the reassembly array (grows rarely: it is kept
 * from record to record and swapped with requests, never freed per call). */
static void
reasm_reserve(struct rpc2_conn *conn, int n)
{
    struct evpl_rpc2_conn *c = &conn->pub;

    if (c->reasm_niov + n <= c->reasm_cap) {
        return;
    }
    int cap = c->reasm_cap ? c->reasm_cap : 16;

    while (cap < c->reasm_niov + n) {
        cap *= 2;
    }
    c->reasm_iov = realloc(c->reasm_iov, (size_t) cap * sizeof(*c->reasm_iov));
    evpl_rpc2_abort_if(c->reasm_iov == NULL, "out of memory for %d iovecs", cap);
    c->reasm_cap = cap;
}

void
rpc2_record_reset(struct evpl *evpl, struct rpc2_conn *conn)
{
    evpl_iovecs_release(evpl, conn->pub.reasm_iov, conn->pub.reasm_niov);
    conn->pub.reasm_niov   = 0;
    conn->pub.reasm_length = 0;
}

/* A whole record sits in the reassembly array: route it by msg_type. */
void
rpc2_record_dispatch(struct evpl *evpl, struct rpc2_conn *conn)
{
    struct rpc2_cursor cur;
    uint32_t           xid, msg_type;

    rpc2_cursor_init(&cur, conn->pub.reasm_iov, conn->pub.reasm_niov, conn->pub.reasm_length);
    if (rpc2_cursor_u32(&cur, &xid) || rpc2_cursor_u32(&cur, &msg_type) ||
        msg_type > RPC2_MSG_REPLY) {
        /* Not an RPC message: the peer does not speak RPC (or the stream is
         * out of step), so there is nobody to answer. */
        evpl_rpc2_error("record of %u bytes is not an RPC message: closing",
                        conn->pub.reasm_length);
        rpc2_record_reset(evpl, conn);
        rpc2_conn_close(conn);
        return;
    }
    if (msg_type == RPC2_MSG_CALL) {
        rpc2_server_recv_call(evpl, conn, &cur, xid);
    } else {
        rpc2_client_recv_reply(evpl, conn, &cur, xid);
    }
    /* Whatever the layers did not take. */
    rpc2_record_reset(evpl, conn);
}

void
rpc2_record_recv(struct evpl *evpl, struct rpc2_conn *conn, struct evpl_iovec *iov, int niov,
                 uint32_t length)
{
    struct evpl_rpc2_conn *c    = &conn->pub;
    uint32_t               skip = conn->piece_header ? 4 : 0;
    int                    last = conn->piece_last;

    if (conn->closing) {
        evpl_iovecs_release(evpl, iov, niov);
        return;
    }
    reasm_reserve(conn, niov);
    for (int i = 0; i < niov; i++) {
        if (skip >= iov[i].length) {
            skip -= iov[i].length;
            evpl_iovec_release(evpl, &iov[i]);
            continue;
        }
        iov[i].data = (char *) iov[i].data + skip;
        iov[i].length -= skip;
        skip = 0;
        evpl_iovec_move(&c->reasm_iov[c->reasm_niov++], &iov[i]);
    }
    c->reasm_length += length - (conn->piece_header ? 4 : 0);
    if (last) {
        rpc2_record_dispatch(evpl, conn);
    }
}

/* Append iov[0..niov) minus its first skip bytes to the reassembly array
 * (references moved, nothing copied). */
void
rpc2_record_append(struct evpl *evpl, struct rpc2_conn *conn, struct evpl_iovec *iov, int niov,
                   uint32_t skip, uint32_t length)
{
    struct evpl_rpc2_conn *c = &conn->pub;

    reasm_reserve(conn, niov);
    for (int i = 0; i < niov; i++) {
        if (skip >= iov[i].length) {
            skip -= iov[i].length;
            evpl_iovec_release(evpl, &iov[i]);
            continue;
        }
        iov[i].data = (char *) iov[i].data + skip;
        iov[i].length -= skip;
        skip = 0;
        evpl_iovec_move(&c->reasm_iov[c->reasm_niov++], &iov[i]);
    }
    c->reasm_length += length;
}

/*
 * The framing in front of an RPC message of msg_len bytes whose header
 * starts at hdr: a last-fragment record mark on streams, an RPC-over-RDMA
 * RDMA_MSG header with empty chunk lists on RDMA message binds (rdma.c).
 */
static uint32_t
frame_prefix(struct rpc2_conn *conn, uint8_t *p, const uint8_t *hdr, uint32_t msg_len)
{
    if (conn->pub.rdma) {
        return rpc2_rdma_prefix(p, hdr);
    }
    rpc2_put_u32(p, 0x80000000u | msg_len);
    return 4;
}

void
rpc2_record_send(struct evpl *evpl, struct rpc2_conn *conn, const uint8_t *hdr, uint32_t hdr_len,
                 struct evpl_iovec *iov, int niov, uint32_t length, uint32_t skip)
{
    uint32_t payload = length - skip;
    uint32_t front   = (conn->pub.rdma ? RPC2_RDMA_HDR_LEN : 4) + hdr_len;
    int      first   = 0;

    if (conn->closing || conn->pub.bind == NULL) {
        evpl_iovecs_release(evpl, iov, niov);
        return;
    }
    if (niov > 0 && iov[0].length >= skip && skip >= front) {
        /* In place, in the headroom right before the payload. */
        uint8_t *p = (uint8_t *) iov[0].data + skip - front;

        frame_prefix(conn, p, hdr, hdr_len + payload);
        memcpy(p + front - hdr_len, hdr, hdr_len);
        iov[0].data = p;
        iov[0].length -= skip - front;
        evpl_sendv(evpl, conn->pub.bind, iov, niov, (int) (front + payload),
                   EVPL_SEND_FLAG_TAKE_REF);
        return;
    }

    struct evpl_iovec h;

    evpl_rpc2_abort_if(evpl_iovec_alloc(evpl, front, 0, 1, 0, &h) != 1,
                       "cannot allocate a %u-byte RPC header", front);
    frame_prefix(conn, h.data, hdr, hdr_len + payload);
    memcpy((uint8_t *) h.data + front - hdr_len, hdr, hdr_len);

    /* Drop the headroom. */
    while (first < niov && skip >= iov[first].length) {
        skip -= iov[first].length;
        evpl_iovec_release(evpl, &iov[first]);
        first++;
    }
    if (first < niov) {
        iov[first].data = (char *) iov[first].data + skip;
        iov[first].length -= skip;
    }
    if (payload == 0 || first == niov) {
        if (first < niov) {
            evpl_iovecs_release(evpl, iov + first, niov - first);
        }
        evpl_sendv(evpl, conn->pub.bind, &h, 1, (int) front, EVPL_SEND_FLAG_TAKE_REF);
        return;
    }
    if (!conn->pub.rdma) {
        /* A stream: the header, then the payload behind it. */
        evpl_sendv(evpl, conn->pub.bind, &h, 1, (int) front, EVPL_SEND_FLAG_TAKE_REF);
        evpl_sendv(evpl, conn->pub.bind, iov + first, niov - first, (int) payload,
                   EVPL_SEND_FLAG_TAKE_REF);
        return;
    }

    /* A message transport: header and payload must be one send. */
    struct evpl_iovec stack[64], *all = stack;
    int               n = niov - first + 1;

    if (n > 64) {
        all = malloc((size_t) n * sizeof(*all));
        evpl_rpc2_abort_if(all == NULL, "out of memory");
    }
    all[0] = h;
    memcpy(all + 1, iov + first, (size_t) (niov - first) * sizeof(*all));
    evpl_sendv(evpl, conn->pub.bind, all, n, (int) (front + payload), EVPL_SEND_FLAG_TAKE_REF);
    if (all != stack) {
        free(all);
    }
}
