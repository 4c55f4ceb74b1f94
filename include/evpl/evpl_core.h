/*
 * Core: process initialisation, event loops, the loop clock, metrics and the
 * protocol registry.  Included through <evpl/evpl.h> only.
 *
 * Thread rule: unless a function says "thread-safe", call it on the thread
 * that owns the loop it is given (the thread that called evpl_create()).
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_core.h directly, include evpl/evpl.h instead"
#endif

#include <stdint.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/time.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl;               /* one event loop, owned by one thread */
struct evpl_global_config; /* process-wide settings (evpl_config.h) */
struct evpl_thread_config; /* per-loop settings (evpl_config.h) */

/* Backend families a protocol may be built on (values fixed by the ABI). */
enum evpl_framework_id {
    EVPL_FRAMEWORK_RDMACM   = 0,
    EVPL_FRAMEWORK_XLIO     = 1,
    EVPL_FRAMEWORK_IO_URING = 2,
    EVPL_FRAMEWORK_VFIO     = 3,
    EVPL_FRAMEWORK_TLS      = 4,
    EVPL_FRAMEWORK_TCP_RDMA = 5,
    EVPL_FRAMEWORK_LIBAIO   = 6,
    EVPL_FRAMEWORK_INPROC   = 7,
    EVPL_NUM_FRAMEWORK      = 8
};

/*
 * Transport protocols.  See evpl_protocol_lookup() for their names.
 *
 * The in-process protocols (STREAM_INPROC, DATAGRAM_INPROC) connect loops of
 * one process without a kernel transport, and apply flow control as a kernel
 * socket would: a connection end holds at most 16 MiB that its peer sent and
 * its loop has not delivered yet (a message may exceed that by its own size;
 * a stream is cut at the mark).  Further sends stay queued on the sending
 * bind -- no SENT is reported for them -- until the receiving loop has
 * taken the queue, which wakes the sender's loop to hand over more.  On
 * STREAM_INPROC an application that leaves received bytes unread also stops
 * its loop taking more once 16 MiB are buffered on the bind (or the length
 * its segment callback announced, if larger), and resumes when it has read
 * them down to half; so a stream buffers at most about 48 MiB for a reader
 * that does not read.  Nothing is dropped or reordered, and both directions
 * are independent: two ends sending to each other at full speed do not
 * deadlock, provided both loops keep running.
 */
enum evpl_protocol_id {
    EVPL_DATAGRAM_SOCKET_UDP = 0,
    EVPL_DATAGRAM_RDMACM_RC  = 1,
    EVPL_DATAGRAM_RDMACM_UD  = 2,
    EVPL_STREAM_SOCKET_TCP   = 3,
    EVPL_STREAM_XLIO_TCP     = 4,
    EVPL_STREAM_IO_URING_TCP = 5,
    EVPL_STREAM_RDMACM_RC    = 6,
    EVPL_STREAM_SOCKET_TLS   = 7,
    EVPL_DATAGRAM_TCP_RDMA   = 8,
    EVPL_STREAM_SOCKET_UNIX  = 9,
    EVPL_STREAM_INPROC       = 10,
    EVPL_DATAGRAM_INPROC     = 11,
    EVPL_NUM_PROTO           = 12
};

/* Block I/O backends (evpl_block_open_device()). */
enum evpl_block_protocol_id {
    EVPL_BLOCK_PROTOCOL_IO_URING      = 0,
    EVPL_BLOCK_PROTOCOL_VFIO          = 1,
    EVPL_BLOCK_PROTOCOL_LIBAIO        = 2,
    EVPL_BLOCK_PROTOCOL_IO_URING_NVME = 3,
    EVPL_NUM_BLOCK_PROTOCOL           = 4
};

typedef void (*evpl_loop_callback_t)(struct evpl *evpl, void *private_data);

/*
 * Per-pass hooks (evpl_set_loop_hooks()).  Any member may be NULL.
 * iteration_end runs at the end of every pass; pre_wait/post_wait bracket
 * the core wait on passes that perform one.
 */
struct evpl_loop_hooks {
    evpl_loop_callback_t iteration_end;
    evpl_loop_callback_t pre_wait;
    evpl_loop_callback_t post_wait;
    void                *private_data;
};

/*
 * Initialise the library once, with global_config (ownership passes to the
 * library) or built-in defaults when NULL.  Aborts if the library is already
 * initialised (explicitly, or implicitly by one of the calls listed in the
 * README), or if the requested core mechanism is not available.  Sets SIGPIPE
 * to SIG_IGN and registers an atexit() handler that tears everything down.
 */
void evpl_init(struct evpl_global_config *global_config);

/*
 * Create an event loop owned by the calling thread.  config (NULL: the thread
 * defaults of the global config) is consumed: the loop copies it and frees
 * it.  Initialises the library implicitly when needed.  Aborts on resource
 * exhaustion; never returns NULL.
 */
struct evpl *evpl_create(struct evpl_thread_config *config);

/*
 * Destroy a loop on its owning thread.  Open binds are closed and their
 * DISCONNECTED notifications are delivered from inside this call.  Listener
 * bindings, doorbells, fd events, polls and armed timers/deferrals must have
 * been removed first.  Outstanding buffer references still held by
 * application code are reported through the log.
 */
void evpl_destroy(struct evpl *evpl);

/*
 * Run one pass of the loop: due timers, poll-mode bookkeeping, the core wait
 * (bounded by wait_ms and the next timer deadline; zero when work is pending),
 * dispatch of ready events, deferrals, and the iteration_end hook.
 */
void evpl_continue(struct evpl *evpl);

/* Call evpl_continue() until evpl_stop() was called on this loop. */
void evpl_run(struct evpl *evpl);

/*
 * Thread-safe.  Mark the loop stopped and wake it, so evpl_run() returns after
 * the pass in progress.  A stopped loop stays stopped.
 */
void evpl_stop(struct evpl *evpl);

/* Install (copied) or, with NULL, clear the loop's per-pass hooks. */
void evpl_set_loop_hooks(struct evpl *evpl, const struct evpl_loop_hooks *hooks);

/*
 * Thread-safe.  Store the current CLOCK_MONOTONIC time (TSC-based when the
 * hf_time_mode allows).  Never goes backwards; reports real time even when
 * the virtual clock is enabled.  evpl may be NULL.
 */
void evpl_get_hf_monotonic_time(struct evpl *evpl, struct timespec *ts);

/*
 * Virtual clock (tests only): when enabled in the config given to
 * evpl_init(), all loop time comes from one process-wide counter in
 * nanoseconds that moves only through evpl_virtual_clock_advance().  Both
 * functions are thread-safe and abort when the library is not initialised or
 * the virtual clock is not enabled.
 */
void     evpl_virtual_clock_advance(uint64_t ns);
uint64_t evpl_virtual_clock_now(void);

/*
 * Serialise the library's metrics as Prometheus text (format 0.0.4) into
 * buffer, NUL-terminated.  Returns the number of bytes written (without the
 * NUL), or -1 if the output does not fit (nothing is ever written past
 * buffer_size) or the arguments are unusable.  Thread-safe.
 */
int evpl_metrics_scrape(char *buffer, int buffer_size);

/*
 * Find an available protocol by its exact name (e.g. "STREAM_SOCKET_TCP").
 * Returns 0 and stores the id, or -1 when no available protocol has that name.
 */
int evpl_protocol_lookup(enum evpl_protocol_id *id, const char *name);

/*
 * Thread-safe predicates returning exactly 1 or 0; any integer is accepted
 * (out-of-range ids yield 0).  All four return 0 for unavailable protocols.
 */
int evpl_protocol_available(enum evpl_protocol_id protocol);
int evpl_protocol_is_stream(enum evpl_protocol_id protocol);
int evpl_protocol_is_local(enum evpl_protocol_id protocol);
int evpl_protocol_is_inproc(enum evpl_protocol_id protocol);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
