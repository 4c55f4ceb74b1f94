/*
 * RPCSEC_GSS (RFC 2203) on the server, with the cryptography delegated to
 * the provider of evpl_rpc2_set_gss_provider():
 *   - context creation over procedure 0 (RPCSEC_GSS_INIT / CONTINUE_INIT),
 *     answered with rpc_gss_init_res and, once established, a verifier
 *     holding the MIC of the sequence window;
 *   - data calls: the verifier (MIC of the header from the xid through the
 *     credential) is checked, the sequence number must be inside the window
 *     and not seen before (otherwise the call is dropped without a reply),
 *     and the arguments are unwrapped for the integrity and privacy
 *     services (into one new buffer: the one copy this service costs); the
 *     reply carries the MIC of the sequence number and wrapped results;
 *   - RPCSEC_GSS_DESTROY.
 * Without a provider every flavor-6 call is refused with AUTH_REJECTEDCRED.
 * Contexts are per RPC2 thread (a connection belongs to one thread).
 */
#include <stdlib.h>

#include "rpc2_internal.h"

#define GSS_VERSION       1
#define GSS_PROC_DATA     0
#define GSS_PROC_INIT     1
#define GSS_PROC_CONTINUE 2
#define GSS_PROC_DESTROY  3
#define GSS_MAXSEQ        0x80000000u
#define GSS_WINDOW        128
#define GSS_CONTEXTS      64
#define GSS_CREDPROBLEM   13
#define GSS_CTXPROBLEM    14
#define GSS_S_COMPLETE    0
#define GSS_S_CONTINUE    1
#define GSS_S_FAILURE     0x000d0000u
#define GSS_MAX_TOKEN     65536

struct rpc2_gss_context {
    int      used, established, seen_any;
    uint32_t gen;
    void    *gss_ctx;
    char     principal[EVPL_RPC2_GSS_PRINCIPAL_MAX];
    uint32_t seq_max;
    uint64_t window[GSS_WINDOW / 64]; /* bit i: seq_max - i was seen */
};

struct rpc2_gss_table {
    struct rpc2_gss_context ctx[GSS_CONTEXTS];
};

void
evpl_rpc2_set_gss_provider(struct evpl_rpc2_thread             *thread,
                           const struct evpl_rpc2_gss_provider *provider, void *provider_arg)
{
    thread->gss_provider     = provider;
    thread->gss_provider_arg = provider ? provider_arg : NULL;
}

void
rpc2_gss_free(struct evpl_rpc2_thread *thread)
{
    if (thread->gss == NULL) {
        return;
    }
    for (int i = 0; i < GSS_CONTEXTS; i++) {
        struct rpc2_gss_context *g = &thread->gss->ctx[i];

        if (g->used && g->gss_ctx && thread->gss_provider) {
            thread->gss_provider->destroy(thread->gss_provider_arg, g->gss_ctx);
        }
    }
    free(thread->gss);
    thread->gss = NULL;
}

struct gss_cred {
    uint32_t version, proc, seq, service, handle_len;
    uint8_t  handle[RPC2_MAX_AUTH_BODY];
};

static int
decode_cred(const struct rpc2_call_header *h, struct gss_cred *gc)
{
    struct evpl_iovec  v = {.data = (void *) h->gss_cred, .length = h->gss_cred_len};
    struct rpc2_cursor c;

    rpc2_cursor_init(&c, &v, 1, h->gss_cred_len);
    if (rpc2_cursor_u32(&c, &gc->version) || rpc2_cursor_u32(&c, &gc->proc) ||
        rpc2_cursor_u32(&c, &gc->seq) || rpc2_cursor_u32(&c, &gc->service) ||
        rpc2_cursor_u32(&c, &gc->handle_len) || gc->handle_len > RPC2_MAX_AUTH_BODY ||
        rpc2_cursor_bytes(&c, gc->handle, gc->handle_len) ||
        rpc2_cursor_skip(&c, ((gc->handle_len + 3) & ~3u) - gc->handle_len) || c.left != 0) {
        return -1;
    }
    return 0;
}

static struct rpc2_gss_context *
lookup(struct evpl_rpc2_thread *thread, const struct gss_cred *gc)
{
    uint32_t idx, gen;

    if (thread->gss == NULL || gc->handle_len != 8) {
        return NULL;
    }
    idx = rpc2_get_u32(gc->handle);
    gen = rpc2_get_u32(gc->handle + 4);
    if (idx >= GSS_CONTEXTS || !thread->gss->ctx[idx].used || thread->gss->ctx[idx].gen != gen) {
        return NULL;
    }
    return &thread->gss->ctx[idx];
}

static void
put_handle(struct evpl_rpc2_thread *thread, struct rpc2_gss_context *g, uint8_t *p)
{
    rpc2_put_u32(p, (uint32_t) (g - thread->gss->ctx));
    rpc2_put_u32(p + 4, g->gen);
}

/* MIC of a 32-bit value (sequence number or window) as a verifier body. */
static int
mic_u32(struct evpl_rpc2_thread *thread, struct rpc2_gss_context *g, uint32_t v, uint8_t *out,
        uint32_t *out_len)
{
    uint8_t b[4];
    void   *mic = NULL;
    size_t  len = 0;

    rpc2_put_u32(b, v);
    if (thread->gss_provider->get_mic(thread->gss_provider_arg, g->gss_ctx, b, 4, &mic, &len) !=
            0 ||
        len > RPC2_MAX_AUTH_BODY) {
        free(mic);
        return -1;
    }
    memcpy(out, mic, len);
    *out_len = (uint32_t) len;
    free(mic);
    return 0;
}

/* Copy n bytes at the cursor into a new malloc'ed buffer (NULL if short). */
static uint8_t *
take_bytes(struct rpc2_cursor *cur, uint32_t n)
{
    uint8_t *p = malloc(n ? n : 1);

    if (p && rpc2_cursor_bytes(cur, p, n) != 0) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Decode opaque<max> at the cursor into a malloc'ed buffer. */
static uint8_t *
take_opaque(struct rpc2_cursor *cur, uint32_t max, uint32_t *len)
{
    uint8_t *p;

    if (rpc2_cursor_u32(cur, len) || *len > max || *len > cur->left) {
        return NULL;
    }
    p = take_bytes(cur, *len);
    if (p && rpc2_cursor_skip(cur, ((*len + 3) & ~3u) - *len) != 0) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Sequence window (RFC 2203 section 5.3.3.1): 0 accept, -1 drop. */
static int
window_check(struct rpc2_gss_context *g, uint32_t seq)
{
    if (!g->seen_any || seq > g->seq_max) {
        uint32_t shift = g->seen_any ? seq - g->seq_max : GSS_WINDOW;

        if (shift >= GSS_WINDOW) {
            memset(g->window, 0, sizeof(g->window));
        } else {
            for (uint32_t s = 0; s < shift; s++) {
                g->window[1] = (g->window[1] << 1) | (g->window[0] >> 63);
                g->window[0] <<= 1;
            }
        }
        g->window[0] |= 1;
        g->seq_max  = seq;
        g->seen_any = 1;
        return 0;
    }
    uint32_t back = g->seq_max - seq;

    if (back >= GSS_WINDOW || (g->window[back / 64] >> (back % 64)) & 1) {
        return -1;
    }
    g->window[back / 64] |= 1ull << (back % 64);
    return 0;
}

static void
reply_init_res(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_request *req,
               struct rpc2_gss_context *g, uint32_t major, const void *token, uint32_t token_len)
{
    struct evpl_rpc2_thread *thread = conn->pub.thread;
    uint32_t                 rlen   = 4 + (g ? 8 : 0) + 12 + 4 + ((token_len + 3) & ~3u);
    uint8_t                 *res = calloc(1, rlen), *p = res;
    uint8_t                  verf[RPC2_MAX_AUTH_BODY];
    uint32_t                 vlen = 0, vflavor = EVPL_RPC2_AUTH_NONE;

    evpl_rpc2_abort_if(res == NULL, "out of memory");
    p = rpc2_put_u32(p, g ? 8 : 0);
    if (g) {
        put_handle(thread, g, p);
        p += 8;
    }
    p = rpc2_put_u32(p, major);
    p = rpc2_put_u32(p, 0);
    p = rpc2_put_u32(p, GSS_WINDOW);
    p = rpc2_put_u32(p, token_len);
    if (token_len) {
        memcpy(p, token, token_len);
    }
    if (g && major == GSS_S_COMPLETE && mic_u32(thread, g, GSS_WINDOW, verf, &vlen) == 0) {
        vflavor = EVPL_RPC2_AUTH_RPCSEC_GSS;
    }
    rpc2_server_reply_raw(evpl, conn, req->encoding.xid, vflavor, verf, vlen, RPC2_SUCCESS, res,
                          rlen);
    free(res);
}

static struct rpc2_gss_context *
context_new(struct evpl_rpc2_thread *thread)
{
    if (thread->gss == NULL) {
        thread->gss = calloc(1, sizeof(*thread->gss));
        evpl_rpc2_abort_if(thread->gss == NULL, "out of memory");
    }
    for (int i = 0; i < GSS_CONTEXTS; i++) {
        struct rpc2_gss_context *g = &thread->gss->ctx[i];

        if (!g->used) {
            uint32_t gen = g->gen + 1;

            memset(g, 0, sizeof(*g));
            g->used = 1;
            g->gen  = gen ? gen : 1;
            return g;
        }
    }
    return NULL;
}

static void
context_drop(struct evpl_rpc2_thread *thread, struct rpc2_gss_context *g)
{
    if (g->gss_ctx) {
        thread->gss_provider->destroy(thread->gss_provider_arg, g->gss_ctx);
    }
    g->gss_ctx = NULL;
    g->used    = 0;
}

/* INIT / CONTINUE_INIT: one leg of context establishment. */
static void
control_init(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_request *req,
             struct rpc2_cursor *cur, const struct gss_cred *gc)
{
    struct evpl_rpc2_thread *thread = conn->pub.thread;
    struct rpc2_gss_context *g;
    uint32_t                 in_len;
    uint8_t                 *in       = take_opaque(cur, GSS_MAX_TOKEN, &in_len);
    void                    *out      = NULL;
    size_t                   out_len  = 0;
    int                      complete = 0, rc;

    if (in == NULL || cur->left != 0) {
        free(in);
        rpc2_server_reply_raw(evpl, conn, req->encoding.xid, EVPL_RPC2_AUTH_NONE, NULL, 0,
                              RPC2_GARBAGE_ARGS, NULL, 0);
        return;
    }
    g = gc->proc == GSS_PROC_INIT ? context_new(thread) : lookup(thread, gc);
    if (g == NULL || g->established) {
        free(in);
        reply_init_res(evpl, conn, req, NULL, GSS_S_FAILURE, NULL, 0);
        return;
    }
    rc = thread->gss_provider->accept(thread->gss_provider_arg, &g->gss_ctx, in, in_len, &out,
                                      &out_len, &complete, g->principal, sizeof(g->principal));
    free(in);
    if (rc != 0 || out_len > GSS_MAX_TOKEN) {
        free(out);
        context_drop(thread, g);
        reply_init_res(evpl, conn, req, NULL, GSS_S_FAILURE, NULL, 0);
        return;
    }
    g->principal[sizeof(g->principal) - 1] = '\0';
    g->established                         = complete;
    reply_init_res(evpl, conn, req, g, complete ? GSS_S_COMPLETE : GSS_S_CONTINUE, out,
                   (uint32_t) out_len);
    free(out);
}

/* Check the call verifier: the MIC of the header from the xid through the cred. */
static int
verify_header(struct evpl_rpc2_thread *thread, struct rpc2_request *req, struct rpc2_gss_context *g)
{
    struct rpc2_cursor c;
    uint8_t            hdr[8 + 16 + 8 + RPC2_MAX_AUTH_BODY];

    if (req->hdr.verf_flavor != EVPL_RPC2_AUTH_RPCSEC_GSS || req->hdr.header_len > sizeof(hdr)) {
        return -1;
    }
    rpc2_cursor_init(&c, req->iov, req->niov, UINT32_MAX);
    c.left = 0;
    for (int i = 0; i < req->niov; i++) {
        c.left += req->iov[i].length;
    }
    if (rpc2_cursor_bytes(&c, hdr, req->hdr.header_len) != 0) {
        return -1;
    }
    return thread->gss_provider->verify_mic(thread->gss_provider_arg, g->gss_ctx, hdr,
                                            req->hdr.header_len, req->hdr.verf_body,
                                            req->hdr.verf_len);
}

/* Replace the request's record by one buffer holding body[4..len) (the
 * arguments behind the sequence number) and point the cursor at it. */
static int
install_args(struct evpl *evpl, struct rpc2_request *req, struct rpc2_cursor *cur,
             const uint8_t *body, uint32_t len)
{
    struct evpl_iovec v = {0};

    if (len < 4 || rpc2_get_u32(body) != req->gss_seq) {
        return -1;
    }
    if (len > 4) {
        if (evpl_iovec_alloc(evpl, len - 4, 8, 1, 0, &v) != 1) {
            return -1;
        }
        memcpy(v.data, body + 4, len - 4);
    }
    evpl_iovecs_release(evpl, req->iov, req->niov);
    req->niov = 0;
    if (len > 4) {
        req->iov[0] = v;
        req->niov   = 1;
    }
    rpc2_cursor_init(cur, req->iov, req->niov, len - 4);
    return 0;
}

int
rpc2_gss_server_call(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_request *req,
                     struct rpc2_cursor *cur)
{
    struct evpl_rpc2_thread *thread = conn->pub.thread;
    struct rpc2_gss_context *g;
    struct gss_cred          gc;

    if (thread->gss_provider == NULL) {
        return RPC2_AUTH_REJECTEDCRED;
    }
    if (decode_cred(&req->hdr, &gc) != 0 || gc.version != GSS_VERSION ||
        gc.service < EVPL_RPC2_GSS_SVC_NONE || gc.service > EVPL_RPC2_GSS_SVC_PRIVACY) {
        return RPC2_AUTH_BADCRED;
    }
    if (gc.proc == GSS_PROC_INIT || gc.proc == GSS_PROC_CONTINUE) {
        if (req->hdr.proc != 0) {
            return RPC2_AUTH_BADCRED;
        }
        control_init(evpl, conn, req, cur, &gc);
        rpc2_request_done(evpl, req);
        return -1;
    }
    if (gc.proc != GSS_PROC_DATA && gc.proc != GSS_PROC_DESTROY) {
        return RPC2_AUTH_BADCRED;
    }
    g = lookup(thread, &gc);
    if (g == NULL || !g->established) {
        return GSS_CREDPROBLEM;
    }
    if (gc.seq >= GSS_MAXSEQ) {
        return GSS_CTXPROBLEM;
    }
    if (verify_header(thread, req, g) != 0) {
        return RPC2_AUTH_BADVERF;
    }
    if (window_check(g, gc.seq) != 0) {
        evpl_rpc2_debug("RPCSEC_GSS seq %u outside the window or replayed: dropped", gc.seq);
        rpc2_request_done(evpl, req);
        return -1;
    }
    if (gc.proc == GSS_PROC_DESTROY) {
        uint8_t  verf[RPC2_MAX_AUTH_BODY];
        uint32_t vlen = 0;
        int      ok   = mic_u32(thread, g, gc.seq, verf, &vlen) == 0;

        rpc2_server_reply_raw(evpl, conn, req->encoding.xid,
                              ok ? EVPL_RPC2_AUTH_RPCSEC_GSS : EVPL_RPC2_AUTH_NONE, verf, vlen,
                              RPC2_SUCCESS, NULL, 0);
        context_drop(thread, g);
        rpc2_request_done(evpl, req);
        return -1;
    }

    req->gss         = g;
    req->gss_seq     = gc.seq;
    req->gss_service = gc.service;
    if (gc.service != EVPL_RPC2_GSS_SVC_NONE) {
        uint32_t len, mic_len;
        uint8_t *body = take_opaque(cur, UINT32_MAX, &len), *mic = NULL;
        int      bad = body == NULL;

        if (!bad && gc.service == EVPL_RPC2_GSS_SVC_INTEGRITY) {
            mic = take_opaque(cur, RPC2_MAX_AUTH_BODY, &mic_len);
            bad = mic == NULL || cur->left != 0 ||
                  thread->gss_provider->verify_mic(thread->gss_provider_arg, g->gss_ctx, body, len,
                                                   mic, mic_len) != 0 ||
                  install_args(evpl, req, cur, body, len) != 0;
        } else if (!bad) {
            void  *plain     = NULL;
            size_t plain_len = 0;

            bad = cur->left != 0 ||
                  thread->gss_provider->unwrap(thread->gss_provider_arg, g->gss_ctx, body, len,
                                               &plain, &plain_len) != 0 ||
                  plain_len > UINT32_MAX ||
                  install_args(evpl, req, cur, plain, (uint32_t) plain_len) != 0;
            free(plain);
        }
        free(body);
        free(mic);
        if (bad) {
            /* RFC 2203 5.3.3.4.2: an argument that fails its checksum or
             * unwrapping is GARBAGE_ARGS. */
            req->gss = NULL;
            rpc2_server_reply_raw(evpl, conn, req->encoding.xid, EVPL_RPC2_AUTH_NONE, NULL, 0,
                                  RPC2_GARBAGE_ARGS, NULL, 0);
            rpc2_request_done(evpl, req);
            return -1;
        }
    }
    req->hdr.cred.gss.principal = g->principal;
    req->hdr.cred.gss.service   = gc.service;
    req->hdr.cred.gss.gss_ctx   = g->gss_ctx;
    return 0;
}

int
rpc2_gss_server_reply(struct evpl *evpl, struct rpc2_request *req, uint8_t *verf, uint32_t *vlen,
                      struct evpl_iovec **iov, int *niov, int *length, struct evpl_iovec *repl)
{
    struct evpl_rpc2_thread *thread  = req->thread;
    struct rpc2_gss_context *g       = req->gss;
    uint32_t                 reserve = req->encoding.program->reserve;
    uint32_t                 rlen = (uint32_t) *length - reserve, off = 0, skip = reserve;
    uint8_t                 *plain;
    void                    *out = NULL, *mic = NULL;
    size_t                   out_len = 0, mic_len = 0;
    int                      rc;

    if (!g->used || g->gss_ctx == NULL || mic_u32(thread, g, req->gss_seq, verf, vlen) != 0) {
        return -1;
    }
    if (req->gss_service == EVPL_RPC2_GSS_SVC_NONE) {
        return 0;
    }
    /* seq_num followed by the results, contiguous, for the provider. */
    plain = malloc(4 + (size_t) rlen);
    evpl_rpc2_abort_if(plain == NULL, "out of memory");
    rpc2_put_u32(plain, req->gss_seq);
    for (int i = 0; i < *niov && off < rlen; i++) {
        uint32_t l = (*iov)[i].length;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        l -= skip;
        if (l > rlen - off) {
            l = rlen - off;
        }
        memcpy(plain + 4 + off, (uint8_t *) (*iov)[i].data + skip, l);
        off += l;
        skip = 0;
    }
    if (req->gss_service == EVPL_RPC2_GSS_SVC_INTEGRITY) {
        rc  = thread->gss_provider->get_mic(thread->gss_provider_arg, g->gss_ctx, plain, 4 + rlen,
                                            &mic, &mic_len);
        out = plain;
        out_len = 4 + rlen;
        plain   = NULL;
    } else {
        rc = thread->gss_provider->wrap(thread->gss_provider_arg, g->gss_ctx, plain, 4 + rlen, &out,
                                        &out_len);
    }
    free(plain);
    if (rc != 0 || out_len > UINT32_MAX / 2 || mic_len > RPC2_MAX_AUTH_BODY) {
        free(out);
        free(mic);
        return -1;
    }

    /* The new reply: headroom, opaque body<>, and for integrity checksum<>. */
    uint32_t pad_body = ((uint32_t) out_len + 3) & ~3u;
    uint32_t total    = reserve + 4 + pad_body + (mic ? 4 + (((uint32_t) mic_len + 3) & ~3u) : 0);
    uint8_t *p;

    if (evpl_iovec_alloc(evpl, total, 8, 1, 0, repl) != 1) {
        free(out);
        free(mic);
        return -1;
    }
    memset(repl->data, 0, total);
    p = (uint8_t *) repl->data + reserve;
    p = rpc2_put_u32(p, (uint32_t) out_len);
    memcpy(p, out, out_len);
    p += pad_body;
    if (mic) {
        p = rpc2_put_u32(p, (uint32_t) mic_len);
        memcpy(p, mic, mic_len);
    }
    free(out);
    free(mic);
    evpl_iovecs_release(evpl, *iov, *niov);
    *iov    = repl;
    *niov   = 1;
    *length = (int) total;
    return 0;
}
