/*
 * CPU affinity (extension): a thread config with a CPU set pins the thread
 * that creates the loop -- directly with evpl_create(), and the worker of
 * evpl_thread_create() -- while loops without one are left alone.  Invalid
 * CPU numbers are refused without changing the config.
 */
#include <pthread.h>
#include <sched.h>

#include "test.h"

static int worker_cpu_count = -1, worker_on_cpu0 = -1;

static void
read_affinity(int *count, int *on_cpu0)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    test_assert(sched_getaffinity(0, sizeof(set), &set) == 0);
    *count   = CPU_COUNT(&set);
    *on_cpu0 = CPU_ISSET(0, &set);
}

static void *
worker_init(struct evpl *evpl, void *arg)
{
    (void) evpl;
    read_affinity(&worker_cpu_count, &worker_on_cpu0);
    return arg;
}

static void *
plain_thread(void *arg)
{
    int *result = arg;
    int  on0;

    struct evpl *evpl = evpl_create(NULL);

    read_affinity(result, &on0);
    evpl_destroy(evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    int       before, on0;
    const int cpu0 = 0, bad[] = {-1}, huge[] = {1 << 20};

    evpl_test_init(argc, argv);
    read_affinity(&before, &on0);
    if (before < 2 || !on0) {
        test_skip("needs at least 2 allowed CPUs including CPU 0 (have %d)", before);
    }

    /* Invalid sets are refused. */
    struct evpl_thread_config *tc = evpl_thread_config_init();

    test_assert_eq(evpl_thread_config_set_cpu_affinity(tc, bad, 1), -1);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(tc, huge, 1), -1);

    /* A loop without affinity leaves its thread alone. */
    pthread_t thr;
    int       plain_count = 0;

    test_assert(pthread_create(&thr, NULL, plain_thread, &plain_count) == 0);
    pthread_join(thr, NULL);
    test_assert_eq(plain_count, before);

    /* evpl_thread_create: the worker is pinned to CPU 0 only. */
    test_assert_eq(evpl_thread_config_set_cpu_affinity(tc, &cpu0, 1), 0);
    struct evpl_thread *thread = evpl_thread_create(tc, worker_init, NULL, NULL);

    test_assert_eq(worker_cpu_count, 1);
    test_assert_eq(worker_on_cpu0, 1);
    evpl_thread_destroy(thread);

    /* evpl_create pins the calling thread. */
    tc = evpl_thread_config_init();
    test_assert_eq(evpl_thread_config_set_cpu_affinity(tc, &cpu0, 1), 0);
    struct evpl *evpl = evpl_create(tc);
    int          count;

    read_affinity(&count, &on0);
    test_assert_eq(count, 1);
    test_assert_eq(on0, 1);
    evpl_destroy(evpl);
    return 0;
}
