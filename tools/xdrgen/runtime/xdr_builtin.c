/* ---- xdrzcc runtime: encoder and decoder cursors (static, per file) ---- */

#define XDR_UNUSED __attribute__((unused))

#if !defined(XDR_CUSTOM_DUMP)
__attribute__((weak)) void
dump_output(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fputc('\n', stderr);
}
#endif

/* Encoder: inline bytes go to one scratch buffer; zcopaque payloads are
 * spliced into the output iovec list between scratch segments. */
struct xdr_enc {
    xdr_iovec                   *scratch;
    char                        *base;
    uint64_t                     cap;
    uint64_t                     pos;   /* write offset in the scratch */
    uint64_t                     seg;   /* start of the open segment */
    uint64_t                     start; /* out_offset: the encoding proper starts here */
    uint64_t                     total; /* bytes described by out[] */
    uint64_t                     wire;  /* encoded bytes so far, headroom excluded */
    xdr_iovec                   *out;
    int                          nout;
    int                          maxout;
    int                          overflow; /* out[] or scratch full: fails at the end */
    struct evpl_rpc2_rdma_chunk *chunk;
    int                          chunk_used;
};

static inline XDR_UNUSED int
xdr_enc_room(struct xdr_enc *e, uint64_t n)
{
    if (unlikely(e->pos + n > e->cap)) {
        e->overflow = 1;
        return -1;
    }
    return 0;
}

static inline XDR_UNUSED int
xdr_enc_u32(struct xdr_enc *e, uint32_t v)
{
    if (xdr_enc_room(e, 4)) {
        return -1;
    }
    unsigned char *p = (unsigned char *) e->base + e->pos;

    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
    e->pos += 4;
    e->wire += 4;
    return 0;
}

static inline XDR_UNUSED int
xdr_enc_u64(struct xdr_enc *e, uint64_t v)
{
    if (xdr_enc_u32(e, (uint32_t) (v >> 32))) {
        return -1;
    }
    return xdr_enc_u32(e, (uint32_t) v);
}

static inline XDR_UNUSED int
xdr_enc_float(struct xdr_enc *e, float v)
{
    uint32_t u;

    memcpy(&u, &v, 4);
    return xdr_enc_u32(e, u);
}

static inline XDR_UNUSED int
xdr_enc_double(struct xdr_enc *e, double v)
{
    uint64_t u;

    memcpy(&u, &v, 8);
    return xdr_enc_u64(e, u);
}

/* n bytes then zero padding to a multiple of 4 */
static inline XDR_UNUSED int
xdr_enc_bytes(struct xdr_enc *e, const void *data, uint32_t n)
{
    uint32_t pad = (4 - (n & 3)) & 3;

    if (xdr_enc_room(e, (uint64_t) n + pad)) {
        return -1;
    }
    if (n) {
        memcpy(e->base + e->pos, data, n);
    }
    memset(e->base + e->pos + n, 0, pad);
    e->pos += (uint64_t) n + pad;
    e->wire += (uint64_t) n + pad;
    return 0;
}

static inline XDR_UNUSED int
xdr_enc_string(struct xdr_enc *e, const xdr_string *s)
{
    if (xdr_enc_u32(e, s->len)) {
        return -1;
    }
    return xdr_enc_bytes(e, s->str, s->len);
}

static inline XDR_UNUSED int
xdr_enc_opaque(struct xdr_enc *e, const xdr_opaque *o)
{
    if (xdr_enc_u32(e, o->len)) {
        return -1;
    }
    return xdr_enc_bytes(e, o->data, o->len);
}

/* Close the open scratch segment [seg, pos) as an output iovec. */
static XDR_UNUSED void
xdr_enc_flush(struct xdr_enc *e)
{
    if (e->pos == e->seg) {
        return;
    }
    if (e->nout >= e->maxout) {
        e->overflow = 1;
    } else {
        xdr_iovec *o = &e->out[e->nout++];

        xdr_iovec_copy_private(o, e->scratch);
        xdr_iovec_set_data(o, e->base + e->seg);
        xdr_iovec_set_len(o, (uint32_t) (e->pos - e->seg));
    }
    e->total += e->pos - e->seg;
    e->seg = e->pos;
}

/* zcopaque: every reference in x->iov is taken, whatever happens (XDR.md 6.1). */
static XDR_UNUSED int
xdr_enc_zcopaque(struct xdr_enc *e, xdr_iovecr *x)
{
    uint32_t len = x->length, pad = (4 - (len & 3)) & 3;
    uint64_t left = len;
    int      rc   = 0;

    if (xdr_enc_u32(e, len)) {
        for (int i = 0; i < x->niov; i++) {
            xdr_iovec_release_private(&x->iov[i]);
        }
        return -1;
    }
#ifdef XDRZCC_RPC2
    if (e->chunk && !e->chunk_used && len > 0 && len <= e->chunk->max_length) {
        /* the library moves the iovecs into the RDMA chunk during this call */
        e->chunk_used          = 1;
        e->chunk->xdr_position = (uint32_t) e->wire;
        e->chunk->length       = len;
        e->chunk->iov          = x->iov;
        e->chunk->niov         = x->niov;
        return 0;
    }
#endif
    xdr_enc_flush(e);
    for (int i = 0; i < x->niov; i++) {
        xdr_iovec *in = &x->iov[i];

        if (left == 0 || e->nout >= e->maxout || e->overflow) {
            if (left && !e->overflow) {
                e->overflow = 1;
            }
            if (left) {
                uint32_t l = xdr_iovec_len(in);

                left -= l < left ? l : left;
            }
            xdr_iovec_release_private(in);
            continue;
        }
        uint32_t l = xdr_iovec_len(in);

        if (l == 0) {
            xdr_iovec_release_private(in);
            continue;
        }
        xdr_iovec *o = &e->out[e->nout++];

        xdr_iovec_move_private(o, in);
        if (l > left) {
            l = (uint32_t) left;
            xdr_iovec_set_len(o, l);
        }
        left -= l;
        e->total += l;
    }
    if (left) {
        rc          = -1; /* the iovecs describe fewer bytes than length */
        e->overflow = 1;
    }
    e->wire += len;
    if (pad) {
        if (xdr_enc_room(e, pad)) {
            return -1;
        }
        memset(e->base + e->pos, 0, pad);
        e->pos += pad;
        e->wire += pad;
    }
    return rc;
}

static XDR_UNUSED void
xdr_enc_begin(struct xdr_enc *e, xdr_iovec *iov_in, xdr_iovec *iov_out, int *niov_out,
              struct evpl_rpc2_rdma_chunk *chunk, int out_offset)
{
    memset(e, 0, sizeof(*e));
    e->scratch = iov_in;
    e->base    = (char *) xdr_iovec_data(iov_in);
    e->cap     = xdr_iovec_len(iov_in);
    e->pos     = out_offset > 0 ? (uint64_t) out_offset : 0;
    e->start   = e->pos;
    e->out     = iov_out;
    e->maxout  = *niov_out;
    e->chunk   = chunk;
    if (e->pos > e->cap) {
        e->overflow = 1;
        e->pos      = e->cap;
    }
}

static XDR_UNUSED int
xdr_enc_end(struct xdr_enc *e, int rc, int *niov_out)
{
    if (rc == 0) {
        xdr_enc_flush(e);
    }
    if (rc || e->overflow || e->total > INT32_MAX) {
        for (int i = 0; i < e->nout; i++) {
            xdr_iovec_release_private(&e->out[i]);
        }
        xdr_iovec_set_len(e->scratch, 0);
        return -1;
    }
    xdr_iovec_set_len(e->scratch, (uint32_t) e->pos);
    *niov_out = e->nout;
    return (int) e->total;
}

/* Decoder over iov[0..niov): pos counts consumed bytes from the start.
 * depth bounds the nesting of optional data (the only recursion a hostile
 * input can drive: lists are decoded in a loop), so the stack stays small. */
#ifndef XDR_MAX_DEPTH
#define XDR_MAX_DEPTH 1024
#endif
struct xdr_ledger {
    xdr_iovecr        *ref;
    struct xdr_ledger *next;
};

struct xdr_dec {
    int                          depth;
    xdr_iovec                   *iov;
    int                          niov;
    int                          idx;
    uint32_t                     off;
    uint64_t                     pos;
    xdr_dbuf                    *dbuf;
    struct evpl_rpc2_rdma_chunk *chunk;
    int                          chunk_used;
    struct xdr_ledger           *ledger;
};

static XDR_UNUSED void
xdr_dec_begin(struct xdr_dec *d, xdr_iovec *iov, int niov, struct evpl_rpc2_rdma_chunk *chunk,
              xdr_dbuf *dbuf)
{
    memset(d, 0, sizeof(*d));
    d->iov   = iov;
    d->niov  = niov > 0 ? niov : 0;
    d->dbuf  = dbuf;
    d->chunk = chunk;
}

/* Releases the references a failed decode had cloned (XDR.md 6.4). */
static XDR_UNUSED int
xdr_dec_end(struct xdr_dec *d, int rc)
{
    if (rc) {
        for (struct xdr_ledger *l = d->ledger; l; l = l->next) {
            for (int i = 0; i < l->ref->niov; i++) {
                xdr_iovec_release_private(&l->ref->iov[i]);
            }
            l->ref->niov = 0;
        }
        return -1;
    }
    return d->pos > INT32_MAX ? -1 : (int) d->pos;
}

static inline XDR_UNUSED void
xdr_dec_skip_empty(struct xdr_dec *d)
{
    while (d->idx < d->niov && d->off >= xdr_iovec_len(&d->iov[d->idx])) {
        d->idx++;
        d->off = 0;
    }
}

/* Pointer to n contiguous bytes at the cursor (consumed), or NULL (nothing consumed). */
static inline XDR_UNUSED const unsigned char *
xdr_dec_contig(struct xdr_dec *d, uint64_t n)
{
    xdr_dec_skip_empty(d);
    if (d->idx >= d->niov) {
        return n == 0 ? (const unsigned char *) "" : NULL;
    }
    if ((uint64_t) d->off + n > (uint64_t) xdr_iovec_len(&d->iov[d->idx])) {
        return NULL;
    }
    const unsigned char *p = (const unsigned char *) xdr_iovec_data(&d->iov[d->idx]) + d->off;

    d->off += (uint32_t) n;
    d->pos += n;
    return p;
}

/* Copy (dst != NULL) or skip n bytes across iovecs. */
static XDR_UNUSED int
xdr_dec_copy(struct xdr_dec *d, void *dst, uint64_t n)
{
    unsigned char *out = (unsigned char *) dst;

    while (n) {
        xdr_dec_skip_empty(d);
        if (d->idx >= d->niov) {
            return -1;
        }
        uint64_t avail = xdr_iovec_len(&d->iov[d->idx]) - d->off;
        uint64_t take  = avail < n ? avail : n;

        if (out) {
            memcpy(out, (const char *) xdr_iovec_data(&d->iov[d->idx]) + d->off, take);
            out += take;
        }
        d->off += (uint32_t) take;
        d->pos += take;
        n -= take;
    }
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_u32(struct xdr_dec *d, uint32_t *v)
{
    const unsigned char *p = xdr_dec_contig(d, 4);
    unsigned char        b[4];

    if (unlikely(!p)) {
        if (xdr_dec_copy(d, b, 4)) {
            return -1;
        }
        p = b;
    }
    *v = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_i32(struct xdr_dec *d, int32_t *v)
{
    uint32_t u;

    if (xdr_dec_u32(d, &u)) {
        return -1;
    }
    *v = (int32_t) u;
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_u64(struct xdr_dec *d, uint64_t *v)
{
    uint32_t hi, lo;

    if (xdr_dec_u32(d, &hi) || xdr_dec_u32(d, &lo)) {
        return -1;
    }
    *v = ((uint64_t) hi << 32) | lo;
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_i64(struct xdr_dec *d, int64_t *v)
{
    uint64_t u;

    if (xdr_dec_u64(d, &u)) {
        return -1;
    }
    *v = (int64_t) u;
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_float(struct xdr_dec *d, float *v)
{
    uint32_t u;

    if (xdr_dec_u32(d, &u)) {
        return -1;
    }
    memcpy(v, &u, 4);
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_double(struct xdr_dec *d, double *v)
{
    uint64_t u;

    if (xdr_dec_u64(d, &u)) {
        return -1;
    }
    memcpy(v, &u, 8);
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_bool(struct xdr_dec *d, xdr_bool *v)
{
    if (xdr_dec_u32(d, v) || *v > 1) {
        return -1;
    }
    return 0;
}

/* Fixed opaque: n bytes copied, padding skipped. */
static inline XDR_UNUSED int
xdr_dec_fixed(struct xdr_dec *d, void *dst, uint32_t n)
{
    if (xdr_dec_copy(d, dst, n)) {
        return -1;
    }
    return xdr_dec_copy(d, NULL, (4 - (n & 3)) & 3);
}

/* Variable bytes: aliased when they lie in one iovec, else copied to the dbuf
 * (with a NUL after them for strings). */
static XDR_UNUSED int
xdr_dec_var(struct xdr_dec *d, uint32_t len, uint64_t bound, void **data, int nul)
{
    uint64_t pad = (4 - (len & 3)) & 3;

    if (len > bound) {
        return -1;
    }
    const unsigned char *p = xdr_dec_contig(d, (uint64_t) len + pad);

    if (p) {
        *data = (void *) p;
        return 0;
    }
    char *c = (char *) xdr_dbuf_alloc_space((uint64_t) len + (nul ? 1 : 0), d->dbuf);

    if (!c || xdr_dec_copy(d, c, len) || xdr_dec_copy(d, NULL, pad)) {
        return -1;
    }
    if (nul) {
        c[len] = '\0';
    }
    *data = c;
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_string(struct xdr_dec *d, xdr_string *s, uint64_t bound)
{
    void *p;

    if (xdr_dec_u32(d, &s->len) || xdr_dec_var(d, s->len, bound, &p, 1)) {
        return -1;
    }
    s->str = (char *) p;
    return 0;
}

static inline XDR_UNUSED int
xdr_dec_opaque(struct xdr_dec *d, xdr_opaque *o, uint64_t bound)
{
    if (xdr_dec_u32(d, &o->len) || xdr_dec_var(d, o->len, bound, &o->data, 0)) {
        return -1;
    }
    return 0;
}

static XDR_UNUSED int
xdr_dec_zcopaque(struct xdr_dec *d, xdr_iovecr *x, uint64_t bound)
{
    uint32_t len;

    x->iov  = NULL;
    x->niov = 0;
    if (xdr_dec_u32(d, &len) || len > bound) {
        return -1;
    }
    x->length = len;
#ifdef XDRZCC_RPC2
    if (d->chunk && !d->chunk_used && d->chunk->length &&
        (d->chunk->xdr_position == d->pos || d->chunk->xdr_position == UINT32_MAX)) {
        /* bound to the RDMA chunk: no reference taken (XDR.md 6.2) */
        d->chunk_used = 1;
        x->iov        = d->chunk->iov;
        x->niov       = d->chunk->niov;
        if (d->chunk->length < len) {
            x->length = d->chunk->length;
        }
        return 0;
    }
#endif
    if (len == 0) {
        return 0;
    }
    /* count the pieces, then clone each narrowed to its part */
    uint64_t need  = (uint64_t) len;
    int      idx   = d->idx;
    uint32_t off   = d->off;
    int      count = 0;

    while (need) {
        while (idx < d->niov && off >= xdr_iovec_len(&d->iov[idx])) {
            idx++;
            off = 0;
        }
        if (idx >= d->niov) {
            return -1;
        }
        uint64_t avail = xdr_iovec_len(&d->iov[idx]) - off;
        uint64_t take  = avail < need ? avail : need;

        need -= take;
        off += (uint32_t) take;
        count++;
    }
    struct xdr_ledger *l = (struct xdr_ledger *) xdr_dbuf_alloc_space(sizeof(*l), d->dbuf);
    xdr_iovec *v = (xdr_iovec *) xdr_dbuf_alloc_space(sizeof(xdr_iovec) * (size_t) count, d->dbuf);

    if (!l || !v) {
        return -1;
    }
    need = len;
    for (int i = 0; i < count; i++) {
        xdr_dec_skip_empty(d);

        xdr_iovec *src   = &d->iov[d->idx];
        uint64_t   avail = xdr_iovec_len(src) - d->off;
        uint32_t   take  = (uint32_t) (avail < need ? avail : need);

        xdr_iovec_copy_private(&v[i], src);
        xdr_iovec_set_data(&v[i], (char *) xdr_iovec_data(src) + d->off);
        xdr_iovec_set_len(&v[i], take);
        d->off += take;
        d->pos += take;
        need -= take;
    }
    x->iov    = v;
    x->niov   = count;
    l->ref    = x;
    l->next   = d->ledger;
    d->ledger = l;
    return xdr_dec_copy(d, NULL, (4 - (len & 3)) & 3);
}

/* opaque_union body length: check what the arm consumed */
static inline XDR_UNUSED int
xdr_dec_check_body(struct xdr_dec *d, uint64_t start, uint32_t body)
{
    return d->pos - start == body ? 0 : -1;
}

static inline XDR_UNUSED uint64_t
xdr_pad_len(uint64_t n)
{
    return (n + 3) & ~(uint64_t) 3;
}

static XDR_UNUSED void
xdr_dump_bytes(const char *name, const void *data, uint32_t len)
{
    const unsigned char *p = (const unsigned char *) data;
    char                 hex[2 * 32 + 1];
    uint32_t             n     = len < 32 ? len : 32;
    int                  ascii = 1;

    for (uint32_t i = 0; i < n; i++) {
        snprintf(hex + 2 * i, 3, "%02x", p[i]);
        if (p[i] < 0x20 || p[i] > 0x7e) {
            ascii = 0;
        }
    }
    hex[2 * n] = '\0';
    if (ascii && len) {
        dump_output("%s = \"%.*s\"%s (%u bytes)", name, (int) n, (const char *) p,
                    len > n ? "..." : "", len);
    } else {
        dump_output("%s = %s%s (%u bytes)", name, hex, len > n ? "..." : "", len);
    }
}
