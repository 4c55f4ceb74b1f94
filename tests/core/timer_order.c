/*
 * 10,000 one-shot timers armed in random order fire in deadline order, each
 * exactly once; a late loop fires a periodic timer once, not once per missed
 * period; removing half of them before they fire leaves exactly the rest.
 */
#include <string.h>

#include "test.h"

#define N 10000

struct ordered_timer {
    struct evpl_timer timer; /* first: the callback casts back */
    uint64_t          delay_us;
    int               fired;
    int               removed;
};

static struct ordered_timer timers[N];
static uint64_t             last_delay;
static int                  fired_total;

static void
ordered_cb(struct evpl *evpl, struct evpl_timer *t)
{
    struct ordered_timer *ot = (struct ordered_timer *) t;

    (void) evpl;
    test_assert(!ot->removed);
    test_assert(ot->delay_us >= last_delay);
    test_assert(evpl_virtual_clock_now() >= ot->delay_us * 1000);
    last_delay = ot->delay_us;
    ot->fired++;
    fired_total++;
}

static int late_count;

static void
late_cb(struct evpl *evpl, struct evpl_timer *t)
{
    (void) evpl;
    (void) t;
    late_count++;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_virtual_clock(config, 1);
    evpl_init(config);

    struct evpl *evpl = evpl_create(NULL);

    srandom(12345);
    for (int i = 0; i < N; i++) {
        timers[i].delay_us = 1 + (uint64_t) (random() % 100000);
    }
    for (int i = 0; i < N; i++) {
        evpl_add_oneshot_timer(evpl, &timers[i].timer, ordered_cb, timers[i].delay_us);
    }
    for (int i = 0; i < N; i += 2) {
        evpl_remove_timer(evpl, &timers[i].timer);
        timers[i].removed = 1;
    }

    /* Advance in uneven steps; several timers become due per pass. */
    while (evpl_virtual_clock_now() < 100001ULL * 1000) {
        evpl_virtual_clock_advance(777777);
        evpl_continue(evpl);
    }
    evpl_continue(evpl);

    test_assert_eq(fired_total, N / 2);
    for (int i = 0; i < N; i++) {
        test_assert_eq(timers[i].fired, timers[i].removed ? 0 : 1);
    }

    struct evpl_timer late;

    evpl_add_timer(evpl, &late, late_cb, 1000);
    evpl_virtual_clock_advance(50 * 1000000ULL); /* 50 periods late */
    evpl_continue(evpl);
    test_assert_eq(late_count, 1);
    evpl_remove_timer(evpl, &late);

    evpl_destroy(evpl);
    return 0;
}
