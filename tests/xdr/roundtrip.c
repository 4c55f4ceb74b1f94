/*
 * Round trips over every.x (every construct of XDR.md sections 2 and 3):
 * random values are encoded, the length must equal marshall_length_, and
 * decoding -- from the encoder's own iovec list, from one flat iovec and
 * from the bytes cut into random small pieces -- must give back equal
 * values.  zcopaque payloads decoded from the encoder's list must be
 * references to the very bytes that were sent (checked by address).
 *
 * Built twice: with the plain xdr_iovec, and with XDR_CUSTOM_IOVEC pointing
 * at src/rpc2/xdr_iovec.h, where every reference is a real evpl_iovec and
 * evpl_destroy()'s leak report must stay silent at the end.
 */
#include <stdarg.h>
#include <pthread.h>

#ifdef XDR_CUSTOM_IOVEC
#include "test.h"
#endif
#include "every_xdr.h"

#ifndef XDR_CUSTOM_IOVEC
#define test_fail(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)
#define test_assert(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            test_fail("assertion failed: %s", #c);                                                 \
        }                                                                                          \
    } while (0)
#endif

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            test_fail("iteration %d seed %u: mismatch: %s", iteration, seed, #c);                  \
        }                                                                                          \
    } while (0)

static int          iteration;
static unsigned int seed;
static uint64_t     rng_state;
static xdr_dbuf    *arena; /* the values being encoded live here */

#ifdef XDR_CUSTOM_IOVEC
static struct evpl *evpl;
static int          leak_reports;

static void
log_fn(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
       va_list argp)
{
    char line[512];

    vsnprintf(line, sizeof(line), fmt, argp);
    if (strstr(line, "still holds references")) {
        leak_reports++;
    }
    fprintf(stderr, "[%s %s %s:%d] %s\n", level, module, srcfile, lineno, line);
}
#endif

static uint32_t
rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t) (rng_state >> 33);
}

static uint32_t
rnd_below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

static uint64_t
rnd64(void)
{
    return ((uint64_t) rnd() << 32) ^ rnd() ^ ((uint64_t) rnd() << 17);
}

static void *
space(size_t n)
{
    void *p = xdr_dbuf_alloc_space(n, arena);

    test_assert(p != NULL);
    return p;
}

static void
fill_bytes(void *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        ((unsigned char *) p)[i] = (unsigned char) rnd();
    }
}

static void
fill_string(xdr_string *s, uint32_t max)
{
    s->len = rnd_below(max + 1);
    s->str = space(s->len + 1);
    for (uint32_t i = 0; i < s->len; i++) {
        s->str[i] = (char) ('a' + rnd_below(26));
    }
}

static void
fill_opaque(xdr_opaque *o, uint32_t max)
{
    o->len  = rnd_below(max + 1);
    o->data = space(o->len);
    fill_bytes(o->data, o->len);
}

/* What a zcopaque carried, remembered before the encoder spends it. */
struct zc_expect {
    uint32_t       length;
    unsigned char *bytes;
    const void    *addr[4];
    uint32_t       piece[4];
    int            npieces;
};

#define MAX_ZC 8
static struct zc_expect zc_expected[MAX_ZC];
static int              zc_count;

static void
fill_zcopaque(xdr_iovecr *z)
{
    struct zc_expect *x      = &zc_expected[zc_count++];
    uint32_t          len    = rnd_below(3) == 0 ? 0 : rnd_below(3000);
    int               pieces = len ? 1 + (int) rnd_below(3) : 0;
    int               extra  = len && rnd_below(3) == 0; /* a surplus iovec to be dropped */

    test_assert(zc_count <= MAX_ZC);
    x->length  = len;
    x->bytes   = space(len);
    x->npieces = 0;
    fill_bytes(x->bytes, len);
    z->length    = len;
    z->niov      = 0;
    z->iov       = space(sizeof(xdr_iovec) * 5);
    uint32_t off = 0;

    for (int i = 0; i < pieces; i++) {
        uint32_t n = i == pieces - 1 ? len - off : rnd_below(len - off + 1);
        /* the last piece may be longer than needed: the encoder trims it */
        uint32_t   alloc = n + (i == pieces - 1 ? rnd_below(5) : 0);
        xdr_iovec *iov   = &z->iov[z->niov++];
#ifdef XDR_CUSTOM_IOVEC
        test_assert(evpl_iovec_alloc(evpl, alloc ? alloc : 1, 0, 1, 0, iov) == 1);
#else
        iov->iov_base = space(alloc ? alloc : 1);
#endif
        xdr_iovec_set_len(iov, alloc);
        memcpy(xdr_iovec_data(iov), x->bytes + off, n);
        if (n) {
            x->addr[x->npieces]  = xdr_iovec_data(iov);
            x->piece[x->npieces] = n;
            x->npieces++;
        }
        off += n;
    }
    if (extra) {
        xdr_iovec *iov = &z->iov[z->niov++];
#ifdef XDR_CUSTOM_IOVEC
        test_assert(evpl_iovec_alloc(evpl, 16, 0, 1, 0, iov) == 1);
#else
        iov->iov_base = space(16);
        iov->iov_len  = 16;
#endif
    }
}

static void
fill_point(struct point *p)
{
    p->x = (int32_t) rnd();
    p->y = (int32_t) rnd();
}

static color
rnd_color(void)
{
    static const color c[] = {RED, GREEN, BLUE};

    return c[rnd_below(3)];
}

static void
fill_all(struct all *a)
{
    struct scalars *s = &a->sc;

    s->i   = (int32_t) rnd();
    s->u   = rnd();
    s->l   = (int32_t) rnd();
    s->ul  = rnd();
    s->i32 = (int32_t) rnd();
    s->u32 = rnd();
    s->i64 = (int64_t) rnd64();
    s->u64 = rnd64();
    s->h   = (int64_t) rnd64();
    s->uh  = rnd64();
    {
        uint32_t fb = rnd();
        uint64_t db = rnd64();

        if (rnd_below(4) == 0) {
            fb = 0x7fc00001u | (rnd() & 0xffff); /* NaN with a payload */
            db = 0x8000000000000000ull;          /* -0.0 */
        }
        memcpy(&s->f, &fb, 4);
        memcpy(&s->d, &db, 8);
    }
    s->b = rnd_below(2);
    s->c = rnd_color();
    s->s = rnd_color();
    s->n = rnd();

    struct arrays *r = &a->ar;

    for (int i = 0; i < NITEMS; i++) {
        r->fixed_i[i] = (int32_t) rnd();
    }
    r->num_var_u = rnd_below(10);
    r->var_u     = space(4 * r->num_var_u);
    for (uint32_t i = 0; i < r->num_var_u; i++) {
        r->var_u[i] = rnd();
    }
    r->num_bounded_h = rnd_below(SMALLB + 1);
    r->bounded_h     = space(8 * r->num_bounded_h);
    for (uint32_t i = 0; i < r->num_bounded_h; i++) {
        r->bounded_h[i] = (int64_t) rnd64();
    }
    fill_point(&r->fixed_p[0]);
    fill_point(&r->fixed_p[1]);
    r->num_var_p = rnd_below(6);
    r->var_p     = space(sizeof(struct point) * r->num_var_p);
    for (uint32_t i = 0; i < r->num_var_p; i++) {
        fill_point(&r->var_p[i]);
    }
    r->num_bounded_p = rnd_below(4);
    r->bounded_p     = space(sizeof(struct point) * r->num_bounded_p);
    for (uint32_t i = 0; i < r->num_bounded_p; i++) {
        fill_point(&r->bounded_p[i]);
    }
    r->num_var_c = rnd_below(5);
    r->var_c     = space(sizeof(color) * r->num_var_c);
    for (uint32_t i = 0; i < r->num_var_c; i++) {
        r->var_c[i] = rnd_color();
    }
    r->num_var_b = rnd_below(5);
    r->var_b     = space(sizeof(xdr_bool) * r->num_var_b);
    for (uint32_t i = 0; i < r->num_var_b; i++) {
        r->var_b[i] = rnd_below(2);
    }

    struct bytes *b = &a->by;

    fill_string(&b->s, 100);
    fill_string(&b->sb, MAXNAME);
    fill_string(&b->tn, MAXNAME);
    fill_opaque(&b->o, 100);
    fill_opaque(&b->ob, 16);
    fill_bytes(b->of, FIXLEN);
    fill_bytes(b->tf, FIXLEN);
    fill_opaque(&b->tb, 50);
    fill_zcopaque(&b->z);
    fill_zcopaque(&b->zb);

    /* optional data, with self-recursion through a non-next pointer */
    struct optional *o = &a->op;

    for (int depth = 0;; depth++) {
        o->p = NULL;
        o->i = NULL;
        if (rnd_below(2)) {
            o->p = space(sizeof(*o->p));
            fill_point(o->p);
        }
        if (rnd_below(2)) {
            o->i  = space(sizeof(*o->i));
            *o->i = (int32_t) rnd();
        }
        if (depth == 3 || rnd_below(2)) {
            o->self = NULL;
            break;
        }
        o->self = space(sizeof(*o));
        o       = o->self;
    }

    /* linked list */
    struct entry **tail = &a->ho.list;
    int            n    = (int) rnd_below(5);

    for (int i = 0; i < n; i++) {
        struct entry *e = space(sizeof(*e));

        e->id = rnd();
        fill_string(&e->name, 20);
        *tail = e;
        tail  = &e->nextentry;
    }
    *tail       = NULL;
    a->ho.after = (int32_t) rnd();

    static const kind kinds[] = {K_INT, K_STR, K_PT, K_ALIAS};

    a->uk.k = kinds[rnd_below(4)];
    switch (a->uk.k) {
    case K_INT:
        a->uk.i = (int32_t) rnd();
        break;
    case K_STR:
        fill_string(&a->uk.s, 30);
        break;
    default:
        fill_point(&a->uk.p);
        break;
    }
    a->ub.present = rnd_below(2);
    if (a->ub.present) {
        a->ub.value = (int64_t) rnd64();
    }
    static const int32_t nd[] = {K_INT, K_STR, 7};

    a->un.d = nd[rnd_below(3)];
    if (a->un.d == K_INT) {
        a->un.v = rnd();
    }
    static const int32_t fl[] = {K_INT, K_STR, K_PT, 9};

    a->o.flavor = fl[rnd_below(4)];
    if (a->o.flavor == K_INT) {
        fill_point(&a->o.pt);
    } else if (a->o.flavor == K_STR) {
        fill_opaque(&a->o.raw, 64);
    }
    a->num_many = rnd_below(4);
    a->many     = space(sizeof(struct u_kind) * a->num_many);
    for (uint32_t i = 0; i < a->num_many; i++) {
        a->many[i].k = K_INT;
        a->many[i].i = (int32_t) rnd();
    }
}

/* ---- comparison ---- */

static int
same_bytes(const void *a, const void *b, uint32_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static int
same_point(const struct point *a, const struct point *b)
{
    return a->x == b->x && a->y == b->y;
}

static int
same_kind(const struct u_kind *a, const struct u_kind *b)
{
    if (a->k != b->k) {
        return 0;
    }
    switch (a->k) {
    case K_INT:
        return a->i == b->i;
    case K_STR:
        return a->s.len == b->s.len && same_bytes(a->s.str, b->s.str, a->s.len);
    case K_PT:
    case K_ALIAS:
        return same_point(&a->p, &b->p);
    default:
        return 1;
    }
}

/* Decoded zcopaque against what was sent; by_address: must alias the sent bytes. */
static void
check_zc(const xdr_iovecr *z, const struct zc_expect *x, int by_address)
{
    uint32_t off = 0;

    CHECK(z->length == x->length);
    if (x->length == 0) {
        CHECK(z->niov == 0 && z->iov == NULL);
        return;
    }
    for (int i = 0; i < z->niov; i++) {
        uint32_t n = xdr_iovec_len(&z->iov[i]);

        CHECK(off + n <= x->length);
        CHECK(memcmp(xdr_iovec_data(&z->iov[i]), x->bytes + off, n) == 0);
        off += n;
    }
    CHECK(off == x->length);
    if (by_address) {
        CHECK(z->niov == x->npieces);
        for (int i = 0; i < z->niov; i++) {
            CHECK(xdr_iovec_data(&z->iov[i]) == x->addr[i]);
            CHECK(xdr_iovec_len(&z->iov[i]) == x->piece[i]);
        }
    }
}

static void
check_all(const struct all *a, const struct all *b, int by_address)
{
    CHECK(memcmp(&a->sc, &b->sc, offsetof(struct scalars, b)) == 0);
    CHECK(a->sc.b == b->sc.b && a->sc.c == b->sc.c && a->sc.s == b->sc.s && a->sc.n == b->sc.n);

    const struct arrays *r = &a->ar, *q = &b->ar;

    CHECK(memcmp(r->fixed_i, q->fixed_i, sizeof(r->fixed_i)) == 0);
    CHECK(r->num_var_u == q->num_var_u && same_bytes(r->var_u, q->var_u, 4 * r->num_var_u));
    CHECK(r->num_bounded_h == q->num_bounded_h &&
          same_bytes(r->bounded_h, q->bounded_h, 8 * r->num_bounded_h));
    CHECK(same_point(&r->fixed_p[0], &q->fixed_p[0]) && same_point(&r->fixed_p[1], &q->fixed_p[1]));
    CHECK(r->num_var_p == q->num_var_p);
    for (uint32_t i = 0; i < r->num_var_p; i++) {
        CHECK(same_point(&r->var_p[i], &q->var_p[i]));
    }
    CHECK(r->num_bounded_p == q->num_bounded_p);
    for (uint32_t i = 0; i < r->num_bounded_p; i++) {
        CHECK(same_point(&r->bounded_p[i], &q->bounded_p[i]));
    }
    CHECK(r->num_var_c == q->num_var_c);
    for (uint32_t i = 0; i < r->num_var_c; i++) {
        CHECK(r->var_c[i] == q->var_c[i]);
    }
    CHECK(r->num_var_b == q->num_var_b);
    for (uint32_t i = 0; i < r->num_var_b; i++) {
        CHECK(r->var_b[i] == q->var_b[i]);
    }

    const struct bytes *x = &a->by, *y = &b->by;

    CHECK(x->s.len == y->s.len && same_bytes(x->s.str, y->s.str, x->s.len));
    CHECK(x->sb.len == y->sb.len && same_bytes(x->sb.str, y->sb.str, x->sb.len));
    CHECK(x->tn.len == y->tn.len && same_bytes(x->tn.str, y->tn.str, x->tn.len));
    CHECK(x->o.len == y->o.len && same_bytes(x->o.data, y->o.data, x->o.len));
    CHECK(x->ob.len == y->ob.len && same_bytes(x->ob.data, y->ob.data, x->ob.len));
    CHECK(memcmp(x->of, y->of, FIXLEN) == 0 && memcmp(x->tf, y->tf, FIXLEN) == 0);
    CHECK(x->tb.len == y->tb.len && same_bytes(x->tb.data, y->tb.data, x->tb.len));
    check_zc(&y->z, &zc_expected[0], by_address);
    check_zc(&y->zb, &zc_expected[1], by_address);

    const struct optional *o = &a->op, *p = &b->op;

    while (o) {
        CHECK(!o->p == !p->p && (!o->p || same_point(o->p, p->p)));
        CHECK(!o->i == !p->i && (!o->i || *o->i == *p->i));
        CHECK(!o->self == !p->self);
        o = o->self;
        p = p->self;
    }

    const struct entry *e = a->ho.list, *f = b->ho.list;

    for (; e; e = e->nextentry, f = f->nextentry) {
        CHECK(f != NULL);
        CHECK(e->id == f->id && e->name.len == f->name.len &&
              same_bytes(e->name.str, f->name.str, e->name.len));
    }
    CHECK(f == NULL);
    CHECK(a->ho.after == b->ho.after);
    CHECK(same_kind(&a->uk, &b->uk));
    CHECK(a->ub.present == b->ub.present && (!a->ub.present || a->ub.value == b->ub.value));
    CHECK(a->un.d == b->un.d && (a->un.d != K_INT || a->un.v == b->un.v));
    CHECK(a->o.flavor == b->o.flavor);
    if (a->o.flavor == K_INT) {
        CHECK(same_point(&a->o.pt, &b->o.pt));
    } else if (a->o.flavor == K_STR) {
        CHECK(a->o.raw.len == b->o.raw.len &&
              same_bytes(a->o.raw.data, b->o.raw.data, a->o.raw.len));
    }
    CHECK(a->num_many == b->num_many);
    for (uint32_t i = 0; i < a->num_many; i++) {
        CHECK(same_kind(&a->many[i], &b->many[i]));
    }
}

static void
release_zc(xdr_iovecr *z)
{
#ifdef XDR_CUSTOM_IOVEC
    for (int i = 0; i < z->niov; i++) {
        evpl_iovec_release(evpl, &z->iov[i]);
    }
#else
    (void) z;
#endif
}

#define SCRATCH (256 * 1024)
#define MAXOUT  64

int
main(int argc, char **argv)
{
    int iterations = 2000;

#ifdef XDR_CUSTOM_IOVEC
    evpl_set_log_fn(log_fn, NULL);
    evpl_init(evpl_test_config(argc, argv));
    evpl = evpl_create(NULL);
#else
    (void) argc;
    (void) argv;
#endif
    seed      = getenv("XDR_SEED") ? (unsigned int) strtoul(getenv("XDR_SEED"), NULL, 0) : 12345;
    rng_state = seed;
    arena     = xdr_dbuf_alloc(4 * 1024 * 1024);

    xdr_dbuf *dbuf = xdr_dbuf_alloc(1024 * 1024);
    char     *flat = malloc(SCRATCH);

    test_assert(arena && dbuf && flat);
    for (iteration = 0; iteration < iterations; iteration++) {
        struct all in, out;
        xdr_iovec  scratch, iov_out[MAXOUT];
        int        niov = MAXOUT, headroom = (int) rnd_below(3) * 8;

        xdr_dbuf_reset(arena);
        xdr_dbuf_reset(dbuf);
        zc_count = 0;
        memset(&in, 0, sizeof(in));
        fill_all(&in);

        int expect = marshall_length_all(&in);

#ifdef XDR_CUSTOM_IOVEC
        test_assert(evpl_iovec_alloc(evpl, SCRATCH, 8, 1, 0, &scratch) == 1);
#else
        static char scratch_mem[SCRATCH];

        scratch.iov_base = scratch_mem;
        scratch.iov_len = SCRATCH;
#endif
        int len = marshall_all(&in, &scratch, iov_out, &niov, NULL, headroom);

        CHECK(len == expect + headroom);
        CHECK(niov >= 1 && niov <= MAXOUT);

        /* flatten, checking the encoder's bookkeeping on the way */
        int off = 0;

        for (int i = 0; i < niov; i++) {
            memcpy(flat + off, xdr_iovec_data(&iov_out[i]), xdr_iovec_len(&iov_out[i]));
            off += (int) xdr_iovec_len(&iov_out[i]);
        }
        CHECK(off == len);

        /* 1: from the encoder's own list (zero copy: zcopaques alias the payload) */
        xdr_iovec *body  = iov_out;
        int        nbody = niov;

        /* skip the headroom: it sits at the front of the first segment */
#ifdef XDR_CUSTOM_IOVEC
        xdr_iovec first;

        evpl_iovec_clone_segment(&first, &iov_out[0], (unsigned int) headroom,
                                 xdr_iovec_len(&iov_out[0]) - (unsigned int) headroom);
#else
        xdr_iovec first = {(char *) iov_out[0].iov_base + headroom,
                           iov_out[0].iov_len - (uint32_t) headroom};
#endif
        xdr_iovec list[MAXOUT];

        list[0] = first;
        for (int i = 1; i < nbody; i++) {
            list[i] = body[i];
        }
        memset(&out, 0, sizeof(out));
        CHECK(unmarshall_all(&out, list, nbody, NULL, dbuf) == expect);
        check_all(&in, &out, 1);
        release_zc(&out.by.z);
        release_zc(&out.by.zb);

        /* 2: one flat iovec, and 3: the same bytes cut in random pieces */
        for (int mode = 0; mode < 2; mode++) {
            xdr_iovec pieces[4096];
            int       npieces = 0;
#ifdef XDR_CUSTOM_IOVEC
            xdr_iovec whole;

            test_assert(evpl_iovec_alloc(evpl, (unsigned int) expect + 1, 0, 1, 0, &whole) == 1);
            memcpy(whole.data, flat + headroom, (size_t) expect);
#else
            xdr_iovec whole = {flat + headroom, (uint32_t) expect};
#endif
            if (mode == 0) {
                pieces[npieces++] = whole;
                xdr_iovec_set_len(&pieces[0], (uint32_t) expect);
            } else {
                uint32_t at = 0;

                while (at < (uint32_t) expect && npieces < 4095) {
                    uint32_t n = 1 + rnd_below(9);

                    if (n > (uint32_t) expect - at || npieces == 4094) {
                        n = (uint32_t) expect - at;
                    }
#ifdef XDR_CUSTOM_IOVEC
                    evpl_iovec_clone_segment(&pieces[npieces++], &whole, at, n);
#else
                    pieces[npieces].iov_base = flat + headroom + at;
                    pieces[npieces].iov_len = n;
                    npieces++;
#endif
                    at += n;
                }
                if (rnd_below(2)) { /* trailing bytes after the value are not consumed */
#ifdef XDR_CUSTOM_IOVEC
                    evpl_iovec_clone_segment(&pieces[npieces++], &whole, 0, 1);
#else
                    pieces[npieces].iov_base = flat;
                    pieces[npieces].iov_len = 1;
                    npieces++;
#endif
                }
            }
            xdr_dbuf_reset(dbuf);
            memset(&out, 0, sizeof(out));
            CHECK(unmarshall_all(&out, pieces, npieces, NULL, dbuf) == expect);
            check_all(&in, &out, 0);
            release_zc(&out.by.z);
            release_zc(&out.by.zb);
#ifdef XDR_CUSTOM_IOVEC
            if (mode == 1) {
                for (int i = 0; i < npieces; i++) {
                    evpl_iovec_release(evpl, &pieces[i]);
                }
            }
            evpl_iovec_release(evpl, &whole);
#endif
        }

#ifdef XDR_CUSTOM_IOVEC
        evpl_iovec_release(evpl, &first);
        for (int i = 0; i < niov; i++) {
            evpl_iovec_release(evpl, &iov_out[i]);
        }
        evpl_iovec_release(evpl, &scratch);
#endif
        if (iteration == 0) {
            dump_all("all", &in);
        }
    }

    /* the top-level list form: 1 body 1 body 0, empty list fails to decode */
    {
        struct entry e2 = {2, {1, "b"}, NULL}, e1 = {1, {1, "a"}, &e2}, got;
        char         mem[256];
        xdr_iovec    sc, o[4];
        int          n = 4;
#ifdef XDR_CUSTOM_IOVEC
        test_assert(evpl_iovec_alloc(evpl, sizeof(mem), 8, 1, 0, &sc) == 1);
#else
        sc.iov_base = mem;
        sc.iov_len = sizeof(mem);
#endif
        int len = marshall_entry(&e1, &sc, o, &n, NULL, 0);

        test_assert(len == marshall_length_entry(&e1));
        test_assert(len == 4 + 4 + 8 + 4 + 4 + 8 + 4);
        memcpy(mem, xdr_iovec_data(&o[0]), (size_t) len);
        test_assert(mem[3] == 1 && mem[len - 1] == 0);
        xdr_dbuf_reset(dbuf);
        test_assert(unmarshall_entry(&got, o, n, NULL, dbuf) == len);
        test_assert(got.id == 1 && got.nextentry && got.nextentry->id == 2 &&
                    got.nextentry->nextentry == NULL);
#ifdef XDR_CUSTOM_IOVEC
        for (int i = 0; i < n; i++) {
            evpl_iovec_release(evpl, &o[i]);
        }
        evpl_iovec_release(evpl, &sc);
#endif
    }

    xdr_dbuf_free(dbuf);
    xdr_dbuf_free(arena);
    free(flat);
#ifdef XDR_CUSTOM_IOVEC
    evpl_destroy(evpl);
    test_assert(leak_reports == 0);
#endif
    printf("%d round trips passed\n", iterations);
    return 0;
}
