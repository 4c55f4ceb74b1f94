/*
 * Threads and thread pools running one event loop each.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_thread.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_thread;
struct evpl_threadpool;

typedef void *(*evpl_thread_init_callback_t)(struct evpl *evpl, void *private_data);
typedef void (*evpl_thread_shutdown_callback_t)(struct evpl *evpl, void *private_data);

/*
 * Start a thread (8 MiB stack) that creates its loop from config (consumed;
 * NULL for defaults), calls init_function(evpl, private_data) if non-NULL and
 * runs the loop until destroyed.  Blocks until init has returned.  init's
 * return value becomes the private pointer given to shutdown_function.
 * Aborts if the thread cannot be created.
 */
struct evpl_thread *evpl_thread_create(struct evpl_thread_config      *config,
                                       evpl_thread_init_callback_t     init_function,
                                       evpl_thread_shutdown_callback_t shutdown_function,
                                       void                           *private_data);

/*
 * Stop the thread's loop through a private wakeup, then on the worker: close
 * open binds (delivering DISCONNECTED), run shutdown_function, destroy the
 * loop.  Joins the thread and frees the handle.  Call exactly once, from any
 * thread but the worker.
 */
void evpl_thread_destroy(struct evpl_thread *thread);

/*
 * Create nthreads threads one after another, each as evpl_thread_create()
 * with the same callbacks and private_data; each gets its own copy of config,
 * which is consumed exactly once.  Returns after every init has completed.
 */
struct evpl_threadpool *evpl_threadpool_create(struct evpl_thread_config *config, int nthreads,
                                               evpl_thread_init_callback_t     init_function,
                                               evpl_thread_shutdown_callback_t shutdown_function,
                                               void                           *private_data);

/* Destroy the threads in creation order, then free the pool. */
void evpl_threadpool_destroy(struct evpl_threadpool *threadpool);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
