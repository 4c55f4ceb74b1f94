/*
 * Workers of a pool ring a doorbell owned by the main thread's loop (from
 * their init callbacks and from periodic timers on their own loops); the
 * main loop gets its callbacks on its own thread and stops once every ring
 * has been made.  The pool is destroyed before the doorbell is removed, so no
 * worker can ring a removed doorbell.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "test.h"

#define NTHREADS         4
#define RINGS_PER_WORKER 200
#define TOTAL_RINGS      (NTHREADS * (RINGS_PER_WORKER + 1))

struct shared {
    struct evpl_doorbell doorbell;
    atomic_int           rings;
    int                  callbacks;
    int                  stopped;
    pthread_t            main_thread;
};

struct worker {
    struct evpl_timer timer; /* first member: the callback casts back */
    struct shared    *shared;
    int               rings;
};

static struct shared shared;

static void
ring(struct shared *s)
{
    /* Count first: the ring that follows makes the count visible to main. */
    atomic_fetch_add(&s->rings, 1);
    evpl_ring_doorbell(&s->doorbell);
}

static void
worker_timer(struct evpl *evpl, struct evpl_timer *timer)
{
    struct worker *worker = (struct worker *) timer;

    ring(worker->shared);
    if (++worker->rings == RINGS_PER_WORKER) {
        evpl_remove_timer(evpl, timer);
    }
}

static void *
worker_init(struct evpl *evpl, void *private_data)
{
    struct worker *worker = calloc(1, sizeof(*worker));

    test_assert(worker != NULL);
    worker->shared = private_data;
    ring(worker->shared);
    evpl_add_timer(evpl, &worker->timer, worker_timer, 100);
    return worker;
}

static void
worker_shutdown(struct evpl *evpl, void *private_data)
{
    struct worker *worker = private_data;

    evpl_remove_timer(evpl, &worker->timer);
    free(worker);
}

static void
main_doorbell(struct evpl *evpl, struct evpl_doorbell *doorbell)
{
    test_assert(doorbell == &shared.doorbell);
    test_assert(pthread_equal(pthread_self(), shared.main_thread));
    shared.callbacks++;
    if (!shared.stopped && atomic_load(&shared.rings) == TOTAL_RINGS) {
        shared.stopped = 1;
        evpl_stop(evpl);
    }
}

int
main(int argc, char **argv)
{
    struct evpl            *evpl;
    struct evpl_threadpool *pool;

    evpl_test_init(argc, argv);

    shared.main_thread = pthread_self();
    evpl               = evpl_create(NULL);
    evpl_add_doorbell(evpl, &shared.doorbell, main_doorbell);

    pool = evpl_threadpool_create(NULL, NTHREADS, worker_init, worker_shutdown, &shared);
    test_assert(pool != NULL);

    evpl_run(evpl);

    test_assert_eq(atomic_load(&shared.rings), TOTAL_RINGS);
    test_assert(shared.callbacks >= 1);
    test_assert(shared.callbacks <= TOTAL_RINGS);

    evpl_threadpool_destroy(pool);
    evpl_remove_doorbell(evpl, &shared.doorbell);
    evpl_destroy(evpl);

    return 0;
}
