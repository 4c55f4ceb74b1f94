/*
 * Latched readiness and the loop's active list.
 *
 * Invariant: an event is on evpl->active exactly when it is "ready" -- a
 * latched flag meets an armed interest, or an error is latched and the event
 * has an error callback.  Dispatch walks the list once per pass; removal
 * during dispatch clears the slot and the list is compacted afterwards.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/loop.h"
#include "core/mech/mech.h"
#include "core/poll.h"

static inline int
event_ready(const struct evpl_event *ev)
{
    unsigned int f = ev->flags;

    return ((f & EVPL_EVENT_READABLE) && (f & EVPL_EVENT_READ_INTEREST)) ||
           ((f & EVPL_EVENT_WRITABLE) && (f & EVPL_EVENT_WRITE_INTEREST)) ||
           ((f & EVPL_EVENT_ERROR) && ev->error_callback);
}

static void
active_append(struct evpl *evpl, struct evpl_event *ev)
{
    if (evpl->num_active == evpl->max_active) {
        int   max = evpl->max_active ? evpl->max_active * 2 : 256;
        void *p   = realloc(evpl->active, max * sizeof(*evpl->active));

        evpl_core_abort_if(!p, "out of memory growing the active event list");
        evpl->active     = p;
        evpl->max_active = max;
    }
    ev->active_index                 = evpl->num_active;
    evpl->active[evpl->num_active++] = ev;
}

static void
active_drop(struct evpl *evpl, struct evpl_event *ev)
{
    evpl->active[ev->active_index] = NULL;
    ev->active_index               = -1;
}

/* Put the event on or off the active list to match its state. */
static inline void
event_refresh(struct evpl *evpl, struct evpl_event *ev)
{
    if (!(ev->flags & EVPL_EVENT_REGISTERED)) {
        return;
    }
    if (event_ready(ev)) {
        if (ev->active_index < 0) {
            active_append(evpl, ev);
        }
    } else if (ev->active_index >= 0) {
        active_drop(evpl, ev);
    }
}

int
evpl_event_add(struct evpl *evpl, struct evpl_event *event)
{
    event->flags        = EVPL_EVENT_REGISTERED;
    event->active_index = -1;
    event->mech_index   = -1;

    int rc = evpl->mech->add(evpl->mech_private, event);

    if (rc < 0) {
        event->flags = 0;
    }
    return rc;
}

int
evpl_event_add_traffic(struct evpl *evpl, struct evpl_event *event)
{
    int rc = evpl_event_add(evpl, event);

    if (rc == 0) {
        event->flags |= EVPL_EVENT_TRAFFIC;
        evpl_traffic_ref(evpl);
    }
    return rc;
}

void
evpl_event_remove(struct evpl *evpl, struct evpl_event *event)
{
    if (!(event->flags & EVPL_EVENT_REGISTERED)) {
        return;
    }
    if (event->active_index >= 0) {
        active_drop(evpl, event);
    }
    evpl->mech->remove(evpl->mech_private, event);
    if (event->flags & EVPL_EVENT_TRAFFIC) {
        evpl_traffic_unref(evpl);
    }
    event->flags = 0;
}

static inline void
event_set(struct evpl *evpl, struct evpl_event *ev, unsigned int set, unsigned int clear)
{
    unsigned int old = ev->flags;

    ev->flags = (old | set) & ~clear;
    if (ev->flags != old) {
        /* New readiness on a connection is what keeps a busy loop spinning. */
        if ((old & EVPL_EVENT_TRAFFIC) &&
            (set & ~old & (EVPL_EVENT_READABLE | EVPL_EVENT_WRITABLE))) {
            evpl_activity_internal(evpl);
        }
        evpl->mech->update(evpl->mech_private, ev);
        event_refresh(evpl, ev);
    }
}

void
evpl_event_read_interest(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, EVPL_EVENT_READ_INTEREST, 0);
}

void
evpl_event_read_disinterest(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, 0, EVPL_EVENT_READ_INTEREST);
}

void
evpl_event_write_interest(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, EVPL_EVENT_WRITE_INTEREST, 0);
}

void
evpl_event_write_disinterest(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, 0, EVPL_EVENT_WRITE_INTEREST);
}

void
evpl_event_mark_readable(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, EVPL_EVENT_READABLE, 0);
}

void
evpl_event_mark_unreadable(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, 0, EVPL_EVENT_READABLE);
}

void
evpl_event_mark_writable(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, EVPL_EVENT_WRITABLE, 0);
}

void
evpl_event_mark_unwritable(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, 0, EVPL_EVENT_WRITABLE);
}

void
evpl_event_mark_error(struct evpl *evpl, struct evpl_event *event)
{
    event_set(evpl, event, EVPL_EVENT_ERROR, 0);
}

void
evpl_event_mark_hup(struct evpl *evpl, struct evpl_event *event)
{
    /* Not a readiness flag by itself: readers consult it after short reads. */
    (void) evpl;
    event->flags |= EVPL_EVENT_HUP;
}

/*
 * Pass step 7.  Events appended while dispatching (newly ready) are handled
 * in the same walk; a slot cleared by a callback is skipped.
 */
void
evpl_events_dispatch(struct evpl *evpl)
{
    for (int i = 0; i < evpl->num_active; i++) {
        struct evpl_event *ev = evpl->active[i];

        if (!ev) {
            continue;
        }
        unsigned int f = ev->flags;

        if ((f & EVPL_EVENT_READABLE) && (f & EVPL_EVENT_READ_INTEREST)) {
            ev->read_callback(evpl, ev);
            if (evpl->active[i] != ev) {
                continue;
            }
        }
        f = ev->flags;
        if ((f & EVPL_EVENT_WRITABLE) && (f & EVPL_EVENT_WRITE_INTEREST)) {
            ev->write_callback(evpl, ev);
            if (evpl->active[i] != ev) {
                continue;
            }
        }
        if ((ev->flags & EVPL_EVENT_ERROR) && ev->error_callback) {
            /* Delivered once per report; the flag is cleared first so the
             * callback may re-latch or remove the event. */
            event_set(evpl, ev, 0, EVPL_EVENT_ERROR);
            ev->error_callback(evpl, ev);
        }
    }

    /* Compact: drop cleared slots, keep order. */
    int n = 0;

    for (int i = 0; i < evpl->num_active; i++) {
        struct evpl_event *ev = evpl->active[i];

        if (ev) {
            ev->active_index  = n;
            evpl->active[n++] = ev;
        }
    }
    evpl->num_active = n;
}
