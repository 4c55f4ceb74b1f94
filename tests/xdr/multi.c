/*
 * Two generated headers in one translation unit and two generated .c files
 * in one program (XDR.md 1.2, 1.4): the runtime header is guarded, every
 * helper is static, and the fallback dump_output() is weak, so both link.
 */
#include <stdio.h>

#include "every_xdr.h"
#include "xcheck_xdr.h"

int
main(void)
{
    struct point  p = {1, 2};
    struct xpoint q = {3, 4};
    char          mem[64];
    xdr_iovec     sc = {mem, sizeof(mem)}, out[2];
    int           n  = 2;

    dump_point("p", &p);
    dump_xpoint("q", &q);
    if (marshall_point(&p, &sc, out, &n, NULL, 0) != 8 || marshall_length_xpoint(&q) != 8) {
        return 1;
    }
    printf("two generated files linked\n");
    return 0;
}
