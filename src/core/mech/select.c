/*
 * select(2) wait mechanism.  Level-triggered: a descriptor is watched for a
 * direction only while that interest is armed and not already latched, so a
 * latched-but-unconsumed event never makes select return at once.
 *
 * The descriptor sets are sized to the largest registered descriptor rather
 * than FD_SETSIZE (Linux accepts any nfds), so the 1024-descriptor limit of
 * fd_set does not apply.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "core/event.h"
#include "core/log.h"
#include "core/mech/mech.h"

#define BITS_PER_WORD (sizeof(unsigned long) * CHAR_BIT)

struct evpl_select {
    struct evpl_event **events; /* registered, indexed by event->mech_index */
    int                 num_events;
    int                 max_events;
    unsigned long      *rset;
    unsigned long      *wset;
    int                 set_words;
};

static void *
select_mech_create(struct evpl *evpl)
{
    (void) evpl;
    return calloc(1, sizeof(struct evpl_select));
}

static void
select_mech_destroy(void *mech)
{
    struct evpl_select *sel = mech;

    free(sel->events);
    free(sel->rset);
    free(sel->wset);
    free(sel);
}

static int
select_mech_add(void *mech, struct evpl_event *event)
{
    struct evpl_select *sel = mech;

    if (event->fd < 0) {
        return -EBADF;
    }
    if (sel->num_events == sel->max_events) {
        int   max = sel->max_events ? sel->max_events * 2 : 64;
        void *p   = realloc(sel->events, max * sizeof(*sel->events));

        if (!p) {
            return -ENOMEM;
        }
        sel->events     = p;
        sel->max_events = max;
    }
    event->mech_index              = sel->num_events;
    sel->events[sel->num_events++] = event;
    return 0;
}

static void
select_mech_update(void *mech, struct evpl_event *event)
{
    (void) mech;
    (void) event;
}

static void
select_mech_remove(void *mech, struct evpl_event *event)
{
    struct evpl_select *sel = mech;
    int                 i   = event->mech_index;

    if (i < 0 || i >= sel->num_events || sel->events[i] != event) {
        return;
    }
    sel->events[i]             = sel->events[--sel->num_events];
    sel->events[i]->mech_index = i;
    event->mech_index          = -1;
}

static int
select_mech_grow_sets(struct evpl_select *sel, int maxfd)
{
    int words = (int) ((maxfd + BITS_PER_WORD) / BITS_PER_WORD);

    if (words <= sel->set_words) {
        return 0;
    }
    void *r = realloc(sel->rset, words * sizeof(unsigned long));

    if (!r) {
        return -ENOMEM;
    }
    sel->rset = r;
    void *w   = realloc(sel->wset, words * sizeof(unsigned long));

    if (!w) {
        return -ENOMEM;
    }
    sel->wset      = w;
    sel->set_words = words;
    return 0;
}

static inline void
bit_set(unsigned long *set, int fd)
{
    set[fd / BITS_PER_WORD] |= 1UL << (fd % BITS_PER_WORD);
}

static inline int
bit_test(const unsigned long *set, int fd)
{
    return !!(set[fd / BITS_PER_WORD] & (1UL << (fd % BITS_PER_WORD)));
}

static int
select_mech_wait(void *mech, struct evpl *evpl, int64_t timeout_ns)
{
    struct evpl_select *sel   = mech;
    int                 maxfd = -1;

    for (int i = 0; i < sel->num_events; i++) {
        if (sel->events[i]->fd > maxfd) {
            maxfd = sel->events[i]->fd;
        }
    }
    evpl_abort_if(select_mech_grow_sets(sel, maxfd < 0 ? 0 : maxfd) < 0, "core",
                  "select: out of memory");

    int words = (int) ((maxfd + BITS_PER_WORD) / BITS_PER_WORD);

    if (words > 0) {
        memset(sel->rset, 0, words * sizeof(unsigned long));
        memset(sel->wset, 0, words * sizeof(unsigned long));
    }

    for (int i = 0; i < sel->num_events; i++) {
        struct evpl_event *ev = sel->events[i];

        if ((ev->flags & EVPL_EVENT_READ_INTEREST) && !(ev->flags & EVPL_EVENT_READABLE)) {
            bit_set(sel->rset, ev->fd);
        }
        if ((ev->flags & EVPL_EVENT_WRITE_INTEREST) && !(ev->flags & EVPL_EVENT_WRITABLE)) {
            bit_set(sel->wset, ev->fd);
        }
    }

    struct timespec ts, *tsp = NULL;

    if (timeout_ns >= 0) {
        ts.tv_sec  = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp        = &ts;
    }

    int n = pselect(maxfd + 1, (fd_set *) sel->rset, (fd_set *) sel->wset, NULL, tsp, NULL);

    if (n < 0) {
        evpl_abort_if(errno != EINTR, "core", "select failed: errno %d", errno);
        return 0;
    }
    if (n == 0) {
        return 0;
    }

    /* Callbacks run later, during dispatch, so the registered set is stable
     * while the results are latched. */
    for (int i = 0; i < sel->num_events; i++) {
        struct evpl_event *ev = sel->events[i];

        if (bit_test(sel->rset, ev->fd)) {
            evpl_event_mark_readable(evpl, ev);
        }
        if (bit_test(sel->wset, ev->fd)) {
            evpl_event_mark_writable(evpl, ev);
        }
    }
    return n;
}

const struct evpl_mech_ops evpl_mech_select = {
    .name    = "select",
    .create  = select_mech_create,
    .destroy = select_mech_destroy,
    .add     = select_mech_add,
    .update  = select_mech_update,
    .remove  = select_mech_remove,
    .wait    = select_mech_wait,
};
