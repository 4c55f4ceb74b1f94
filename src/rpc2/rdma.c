/*
 * RPC-over-RDMA version 1 (RFC 8166) framing on RDMA-capable message binds
 * (DATAGRAM_TCP_RDMA, DATAGRAM_INPROC, RDMA CM RC), inline messages only:
 * every call and reply travels as RDMA_MSG with empty read, write and reply
 * chunk lists, behind the 28-byte transport header.  The receiver checks
 * the version (RDMA_ERROR ERR_VERS otherwise), refuses chunk lists and
 * RDMA_NOMSG with RDMA_ERROR ERR_CHUNK (chunks are not implemented yet),
 * and completes a client call answered by RDMA_ERROR with
 * EVPL_RPC2_REPLY_RDMA_ERROR.  Credits: 128 are requested and granted in
 * every message; they are not enforced.
 */
#include "rpc2_internal.h"

#define RDMA_VERSION   1
#define RDMA_MSG       0
#define RDMA_NOMSG     1
#define RDMA_ERROR     4
#define RDMA_ERR_VERS  1
#define RDMA_ERR_CHUNK 2

uint32_t
rpc2_rdma_prefix(uint8_t *p, const uint8_t *rpc_hdr)
{
    memcpy(p, rpc_hdr, 4); /* rdma_xid: the RPC message's xid */
    p = rpc2_put_u32(p + 4, RDMA_VERSION);
    p = rpc2_put_u32(p, RPC2_RDMA_CREDITS);
    p = rpc2_put_u32(p, RDMA_MSG);
    p = rpc2_put_u32(p, 0); /* read list: empty */
    p = rpc2_put_u32(p, 0); /* write list: empty */
    rpc2_put_u32(p, 0);     /* reply chunk: none */
    return RPC2_RDMA_HDR_LEN;
}

static void
send_error(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid, uint32_t err)
{
    struct evpl_iovec v;
    uint8_t          *p;
    uint32_t          len = err == RDMA_ERR_VERS ? 28 : 20;

    if (conn->closing || evpl_iovec_alloc(evpl, len, 0, 1, 0, &v) != 1) {
        return;
    }
    p = v.data;
    p = rpc2_put_u32(p, xid);
    p = rpc2_put_u32(p, RDMA_VERSION);
    p = rpc2_put_u32(p, RPC2_RDMA_CREDITS);
    p = rpc2_put_u32(p, RDMA_ERROR);
    p = rpc2_put_u32(p, err);
    if (err == RDMA_ERR_VERS) {
        p = rpc2_put_u32(p, RDMA_VERSION); /* rdma_vers_low */
        rpc2_put_u32(p, RDMA_VERSION);     /* rdma_vers_high */
    }
    evpl_sendv(evpl, conn->pub.bind, &v, 1, (int) len, EVPL_SEND_FLAG_TAKE_REF);
}

void
rpc2_rdma_recv(struct evpl *evpl, struct rpc2_conn *conn, struct evpl_iovec *iov, int niov,
               uint32_t length)
{
    struct rpc2_cursor cur;
    uint32_t           xid, vers, credits, proc, read_list, write_list, reply_chunk;

    if (conn->closing) {
        evpl_iovecs_release(evpl, iov, niov);
        return;
    }
    rpc2_cursor_init(&cur, iov, niov, length);
    if (rpc2_cursor_u32(&cur, &xid) || rpc2_cursor_u32(&cur, &vers) ||
        rpc2_cursor_u32(&cur, &credits) || rpc2_cursor_u32(&cur, &proc)) {
        evpl_rpc2_error("RPC-over-RDMA message of %u bytes: truncated header: closing", length);
        evpl_iovecs_release(evpl, iov, niov);
        rpc2_conn_close(conn);
        return;
    }
    if (vers != RDMA_VERSION) {
        send_error(evpl, conn, xid, RDMA_ERR_VERS);
        evpl_iovecs_release(evpl, iov, niov);
        return;
    }
    if (proc == RDMA_ERROR) {
        rpc2_client_fail(evpl, conn, xid, EVPL_RPC2_REPLY_RDMA_ERROR);
        evpl_iovecs_release(evpl, iov, niov);
        return;
    }
    if (proc != RDMA_MSG || rpc2_cursor_u32(&cur, &read_list) ||
        rpc2_cursor_u32(&cur, &write_list) || rpc2_cursor_u32(&cur, &reply_chunk) ||
        read_list != 0 || write_list != 0 || reply_chunk != 0) {
        /* RDMA_NOMSG, RDMA_MSGP/DONE (obsolete) or any chunk list: chunks are
         * not implemented, so the message cannot be read. */
        send_error(evpl, conn, xid, RDMA_ERR_CHUNK);
        if (proc == RDMA_MSG || proc == RDMA_NOMSG) {
            rpc2_client_fail(evpl, conn, xid, EVPL_RPC2_REPLY_RDMA_ERROR);
        }
        evpl_iovecs_release(evpl, iov, niov);
        return;
    }
    /* The RPC message follows the transport header: one whole record. */
    rpc2_record_append(evpl, conn, iov, niov, RPC2_RDMA_HDR_LEN, length - RPC2_RDMA_HDR_LEN);
    rpc2_record_dispatch(evpl, conn);
}
