/*
 * Internal pool construction for modules that give each thread its own
 * config (topology placement: a CPU set and a name per loop).
 */
#pragma once

#include "evpl/evpl.h"

/*
 * Create nthreads threads in order, thread i consuming configs[i] (NULL for
 * defaults).  on_destroy(on_destroy_arg), if set, runs in
 * evpl_threadpool_destroy() after every thread has been joined.
 */
struct evpl_threadpool *
evpl_threadpool_create_each(struct evpl_thread_config **configs, int nthreads,
                            evpl_thread_init_callback_t     init_function,
                            evpl_thread_shutdown_callback_t shutdown_function, void *private_data,
                            void (*on_destroy)(void *arg), void *on_destroy_arg);
