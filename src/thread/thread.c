/*
 * evpl_thread: one library-created thread running one event loop.
 *
 * Lifecycle, and who touches what:
 *   creator  evpl_thread_create() starts the worker and sleeps on `cond`
 *            until the worker reports `ready` (init has returned).
 *   worker   evpl_create(config) -> add the private stop doorbell -> init ->
 *            ready -> evpl_run() -> wait for `stop_requested` -> close binds
 *            -> shutdown -> remove the doorbell -> evpl_destroy().
 *   any      evpl_thread_destroy() sets `stop_requested` and rings the
 *            doorbell under `lock`, then joins.
 *
 * The loop pointer is only ever used on the worker: other threads reach the
 * loop exclusively through the doorbell.  Ringing under `lock`, and the
 * worker removing the doorbell only after it has seen `stop_requested` under
 * the same lock, guarantees the ring never hits a doorbell that is already
 * removed, even when the loop stopped on its own (an application callback
 * called evpl_stop() on it) before destroy was requested.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evpl/evpl.h"
#include "core/doorbell.h"
#include "core/loop.h"
#include "core/log.h"
#include "core/shared.h"

#define evpl_thread_abort_if(c, ...) evpl_abort_if(c, "thread", __VA_ARGS__)

#define EVPL_THREAD_STACK_SIZE (8u * 1024 * 1024)

/* pthread names are limited to 15 characters plus the terminator. */
#define EVPL_THREAD_NAME "evpl-worker"

struct evpl_thread {
    /* Private stop doorbell, rung by evpl_thread_destroy(). */
    struct evpl_doorbell doorbell;

    pthread_t thread;

    /* Worker-only after start. */
    struct evpl_thread_config      *config; /* consumed by the worker's evpl_create() */
    evpl_thread_init_callback_t     init_function;
    evpl_thread_shutdown_callback_t shutdown_function;
    void                           *private_data; /* init's return value once ready */

    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int             ready;          /* worker: init returned (under lock) */
    int             stop_requested; /* destroyer: doorbell rung (under lock) */
};

/*
 * Runs on the worker.  A stop requested by destroy can meet a loop that has
 * already been stopped by the application; evpl_stop() twice is a caller
 * error, so only stop a loop that is still running.
 */
static void
evpl_thread_stop_doorbell(struct evpl *evpl, struct evpl_doorbell *doorbell)
{
    (void) doorbell;

    if (atomic_load_explicit(&evpl->running, memory_order_acquire)) {
        evpl_stop(evpl);
    }
}

static void *
evpl_thread_main(void *arg)
{
    struct evpl_thread *thread = arg;
    struct evpl        *evpl;
    void               *private_data;

    pthread_setname_np(pthread_self(), EVPL_THREAD_NAME);

    evpl           = evpl_create(thread->config);
    thread->config = NULL;

    /*
     * Add the doorbell before reporting ready: the creator may call
     * evpl_thread_destroy() the moment evpl_thread_create() returns.
     */
    evpl_add_doorbell(evpl, &thread->doorbell, evpl_thread_stop_doorbell);

    private_data = thread->private_data;
    if (thread->init_function) {
        private_data = thread->init_function(evpl, private_data);
    }

    pthread_mutex_lock(&thread->lock);
    thread->private_data = private_data;
    thread->ready        = 1;
    pthread_cond_signal(&thread->cond);
    pthread_mutex_unlock(&thread->lock);

    evpl_run(evpl);

    /*
     * The loop may have been stopped by the application rather than by
     * destroy; the thread still lives until destroy is called, and the
     * doorbell must stay registered until destroy has rung it.
     */
    pthread_mutex_lock(&thread->lock);
    while (!thread->stop_requested) {
        pthread_cond_wait(&thread->cond, &thread->lock);
    }
    pthread_mutex_unlock(&thread->lock);

    evpl_binds_close_all(evpl);

    if (thread->shutdown_function) {
        thread->shutdown_function(evpl, private_data);
    }

    evpl_remove_doorbell(evpl, &thread->doorbell);
    evpl_destroy(evpl);

    return NULL;
}

struct evpl_thread *
evpl_thread_create(struct evpl_thread_config *config, evpl_thread_init_callback_t init_function,
                   evpl_thread_shutdown_callback_t shutdown_function, void *private_data)
{
    struct evpl_thread *thread;
    pthread_attr_t      attr;
    int                 rc;

    /* Initialise on the caller, not racing inside the first worker. */
    evpl_ensure_init();

    thread = calloc(1, sizeof(*thread));
    evpl_thread_abort_if(thread == NULL, "out of memory allocating a thread handle");

    thread->config            = config;
    thread->init_function     = init_function;
    thread->shutdown_function = shutdown_function;
    thread->private_data      = private_data;

    pthread_mutex_init(&thread->lock, NULL);
    pthread_cond_init(&thread->cond, NULL);

    rc = pthread_attr_init(&attr);
    evpl_thread_abort_if(rc, "pthread_attr_init failed: %s", strerror(rc));
    rc = pthread_attr_setstacksize(&attr, EVPL_THREAD_STACK_SIZE);
    evpl_thread_abort_if(rc, "pthread_attr_setstacksize failed: %s", strerror(rc));

    rc = pthread_create(&thread->thread, &attr, evpl_thread_main, thread);
    evpl_thread_abort_if(rc, "pthread_create failed: %s", strerror(rc));

    pthread_attr_destroy(&attr);

    pthread_mutex_lock(&thread->lock);
    while (!thread->ready) {
        pthread_cond_wait(&thread->cond, &thread->lock);
    }
    pthread_mutex_unlock(&thread->lock);

    return thread;
}

void
evpl_thread_destroy(struct evpl_thread *thread)
{
    int rc;

    evpl_thread_abort_if(pthread_equal(pthread_self(), thread->thread),
                         "evpl_thread_destroy called on the thread being destroyed");

    pthread_mutex_lock(&thread->lock);
    thread->stop_requested = 1;
    evpl_ring_doorbell(&thread->doorbell);
    pthread_cond_signal(&thread->cond);
    pthread_mutex_unlock(&thread->lock);

    rc = pthread_join(thread->thread, NULL);
    evpl_thread_abort_if(rc, "pthread_join failed: %s", strerror(rc));

    pthread_cond_destroy(&thread->cond);
    pthread_mutex_destroy(&thread->lock);
    free(thread);
}
