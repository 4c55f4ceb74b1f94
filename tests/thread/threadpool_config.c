/*
 * A pool given a non-NULL config consumes it exactly once (Appendix A.8: the
 * original double-frees): ASan (or valgrind) checks the ownership part, the
 * test checks that such pools work for several sizes.  nthreads <= 0 returns
 * NULL and still consumes the config.
 */
#include <stdatomic.h>
#include "test.h"

static atomic_int init_called;
static atomic_int shutdown_called;

static void *
test_init(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    atomic_fetch_add(&init_called, 1);
    return private_data;
}

static void
test_shutdown(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    (void) private_data;
    atomic_fetch_add(&shutdown_called, 1);
}

int
main(int argc, char **argv)
{
    struct evpl_thread_config *config;
    struct evpl_threadpool    *pool;
    /* Provoked below: a pool of no threads is refused with an error log. */
    evpl_test_log_expect("nthreads must be positive");

    evpl_test_init(argc, argv);

    for (int nthreads = 1; nthreads <= 8; nthreads *= 2) {
        atomic_store(&init_called, 0);
        atomic_store(&shutdown_called, 0);

        config = evpl_thread_config_init();
        evpl_thread_config_set_wait_ms(config, 5);
        evpl_thread_config_set_poll_mode(config, 0);

        pool = evpl_threadpool_create(config, nthreads, test_init, test_shutdown, NULL);
        test_assert(pool != NULL);
        test_assert_eq(atomic_load(&init_called), nthreads);
        evpl_threadpool_destroy(pool);
        test_assert_eq(atomic_load(&shutdown_called), nthreads);
    }

    /* Invalid sizes: NULL, callbacks never run, config consumed (no leak). */
    atomic_store(&init_called, 0);
    pool = evpl_threadpool_create(evpl_thread_config_init(), 0, test_init, test_shutdown, NULL);
    test_assert(pool == NULL);
    pool = evpl_threadpool_create(NULL, -3, test_init, test_shutdown, NULL);
    test_assert(pool == NULL);
    test_assert_eq(atomic_load(&init_called), 0);

    return 0;
}
