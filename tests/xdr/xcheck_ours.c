/* Our side of the wire cross-check (xcheck.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xcheck.h"
#include "xcheck_xdr.h"

static char     arena_mem[XCHECK_MAX];
static xdr_dbuf arena = {arena_mem, sizeof(arena_mem), 0};

static void *
space(size_t n)
{
    void *p = xdr_dbuf_alloc_space(n, &arena);

    if (!p) {
        abort();
    }
    return p;
}

static void
fill_string(uint64_t *s, xdr_string *str)
{
    str->len = xcheck_next(s) % 20;
    str->str = space(str->len + 1);
    for (uint32_t i = 0; i < str->len; i++) {
        str->str[i] = (char) ('a' + xcheck_next(s) % 26);
    }
}

static void
fill_point(uint64_t *s, struct xpoint *p)
{
    p->x = (int32_t) xcheck_next(s);
    p->y = (int32_t) xcheck_next(s);
}

static xcolor
next_color(uint64_t *s)
{
    static const xcolor c[] = {XRED, XGREEN, XBLUE};

    return c[xcheck_next(s) % 3];
}

static void
fill(uint64_t seed, struct xall *a)
{
    uint64_t s = seed;

    arena.used = 0;
    memset(a, 0, sizeof(*a));
    a->i  = (int32_t) xcheck_next(&s);
    a->u  = xcheck_next(&s);
    a->h  = (int64_t) xcheck_next64(&s);
    a->uh = xcheck_next64(&s);
    a->b  = xcheck_next(&s) % 2;
    a->c  = next_color(&s);
    {
        uint32_t fb = xcheck_next(&s);
        uint64_t db = xcheck_next64(&s);

        memcpy(&a->f, &fb, 4);
        memcpy(&a->d, &db, 8);
    }
    for (int i = 0; i < XN; i++) {
        a->fi[i] = (int32_t) xcheck_next(&s);
    }
    a->num_vu = xcheck_next(&s) % 6;
    a->vu     = space(4 * a->num_vu);
    for (uint32_t i = 0; i < a->num_vu; i++) {
        a->vu[i] = xcheck_next(&s);
    }
    a->num_vp = xcheck_next(&s) % 5;
    a->vp     = space(sizeof(*a->vp) * a->num_vp);
    for (uint32_t i = 0; i < a->num_vp; i++) {
        fill_point(&s, &a->vp[i]);
    }
    fill_point(&s, &a->fp[0]);
    fill_point(&s, &a->fp[1]);
    fill_string(&s, &a->s);
    a->o.len  = xcheck_next(&s) % 30;
    a->o.data = space(a->o.len);
    for (uint32_t i = 0; i < a->o.len; i++) {
        ((unsigned char *) a->o.data)[i] = (unsigned char) xcheck_next(&s);
    }
    for (int i = 0; i < 5; i++) {
        a->fo[i] = (uint8_t) xcheck_next(&s);
    }
    if (xcheck_next(&s) % 2) {
        a->op = space(sizeof(*a->op));
        fill_point(&s, a->op);
    }
    int            n    = (int) (xcheck_next(&s) % 4);
    struct xnode **tail = &a->list;

    for (int i = 0; i < n; i++) {
        struct xnode *node = space(sizeof(*node));

        node->v = xcheck_next(&s);
        fill_string(&s, &node->name);
        *tail = node;
        tail  = &node->next;
    }
    *tail   = NULL;
    a->u1.c = next_color(&s);
    if (a->u1.c == XRED) {
        a->u1.i = (int32_t) xcheck_next(&s);
    } else if (a->u1.c == XGREEN) {
        fill_string(&s, &a->u1.s);
    }
    a->u2.b = xcheck_next(&s) % 2;
    if (a->u2.b) {
        a->u2.h = (int64_t) xcheck_next64(&s);
    }
    a->num_vc = xcheck_next(&s) % 4;
    a->vc     = space(sizeof(xcolor) * a->num_vc);
    for (uint32_t i = 0; i < a->num_vc; i++) {
        a->vc[i] = next_color(&s);
    }
}

int
xcheck_ours_encode(uint64_t seed, unsigned char *buf)
{
    struct xall a;
    xdr_iovec   scratch = {buf, XCHECK_MAX}, out[4];
    int         niov    = 4;

    fill(seed, &a);

    int len = marshall_xall(&a, &scratch, out, &niov, NULL, 0);

    if (len != marshall_length_xall(&a) || niov != 1 || out[0].iov_base != buf) {
        return -1;
    }
    return len;
}

static int
same_str(const xdr_string *a, const xdr_string *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->str, b->str, a->len) == 0);
}

int
xcheck_ours_decode(uint64_t seed, const unsigned char *buf, int len)
{
    static char decode_mem[XCHECK_MAX];
    xdr_dbuf    dbuf = {decode_mem, sizeof(decode_mem), 0};
    struct xall want, got;
    xdr_iovec   in = {(void *) buf, (uint32_t) len};

    fill(seed, &want);
    memset(&got, 0, sizeof(got));
    if (unmarshall_xall(&got, &in, 1, NULL, &dbuf) != len) {
        return -1;
    }
    int ok = want.i == got.i && want.u == got.u && want.h == got.h && want.uh == got.uh &&
             want.b == got.b && want.c == got.c && memcmp(&want.f, &got.f, 4) == 0 &&
             memcmp(&want.d, &got.d, 8) == 0 && memcmp(want.fi, got.fi, sizeof(want.fi)) == 0 &&
             want.num_vu == got.num_vu && want.num_vp == got.num_vp && same_str(&want.s, &got.s) &&
             want.o.len == got.o.len && memcmp(want.fo, got.fo, 5) == 0 && !want.op == !got.op &&
             want.u1.c == got.u1.c && want.u2.b == got.u2.b && want.num_vc == got.num_vc;

    for (uint32_t i = 0; ok && i < want.num_vu; i++) {
        ok = want.vu[i] == got.vu[i];
    }
    for (uint32_t i = 0; ok && i < want.num_vp; i++) {
        ok = want.vp[i].x == got.vp[i].x && want.vp[i].y == got.vp[i].y;
    }
    for (int i = 0; ok && i < 2; i++) {
        ok = want.fp[i].x == got.fp[i].x && want.fp[i].y == got.fp[i].y;
    }
    ok = ok && (want.o.len == 0 || memcmp(want.o.data, got.o.data, want.o.len) == 0);
    ok = ok && (!want.op || (want.op->x == got.op->x && want.op->y == got.op->y));
    const struct xnode *x = want.list, *y = got.list;

    for (; ok && x; x = x->next, y = y->next) {
        ok = y && x->v == y->v && same_str(&x->name, &y->name);
    }
    ok = ok && (x != NULL || y == NULL);
    if (ok && want.u1.c == XRED) {
        ok = want.u1.i == got.u1.i;
    } else if (ok && want.u1.c == XGREEN) {
        ok = same_str(&want.u1.s, &got.u1.s);
    }
    ok = ok && (!want.u2.b || want.u2.h == got.u2.h);
    for (uint32_t i = 0; ok && i < want.num_vc; i++) {
        ok = want.vc[i] == got.vc[i];
    }
    return ok ? 0 : -1;
}
