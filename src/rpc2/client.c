/*
 * The client side: evpl_rpc2_call, the per-connection outstanding-call table
 * (hashed by xid), reply matching and completion.  Every call completes
 * exactly once: with its reply, or with EVPL_RPC2_REPLY_CONN_LOST when the
 * connection goes down first.  A reply nobody waits for (unknown or already
 * answered xid) is logged and dropped; the connection stays up.
 */
#include <stdlib.h>

#include "rpc2_internal.h"

static inline struct rpc2_call **
call_bucket(struct rpc2_conn *conn, uint32_t xid)
{
    return &conn->calls[xid & (RPC2_CALL_HASH - 1)];
}

static struct rpc2_call *
call_find(struct rpc2_conn *conn, uint32_t xid, int remove)
{
    struct rpc2_call **pp = call_bucket(conn, xid);

    for (; *pp; pp = &(*pp)->next) {
        struct rpc2_call *call = *pp;

        if (call->xid == xid) {
            if (remove) {
                *pp = call->next;
                conn->ncalls--;
            }
            return call;
        }
    }
    return NULL;
}

static void
call_put(struct evpl_rpc2_thread *thread, struct rpc2_call *call)
{
    call->next         = thread->free_calls;
    thread->free_calls = call;
}

void
rpc2_call_pool_free(struct evpl_rpc2_thread *thread)
{
    while (thread->free_calls) {
        struct rpc2_call *call = thread->free_calls;

        thread->free_calls = call->next;
        free(call);
    }
}

static int
cred_valid(const struct evpl_rpc2_cred *cred)
{
    if (cred == NULL || cred->flavor == EVPL_RPC2_AUTH_NONE) {
        return 1;
    }
    if (cred->flavor != EVPL_RPC2_AUTH_SYS) {
        return 0; /* AUTH_SHORT and RPCSEC_GSS are not sent by this client yet */
    }
    return cred->authsys.num_gids <= EVPL_RPC2_AUTH_SYS_MAX_GIDS &&
           (cred->authsys.num_gids == 0 || cred->authsys.gids != NULL) &&
           cred->authsys.machinename_len >= 0 && cred->authsys.machinename_len <= 255 &&
           (cred->authsys.machinename_len == 0 || cred->authsys.machinename != NULL);
}

int
evpl_rpc2_call(struct evpl *evpl, struct evpl_rpc2_program *program, struct evpl_rpc2_conn *conn,
               const struct evpl_rpc2_cred *cred, uint32_t procedure, struct evpl_iovec *req_iov,
               int req_niov, int req_length, struct evpl_rpc2_rdma_chunk *rdma_chunk,
               int max_rdma_write_chunk, struct evpl_iovec *write_chunk_iov, int write_chunk_niov,
               int max_rdma_reply_chunk, void *callback, void *private_data)
{
    struct rpc2_conn        *c      = rpc2_conn_of(conn);
    struct evpl_rpc2_thread *thread = conn->thread;
    struct rpc2_call        *call;
    uint8_t                  hdr[6 * 4 + 8 + 340 + 8];
    uint32_t                 hdr_len;

    /* RDMA chunks are inert on stream transports (XDR.md 5.8). */
    (void) max_rdma_write_chunk;
    (void) write_chunk_iov;
    (void) write_chunk_niov;
    (void) max_rdma_reply_chunk;
    if (rdma_chunk && rdma_chunk->niov > 0) {
        evpl_iovecs_release(evpl, rdma_chunk->iov, rdma_chunk->niov);
        rdma_chunk->niov = 0;
    }
    if (req_length < 0 || (uint32_t) req_length < program->reserve || !cred_valid(cred)) {
        evpl_rpc2_error("call to program %u proc %u: %d bytes with %u of headroom or a bad "
                        "credential: not sent",
                        program->program, procedure, req_length, program->reserve);
        evpl_iovecs_release(evpl, req_iov, req_niov);
        return -1;
    }

    call = thread->free_calls;
    if (call) {
        thread->free_calls = call->next;
    } else {
        call = malloc(sizeof(*call));
        evpl_rpc2_abort_if(call == NULL, "out of memory for a call");
    }
    do {
        call->xid = conn->next_xid++;
    } while (call_find(c, call->xid, 0));
    call->proc         = procedure;
    call->program      = program;
    call->callback     = callback;
    call->private_data = private_data;
    call->stats        = rpc2_metrics_proc(thread, program, procedure, 1);
    call->start_ns     = rpc2_now_ns(thread);
    rpc2_metrics_inflight(thread, 1, 1);
    call->next                 = *call_bucket(c, call->xid);
    *call_bucket(c, call->xid) = call;
    c->ncalls++;

    hdr_len = rpc2_call_header_size(cred);
    rpc2_encode_call(hdr, call->xid, program->program, program->version, procedure, cred);
    /* On a closing connection nothing is sent; DISCONNECTED completes the call. */
    rpc2_record_send(evpl, c, hdr, hdr_len, req_iov, req_niov, (uint32_t) req_length,
                     program->reserve);
    return 0;
}

static void
complete(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_call *call, int status,
         const struct evpl_rpc2_verf *verf, struct evpl_iovec *iov, int niov, int length)
{
    struct evpl_rpc2_thread           *thread = conn->pub.thread;
    static const struct evpl_rpc2_verf none   = {NULL, 0};
    int                                rc;

    rpc2_metrics_record(call->stats, status != 0, rpc2_now_ns(thread) - call->start_ns);
    rpc2_metrics_inflight(thread, 1, -1);
    thread->reply_dbuf.used = 0;
    rc = call->program->recv_reply_dispatch(evpl, &conn->pub, &thread->reply_dbuf, call->proc, NULL,
                                            verf ? verf : &none, iov, niov, length, status,
                                            call->callback, call->private_data);
    evpl_rpc2_abort_if(rc != 0, "recv_reply_dispatch of program %u returned %d",
                       call->program->program, rc);
    call_put(thread, call);
}

void
rpc2_client_recv_reply(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_cursor *cur,
                       uint32_t xid)
{
    struct rpc2_call     *call = call_find(conn, xid, 1);
    uint32_t              reply_stat, flavor, vlen, stat;
    uint8_t               vbody[RPC2_MAX_AUTH_BODY];
    struct evpl_rpc2_verf verf = {NULL, 0};

    if (call == NULL) {
        evpl_log_info("rpc2", "reply xid %u matches no outstanding call: dropped", xid);
        return;
    }
    if (rpc2_cursor_u32(cur, &reply_stat)) {
        complete(evpl, conn, call, EVPL_RPC2_REPLY_DECODE_ERROR, NULL, NULL, 0, 0);
        return;
    }
    if (reply_stat != RPC2_MSG_ACCEPTED) {
        /* MSG_DENIED (RPC_MISMATCH, AUTH_ERROR) or a reply_stat that does not exist. */
        complete(evpl, conn, call, EVPL_RPC2_REPLY_DENIED, NULL, NULL, 0, 0);
        return;
    }
    if (rpc2_cursor_u32(cur, &flavor) || rpc2_cursor_u32(cur, &vlen) || vlen > RPC2_MAX_AUTH_BODY ||
        rpc2_cursor_bytes(cur, vbody, vlen) || rpc2_cursor_skip(cur, ((vlen + 3) & ~3u) - vlen) ||
        rpc2_cursor_u32(cur, &stat)) {
        complete(evpl, conn, call, EVPL_RPC2_REPLY_DECODE_ERROR, NULL, NULL, 0, 0);
        return;
    }
    if (vlen) {
        verf.data = vbody;
        verf.len  = vlen;
    }
    if (stat == RPC2_SUCCESS) {
        struct evpl_iovec *iov  = conn->pub.reasm_iov + cur->index;
        int                niov = conn->pub.reasm_niov - cur->index;

        if (niov > 0) {
            iov[0].data = (char *) iov[0].data + cur->offset;
            iov[0].length -= cur->offset;
        }
        complete(evpl, conn, call, 0, &verf, iov, niov, (int) cur->left);
        return;
    }
    if (stat > RPC2_SYSTEM_ERR) {
        complete(evpl, conn, call, EVPL_RPC2_REPLY_DECODE_ERROR, NULL, NULL, 0, 0);
        return;
    }
    complete(evpl, conn, call, (int) stat, &verf, NULL, 0, 0);
}

void
rpc2_client_conn_lost(struct evpl *evpl, struct rpc2_conn *conn)
{
    /* Callbacks may issue calls on this (closing) connection; they are added
     * to the table and completed here as well. */
    while (conn->ncalls > 0) {
        for (int b = 0; b < RPC2_CALL_HASH; b++) {
            while (conn->calls[b]) {
                struct rpc2_call *call = conn->calls[b];

                conn->calls[b] = call->next;
                conn->ncalls--;
                complete(evpl, conn, call, EVPL_RPC2_REPLY_CONN_LOST, NULL, NULL, 0, 0);
            }
        }
    }
}

/* Periodic scan for calls past the connection's timeout. */
static void
timeout_tick(struct evpl *evpl, struct evpl_timer *timer)
{
    struct rpc2_conn *conn = container_of(timer, struct rpc2_conn, timeout_timer);
    uint64_t          now  = rpc2_now_ns(conn->pub.thread);

    for (int b = 0; b < RPC2_CALL_HASH; b++) {
        struct rpc2_call **pp = &conn->calls[b];

        while (*pp) {
            struct rpc2_call *call = *pp;

            if (now - call->start_ns < conn->call_timeout_ns) {
                pp = &call->next;
                continue;
            }
            *pp = call->next;
            conn->ncalls--;
            evpl_rpc2_debug("call xid %u timed out", call->xid);
            complete(evpl, conn, call, EVPL_RPC2_REPLY_TIMEOUT, NULL, NULL, 0, 0);
            /* The callback may have issued calls into this bucket: rescan it. */
            pp = &conn->calls[b];
        }
        if (conn->call_timeout_ns == 0) {
            return; /* a callback disabled the timeout (and removed the timer) */
        }
    }
}

void
rpc2_client_conn_stop_timeout(struct rpc2_conn *conn)
{
    if (conn->call_timeout_ns) {
        evpl_remove_timer(conn->pub.thread->evpl, &conn->timeout_timer);
        conn->call_timeout_ns = 0;
    }
}

void
evpl_rpc2_conn_set_call_timeout(struct evpl_rpc2_conn *pub, uint64_t timeout_ms)
{
    struct rpc2_conn *conn = rpc2_conn_of(pub);
    uint64_t          tick_us;

    rpc2_client_conn_stop_timeout(conn);
    if (timeout_ms == 0 || conn->closing) {
        return;
    }
    conn->call_timeout_ns = timeout_ms * 1000000ull;
    tick_us               = timeout_ms * 1000 / 4;
    evpl_add_timer(pub->thread->evpl, &conn->timeout_timer, timeout_tick,
                   tick_us > 1000 ? tick_us : 1000);
}

void
rpc2_client_fail(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid, int status)
{
    struct rpc2_call *call = call_find(conn, xid, 1);

    if (call == NULL) {
        evpl_log_info("rpc2", "RDMA_ERROR for xid %u, which matches no outstanding call", xid);
        return;
    }
    complete(evpl, conn, call, status, NULL, NULL, 0, 0);
}
