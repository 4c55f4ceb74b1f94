/*
 * evpl_threadpool: n evpl_threads sharing callbacks and initial private data.
 *
 * Config ownership (contract 3.3, Appendix A.8): the original handed one
 * config pointer to every worker, each of which freed it.  Here every worker
 * gets its own heap copy (consumed by that worker's evpl_create()) and the
 * caller's config is released exactly once, here.
 */
#include <stdlib.h>

#include "evpl/evpl.h"
#include "core/config.h"
#include "core/log.h"
#include "thread/threadpool.h"

#define evpl_threadpool_error(...)       evpl_log_error("thread", __VA_ARGS__)
#define evpl_threadpool_abort_if(c, ...) evpl_abort_if(c, "thread", __VA_ARGS__)

struct evpl_threadpool {
    int                  nthreads;
    struct evpl_thread **threads;

    /* Run by destroy once every thread is gone (placed pools). */
    void (*on_destroy)(void *arg);
    void *on_destroy_arg;
};

/*
 * nthreads <= 0 is not covered by the contract.  Rather than return an empty
 * pool that silently runs nothing, it is reported as an error: the config is
 * still consumed (so the caller never has to special-case the release) and
 * NULL is returned.  evpl_threadpool_destroy(NULL) is not allowed.
 */
struct evpl_threadpool *
evpl_threadpool_create(struct evpl_thread_config *config, int nthreads,
                       evpl_thread_init_callback_t     init_function,
                       evpl_thread_shutdown_callback_t shutdown_function, void *private_data)
{
    struct evpl_threadpool *pool;

    if (nthreads <= 0) {
        evpl_threadpool_error("evpl_threadpool_create: nthreads must be positive, got %d",
                              nthreads);
        if (config) {
            evpl_thread_config_release(config);
        }
        return NULL;
    }

    pool = calloc(1, sizeof(*pool));
    evpl_threadpool_abort_if(pool == NULL, "out of memory allocating a thread pool");

    pool->threads = calloc(nthreads, sizeof(*pool->threads));
    evpl_threadpool_abort_if(pool->threads == NULL, "out of memory allocating %d thread handles",
                             nthreads);
    pool->nthreads = nthreads;

    /* One after another: each create returns only once that worker's init has. */
    for (int i = 0; i < nthreads; i++) {
        pool->threads[i] = evpl_thread_create(config ? evpl_thread_config_dup(config) : NULL,
                                              init_function, shutdown_function, private_data);
    }

    if (config) {
        evpl_thread_config_release(config);
    }

    return pool;
}

void
evpl_threadpool_destroy(struct evpl_threadpool *pool)
{
    evpl_threadpool_abort_if(pool == NULL, "evpl_threadpool_destroy called with NULL");

    for (int i = 0; i < pool->nthreads; i++) {
        evpl_thread_destroy(pool->threads[i]);
    }

    if (pool->on_destroy) {
        pool->on_destroy(pool->on_destroy_arg);
    }

    free(pool->threads);
    free(pool);
}

struct evpl_threadpool *
evpl_threadpool_create_each(struct evpl_thread_config **configs, int nthreads,
                            evpl_thread_init_callback_t     init_function,
                            evpl_thread_shutdown_callback_t shutdown_function, void *private_data,
                            void (*on_destroy)(void *arg), void                     *on_destroy_arg)
{
    struct evpl_threadpool *pool;

    evpl_threadpool_abort_if(nthreads <= 0, "evpl_threadpool_create_each: %d threads", nthreads);

    pool = calloc(1, sizeof(*pool));
    evpl_threadpool_abort_if(pool == NULL, "out of memory allocating a thread pool");
    pool->threads = calloc(nthreads, sizeof(*pool->threads));
    evpl_threadpool_abort_if(pool->threads == NULL, "out of memory allocating %d thread handles",
                             nthreads);
    pool->nthreads       = nthreads;
    pool->on_destroy     = on_destroy;
    pool->on_destroy_arg = on_destroy_arg;

    for (int i = 0; i < nthreads; i++) {
        pool->threads[i] =
            evpl_thread_create(configs[i], init_function, shutdown_function, private_data);
    }
    return pool;
}
