/*
 * Block I/O metrics: per-queue counters kept by the owning thread without
 * locks, summed per device when evpl_metrics_scrape() runs.
 *
 * Families (declared by core/metrics.c): evpl_block_latency_nanoseconds and
 * evpl_block_request_bytes (histograms, labels device, type, op) and
 * evpl_block_queue_depth (gauge, labels device, type).  op is read, write,
 * flush or discard; write-zeroes requests count as discard (both are range
 * operations without a data transfer).
 *
 * Single writer, concurrent reader: the owning thread updates each counter
 * with a relaxed atomic load+store (no locked instruction); the scraping
 * thread reads them with relaxed loads.  A scrape may see one request's
 * bucket but not yet its count, which Prometheus tolerates.
 */
#pragma once

#include <stdint.h>

struct evpl_block_device;
struct evpl_block_queue;

#define EVPL_BLOCK_STATS_OPS 4 /* read, write, flush, discard */

/* Latency buckets: le = 2^10 .. 2^33 ns (about 1 us .. 8.6 s). */
#define EVPL_BLOCK_LAT_MIN_SHIFT 10
#define EVPL_BLOCK_LAT_BUCKETS   24
/* Size buckets: le = 2^9 .. 2^22 bytes (512 B .. 4 MiB). */
#define EVPL_BLOCK_SIZE_MIN_SHIFT 9
#define EVPL_BLOCK_SIZE_BUCKETS   14

struct evpl_block_op_stats {
    uint64_t lat[EVPL_BLOCK_LAT_BUCKETS];
    uint64_t lat_sum;
    uint64_t count;
    uint64_t size[EVPL_BLOCK_SIZE_BUCKETS];
    uint64_t size_sum;
};

struct evpl_block_stats {
    struct evpl_block_op_stats op[EVPL_BLOCK_STATS_OPS];
    int64_t                    inflight;
};

/* Register the device's sample writers (at open) / remove them (at close). */
void evpl_block_metrics_open_device(struct evpl_block_device *dev);
void evpl_block_metrics_close_device(struct evpl_block_device *dev);

/* Link a queue's counters into its device's sums / fold them in at close. */
void evpl_block_metrics_add_queue(struct evpl_block_queue *queue);
void evpl_block_metrics_remove_queue(struct evpl_block_queue *queue);

/* Owning thread: one request finished (stats_op 0..3). */
void evpl_block_metrics_record(struct evpl_block_stats *stats, int stats_op, uint64_t bytes,
                               uint64_t latency_ns);

/* Owning thread: requests in flight changed by delta. */
static inline void
evpl_block_metrics_inflight(struct evpl_block_stats *stats, int64_t delta)
{
    __atomic_store_n(&stats->inflight, __atomic_load_n(&stats->inflight, __ATOMIC_RELAXED) + delta,
                     __ATOMIC_RELAXED);
}
