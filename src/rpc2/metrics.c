/*
 * RPC2 metrics in evpl_metrics_scrape(): per RPC2 thread, program, version,
 * procedure and role (server: calls served; client: calls made) the number
 * of calls, of errors (server: the call was not run or its dispatch failed;
 * client: any non-zero status) and a latency histogram (server: dispatch to
 * reply; client: call to completion); and the calls in flight per thread and
 * role (evpl_rpc2_queue_depth).
 *
 * Counters are written by the owning loop only and read by the scraping
 * thread, with relaxed atomic loads and stores.  Per-program tables are
 * allocated on a program's first call and published at the head of a list
 * (release/acquire); they live until the thread is destroyed, after its
 * writers were unregistered.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rpc2_internal.h"
#include "core/metrics.h"

#define CALLS_FAMILY  "evpl_rpc2_calls_total"
#define ERRORS_FAMILY "evpl_rpc2_errors_total"
#define LAT_FAMILY    "evpl_rpc2_latency_nanoseconds"
#define DEPTH_FAMILY  "evpl_rpc2_queue_depth"
#define LAT_MIN_SHIFT 10 /* first bucket: <= 1024 ns */
#define LAT_BUCKETS   RPC2_LAT_BUCKETS

static atomic_uint next_thread_id;

static inline void
stat_add(uint64_t *counter, uint64_t v)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t
stat_get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

struct rpc2_proc_stats *
rpc2_metrics_proc(struct evpl_rpc2_thread *thread, struct evpl_rpc2_program *program, uint32_t proc,
                  int client)
{
    struct rpc2_prog_stats *ps;

    if (proc > program->maxproc) {
        return NULL;
    }
    for (ps = thread->prog_stats; ps; ps = ps->next) {
        if (ps->program == program && ps->client == client) {
            return &ps->procs[proc];
        }
    }
    ps = calloc(1, sizeof(*ps) + ((size_t) program->maxproc + 1) * sizeof(ps->procs[0]));
    evpl_rpc2_abort_if(ps == NULL, "out of memory for metrics");
    ps->program   = program;
    ps->prognum   = program->program;
    ps->version   = program->version;
    ps->nprocs    = program->maxproc + 1;
    ps->procnames = program->procs;
    ps->client    = client;
    ps->next      = thread->prog_stats;
    __atomic_store_n(&thread->prog_stats, ps, __ATOMIC_RELEASE);
    return &ps->procs[proc];
}

void
rpc2_metrics_record(struct rpc2_proc_stats *s, int error, uint64_t latency_ns)
{
    int b = 0;

    if (s == NULL) {
        return;
    }
    if (latency_ns > (1ull << LAT_MIN_SHIFT)) {
        b = 64 - __builtin_clzll(latency_ns - 1) - LAT_MIN_SHIFT;
    }
    if (b < LAT_BUCKETS) {
        stat_add(&s->lat[b], 1);
    }
    stat_add(&s->lat_sum, latency_ns);
    stat_add(&s->calls, 1);
    if (error) {
        stat_add(&s->errors, 1);
    }
}

void
rpc2_metrics_inflight(struct evpl_rpc2_thread *thread, int client, int delta)
{
    uint64_t *c = client ? &thread->inflight_client : &thread->inflight_server;

    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (uint64_t) (int64_t) delta,
                     __ATOMIC_RELAXED);
}

static void
proc_labels(char *buf, size_t size, const struct evpl_rpc2_thread *thread,
            const struct rpc2_prog_stats *ps, uint32_t proc)
{
    char        num[16], esc[128];
    const char *name = ps->procnames && ps->procnames[proc] ? ps->procnames[proc] : NULL;

    if (name == NULL) {
        snprintf(num, sizeof(num), "%u", proc);
        name = num;
    }
    evpl_metrics_escape_label(esc, sizeof(esc), name);
    snprintf(buf, size, "role=\"%s\",thread=\"%u\",program=\"%u\",version=\"%u\",procedure=\"%s\"",
             ps->client ? "client" : "server", thread->metrics_id, ps->prognum, ps->version, esc);
}

/* One writer for the three per-procedure families; which = the family. */
static void
write_procs(struct evpl_metrics_writer *w, struct evpl_rpc2_thread *thread, int which)
{
    static const uint64_t bounds[LAT_BUCKETS] = {
        1ull << 10, 1ull << 11, 1ull << 12, 1ull << 13, 1ull << 14, 1ull << 15,
        1ull << 16, 1ull << 17, 1ull << 18, 1ull << 19, 1ull << 20, 1ull << 21,
        1ull << 22, 1ull << 23, 1ull << 24, 1ull << 25, 1ull << 26, 1ull << 27,
        1ull << 28, 1ull << 29, 1ull << 30, 1ull << 31, 1ull << 32, 1ull << 33};
    char labels[256];

    for (struct rpc2_prog_stats *ps = __atomic_load_n(&thread->prog_stats, __ATOMIC_ACQUIRE); ps;
         ps                         = ps->next) {
        for (uint32_t p = 0; p < ps->nprocs; p++) {
            const struct rpc2_proc_stats *s     = &ps->procs[p];
            uint64_t                      calls = stat_get(&s->calls);

            if (calls == 0) {
                continue;
            }
            proc_labels(labels, sizeof(labels), thread, ps, p);
            if (which == 0) {
                evpl_metrics_sample(w, CALLS_FAMILY, labels, calls);
            } else if (which == 1) {
                evpl_metrics_sample(w, ERRORS_FAMILY, labels, stat_get(&s->errors));
            } else {
                uint64_t counts[LAT_BUCKETS], count = 0;

                for (int b = 0; b < LAT_BUCKETS; b++) {
                    counts[b] = stat_get(&s->lat[b]);
                    count += counts[b];
                }
                evpl_metrics_histogram(w, LAT_FAMILY, labels, bounds, counts, LAT_BUCKETS,
                                       stat_get(&s->lat_sum), count);
            }
        }
    }
}

static void
write_calls(struct evpl_metrics_writer *w, void *private_data)
{
    write_procs(w, private_data, 0);
}

static void
write_errors(struct evpl_metrics_writer *w, void *private_data)
{
    write_procs(w, private_data, 1);
}

static void
write_latency(struct evpl_metrics_writer *w, void *private_data)
{
    write_procs(w, private_data, 2);
}

static void
write_depth(struct evpl_metrics_writer *w, void *private_data)
{
    struct evpl_rpc2_thread *thread = private_data;
    char                     labels[64];

    snprintf(labels, sizeof(labels), "role=\"server\",thread=\"%u\"", thread->metrics_id);
    evpl_metrics_sample(w, DEPTH_FAMILY, labels, stat_get(&thread->inflight_server));
    snprintf(labels, sizeof(labels), "role=\"client\",thread=\"%u\"", thread->metrics_id);
    evpl_metrics_sample(w, DEPTH_FAMILY, labels, stat_get(&thread->inflight_client));
}

void
rpc2_metrics_thread_init(struct evpl_rpc2_thread *thread)
{
    thread->metrics_id = atomic_fetch_add(&next_thread_id, 1);
    if (evpl_metrics_family_declare(CALLS_FAMILY, EVPL_METRICS_COUNTER,
                                    "RPC2 calls, by role, thread, program, version and "
                                    "procedure.") != 0 ||
        evpl_metrics_family_declare(ERRORS_FAMILY, EVPL_METRICS_COUNTER,
                                    "RPC2 calls that failed (server: not run or dispatch "
                                    "failed; client: non-zero status).") != 0 ||
        evpl_metrics_family_declare(LAT_FAMILY, EVPL_METRICS_HISTOGRAM,
                                    "RPC2 call latency in nanoseconds (server: dispatch to "
                                    "reply; client: call to completion).") != 0 ||
        evpl_metrics_register_samples(CALLS_FAMILY, write_calls, thread) != 0 ||
        evpl_metrics_register_samples(ERRORS_FAMILY, write_errors, thread) != 0 ||
        evpl_metrics_register_samples(LAT_FAMILY, write_latency, thread) != 0 ||
        evpl_metrics_register_samples(DEPTH_FAMILY, write_depth, thread) != 0) {
        evpl_rpc2_error("RPC2 metrics could not be registered");
    }
}

void
rpc2_metrics_thread_destroy(struct evpl_rpc2_thread *thread)
{
    evpl_metrics_unregister(write_calls, thread);
    evpl_metrics_unregister(write_errors, thread);
    evpl_metrics_unregister(write_latency, thread);
    evpl_metrics_unregister(write_depth, thread);
    while (thread->prog_stats) {
        struct rpc2_prog_stats *ps = thread->prog_stats;

        thread->prog_stats = ps->next;
        free(ps);
    }
}

uint64_t
rpc2_now_ns(struct evpl_rpc2_thread *thread)
{
    struct timespec ts;

    evpl_get_hf_monotonic_time(thread->evpl, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}
