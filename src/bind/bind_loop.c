/*
 * Placeholder loop glue of the bind layer until binds exist: a loop with no
 * binds has nothing to finalise or close.
 */
#include "core/loop.h"

void
evpl_binds_finalize(struct evpl *evpl)
{
    (void) evpl;
}

void
evpl_binds_close_all(struct evpl *evpl)
{
    (void) evpl;
}

void
evpl_binds_cleanup(struct evpl *evpl)
{
    (void) evpl;
}
