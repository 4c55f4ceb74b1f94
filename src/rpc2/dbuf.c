/*
 * XDR scratch buffers (struct xdr_dbuf, XDR.md 4.5): one malloc'ed block per
 * pooled request and two per thread (client arguments, client replies),
 * allocated once and reset by setting used to 0.
 */
#include <stdlib.h>

#include "rpc2_internal.h"

void
rpc2_dbuf_init(struct xdr_dbuf *dbuf, int size)
{
    dbuf->buffer = malloc((size_t) size);
    evpl_rpc2_abort_if(dbuf->buffer == NULL, "out of memory for a %d-byte XDR buffer", size);
    dbuf->size = size;
    dbuf->used = 0;
}

void
rpc2_dbuf_destroy(struct xdr_dbuf *dbuf)
{
    free(dbuf->buffer);
    dbuf->buffer = NULL;
    dbuf->size   = 0;
    dbuf->used   = 0;
}
