/*
 * Timers on the virtual clock: one-shots fire exactly once in the tick their
 * deadline falls in, periodic timers fire N times, re-arm and removal from
 * the callback behave.
 */
#include "test.h"

#define MS 1000000ULL

static uint64_t oneshot_fired_at;
static int      oneshot_count;
static int      periodic_count;
static int      rearm_count;
static int      self_remove_count;
static int      other_count;

static struct evpl_timer oneshot, periodic, rearm, self_remove, other;

static void
oneshot_cb(struct evpl *evpl, struct evpl_timer *t)
{
    (void) evpl;
    test_assert(t == &oneshot);
    oneshot_count++;
    oneshot_fired_at = evpl_virtual_clock_now();
}

static void
periodic_cb(struct evpl *evpl, struct evpl_timer *t)
{
    (void) evpl;
    test_assert(t == &periodic);
    periodic_count++;
}

static void
rearm_cb(struct evpl *evpl, struct evpl_timer *t)
{
    rearm_count++;
    if (rearm_count == 1) {
        evpl_add_oneshot_timer(evpl, t, rearm_cb, 3000);
    }
}

static void
self_remove_cb(struct evpl *evpl, struct evpl_timer *t)
{
    self_remove_count++;
    if (self_remove_count == 3) {
        evpl_remove_timer(evpl, t);
    }
}

static void
other_cb(struct evpl *evpl, struct evpl_timer *t)
{
    (void) evpl;
    (void) t;
    other_count++;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_virtual_clock(config, 1);
    evpl_init(config);

    struct evpl *evpl = evpl_create(NULL);

    evpl_add_oneshot_timer(evpl, &oneshot, oneshot_cb, 5000); /* 5 ms */
    evpl_add_timer(evpl, &periodic, periodic_cb, 2000);       /* every 2 ms */
    evpl_add_oneshot_timer(evpl, &rearm, rearm_cb, 1000);     /* 1 ms, then 3 ms more */
    evpl_add_timer(evpl, &self_remove, self_remove_cb, 1000); /* removes itself on 3rd */
    evpl_add_oneshot_timer(evpl, &other, other_cb, 4000);
    evpl_remove_timer(evpl, &other); /* never fires */

    /* A never-armed timer can be removed harmlessly. */
    struct evpl_timer never = {0};

    evpl_remove_timer(evpl, &never);

    for (int tick = 1; tick <= 20; tick++) {
        /* Nothing fires before its deadline. */
        evpl_continue(evpl);
        if (tick <= 5) {
            test_assert_eq(oneshot_count, 0);
        }
        evpl_virtual_clock_advance(MS);
        evpl_continue(evpl);

        test_assert_eq(periodic_count, tick / 2);
        if (tick >= 5) {
            test_assert_eq(oneshot_count, 1);
            test_assert_eq(oneshot_fired_at, 5 * MS);
        }
        if (tick >= 1 && tick < 4) {
            test_assert_eq(rearm_count, 1);
        }
        if (tick >= 4) {
            test_assert_eq(rearm_count, 2);
        }
        test_assert_eq(self_remove_count, tick < 3 ? tick : 3);
    }

    test_assert_eq(other_count, 0);

    /* Removing fired one-shots and the periodic afterwards is harmless. */
    evpl_remove_timer(evpl, &oneshot);
    evpl_remove_timer(evpl, &rearm);
    evpl_remove_timer(evpl, &self_remove);
    evpl_remove_timer(evpl, &periodic);

    int before = periodic_count;

    evpl_virtual_clock_advance(10 * MS);
    evpl_continue(evpl);
    test_assert_eq(periodic_count, before);

    evpl_destroy(evpl);
    return 0;
}
