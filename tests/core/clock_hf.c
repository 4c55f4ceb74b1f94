/*
 * evpl_get_hf_monotonic_time(): in each hf_time_mode (0 OS clock, 1 TSC,
 * 2 auto) the time is normalised, never goes backwards on a thread, stays
 * close to CLOCK_MONOTONIC, and is real time even on the virtual clock.
 */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

#define NS 1000000000LL

static long long
ts_ns(const struct timespec *ts)
{
    return (long long) ts->tv_sec * NS + ts->tv_nsec;
}

static long long
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ns(&ts);
}

static void *
hammer(void *arg)
{
    struct timespec ts;
    long long       prev = 0;

    (void) arg;
    for (int i = 0; i < 500000; i++) {
        evpl_get_hf_monotonic_time(NULL, &ts);
        if (ts.tv_nsec < 0 || ts.tv_nsec >= NS || ts_ns(&ts) < prev) {
            return (void *) 1;
        }
        prev = ts_ns(&ts);
    }
    return NULL;
}

static void
check_mode(void *arg)
{
    unsigned int               mode = (unsigned int) (long) arg;
    struct evpl_global_config *c    = evpl_global_config_init();
    struct timespec            ts;
    long long                  before, hf, after, start;
    pthread_t                  threads[4];

    evpl_global_config_set_hf_time_mode(c, mode);
    evpl_init(c);

    /* Agrees with CLOCK_MONOTONIC (TSC mode within its calibration error). */
    for (int i = 0; i < 100; i++) {
        before = mono_ns();
        evpl_get_hf_monotonic_time(NULL, &ts);
        after = mono_ns();
        hf    = ts_ns(&ts);
        test_assert_msg(hf >= before - 2000000 && hf <= after + 2000000,
                        "mode %u: hf %lld outside [%lld, %lld]", mode, hf, before, after);
    }

    /* It advances. */
    evpl_get_hf_monotonic_time(NULL, &ts);
    start = ts_ns(&ts);
    {
        struct timespec d = {0, 5000000};

        nanosleep(&d, NULL);
    }
    evpl_get_hf_monotonic_time(NULL, &ts);
    test_assert_msg(ts_ns(&ts) - start >= 4000000, "mode %u: 5 ms sleep measured as %lld ns", mode,
                    ts_ns(&ts) - start);

    for (int i = 0; i < 4; i++) {
        test_assert(pthread_create(&threads[i], NULL, hammer, NULL) == 0);
    }
    for (int i = 0; i < 4; i++) {
        void *rc;

        pthread_join(threads[i], &rc);
        test_assert_msg(rc == NULL, "mode %u: time went backwards or was not normalised", mode);
    }
}

static void
virtual_clock_real_time(void *arg)
{
    struct evpl_global_config *c = evpl_global_config_init();
    struct timespec            a, b;
    struct timespec            d = {0, 2000000};

    (void) arg;
    evpl_global_config_set_virtual_clock(c, 1);
    evpl_init(c);
    evpl_get_hf_monotonic_time(NULL, &a);
    nanosleep(&d, NULL);
    evpl_get_hf_monotonic_time(NULL, &b);
    test_assert(ts_ns(&b) - ts_ns(&a) >= 1000000);
    test_assert_eq(evpl_virtual_clock_now(), 0);
}

int
main(int argc, char **argv)
{
    struct child_result res;
    struct timespec     ts;

    (void) argc;
    (void) argv;

    /* Usable before initialisation (OS clock), without initialising. */
    evpl_get_hf_monotonic_time(NULL, &ts);
    test_assert(ts.tv_nsec >= 0 && ts.tv_nsec < NS);

    for (long mode = 0; mode <= 2; mode++) {
        run_in_child(check_mode, (void *) mode, &res);
        child_expect(child_exited_ok(&res), &res, "hf time mode check");
    }

    run_in_child(virtual_clock_real_time, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "hf time on the virtual clock");
    return 0;
}
