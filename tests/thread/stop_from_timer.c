/*
 * A 1 ms periodic timer that calls evpl_stop() on its 10th firing ends
 * evpl_run() right after that pass: exactly 10 firings, no sooner than 10 ms.
 */
#include <time.h>
#include "test.h"

#define FIRINGS 10

static int firings;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void
tick(struct evpl *evpl, struct evpl_timer *timer)
{
    (void) timer;
    if (++firings == FIRINGS) {
        evpl_stop(evpl);
    }
}

int
main(int argc, char **argv)
{
    struct evpl      *evpl;
    struct evpl_timer timer;
    uint64_t          start, elapsed;

    evpl_test_init(argc, argv);

    evpl = evpl_create(NULL);

    start = now_ns();
    evpl_add_timer(evpl, &timer, tick, 1000);
    evpl_run(evpl);
    elapsed = now_ns() - start;

    test_assert_eq(firings, FIRINGS);
    test_assert_msg(elapsed >= FIRINGS * 1000000ull, "10 firings of a 1 ms timer in %llu ns",
                    (unsigned long long) elapsed);

    evpl_remove_timer(evpl, &timer);
    evpl_destroy(evpl);

    return 0;
}
