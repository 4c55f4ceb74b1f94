/*
 * Log-bucket histogram: see histogram.h for the bucket layout.
 */
#include <math.h>
#include <string.h>

#include "histogram.h"

void
bench_hist_init(struct bench_hist *hist)
{
    atomic_init(&hist->count, 0);
    atomic_init(&hist->sum, 0);
    atomic_init(&hist->min, UINT64_MAX);
    atomic_init(&hist->max, 0);
    for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        atomic_init(&hist->buckets[i], 0);
    }
}

uint64_t
bench_hist_bucket_low(unsigned int index)
{
    unsigned int shift;

    if (index < BENCH_HIST_SUB) {
        return index;
    }
    /* index = shift * HALF + (value >> shift), with value >> shift in [HALF, SUB). */
    shift = index / BENCH_HIST_HALF - 1;
    return (uint64_t) (index - shift * BENCH_HIST_HALF) << shift;
}

uint64_t
bench_hist_bucket_high(unsigned int index)
{
    unsigned int shift;

    if (index < BENCH_HIST_SUB) {
        return index;
    }
    shift = index / BENCH_HIST_HALF - 1;
    return bench_hist_bucket_low(index) + ((UINT64_C(1) << shift) - 1);
}

void
bench_hist_snapshot(const struct bench_hist *hist, struct bench_hist_snapshot *snap)
{
    /* Count first: every sample it covers has its bucket entry already. */
    snap->count = atomic_load_explicit(&hist->count, memory_order_relaxed);
    snap->sum   = atomic_load_explicit(&hist->sum, memory_order_relaxed);
    snap->min   = atomic_load_explicit(&hist->min, memory_order_relaxed);
    snap->max   = atomic_load_explicit(&hist->max, memory_order_relaxed);
    for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        snap->buckets[i] = atomic_load_explicit(&hist->buckets[i], memory_order_relaxed);
    }
}

void
bench_hist_snapshot_clear(struct bench_hist_snapshot *snap)
{
    memset(snap, 0, sizeof(*snap));
    snap->min = UINT64_MAX;
}

void
bench_hist_snapshot_merge(struct bench_hist_snapshot *dst, const struct bench_hist_snapshot *src)
{
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) {
        dst->min = src->min;
    }
    if (src->max > dst->max) {
        dst->max = src->max;
    }
    for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        dst->buckets[i] += src->buckets[i];
    }
}

void
bench_hist_snapshot_diff(struct bench_hist_snapshot *dst, const struct bench_hist_snapshot *later,
                         const struct bench_hist_snapshot *earlier)
{
    int first = -1, last = -1;

    dst->count = 0;
    dst->sum   = later->sum - earlier->sum;
    for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        uint64_t a = later->buckets[i], b = earlier->buckets[i];

        dst->buckets[i] = a > b ? a - b : 0;
        dst->count += dst->buckets[i];
        if (dst->buckets[i]) {
            if (first < 0) {
                first = (int) i;
            }
            last = (int) i;
        }
    }
    dst->min = first < 0 ? UINT64_MAX : bench_hist_bucket_low((unsigned int) first);
    dst->max = last < 0 ? 0 : bench_hist_bucket_high((unsigned int) last);
}

uint64_t
bench_hist_percentile(const struct bench_hist_snapshot *snap, double pct)
{
    uint64_t rank, seen = 0, value;

    if (snap->count == 0) {
        return 0;
    }
    if (pct <= 0) {
        return snap->min;
    }
    if (pct >= 100) {
        return snap->max;
    }
    rank = (uint64_t) ceil(pct / 100.0 * (double) snap->count);
    if (rank == 0) {
        rank = 1;
    }
    for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += snap->buckets[i];
        if (seen >= rank) {
            uint64_t low = bench_hist_bucket_low(i), high = bench_hist_bucket_high(i);

            value = low + (high - low) / 2;
            if (value < snap->min) {
                value = snap->min;
            }
            if (value > snap->max) {
                value = snap->max;
            }
            return value;
        }
    }
    return snap->max;
}
