/* RPC2 program layer (-r): placeholder, filled in below. */
#include "xdrgen.h"

void
emit_rpc_header(FILE *f, struct spec *spec)
{
    (void) f;
    (void) spec;
}

void
emit_rpc_source(FILE *f, struct spec *spec, const struct options *opt)
{
    (void) f;
    (void) spec;
    (void) opt;
}
