/*
 * Timers: a binary min-heap of (deadline, timer) slots per loop.
 *
 * The public struct evpl_timer has 4 bytes of tail padding after `oneshot`;
 * the library keeps the timer's heap index there so removal is O(log n)
 * without any allocation.  Membership is always verified against the heap
 * (index in range and slot pointing back), so a never-armed timer with
 * garbage in that padding is still recognised as not armed.
 *
 * Due timers are first moved to a firing list and then called in deadline
 * order, so a timer armed by a callback never fires in the same pass
 * (a zero-delay re-arm cannot starve the loop).
 */
#include <stddef.h>
#include <stdlib.h>

#include "core/loop.h"
#include "core/timer.h"

struct evpl_timer_slot {
    uint64_t           deadline;
    struct evpl_timer *timer;
};

struct evpl_timer_view {
    evpl_timer_callback_t callback;
    uint64_t              interval;
    uint64_t              deadline;
    int                   oneshot;
    uint32_t              heap_index;
};

_Static_assert(sizeof(struct evpl_timer) == 32, "struct evpl_timer layout");
_Static_assert(offsetof(struct evpl_timer, callback) == 0, "evpl_timer.callback");
_Static_assert(offsetof(struct evpl_timer, interval) == 8, "evpl_timer.interval");
_Static_assert(offsetof(struct evpl_timer, deadline) == 16, "evpl_timer.deadline");
_Static_assert(offsetof(struct evpl_timer, oneshot) == 24, "evpl_timer.oneshot");
_Static_assert(sizeof(struct evpl_timer_view) == sizeof(struct evpl_timer), "timer view");

static inline uint32_t *
timer_index(struct evpl_timer *timer)
{
    return &((struct evpl_timer_view *) timer)->heap_index;
}

static inline void
heap_place(struct evpl *evpl, int i, struct evpl_timer_slot slot)
{
    evpl->timers[i]          = slot;
    *timer_index(slot.timer) = (uint32_t) i;
}

static void
heap_sift_up(struct evpl *evpl, int i)
{
    struct evpl_timer_slot slot = evpl->timers[i];

    while (i > 0) {
        int parent = (i - 1) / 2;

        if (evpl->timers[parent].deadline <= slot.deadline) {
            break;
        }
        heap_place(evpl, i, evpl->timers[parent]);
        i = parent;
    }
    heap_place(evpl, i, slot);
}

static void
heap_sift_down(struct evpl *evpl, int i)
{
    struct evpl_timer_slot slot = evpl->timers[i];
    int                    n    = evpl->num_timers;

    for (;;) {
        int child = 2 * i + 1;

        if (child >= n) {
            break;
        }
        if (child + 1 < n && evpl->timers[child + 1].deadline < evpl->timers[child].deadline) {
            child++;
        }
        if (slot.deadline <= evpl->timers[child].deadline) {
            break;
        }
        heap_place(evpl, i, evpl->timers[child]);
        i = child;
    }
    heap_place(evpl, i, slot);
}

static int
timer_in_heap(struct evpl *evpl, struct evpl_timer *timer)
{
    uint32_t i = *timer_index(timer);

    return i < (uint32_t) evpl->num_timers && evpl->timers[i].timer == timer;
}

static void
heap_remove_at(struct evpl *evpl, int i)
{
    int last = --evpl->num_timers;

    if (i != last) {
        struct evpl_timer_slot moved = evpl->timers[last];

        heap_place(evpl, i, moved);
        if (i > 0 && evpl->timers[(i - 1) / 2].deadline > moved.deadline) {
            heap_sift_up(evpl, i);
        } else {
            heap_sift_down(evpl, i);
        }
    }
}

/* Drop the timer from the firing list of the pass in progress, if there. */
static int
firing_forget(struct evpl *evpl, struct evpl_timer *timer)
{
    for (int i = evpl->firing_pos; i < evpl->num_firing; i++) {
        if (evpl->firing[i] == timer) {
            evpl->firing[i] = NULL;
            return 1;
        }
    }
    return 0;
}

static void
timer_arm(struct evpl *evpl, struct evpl_timer *timer, evpl_timer_callback_t callback,
          uint64_t interval_us, int oneshot)
{
    evpl_core_abort_if(!callback, "timer armed with a NULL callback");

    /* A timer still waiting on this pass's firing list counts as armed;
     * re-arming moves it back to the heap with its new deadline. */
    firing_forget(evpl, timer);
    if (timer_in_heap(evpl, timer)) {
        evpl_core_abort_if(1, "timer %p is already armed", (void *) timer);
    }

    if (evpl->num_timers == evpl->max_timers) {
        int   max = evpl->max_timers ? evpl->max_timers * 2 : 64;
        void *p   = realloc(evpl->timers, max * sizeof(*evpl->timers));

        evpl_core_abort_if(!p, "out of memory growing the timer heap");
        evpl->timers     = p;
        evpl->max_timers = max;
    }

    timer->callback = callback;
    timer->interval = interval_us;
    timer->oneshot  = oneshot;
    timer->deadline = evpl_loop_clock_ns() + interval_us * 1000;

    int i = evpl->num_timers++;

    evpl->timers[i].deadline = timer->deadline;
    evpl->timers[i].timer    = timer;
    heap_sift_up(evpl, i);
}

void
evpl_add_timer(struct evpl *evpl, struct evpl_timer *timer, evpl_timer_callback_t callback,
               uint64_t interval_us)
{
    evpl_core_abort_if(interval_us == 0, "periodic timer with a zero interval");
    timer_arm(evpl, timer, callback, interval_us, 0);
}

void
evpl_add_oneshot_timer(struct evpl *evpl, struct evpl_timer *timer, evpl_timer_callback_t callback,
                       uint64_t delay_us)
{
    timer_arm(evpl, timer, callback, delay_us, 1);
}

void
evpl_remove_timer(struct evpl *evpl, struct evpl_timer *timer)
{
    if (timer == evpl->firing_timer) {
        evpl->firing_removed = 1;
    }
    if (firing_forget(evpl, timer)) {
        return;
    }
    if (timer_in_heap(evpl, timer)) {
        heap_remove_at(evpl, (int) *timer_index(timer));
    }
}

static void
firing_push(struct evpl *evpl, struct evpl_timer *timer)
{
    if (evpl->num_firing == evpl->max_firing) {
        int   max = evpl->max_firing ? evpl->max_firing * 2 : 32;
        void *p   = realloc(evpl->firing, max * sizeof(*evpl->firing));

        evpl_core_abort_if(!p, "out of memory growing the timer firing list");
        evpl->firing     = p;
        evpl->max_firing = max;
    }
    evpl->firing[evpl->num_firing++] = timer;
}

void
evpl_timers_fire(struct evpl *evpl, uint64_t now)
{
    while (evpl->num_timers > 0 && evpl->timers[0].deadline <= now) {
        firing_push(evpl, evpl->timers[0].timer);
        heap_remove_at(evpl, 0);
    }

    for (evpl->firing_pos = 0; evpl->firing_pos < evpl->num_firing;) {
        struct evpl_timer *timer = evpl->firing[evpl->firing_pos++];

        if (!timer) {
            continue;
        }
        if (timer->oneshot) {
            /* Already out of the loop: the callback may free or re-arm it. */
            timer->callback(evpl, timer);
            continue;
        }

        evpl->firing_timer   = timer;
        evpl->firing_removed = 0;
        timer->callback(evpl, timer);
        evpl->firing_timer = NULL;

        if (!evpl->firing_removed && !timer_in_heap(evpl, timer)) {
            timer_arm(evpl, timer, timer->callback, timer->interval, 0);
        }
    }
    evpl->num_firing = 0;
    evpl->firing_pos = 0;
}

int64_t
evpl_timers_next_ns(struct evpl *evpl, uint64_t now)
{
    if (evpl->num_timers == 0) {
        return -1;
    }
    uint64_t deadline = evpl->timers[0].deadline;

    return deadline <= now ? 0 : (int64_t) (deadline - now);
}

void
evpl_timers_cleanup(struct evpl *evpl)
{
    free(evpl->timers);
    free(evpl->firing);
    evpl->timers     = NULL;
    evpl->firing     = NULL;
    evpl->num_timers = evpl->max_timers = 0;
    evpl->num_firing = evpl->max_firing = 0;
}
