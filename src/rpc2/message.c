/*
 * RPC message headers (RFC 5531 section 9): the call header and the
 * credentials it carries, decoded from a cursor over the record's iovecs
 * (header fields are small and copied out; the arguments behind them stay
 * where they were received) and encoded into the headroom of an outgoing
 * message.
 */
#include "rpc2_internal.h"

void
rpc2_cursor_init(struct rpc2_cursor *c, const struct evpl_iovec *iov, int niov, uint32_t length)
{
    c->iov    = iov;
    c->niov   = niov;
    c->index  = 0;
    c->offset = 0;
    c->left   = length;
}

/* Copy (dst != NULL) or skip len bytes; -1 (cursor unchanged in meaning) when
 * the record holds fewer. */
static int
cursor_take(struct rpc2_cursor *c, void *dst, uint32_t len)
{
    uint8_t *out = dst;

    if (len > c->left) {
        return -1;
    }
    c->left -= len;
    while (len) {
        const struct evpl_iovec *v     = &c->iov[c->index];
        uint32_t                 avail = v->length - c->offset;
        uint32_t                 n     = avail < len ? avail : len;

        if (out) {
            memcpy(out, (const uint8_t *) v->data + c->offset, n);
            out += n;
        }
        c->offset += n;
        len -= n;
        if (c->offset == v->length) {
            c->index++;
            c->offset = 0;
        }
    }
    /* Step over exhausted (or empty) iovecs so that the position is always
     * inside iov[index] when bytes are left. */
    while (c->left && c->index < c->niov && c->offset == c->iov[c->index].length) {
        c->index++;
        c->offset = 0;
    }
    return 0;
}

int
rpc2_cursor_u32(struct rpc2_cursor *c, uint32_t *v)
{
    uint8_t b[4];

    if (cursor_take(c, b, 4)) {
        return -1;
    }
    *v = rpc2_get_u32(b);
    return 0;
}

int
rpc2_cursor_bytes(struct rpc2_cursor *c, void *dst, uint32_t len)
{
    return cursor_take(c, dst, len);
}

int
rpc2_cursor_skip(struct rpc2_cursor *c, uint32_t len)
{
    return cursor_take(c, NULL, len);
}

static inline uint32_t
pad4(uint32_t n)
{
    return (n + 3) & ~3u;
}

/*
 * AUTH_SYS body (RFC 5531 appendix A): stamp, machinename<255>, uid, gid,
 * gids<16>, which must fill the opaque body exactly.
 */
static int
decode_authsys(struct rpc2_cursor *body, struct rpc2_call_header *h)
{
    uint32_t stamp, namelen, ngids;

    if (rpc2_cursor_u32(body, &stamp) || rpc2_cursor_u32(body, &namelen) || namelen > 255 ||
        rpc2_cursor_bytes(body, h->machinename, namelen) ||
        rpc2_cursor_skip(body, pad4(namelen) - namelen)) {
        return -1;
    }
    h->machinename[namelen] = '\0';
    if (rpc2_cursor_u32(body, &h->cred.authsys.uid) ||
        rpc2_cursor_u32(body, &h->cred.authsys.gid) || rpc2_cursor_u32(body, &ngids) ||
        ngids > EVPL_RPC2_AUTH_SYS_MAX_GIDS) {
        return -1;
    }
    for (uint32_t i = 0; i < ngids; i++) {
        if (rpc2_cursor_u32(body, &h->gids[i])) {
            return -1;
        }
    }
    if (body->left != 0) {
        return -1;
    }
    h->cred.authsys.num_gids        = ngids;
    h->cred.authsys.gids            = h->gids;
    h->cred.authsys.machinename     = h->machinename;
    h->cred.authsys.machinename_len = (int) namelen;
    return 0;
}

int
rpc2_decode_call(struct rpc2_cursor *c, struct rpc2_call_header *h)
{
    uint32_t flavor, len, verf_len;
    uint8_t  body[RPC2_MAX_AUTH_BODY];

    if (rpc2_cursor_u32(c, &h->rpcvers) || rpc2_cursor_u32(c, &h->prog) ||
        rpc2_cursor_u32(c, &h->vers) || rpc2_cursor_u32(c, &h->proc)) {
        return -1;
    }
    memset(&h->cred, 0, sizeof(h->cred));
    if (rpc2_cursor_u32(c, &flavor) || rpc2_cursor_u32(c, &len)) {
        return RPC2_AUTH_BADCRED;
    }
    if (len > RPC2_MAX_AUTH_BODY || rpc2_cursor_bytes(c, body, len) ||
        rpc2_cursor_skip(c, pad4(len) - len)) {
        return RPC2_AUTH_BADCRED;
    }
    h->header_len = 8 + 16 + 8 + pad4(len);
    if (rpc2_cursor_u32(c, &h->verf_flavor) || rpc2_cursor_u32(c, &verf_len) ||
        verf_len > RPC2_MAX_AUTH_BODY) {
        return RPC2_AUTH_BADVERF;
    }
    /* Only RPCSEC_GSS verifiers are looked at; the others are skipped. */
    if (flavor == EVPL_RPC2_AUTH_RPCSEC_GSS ? rpc2_cursor_bytes(c, h->verf_body, verf_len) ||
                                                  rpc2_cursor_skip(c, pad4(verf_len) - verf_len)
                                            : rpc2_cursor_skip(c, pad4(verf_len))) {
        return RPC2_AUTH_BADVERF;
    }
    h->verf_len    = verf_len;
    h->cred.flavor = flavor;
    switch (flavor) {
    case EVPL_RPC2_AUTH_NONE:
        return 0;
    case EVPL_RPC2_AUTH_SYS: {
        struct evpl_iovec  v = {.data = body, .length = len};
        struct rpc2_cursor bc;

        rpc2_cursor_init(&bc, &v, 1, len);
        return decode_authsys(&bc, h) ? RPC2_AUTH_BADCRED : 0;
    }
    case EVPL_RPC2_AUTH_SHORT:
        /* Resolved (or refused as stale) by the server layer; a body that is
         * not one of our 8-byte handles cannot be current. */
        if (len != 8) {
            return RPC2_AUTH_REJECTEDCRED;
        }
        memcpy(h->short_handle, body, 8);
        return 0;
    case EVPL_RPC2_AUTH_RPCSEC_GSS:
        memcpy(h->gss_cred, body, len);
        h->gss_cred_len = len;
        return 0; /* the server's GSS layer takes it from here */
    default:
        return RPC2_AUTH_REJECTEDCRED;
    }
}

static uint32_t
cred_body_size(const struct evpl_rpc2_cred *cred)
{
    if (cred == NULL || cred->flavor != EVPL_RPC2_AUTH_SYS) {
        return 0;
    }
    return 4 + 4 + pad4((uint32_t) cred->authsys.machinename_len) + 4 + 4 + 4 +
           4 * cred->authsys.num_gids;
}

uint32_t
rpc2_call_header_size(const struct evpl_rpc2_cred *cred)
{
    return 6 * 4 + 8 + cred_body_size(cred) + 8;
}

void
rpc2_encode_call(uint8_t *p, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc,
                 const struct evpl_rpc2_cred *cred)
{
    p = rpc2_put_u32(p, xid);
    p = rpc2_put_u32(p, RPC2_MSG_CALL);
    p = rpc2_put_u32(p, 2);
    p = rpc2_put_u32(p, prog);
    p = rpc2_put_u32(p, vers);
    p = rpc2_put_u32(p, proc);
    if (cred && cred->flavor == EVPL_RPC2_AUTH_SYS) {
        uint32_t namelen = (uint32_t) cred->authsys.machinename_len;

        p = rpc2_put_u32(p, EVPL_RPC2_AUTH_SYS);
        p = rpc2_put_u32(p, cred_body_size(cred));
        p = rpc2_put_u32(p, 0); /* stamp */
        p = rpc2_put_u32(p, namelen);
        if (namelen) {
            memcpy(p, cred->authsys.machinename, namelen);
        }
        memset(p + namelen, 0, pad4(namelen) - namelen);
        p += pad4(namelen);
        p = rpc2_put_u32(p, cred->authsys.uid);
        p = rpc2_put_u32(p, cred->authsys.gid);
        p = rpc2_put_u32(p, cred->authsys.num_gids);
        for (uint32_t i = 0; i < cred->authsys.num_gids; i++) {
            p = rpc2_put_u32(p, cred->authsys.gids[i]);
        }
    } else {
        p = rpc2_put_u32(p, EVPL_RPC2_AUTH_NONE);
        p = rpc2_put_u32(p, 0);
    }
    p = rpc2_put_u32(p, EVPL_RPC2_AUTH_NONE);
    rpc2_put_u32(p, 0);
}
