/*
 * Implicit initialisation is thread-safe: threads racing through different
 * triggers (protocol queries, metrics scrape, thread config, evpl_create)
 * all see one initialised library, and a later evpl_init() aborts.
 */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

#define NTHREADS 8

static pthread_barrier_t barrier;

static void *
racer(void *arg)
{
    long i = (long) arg;

    pthread_barrier_wait(&barrier);

    switch (i % 4) {
    case 0: {
        enum evpl_protocol_id id;

        (void) evpl_protocol_lookup(&id, "STREAM_SOCKET_TCP");
        (void) evpl_protocol_available(EVPL_DATAGRAM_SOCKET_UDP);
        break;
    }
    case 1: {
        static _Thread_local char buf[16384];

        if (evpl_metrics_scrape(buf, sizeof(buf)) <= 0) {
            return (void *) 1;
        }
        break;
    }
    case 2: {
        struct evpl_thread_config *config = evpl_thread_config_init();

        evpl_thread_config_release(config);
        break;
    }
    case 3: {
        struct evpl *evpl = evpl_create(NULL);

        evpl_destroy(evpl);
        break;
    }
    }
    return NULL;
}

static void
race(void *arg)
{
    pthread_t threads[NTHREADS];

    (void) arg;
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++) {
        test_assert(pthread_create(&threads[i], NULL, racer, (void *) i) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        void *rc;

        pthread_join(threads[i], &rc);
        test_assert(rc == NULL);
    }
    pthread_barrier_destroy(&barrier);

    if (arg != NULL) {
        evpl_init(NULL); /* must abort: already initialised implicitly */
        exit(3);
    }
}

int
main(int argc, char **argv)
{
    struct child_result res;

    (void) argc;
    (void) argv;

    for (int round = 0; round < 5; round++) {
        run_in_child(race, NULL, &res);
        child_expect(child_exited_ok(&res), &res, "racing implicit initialisation failed");
    }

    run_in_child(race, (void *) 1, &res);
    child_expect(child_aborted_with(&res, "already initialised"), &res,
                 "evpl_init() after implicit init must abort");
    return 0;
}
