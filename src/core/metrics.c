/*
 * evpl_metrics_scrape(): Prometheus text exposition (format 0.0.4) of the
 * allocator's counters, the block and RPC2 families, and whatever other
 * modules register (see metrics.h).
 *
 * The output buffer belongs to the caller and may be tiny, so every write is
 * bounded by vsnprintf into the space left; the first write that does not fit
 * marks the writer overflowed and the scrape fails with -1.  Nothing is ever
 * written at or past buffer + buffer_size.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/shared.h"
#include "memory/allocator.h"

struct evpl_metrics_writer {
    char  *buf;
    size_t size; /* > 0 */
    size_t len;  /* < size: there is always room for the NUL */
    int    overflow;
};

struct metrics_source {
    evpl_metrics_fn fn;
    void           *private_data;
};

struct metrics_source_list {
    struct metrics_source *items;
    int                    num;
    int                    max;
};

struct metrics_family {
    const char                *name;
    const char                *type;
    const char                *help;
    struct metrics_source_list samples;
};

#define METRICS_MAX_FAMILIES 64

/* Guards the two tables below.  Scrapes hold it while writers run, which is
 * what makes evpl_metrics_unregister() a barrier for its writer. */
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;

static struct metrics_family metrics_families[METRICS_MAX_FAMILIES] = {
    {"evpl_block_latency_nanoseconds",
     EVPL_METRICS_HISTOGRAM,
     "Block I/O request latency in nanoseconds, by device, backend type and operation.",
     {NULL, 0, 0}},
    {"evpl_block_request_bytes",
     EVPL_METRICS_HISTOGRAM,
     "Block I/O request size in bytes, by device, backend type and operation.",
     {NULL, 0, 0}},
    {"evpl_block_queue_depth",
     EVPL_METRICS_GAUGE,
     "Block I/O requests currently in flight, by device and backend type.",
     {NULL, 0, 0}},
    {"evpl_rpc2_queue_depth",
     EVPL_METRICS_GAUGE,
     "RPC2 calls currently in flight, by role and thread.",
     {NULL, 0, 0}},
};
static int metrics_num_families = 4;

static struct metrics_source_list metrics_writers;

/* --- output helpers --- */

static void
writer_vprintf(struct evpl_metrics_writer *w, const char *fmt, va_list ap)
{
    size_t avail;
    int    n;

    if (w->overflow) {
        return;
    }
    avail = w->size - w->len;
    n     = vsnprintf(w->buf + w->len, avail, fmt, ap);
    if (n < 0 || (size_t) n >= avail) {
        /* Keep the text so far well-formed; the scrape fails anyway. */
        w->buf[w->len] = '\0';
        w->overflow    = 1;
        return;
    }
    w->len += (size_t) n;
}

void
evpl_metrics_printf(struct evpl_metrics_writer *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    writer_vprintf(w, fmt, ap);
    va_end(ap);
}

void
evpl_metrics_family(struct evpl_metrics_writer *w, const char *name, const char *type,
                    const char *help)
{
    evpl_metrics_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
evpl_metrics_sample(struct evpl_metrics_writer *w, const char *name, const char *labels,
                    uint64_t value)
{
    if (labels != NULL && labels[0] != '\0') {
        evpl_metrics_printf(w, "%s{%s} %llu\n", name, labels, (unsigned long long) value);
    } else {
        evpl_metrics_printf(w, "%s %llu\n", name, (unsigned long long) value);
    }
}

void
evpl_metrics_histogram(struct evpl_metrics_writer *w, const char *name, const char *labels,
                       const uint64_t *bounds, const uint64_t *counts, int nbuckets, uint64_t sum,
                       uint64_t count)
{
    const char *sep        = (labels != NULL && labels[0] != '\0') ? "," : "";
    uint64_t    cumulative = 0;

    if (labels == NULL) {
        labels = "";
    }
    for (int i = 0; i < nbuckets; i++) {
        cumulative += counts[i];
        evpl_metrics_printf(w, "%s_bucket{%s%sle=\"%llu\"} %llu\n", name, labels, sep,
                            (unsigned long long) bounds[i], (unsigned long long) cumulative);
    }
    evpl_metrics_printf(w, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                        (unsigned long long) count);
    if (labels[0] != '\0') {
        evpl_metrics_printf(w, "%s_sum{%s} %llu\n%s_count{%s} %llu\n", name, labels,
                            (unsigned long long) sum, name, labels, (unsigned long long) count);
    } else {
        evpl_metrics_printf(w, "%s_sum %llu\n%s_count %llu\n", name, (unsigned long long) sum, name,
                            (unsigned long long) count);
    }
}

void
evpl_metrics_escape_label(char *dst, size_t dst_size, const char *src)
{
    size_t n = 0;

    if (dst_size == 0) {
        return;
    }
    for (; src != NULL && *src; src++) {
        const char *esc = NULL;

        switch (*src) {
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\n':
            esc = "\\n";
            break;
        }
        if (esc != NULL) {
            if (n + 2 >= dst_size) {
                break;
            }
            dst[n++] = esc[0];
            dst[n++] = esc[1];
        } else {
            if (n + 1 >= dst_size) {
                break;
            }
            dst[n++] = *src;
        }
    }
    dst[n] = '\0';
}

/* --- registry --- */

static int
source_list_add(struct metrics_source_list *list, evpl_metrics_fn fn, void *private_data)
{
    if (list->num == list->max) {
        int                    max   = list->max ? list->max * 2 : 8;
        struct metrics_source *items = realloc(list->items, sizeof(*items) * (size_t) max);

        if (items == NULL) {
            return -1;
        }
        list->items = items;
        list->max   = max;
    }
    list->items[list->num].fn           = fn;
    list->items[list->num].private_data = private_data;
    list->num++;
    return 0;
}

static void
source_list_remove(struct metrics_source_list *list, evpl_metrics_fn fn, void *private_data)
{
    int out = 0;

    for (int i = 0; i < list->num; i++) {
        if (list->items[i].fn != fn || list->items[i].private_data != private_data) {
            list->items[out++] = list->items[i];
        }
    }
    list->num = out;
}

static void
source_list_run(const struct metrics_source_list *list, struct evpl_metrics_writer *w)
{
    for (int i = 0; i < list->num && !w->overflow; i++) {
        list->items[i].fn(w, list->items[i].private_data);
    }
}

static struct metrics_family *
family_find(const char *name)
{
    for (int i = 0; i < metrics_num_families; i++) {
        if (strcmp(metrics_families[i].name, name) == 0) {
            return &metrics_families[i];
        }
    }
    return NULL;
}

int
evpl_metrics_family_declare(const char *name, const char *type, const char *help)
{
    struct metrics_family *family;
    int                    rc = 0;

    pthread_mutex_lock(&metrics_lock);
    family = family_find(name);
    if (family != NULL) {
        rc = strcmp(family->type, type) == 0 ? 0 : -1;
    } else if (metrics_num_families == METRICS_MAX_FAMILIES) {
        rc = -1;
    } else {
        family       = &metrics_families[metrics_num_families++];
        family->name = name;
        family->type = type;
        family->help = help;
    }
    pthread_mutex_unlock(&metrics_lock);

    if (rc != 0) {
        evpl_core_error("cannot declare metric family %s (%s)", name, type);
    }
    return rc;
}

int
evpl_metrics_register_samples(const char *family_name, evpl_metrics_fn fn, void *private_data)
{
    struct metrics_family *family;
    int                    rc = -1;

    pthread_mutex_lock(&metrics_lock);
    family = family_find(family_name);
    if (family != NULL) {
        rc = source_list_add(&family->samples, fn, private_data);
    }
    pthread_mutex_unlock(&metrics_lock);

    if (rc != 0) {
        evpl_core_error("cannot register samples for metric family %s", family_name);
    }
    return rc;
}

int
evpl_metrics_register(evpl_metrics_fn fn, void *private_data)
{
    int rc;

    pthread_mutex_lock(&metrics_lock);
    rc = source_list_add(&metrics_writers, fn, private_data);
    pthread_mutex_unlock(&metrics_lock);
    return rc;
}

void
evpl_metrics_unregister(evpl_metrics_fn fn, void *private_data)
{
    pthread_mutex_lock(&metrics_lock);
    for (int i = 0; i < metrics_num_families; i++) {
        source_list_remove(&metrics_families[i].samples, fn, private_data);
    }
    source_list_remove(&metrics_writers, fn, private_data);
    pthread_mutex_unlock(&metrics_lock);
}

/* --- scrape --- */

static void
write_allocator_metrics(struct evpl_metrics_writer *w, struct evpl_allocator *allocator)
{
    struct evpl_allocator_stats stats;

    memset(&stats, 0, sizeof(stats));
    if (allocator != NULL) {
        evpl_allocator_get_stats(allocator, &stats);
    }

    evpl_metrics_family(w, "evpl_allocator_slabs_inline_total", EVPL_METRICS_COUNTER,
                        "Slabs created on the consumer path.");
    evpl_metrics_sample(w, "evpl_allocator_slabs_inline_total", NULL, stats.slabs_inline_total);
    evpl_metrics_family(w, "evpl_allocator_slabs_prealloc_total", EVPL_METRICS_COUNTER,
                        "Slabs created by background preallocation threads.");
    evpl_metrics_sample(w, "evpl_allocator_slabs_prealloc_total", NULL, stats.slabs_prealloc_total);
    evpl_metrics_family(w, "evpl_allocator_consumer_waits_total", EVPL_METRICS_COUNTER,
                        "Times a consumer waited for a preallocation thread.");
    evpl_metrics_sample(w, "evpl_allocator_consumer_waits_total", NULL, stats.consumer_waits_total);
    evpl_metrics_family(w, "evpl_allocator_consumer_wait_ns_total", EVPL_METRICS_COUNTER,
                        "Nanoseconds consumers spent waiting for preallocation threads.");
    evpl_metrics_sample(w, "evpl_allocator_consumer_wait_ns_total", NULL,
                        stats.consumer_wait_ns_total);
    evpl_metrics_family(w, "evpl_allocator_free_buffers", EVPL_METRICS_GAUGE,
                        "Buffers in the global free pool.");
    evpl_metrics_sample(w, "evpl_allocator_free_buffers", NULL, stats.free_buffers);
    evpl_metrics_family(w, "evpl_allocator_outstanding_slabs", EVPL_METRICS_GAUGE,
                        "Slabs handed out by evpl_slab_alloc().");
    evpl_metrics_sample(w, "evpl_allocator_outstanding_slabs", NULL, stats.outstanding_slabs);
    evpl_metrics_family(w, "evpl_allocator_target_buffers", EVPL_METRICS_GAUGE,
                        "Free buffers the preallocation threads aim to keep ready.");
    evpl_metrics_sample(w, "evpl_allocator_target_buffers", NULL, stats.target_buffers);
    evpl_metrics_family(w, "evpl_allocator_total_slabs", EVPL_METRICS_GAUGE,
                        "Slabs currently mapped.");
    evpl_metrics_sample(w, "evpl_allocator_total_slabs", NULL, stats.total_slabs);

    /* Per NUMA node (docs/topology.md): one series per node, one on a flat
     * machine (node="-1"). */
    struct evpl_allocator_node_stats nodes[64];
    int                              nnodes = 0;
    char                             label[32];

    if (allocator != NULL) {
        nnodes = evpl_allocator_node_stats(allocator, nodes, 64);
        nnodes = nnodes > 64 ? 64 : nnodes;
    }
    evpl_metrics_family(w, "evpl_allocator_node_free_buffers", EVPL_METRICS_GAUGE,
                        "Buffers in each NUMA node's part of the global free pool.");
    for (int i = 0; i < nnodes; i++) {
        snprintf(label, sizeof(label), "node=\"%d\"", nodes[i].node);
        evpl_metrics_sample(w, "evpl_allocator_node_free_buffers", label, nodes[i].free_buffers);
    }
    evpl_metrics_family(w, "evpl_allocator_foreign_returns_total", EVPL_METRICS_COUNTER,
                        "Buffers released on a loop of another NUMA node and sent back to "
                        "their home node's pool.");
    for (int i = 0; i < nnodes; i++) {
        snprintf(label, sizeof(label), "node=\"%d\"", nodes[i].node);
        evpl_metrics_sample(w, "evpl_allocator_foreign_returns_total", label,
                            nodes[i].foreign_returns_total);
    }
}

int
evpl_metrics_scrape(char *buffer, int buffer_size)
{
    struct evpl_metrics_writer w;
    struct evpl_shared        *shared;

    if (buffer == NULL || buffer_size <= 0) {
        return -1;
    }

    (void) evpl_config(); /* implicit initialisation trigger */
    shared = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE);

    w.buf      = buffer;
    w.size     = (size_t) buffer_size;
    w.len      = 0;
    w.overflow = 0;
    buffer[0]  = '\0';

    write_allocator_metrics(&w, shared ? shared->allocator : NULL);

    pthread_mutex_lock(&metrics_lock);
    for (int i = 0; i < metrics_num_families && !w.overflow; i++) {
        const struct metrics_family *family = &metrics_families[i];

        evpl_metrics_family(&w, family->name, family->type, family->help);
        source_list_run(&family->samples, &w);
    }
    source_list_run(&metrics_writers, &w);
    pthread_mutex_unlock(&metrics_lock);

    if (w.overflow) {
        return -1;
    }
    return (int) w.len;
}
