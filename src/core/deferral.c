/*
 * Deferrals: an array of armed deferrals in arming order.  `armed` holds the
 * slot index + 1, so removal is O(1): the slot is cleared and skipped by the
 * drain.  The array is reset only when a drain has emptied it, so indices
 * stay valid while callbacks arm more deferrals.
 */
#include <stdlib.h>

#include "core/deferral.h"
#include "core/loop.h"

void
evpl_deferral_init(struct evpl_deferral *deferral, deferral_callback_t callback, void *private_data)
{
    deferral->callback     = callback;
    deferral->private_data = private_data;
    deferral->armed        = 0;
}

static int
deferral_is_queued(struct evpl *evpl, struct evpl_deferral *deferral)
{
    uint64_t slot = deferral->armed;

    return slot != 0 && slot <= (uint64_t) evpl->num_deferrals &&
           evpl->deferrals[slot - 1] == deferral;
}

void
evpl_defer(struct evpl *evpl, struct evpl_deferral *deferral)
{
    if (deferral_is_queued(evpl, deferral)) {
        return;
    }
    if (evpl->num_deferrals == evpl->max_deferrals) {
        int   max = evpl->max_deferrals ? evpl->max_deferrals * 2 : 256;
        void *p   = realloc(evpl->deferrals, max * sizeof(*evpl->deferrals));

        evpl_core_abort_if(!p, "out of memory growing the deferral list");
        evpl->deferrals     = p;
        evpl->max_deferrals = max;
    }
    evpl->deferrals[evpl->num_deferrals++] = deferral;
    deferral->armed                        = (uint64_t) evpl->num_deferrals;
}

void
evpl_remove_deferral(struct evpl *evpl, struct evpl_deferral *deferral)
{
    if (deferral_is_queued(evpl, deferral)) {
        evpl->deferrals[deferral->armed - 1] = NULL;
    }
    deferral->armed = 0;
}

int
evpl_deferrals_pending(struct evpl *evpl)
{
    for (int i = 0; i < evpl->num_deferrals; i++) {
        if (evpl->deferrals[i]) {
            return 1;
        }
    }
    return 0;
}

/* Pass step 8: run until none is armed, including ones armed meanwhile. */
void
evpl_deferrals_run(struct evpl *evpl)
{
    for (int i = 0; i < evpl->num_deferrals; i++) {
        struct evpl_deferral *deferral = evpl->deferrals[i];

        if (!deferral) {
            continue;
        }
        evpl->deferrals[i] = NULL;
        deferral->armed    = 0;
        deferral->callback(evpl, deferral->private_data);
    }
    evpl->num_deferrals = 0;
}

void
evpl_deferrals_cleanup(struct evpl *evpl)
{
    free(evpl->deferrals);
    evpl->deferrals     = NULL;
    evpl->num_deferrals = evpl->max_deferrals = 0;
}
