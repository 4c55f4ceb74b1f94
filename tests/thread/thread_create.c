/*
 * evpl_thread_create() returns only after init has run; init runs on the
 * worker with the given private_data; shutdown runs on the worker with init's
 * return value and the same loop; a non-NULL config is consumed.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "test.h"

struct state {
    int          init_called;
    int          shutdown_called;
    pthread_t    init_thread;
    pthread_t    shutdown_thread;
    struct evpl *init_evpl;
    struct evpl *shutdown_evpl;
    void        *shutdown_private;
};

static struct state state;
static int          init_arg;
static int          init_result;

static void *
test_init(struct evpl *evpl, void *private_data)
{
    test_assert(private_data == &init_arg);
    state.init_called++;
    state.init_thread = pthread_self();
    state.init_evpl   = evpl;
    return &init_result;
}

static void
test_shutdown(struct evpl *evpl, void *private_data)
{
    state.shutdown_called++;
    state.shutdown_thread  = pthread_self();
    state.shutdown_evpl    = evpl;
    state.shutdown_private = private_data;
}

static void
run_once(struct evpl_thread_config *config)
{
    struct evpl_thread *thread;

    memset(&state, 0, sizeof(state));

    thread = evpl_thread_create(config, test_init, test_shutdown, &init_arg);
    test_assert(thread != NULL);

    /* create blocks until init returned: no wait needed here. */
    test_assert_eq(state.init_called, 1);
    test_assert_eq(state.shutdown_called, 0);
    test_assert(!pthread_equal(state.init_thread, pthread_self()));
    test_assert(state.init_evpl != NULL);

    evpl_thread_destroy(thread);

    test_assert_eq(state.init_called, 1);
    test_assert_eq(state.shutdown_called, 1);
    test_assert(pthread_equal(state.shutdown_thread, state.init_thread));
    test_assert(state.shutdown_evpl == state.init_evpl);
    test_assert(state.shutdown_private == &init_result);
}

int
main(int argc, char **argv)
{
    struct evpl_thread_config *config;

    evpl_test_init(argc, argv);

    run_once(NULL);

    /* A non-NULL config is consumed by the worker (ASan catches a leak or a
     * double free). */
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 10);
    run_once(config);

    /* Destroy right after create, repeatedly: the stop must never be lost. */
    for (int i = 0; i < 50; i++) {
        run_once(NULL);
    }

    return 0;
}
