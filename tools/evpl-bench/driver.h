/*
 * The part of a benchmark program that does not depend on the I/O library
 * under test: roles (server, client, or both as two processes joined by
 * pipes), client worker threads, the measurement window, CPU accounting,
 * the live progress line and the summary.  evpl-bench and each peer program
 * in bench/ supply a struct bench_impl and call bench_main().
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "histogram.h"
#include "options.h"

/* One client thread's figures.  Only that thread writes them. */
struct bench_worker {
    unsigned int                index;
    const struct bench_options *opt;
    struct bench_hist           hist;     /* latencies inside the window, ns */
    _Atomic uint64_t            ops;      /* completed operations inside the window */
    _Atomic uint64_t            bytes;    /* their payload bytes (ops x size) */
    _Atomic uint64_t            live_ops; /* all completions, for the progress line */
    _Atomic uint64_t            live_bytes;
    uint64_t                    lost;        /* datagrams given up on (UDP) */
    char                        error[1024]; /* set when the worker fails */
};

struct bench_impl {
    const char *name; /* "evpl", "libevent", "libuv", "epoll" */

    /* Check the options (protocol, workload) and set up the library.  Runs
     * in every process that does work, after any fork.  0, or -1 with a
     * one-line message in err, or -2 (same) when what was asked for is not
     * available here: the program then exits with status 3. */
    int (*prepare)(struct bench_options *opt, char *err, size_t errlen);

    /* Start serving; returns once the server accepts connections (or has
     * failed: NULL with a message, e.g. the port is in use). */
    void *(*server_start)(const struct bench_options *opt, char *err, size_t errlen);
    void (*server_stop)(void *server);

    /* Body of one client thread: connect opt->flows flows, run the workload
     * until bench_stopping(), tear down.  0, or -1 with w->error set. */
    int (*client_run)(struct bench_worker *w);

    /* Block workload thread body (NULL: not offered by this program). */
    int (*block_run)(struct bench_worker *w);
};

int bench_main(const struct bench_impl *impl, int argc, char **argv);

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t
bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The measurement window [start, end), set before workers start. */
extern uint64_t   bench_window_start_ns;
extern uint64_t   bench_window_end_ns;
extern atomic_int bench_stop_flag;

/* True once workers should wind down (the window has ended). */
static inline int
bench_stopping(void)
{
    return atomic_load_explicit(&bench_stop_flag, memory_order_relaxed);
}

/* Account one completed operation that started at `start_ns` and carried
 * `bytes` bytes; counted only when it completes inside the window. */
static inline void
bench_record(struct bench_worker *w, uint64_t start_ns, uint64_t now_ns, uint64_t bytes)
{
    bench_hist_add_relaxed(&w->live_ops, 1);
    bench_hist_add_relaxed(&w->live_bytes, bytes);
    if (now_ns >= bench_window_start_ns && now_ns < bench_window_end_ns) {
        /* A real operation takes time: a completion seen within the same
         * clock reading as its start (per-pass clock, coarse clock) counts
         * as 1 ns, never 0, so latency figures stay meaningful. */
        bench_hist_record(&w->hist, now_ns > start_ns ? now_ns - start_ns : 1);
        bench_hist_add_relaxed(&w->ops, 1);
        bench_hist_add_relaxed(&w->bytes, bytes);
    }
}
