/*
 * The token language of the RPC2 wire tables (conformance.txt, hostile.txt):
 * a number (decimal or 0x..., one big-endian 32-bit word); P (the test
 * program, 0x20000099); byte:V (one byte); str:TEXT (its bytes); fill:N (N
 * bytes of 0xab); zeros:N; { ... } a last fragment and [ ... ] a non-last
 * one, each with its record mark computed; Xn the xid of call n; half (shut
 * down the sending side after these bytes); close (close the connection).
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "echo_prog.h"

struct bytes {
    uint8_t *data;
    size_t   len, cap;
};

static void
put(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap  = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        test_assert(b->data != NULL);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void
put_u32(struct bytes *b, uint32_t v)
{
    uint8_t w[4];

    echo_put_u32(w, v);
    put(b, w, 4);
}

/*
 * Encode tokens into b; returns 1 if a `half` token was seen, 2 if `close`.
 * Xn stands for xids[n] (the xid of the n-th call a hostile server read).
 */
static int
encode(const char *name, char *text, struct bytes *b, const uint32_t *xids, int nxids)
{
    size_t frag_start = 0;
    int    in_frag = 0, half = 0, last = 0;

    for (char *save = NULL, *t = strtok_r(text, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save)) {
        if (strcmp(t, "{") == 0 || strcmp(t, "[") == 0) {
            test_assert_msg(!in_frag, "%s: nested fragment", name);
            in_frag    = 1;
            last       = t[0] == '{';
            frag_start = b->len;
            put_u32(b, 0);
        } else if (strcmp(t, "}") == 0 || strcmp(t, "]") == 0) {
            test_assert_msg(in_frag, "%s: unbalanced fragment", name);
            in_frag = 0;
            echo_put_u32(b->data + frag_start,
                         (last ? 0x80000000u : 0) | (uint32_t) (b->len - frag_start - 4));
        } else if (strcmp(t, "P") == 0) {
            put_u32(b, ECHO_PROG);
        } else if (strcmp(t, "half") == 0) {
            half = 1;
        } else if (strcmp(t, "close") == 0) {
            half = 2;
        } else if (t[0] == 'X' && t[1] >= '0' && t[1] <= '9' && t[2] == '\0') {
            test_assert_msg(t[1] - '0' < nxids, "%s: %s names no call", name, t);
            put_u32(b, xids[t[1] - '0']);
        } else if (strncmp(t, "byte:", 5) == 0) {
            uint8_t v = (uint8_t) strtoul(t + 5, NULL, 0);
            put(b, &v, 1);
        } else if (strncmp(t, "str:", 4) == 0) {
            put(b, t + 4, strlen(t + 4));
        } else if (strncmp(t, "fill:", 5) == 0 || strncmp(t, "zeros:", 6) == 0) {
            size_t  n = strtoul(strchr(t, ':') + 1, NULL, 0);
            uint8_t v = t[0] == 'f' ? 0xab : 0;

            for (size_t i = 0; i < n; i++) {
                put(b, &v, 1);
            }
        } else {
            char         *end;
            unsigned long v = strtoul(t, &end, 0);

            test_assert_msg(*end == '\0', "%s: bad token '%s'", name, t);
            put_u32(b, (uint32_t) v);
        }
    }
    test_assert_msg(!in_frag, "%s: unterminated fragment", name);
    return half;
}
