/*
 * Runs validate.cases: every decode check of XDR.md 4.7 fed the violating
 * bytes (and a passing neighbour), from one iovec and from one iovec per
 * byte.  Built twice, against validate.x generated with and without -e
 * (LAX).  A failing case prints its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate_xdr.h"

#define DECODER(T)                                                                                 \
    static int dec_##T(xdr_iovec *iov, int niov, xdr_dbuf *dbuf)                                   \
    {                                                                                              \
        struct T v;                                                                                \
        memset(&v, 0, sizeof(v));                                                                  \
        return unmarshall_##T(&v, iov, niov, NULL, dbuf);                                          \
    }

DECODER(v_bool)
DECODER(v_enum)
DECODER(v_string)
DECODER(v_opaque)
DECODER(v_array)
DECODER(v_enum_array)
DECODER(v_ptr)
DECODER(v_fixed)
DECODER(v_big)
DECODER(v_zc)
DECODER(v_union)
DECODER(v_union_arm)
DECODER(v_ou)
DECODER(v_list)
DECODER(v_rec)

static const struct {
    const char *name;
    int (*dec)(xdr_iovec *, int, xdr_dbuf *);
} decoders[] = {
    {"v_bool", dec_v_bool},     {"v_enum", dec_v_enum},   {"v_string", dec_v_string},
    {"v_opaque", dec_v_opaque}, {"v_array", dec_v_array}, {"v_enum_array", dec_v_enum_array},
    {"v_ptr", dec_v_ptr},       {"v_fixed", dec_v_fixed}, {"v_big", dec_v_big},
    {"v_zc", dec_v_zc},         {"v_union", dec_v_union}, {"v_union_arm", dec_v_union_arm},
    {"v_ou", dec_v_ou},         {"v_list", dec_v_list},   {"v_rec", dec_v_rec},
};

int
main(int argc, char **argv)
{
    FILE *f = fopen(argc > 1 ? argv[1] : "validate.cases", "r");
    char  line[1024];
    int   lineno = 0, cases = 0, failures = 0;

    if (!f) {
        perror("validate.cases");
        return 1;
    }
    while (fgets(line, sizeof(line), f)) {
        char type[64], strict[16], lax[16], hex[512];
        int  dbuf_size;

        lineno++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        if (sscanf(line, "%63s %d %15s %15s %511s", type, &dbuf_size, strict, lax, hex) != 5) {
            fprintf(stderr, "validate.cases:%d: malformed line\n", lineno);
            return 1;
        }
#ifdef LAX
        const char *want_s = lax;
#else
        const char *want_s = strict;
#endif
        int want                                 = strcmp(want_s, "FAIL") == 0 ? -1 : atoi(want_s);
        int (*dec)(xdr_iovec *, int, xdr_dbuf *) = NULL;

        for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++) {
            if (strcmp(decoders[i].name, type) == 0) {
                dec = decoders[i].dec;
            }
        }
        if (!dec) {
            fprintf(stderr, "validate.cases:%d: unknown type %s\n", lineno, type);
            return 1;
        }
        unsigned char bytes[256];
        int           n = 0;

        if (strcmp(hex, "-") != 0) {
            for (const char *p = hex; p[0] && p[1] && n < 256; p += 2) {
                unsigned int b;

                sscanf(p, "%2x", &b);
                bytes[n++] = (unsigned char) b;
            }
        }
        /* one iovec, then one iovec per byte */
        xdr_iovec one = {bytes, (uint32_t) n}, per[256];

        for (int i = 0; i < n; i++) {
            per[i].iov_base = bytes + i;
            per[i].iov_len  = 1;
        }
        xdr_dbuf *d1 = xdr_dbuf_alloc(dbuf_size), *d2 = xdr_dbuf_alloc(dbuf_size);
        int       r1 = dec(&one, 1, d1), r2 = dec(per, n, d2);

        cases++;
        if (r1 != want || r2 != want) {
            failures++;
            fprintf(stderr, "FAIL validate.cases:%d: %s -> %d (one iovec), %d (split), want %d\n",
                    lineno, line, r1, r2, want);
        }
        xdr_dbuf_free(d1);
        xdr_dbuf_free(d2);
    }
    fclose(f);
    printf("%d cases, %d failures\n", cases, failures);
    return failures ? 1 : 0;
}
