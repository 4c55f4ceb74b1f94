/*
 * The server side: servers and their listeners, call dispatch into the
 * programs' recv_call_dispatch, the replies the library answers itself
 * (RFC 5531 accept_stat and reject_stat), and send_reply_dispatch, which
 * puts the reply header in front of the encoded result.
 *
 * A request owns its call record (the received iovecs, swapped out of the
 * connection's reassembly array without copying) and a 128 KiB XDR scratch
 * buffer; requests are pooled per thread.  A request outlives its
 * connection: a reply to a connection that is gone is dropped.
 */
#include <stdlib.h>

#include "rpc2_internal.h"

static struct rpc2_request *
request_get(struct evpl_rpc2_thread *thread, struct rpc2_conn *conn)
{
    struct rpc2_request *req = thread->free_requests;

    if (req) {
        thread->free_requests = req->next;
    } else {
        req = calloc(1, sizeof(*req));
        evpl_rpc2_abort_if(req == NULL, "out of memory for a request");
        rpc2_dbuf_init(&req->dbuf, RPC2_DBUF_SIZE);
        req->thread = thread;
    }
    req->dbuf.used = 0;
    memset(&req->encoding, 0, sizeof(req->encoding));
    memset(&req->read_chunk, 0, sizeof(req->read_chunk));
    memset(&req->write_chunk, 0, sizeof(req->write_chunk));
    req->encoding.dbuf        = &req->dbuf;
    req->encoding.read_chunk  = &req->read_chunk;
    req->encoding.write_chunk = &req->write_chunk;
    req->conn                 = conn;
    req->stats                = NULL;
    req->gss                  = NULL;
    req->orphan               = 0;
    req->start_ns             = rpc2_now_ns(thread);
    rpc2_metrics_inflight(thread, 0, 1);
    req->prev = NULL;
    req->next = conn->requests;
    if (conn->requests) {
        conn->requests->prev = req;
    }
    conn->requests = req;
    return req;
}

static void
request_put(struct evpl *evpl, struct rpc2_request *req)
{
    struct evpl_rpc2_thread *thread = req->thread;

    evpl_iovecs_release(evpl, req->iov, req->niov);
    req->niov = 0;
    rpc2_metrics_inflight(thread, 0, -1);
    if (req->conn || req->orphan) {
        if (req->prev) {
            req->prev->next = req->next;
        } else if (req->orphan) {
            thread->orphans = req->next;
        } else {
            req->conn->requests = req->next;
        }
        if (req->next) {
            req->next->prev = req->prev;
        }
    }
    req->orphan           = 0;
    req->conn             = NULL;
    req->next             = thread->free_requests;
    thread->free_requests = req;
}

void
rpc2_request_done(struct evpl *evpl, struct rpc2_request *req)
{
    request_put(evpl, req);
}

void
rpc2_server_reply_raw(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid, uint32_t verf_flavor,
                      const uint8_t *verf, uint32_t vlen, uint32_t stat, const uint8_t *results,
                      uint32_t rlen)
{
    uint32_t padv = (vlen + 3) & ~3u;
    uint32_t len  = 24 + padv + rlen;
    uint8_t *buf = calloc(1, len), *p = buf;

    evpl_rpc2_abort_if(buf == NULL, "out of memory");
    p = rpc2_put_u32(p, xid);
    p = rpc2_put_u32(p, RPC2_MSG_REPLY);
    p = rpc2_put_u32(p, RPC2_MSG_ACCEPTED);
    p = rpc2_put_u32(p, verf_flavor);
    p = rpc2_put_u32(p, vlen);
    if (vlen) {
        memcpy(p, verf, vlen);
    }
    p += padv;
    p = rpc2_put_u32(p, stat);
    if (rlen) {
        memcpy(p, results, rlen);
    }
    rpc2_record_send(evpl, conn, buf, len, NULL, 0, 0, 0);
    free(buf);
}

void
rpc2_server_conn_gone(struct rpc2_conn *conn)
{
    struct evpl_rpc2_thread *thread = conn->pub.thread;

    /* Requests still owed a reply move to the thread, so that a late reply
     * finds them (and drops itself) and thread destroy can free them. */
    while (conn->requests) {
        struct rpc2_request *r = conn->requests;

        conn->requests = r->next;
        r->conn        = NULL;
        r->orphan      = 1;
        r->prev        = NULL;
        r->next        = thread->orphans;
        if (thread->orphans) {
            thread->orphans->prev = r;
        }
        thread->orphans = r;
    }
}

void
rpc2_request_orphans_free(struct evpl_rpc2_thread *thread)
{
    int n = 0;

    while (thread->orphans) {
        request_put(thread->evpl, thread->orphans);
        n++;
    }
    if (n) {
        evpl_rpc2_debug("thread destroyed with %d calls never replied to", n);
    }
}

void
rpc2_request_pool_free(struct evpl_rpc2_thread *thread)
{
    while (thread->free_requests) {
        struct rpc2_request *req = thread->free_requests;

        thread->free_requests = req->next;
        rpc2_dbuf_destroy(&req->dbuf);
        free(req->iov);
        free(req);
    }
}

/* Send a reply that carries no results: hdr[0..len) after the record mark. */
static void
send_bare_reply(struct evpl *evpl, struct rpc2_conn *conn, const uint8_t *hdr, uint32_t len)
{
    rpc2_record_send(evpl, conn, hdr, len, NULL, 0, 0, 0);
}

static void
reply_accepted_error(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid, uint32_t stat,
                     uint32_t low, uint32_t high)
{
    uint8_t hdr[32], *p = hdr;

    p = rpc2_put_u32(p, xid);
    p = rpc2_put_u32(p, RPC2_MSG_REPLY);
    p = rpc2_put_u32(p, RPC2_MSG_ACCEPTED);
    p = rpc2_put_u32(p, EVPL_RPC2_AUTH_NONE);
    p = rpc2_put_u32(p, 0);
    p = rpc2_put_u32(p, stat);
    if (stat == RPC2_PROG_MISMATCH) {
        p = rpc2_put_u32(p, low);
        p = rpc2_put_u32(p, high);
    }
    send_bare_reply(evpl, conn, hdr, (uint32_t) (p - hdr));
}

static void
reply_denied(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid, uint32_t reject_stat,
             uint32_t a, uint32_t b)
{
    uint8_t hdr[24], *p = hdr;

    p = rpc2_put_u32(p, xid);
    p = rpc2_put_u32(p, RPC2_MSG_REPLY);
    p = rpc2_put_u32(p, RPC2_MSG_DENIED);
    p = rpc2_put_u32(p, reject_stat);
    p = rpc2_put_u32(p, a);
    if (reject_stat == RPC2_RPC_MISMATCH) {
        p = rpc2_put_u32(p, b);
    }
    (void) b;
    send_bare_reply(evpl, conn, hdr, (uint32_t) (p - hdr));
}

/* The programs a connection serves. */
static struct evpl_rpc2_program **
conn_programs(struct rpc2_conn *conn, int *n)
{
    if (conn->server) {
        *n = conn->server->nprograms;
        return conn->server->programs;
    }
    *n = conn->pub.num_server_programs;
    return conn->pub.server_programs;
}

void
rpc2_server_recv_call(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_cursor *cur,
                      uint32_t xid)
{
    struct evpl_rpc2_thread   *thread = conn->pub.thread;
    struct rpc2_request       *req    = request_get(thread, conn);
    struct evpl_rpc2_program **programs, *prog = NULL;
    struct evpl_iovec         *swap_iov;
    int                        swap_cap, nprograms, rc, found_prog = 0;
    uint32_t                   low = UINT32_MAX, high = 0;

    /* Take the record: swap arrays with the connection (no copy). */
    swap_iov               = req->iov;
    swap_cap               = req->cap;
    req->iov               = conn->pub.reasm_iov;
    req->cap               = conn->pub.reasm_cap;
    req->niov              = conn->pub.reasm_niov;
    conn->pub.reasm_iov    = swap_iov;
    conn->pub.reasm_cap    = swap_cap;
    conn->pub.reasm_niov   = 0;
    conn->pub.reasm_length = 0;
    req->encoding.xid      = xid;

    rc = rpc2_decode_call(cur, &req->hdr);
    if (rc < 0) {
        evpl_rpc2_error("call xid %u: truncated call header: closing", xid);
        request_put(evpl, req);
        rpc2_conn_close(conn);
        return;
    }
    if (req->hdr.rpcvers != 2) {
        reply_denied(evpl, conn, xid, RPC2_RPC_MISMATCH, 2, 2);
        request_put(evpl, req);
        return;
    }
    if (rc == 0 && req->hdr.cred.flavor == EVPL_RPC2_AUTH_RPCSEC_GSS) {
        rc = rpc2_gss_server_call(evpl, conn, req, cur);
        if (rc < 0) {
            return; /* answered or dropped by the GSS layer */
        }
    }
    if (rc == 0 && req->hdr.cred.flavor == EVPL_RPC2_AUTH_SHORT &&
        rpc2_auth_short_resolve(thread, &req->hdr) != 0) {
        rc = RPC2_AUTH_REJECTEDCRED; /* stale or unknown: the client resends AUTH_SYS */
    }
    req->has_short = 0;
    if (rc == 0 && thread->auth_short && req->hdr.cred.flavor == EVPL_RPC2_AUTH_SYS) {
        rpc2_auth_short_issue(thread, &req->hdr.cred, req->short_handle);
        req->has_short = 1;
    }
    if (rc > 0) {
        reply_denied(evpl, conn, xid, RPC2_AUTH_ERROR, (uint32_t) rc, 0);
        request_put(evpl, req);
        return;
    }

    programs = conn_programs(conn, &nprograms);
    for (int i = 0; i < nprograms; i++) {
        if (programs[i]->program != req->hdr.prog) {
            continue;
        }
        found_prog = 1;
        low        = programs[i]->version < low ? programs[i]->version : low;
        high       = programs[i]->version > high ? programs[i]->version : high;
        if (programs[i]->version == req->hdr.vers) {
            prog = programs[i];
        }
    }
    if (prog == NULL) {
        reply_accepted_error(evpl, conn, xid, found_prog ? RPC2_PROG_MISMATCH : RPC2_PROG_UNAVAIL,
                             low, high);
        request_put(evpl, req);
        return;
    }
    if (req->hdr.proc > prog->maxproc || prog->recv_call_dispatch == NULL) {
        rpc2_metrics_record(rpc2_metrics_proc(thread, prog, req->hdr.proc, 0), 1,
                            rpc2_now_ns(thread) - req->start_ns);
        reply_accepted_error(evpl, conn, xid, RPC2_PROC_UNAVAIL, 0, 0);
        request_put(evpl, req);
        return;
    }

    /* The arguments: the rest of the record, as references in place. */
    struct evpl_iovec *args  = req->iov + cur->index;
    int                nargs = req->niov - cur->index;

    if (nargs > 0) {
        args[0].data = (char *) args[0].data + cur->offset;
        args[0].length -= cur->offset;
    }
    req->encoding.program = prog;
    req->stats            = rpc2_metrics_proc(thread, prog, req->hdr.proc, 0);
    rc = prog->recv_call_dispatch(evpl, &conn->pub, &req->encoding, req->hdr.proc,
                                  prog->program_data, &req->hdr.cred, args, nargs, (int) cur->left,
                                  conn->pub.server_private_data);
    if (rc == 0) {
        return; /* the handler owes one reply (req may already be back in the pool) */
    }
    rpc2_metrics_record(req->stats, 1, rpc2_now_ns(thread) - req->start_ns);
    reply_accepted_error(evpl, conn, xid,
                         rc == 1   ? RPC2_PROC_UNAVAIL
                         : rc == 2 ? RPC2_GARBAGE_ARGS
                                   : RPC2_SYSTEM_ERR,
                         0, 0);
    request_put(evpl, req);
}

int
rpc2_send_reply_dispatch(struct evpl *evpl, struct evpl_rpc2_encoding *encoding,
                         const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov, int length)
{
    struct rpc2_request  *req     = container_of(encoding, struct rpc2_request, encoding);
    uint32_t              reserve = encoding->program->reserve;
    uint32_t              vlen    = verf && verf->data ? verf->len : 0;
    struct evpl_rpc2_verf short_verf;
    uint8_t               short_body[16];

    if (vlen == 0 && req->has_short) {
        /* short_hand_verf (RFC 1831 appendix): the opaque_auth the client is
         * to send as its credential from now on. */
        rpc2_put_u32(short_body, EVPL_RPC2_AUTH_SHORT);
        rpc2_put_u32(short_body + 4, 8);
        memcpy(short_body + 8, req->short_handle, 8);
        short_verf = (struct evpl_rpc2_verf){short_body, 16};
        verf       = &short_verf;
        vlen       = 16;
    }
    uint8_t hdr[24 + RPC2_MAX_AUTH_BODY], *p = hdr;

    if (length < 0 || (uint32_t) length < reserve || vlen > RPC2_MAX_AUTH_BODY) {
        evpl_rpc2_error("reply xid %u: %d bytes with %u of headroom, verifier %u: not sent",
                        encoding->xid, length, reserve, vlen);
        evpl_iovecs_release(evpl, iov, niov);
        return -1;
    }
    rpc2_metrics_record(req->stats, req->conn == NULL, rpc2_now_ns(req->thread) - req->start_ns);
    if (req->conn == NULL) {
        /* The connection went down while the call was being served. */
        evpl_iovecs_release(evpl, iov, niov);
        request_put(evpl, req);
        return 0;
    }
    uint32_t              vflavor = vlen ? EVPL_RPC2_AUTH_SHORT : EVPL_RPC2_AUTH_NONE;
    uint8_t               gss_verf[RPC2_MAX_AUTH_BODY];
    struct evpl_iovec     gss_repl;
    struct evpl_rpc2_verf gss_v;

    if (req->gss) {
        /* RPCSEC_GSS data call: the MIC of its sequence number, and the
         * results wrapped for the integrity and privacy services. */
        if (rpc2_gss_server_reply(evpl, req, gss_verf, &vlen, &iov, &niov, &length, &gss_repl) !=
            0) {
            evpl_rpc2_error("reply xid %u: RPCSEC_GSS could not sign or wrap it: not sent",
                            encoding->xid);
            evpl_iovecs_release(evpl, iov, niov);
            request_put(evpl, req);
            return -1;
        }
        gss_v   = (struct evpl_rpc2_verf){gss_verf, vlen};
        verf    = &gss_v;
        vflavor = EVPL_RPC2_AUTH_RPCSEC_GSS;
    }
    p = rpc2_put_u32(p, encoding->xid);
    p = rpc2_put_u32(p, RPC2_MSG_REPLY);
    p = rpc2_put_u32(p, RPC2_MSG_ACCEPTED);
    p = rpc2_put_u32(p, vflavor);
    p = rpc2_put_u32(p, vlen);
    if (vlen) {
        memcpy(p, verf->data, vlen);
        memset(p + vlen, 0, ((vlen + 3) & ~3u) - vlen);
        p += (vlen + 3) & ~3u;
    }
    p = rpc2_put_u32(p, RPC2_SUCCESS);

    if (encoding->reply_capture_cb) {
        /* The whole RPC reply (without the record mark) as one array. */
        struct evpl_iovec *cap  = malloc((size_t) (niov + 1) * sizeof(*cap));
        int                n    = 1;
        uint32_t           skip = reserve;

        evpl_rpc2_abort_if(cap == NULL, "out of memory");
        cap[0] = (struct evpl_iovec){.data = hdr, .length = (unsigned int) (p - hdr)};
        for (int i = 0; i < niov; i++) {
            if (skip >= iov[i].length) {
                skip -= iov[i].length;
                continue;
            }
            cap[n]        = iov[i];
            cap[n].data   = (char *) iov[i].data + skip;
            cap[n].length = iov[i].length - skip;
            skip          = 0;
            n++;
        }
        encoding->reply_capture_cb(cap, n, (int) (p - hdr) + length - (int) reserve,
                                   encoding->reply_capture_private);
        free(cap);
    }
    rpc2_record_send(evpl, req->conn, hdr, (uint32_t) (p - hdr), iov, niov, (uint32_t) length,
                     reserve);
    request_put(evpl, req);
    return 0;
}

struct evpl_rpc2_server *
evpl_rpc2_server_init(struct evpl_rpc2_program **programs, int nprograms)
{
    struct evpl_rpc2_server *server;

    if (nprograms <= 0 || programs == NULL) {
        evpl_rpc2_error("evpl_rpc2_server_init: no programs");
        return NULL;
    }
    server = calloc(1, sizeof(*server));
    evpl_rpc2_abort_if(server == NULL, "out of memory");
    server->programs = malloc((size_t) nprograms * sizeof(*programs));
    evpl_rpc2_abort_if(server->programs == NULL, "out of memory");
    for (int i = 0; i < nprograms; i++) {
        server->programs[i]              = programs[i];
        programs[i]->send_reply_dispatch = rpc2_send_reply_dispatch;
    }
    server->nprograms = nprograms;
    server->listener  = evpl_listener_create();
    return server;
}

int
evpl_rpc2_server_start(struct evpl_rpc2_server *server, int protocol,
                       struct evpl_endpoint *endpoint)
{
    if (server->listener == NULL) {
        evpl_rpc2_error("evpl_rpc2_server_start: server was stopped");
        return -1;
    }
    return evpl_listen(server->listener, (enum evpl_protocol_id) protocol, endpoint);
}

void
evpl_rpc2_server_stop(struct evpl_rpc2_server *server)
{
    if (server->listener) {
        evpl_listener_destroy(server->listener);
        server->listener = NULL;
    }
}

void
evpl_rpc2_server_destroy(struct evpl_rpc2_server *server)
{
    if (server == NULL) {
        return;
    }
    evpl_rpc2_server_stop(server);
    free(server->programs);
    free(server);
}
