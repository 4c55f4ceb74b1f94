/*
 * Block I/O metrics (see block/metrics.h): recording on the owning thread,
 * per-device sums for the scrape.
 */
#include <stdio.h>
#include <string.h>

#include "block/block_internal.h"
#include "core/log.h"
#include "core/metrics.h"

static const char *const stats_op_names[EVPL_BLOCK_STATS_OPS] = {"read", "write", "flush",
                                                                 "discard"};

#define LAT_FAMILY   "evpl_block_latency_nanoseconds"
#define SIZE_FAMILY  "evpl_block_request_bytes"
#define DEPTH_FAMILY "evpl_block_queue_depth"

static inline void
stat_add(uint64_t *counter, uint64_t v)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* Bucket of v among le = 2^min_shift .. 2^(min_shift + n - 1); n: above all. */
static inline int
pow2_bucket(uint64_t v, int min_shift, int n)
{
    int b;

    if (v <= (1ull << min_shift)) {
        return 0;
    }
    b = 64 - __builtin_clzll(v - 1) - min_shift; /* ceil(log2 v) - min_shift */
    return b < n ? b : n;
}

void
evpl_block_metrics_record(struct evpl_block_stats *stats, int stats_op, uint64_t bytes,
                          uint64_t latency_ns)
{
    struct evpl_block_op_stats *s = &stats->op[stats_op];
    int                         b;

    b = pow2_bucket(latency_ns, EVPL_BLOCK_LAT_MIN_SHIFT, EVPL_BLOCK_LAT_BUCKETS);
    if (b < EVPL_BLOCK_LAT_BUCKETS) {
        stat_add(&s->lat[b], 1);
    }
    stat_add(&s->lat_sum, latency_ns);
    b = pow2_bucket(bytes, EVPL_BLOCK_SIZE_MIN_SHIFT, EVPL_BLOCK_SIZE_BUCKETS);
    if (b < EVPL_BLOCK_SIZE_BUCKETS) {
        stat_add(&s->size[b], 1);
    }
    stat_add(&s->size_sum, bytes);
    stat_add(&s->count, 1);
}

static void
stats_accumulate(struct evpl_block_stats *dst, const struct evpl_block_stats *src)
{
    const uint64_t *from = (const uint64_t *) src->op;
    uint64_t       *to   = (uint64_t *) dst->op;

    for (size_t i = 0; i < sizeof(src->op) / (sizeof(uint64_t)); i++) {
        to[i] += __atomic_load_n(&from[i], __ATOMIC_RELAXED);
    }
    dst->inflight += __atomic_load_n(&src->inflight, __ATOMIC_RELAXED);
}

/* Sum of every queue of dev, open or closed.  Called under no lock. */
static void
device_stats(struct evpl_block_device *dev, struct evpl_block_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    pthread_mutex_lock(&dev->stats_lock);
    stats_accumulate(sum, &dev->stats_retired);
    for (struct evpl_block_queue *q = dev->stats_queues; q; q = q->stats_next) {
        stats_accumulate(sum, &q->stats);
    }
    pthread_mutex_unlock(&dev->stats_lock);
}

static void
write_histograms(struct evpl_metrics_writer *w, struct evpl_block_device *dev, int latency)
{
    struct evpl_block_stats sum;
    uint64_t                lat_bounds[EVPL_BLOCK_LAT_BUCKETS];
    uint64_t                size_bounds[EVPL_BLOCK_SIZE_BUCKETS];
    char                    labels[sizeof(dev->labels) + 32];

    for (int i = 0; i < EVPL_BLOCK_LAT_BUCKETS; i++) {
        lat_bounds[i] = 1ull << (EVPL_BLOCK_LAT_MIN_SHIFT + i);
    }
    for (int i = 0; i < EVPL_BLOCK_SIZE_BUCKETS; i++) {
        size_bounds[i] = 1ull << (EVPL_BLOCK_SIZE_MIN_SHIFT + i);
    }

    device_stats(dev, &sum);
    for (int op = 0; op < EVPL_BLOCK_STATS_OPS; op++) {
        const struct evpl_block_op_stats *s = &sum.op[op];

        snprintf(labels, sizeof(labels), "%s,op=\"%s\"", dev->labels, stats_op_names[op]);
        if (latency) {
            evpl_metrics_histogram(w, LAT_FAMILY, labels, lat_bounds, s->lat,
                                   EVPL_BLOCK_LAT_BUCKETS, s->lat_sum, s->count);
        } else {
            evpl_metrics_histogram(w, SIZE_FAMILY, labels, size_bounds, s->size,
                                   EVPL_BLOCK_SIZE_BUCKETS, s->size_sum, s->count);
        }
    }
}

static void
write_latency(struct evpl_metrics_writer *w, void *private_data)
{
    write_histograms(w, private_data, 1);
}

static void
write_sizes(struct evpl_metrics_writer *w, void *private_data)
{
    write_histograms(w, private_data, 0);
}

static void
write_depth(struct evpl_metrics_writer *w, void *private_data)
{
    struct evpl_block_device *dev = private_data;
    struct evpl_block_stats   sum;

    device_stats(dev, &sum);
    evpl_metrics_sample(w, DEPTH_FAMILY, dev->labels,
                        sum.inflight > 0 ? (uint64_t) sum.inflight : 0);
}

void
evpl_block_metrics_open_device(struct evpl_block_device *dev)
{
    char device[256];

    evpl_metrics_escape_label(device, sizeof(device), dev->uri);
    snprintf(dev->labels, sizeof(dev->labels), "device=\"%s\",type=\"%s\"", device,
             dev->backend->name);

    /* Failure only costs the device its metrics. */
    if (evpl_metrics_register_samples(LAT_FAMILY, write_latency, dev) != 0 ||
        evpl_metrics_register_samples(SIZE_FAMILY, write_sizes, dev) != 0 ||
        evpl_metrics_register_samples(DEPTH_FAMILY, write_depth, dev) != 0) {
        evpl_log_error("block", "cannot register metrics for %s", dev->uri);
    }
}

void
evpl_block_metrics_close_device(struct evpl_block_device *dev)
{
    evpl_metrics_unregister(write_latency, dev);
    evpl_metrics_unregister(write_sizes, dev);
    evpl_metrics_unregister(write_depth, dev);
}

void
evpl_block_metrics_add_queue(struct evpl_block_queue *queue)
{
    struct evpl_block_device *dev = queue->device;

    pthread_mutex_lock(&dev->stats_lock);
    queue->stats_next = dev->stats_queues;
    dev->stats_queues = queue;
    pthread_mutex_unlock(&dev->stats_lock);
}

void
evpl_block_metrics_remove_queue(struct evpl_block_queue *queue)
{
    struct evpl_block_device *dev = queue->device;

    pthread_mutex_lock(&dev->stats_lock);
    for (struct evpl_block_queue **p = &dev->stats_queues; *p; p = &(*p)->stats_next) {
        if (*p == queue) {
            *p = queue->stats_next;
            break;
        }
    }
    stats_accumulate(&dev->stats_retired, &queue->stats);
    pthread_mutex_unlock(&dev->stats_lock);
}
