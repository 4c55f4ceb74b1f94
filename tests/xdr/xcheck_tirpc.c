/* rpcgen + libtirpc side of the wire cross-check (xcheck.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rpc/rpc.h>

#include "xcheck.h"
#include "xcheck.h_rpcgen"

static char   arena_mem[XCHECK_MAX];
static size_t arena_used;

static void *
space(size_t n)
{
    void *p = arena_mem + arena_used;

    arena_used += (n + 7) & ~(size_t) 7;
    if (arena_used > sizeof(arena_mem)) {
        abort();
    }
    return p;
}

static char *
fill_string(uint64_t *s)
{
    uint32_t len = xcheck_next(s) % 20;
    char    *str = space(len + 1);

    for (uint32_t i = 0; i < len; i++) {
        str[i] = (char) ('a' + xcheck_next(s) % 26);
    }
    str[len] = '\0';
    return str;
}

static void
fill_point(uint64_t *s, xpoint *p)
{
    p->x = (int) xcheck_next(s);
    p->y = (int) xcheck_next(s);
}

static xcolor
next_color(uint64_t *s)
{
    static const xcolor c[] = {XRED, XGREEN, XBLUE};

    return c[xcheck_next(s) % 3];
}

static void
fill(uint64_t seed, xall *a)
{
    uint64_t s = seed;

    arena_used = 0;
    memset(a, 0, sizeof(*a));
    a->i  = (int) xcheck_next(&s);
    a->u  = xcheck_next(&s);
    a->h  = (quad_t) xcheck_next64(&s);
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
        a->fi[i] = (int) xcheck_next(&s);
    }
    a->vu.vu_len = xcheck_next(&s) % 6;
    a->vu.vu_val = space(4 * a->vu.vu_len);
    for (u_int i = 0; i < a->vu.vu_len; i++) {
        a->vu.vu_val[i] = xcheck_next(&s);
    }
    a->vp.vp_len = xcheck_next(&s) % 5;
    a->vp.vp_val = space(sizeof(xpoint) * a->vp.vp_len);
    for (u_int i = 0; i < a->vp.vp_len; i++) {
        fill_point(&s, &a->vp.vp_val[i]);
    }
    fill_point(&s, &a->fp[0]);
    fill_point(&s, &a->fp[1]);
    a->s       = fill_string(&s);
    a->o.o_len = xcheck_next(&s) % 30;
    a->o.o_val = space(a->o.o_len);
    for (u_int i = 0; i < a->o.o_len; i++) {
        a->o.o_val[i] = (char) xcheck_next(&s);
    }
    for (int i = 0; i < 5; i++) {
        a->fo[i] = (char) xcheck_next(&s);
    }
    if (xcheck_next(&s) % 2) {
        a->op = space(sizeof(*a->op));
        fill_point(&s, a->op);
    }
    int     n    = (int) (xcheck_next(&s) % 4);
    xnode **tail = &a->list;

    for (int i = 0; i < n; i++) {
        xnode *node = space(sizeof(*node));

        node->v    = xcheck_next(&s);
        node->name = fill_string(&s);
        *tail      = node;
        tail       = &node->next;
    }
    *tail   = NULL;
    a->u1.c = next_color(&s);
    if (a->u1.c == XRED) {
        a->u1.xu_u.i = (int) xcheck_next(&s);
    } else if (a->u1.c == XGREEN) {
        a->u1.xu_u.s = fill_string(&s);
    }
    a->u2.b = xcheck_next(&s) % 2;
    if (a->u2.b) {
        a->u2.xb_u.h = (quad_t) xcheck_next64(&s);
    }
    a->vc.vc_len = xcheck_next(&s) % 4;
    a->vc.vc_val = space(sizeof(xcolor) * a->vc.vc_len);
    for (u_int i = 0; i < a->vc.vc_len; i++) {
        a->vc.vc_val[i] = next_color(&s);
    }
}

int
xcheck_tirpc_encode(uint64_t seed, unsigned char *buf)
{
    xall a;
    XDR  x;

    fill(seed, &a);
    xdrmem_create(&x, (char *) buf, XCHECK_MAX, XDR_ENCODE);
    if (!xdr_xall(&x, &a)) {
        return -1;
    }
    return (int) xdr_getpos(&x);
}

int
xcheck_tirpc_decode(uint64_t seed, const unsigned char *buf, int len)
{
    xall want, got;
    XDR  x;

    fill(seed, &want);
    memset(&got, 0, sizeof(got));
    xdrmem_create(&x, (char *) buf, (u_int) len, XDR_DECODE);
    if (!xdr_xall(&x, &got) || (int) xdr_getpos(&x) != len) {
        return -1;
    }
    int ok = want.i == got.i && want.u == got.u && want.h == got.h && want.uh == got.uh &&
             want.b == got.b && want.c == got.c && memcmp(&want.f, &got.f, 4) == 0 &&
             memcmp(&want.d, &got.d, 8) == 0 && memcmp(want.fi, got.fi, sizeof(want.fi)) == 0 &&
             want.vu.vu_len == got.vu.vu_len && want.vp.vp_len == got.vp.vp_len &&
             strcmp(want.s, got.s) == 0 && want.o.o_len == got.o.o_len &&
             memcmp(want.fo, got.fo, 5) == 0 && !want.op == !got.op && want.u1.c == got.u1.c &&
             want.u2.b == got.u2.b && want.vc.vc_len == got.vc.vc_len;

    for (u_int i = 0; ok && i < want.vu.vu_len; i++) {
        ok = want.vu.vu_val[i] == got.vu.vu_val[i];
    }
    for (u_int i = 0; ok && i < want.vp.vp_len; i++) {
        ok = want.vp.vp_val[i].x == got.vp.vp_val[i].x && want.vp.vp_val[i].y == got.vp.vp_val[i].y;
    }
    for (int i = 0; ok && i < 2; i++) {
        ok = want.fp[i].x == got.fp[i].x && want.fp[i].y == got.fp[i].y;
    }
    ok = ok && (want.o.o_len == 0 || memcmp(want.o.o_val, got.o.o_val, want.o.o_len) == 0);
    ok = ok && (!want.op || (want.op->x == got.op->x && want.op->y == got.op->y));
    const xnode *p = want.list, *q = got.list;

    for (; ok && p; p = p->next, q = q->next) {
        ok = q && p->v == q->v && strcmp(p->name, q->name) == 0;
    }
    ok = ok && (p != NULL || q == NULL);
    if (ok && want.u1.c == XRED) {
        ok = want.u1.xu_u.i == got.u1.xu_u.i;
    } else if (ok && want.u1.c == XGREEN) {
        ok = strcmp(want.u1.xu_u.s, got.u1.xu_u.s) == 0;
    }
    ok = ok && (!want.u2.b || want.u2.xb_u.h == got.u2.xb_u.h);
    for (u_int i = 0; ok && i < want.vc.vc_len; i++) {
        ok = want.vc.vc_val[i] == got.vc.vc_val[i];
    }
    xdr_free((xdrproc_t) xdr_xall, (char *) &got);
    return ok ? 0 : -1;
}
