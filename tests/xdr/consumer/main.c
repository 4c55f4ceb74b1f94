/* Encodes and decodes one value with code generated at build time. */
#include "point_xdr.h"

int
main(void)
{
    struct point in = {3, -4, {2, "ok"}}, out;
    char         mem[64];
    xdr_iovec    scratch = {mem, sizeof(mem)}, iov[2];
    int          niov    = 2;
    xdr_dbuf    *dbuf    = xdr_dbuf_alloc(256);
    int          len     = marshall_point(&in, &scratch, iov, &niov, NULL, 0);

    if (len != 16 || unmarshall_point(&out, iov, niov, NULL, dbuf) != 16 || out.x != 3 ||
        out.y != -4 || out.label.len != 2 || memcmp(out.label.str, "ok", 2) != 0) {
        return 1;
    }
    xdr_dbuf_free(dbuf);
    return 0;
}
