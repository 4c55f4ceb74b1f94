/*
 * Latency histogram with logarithmic buckets (HDR-style): values below
 * 2^BENCH_HIST_SUB_BITS nanoseconds are counted exactly, larger ones in
 * buckets whose width is at most 1/64 of their lower bound, so any
 * percentile is reported within 1.6% of the true sample with no per-sample
 * storage (about 30 KiB per histogram whatever the run length).
 *
 * One thread records; any thread may read concurrently (the counters are
 * relaxed atomics, which compile to plain loads and stores on x86), which is
 * how the live progress line samples running workers.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_HALF     (BENCH_HIST_SUB / 2)
#define BENCH_HIST_BUCKETS  ((64 - BENCH_HIST_SUB_BITS) * BENCH_HIST_HALF + BENCH_HIST_SUB)

struct bench_hist {
    _Atomic uint64_t count;
    _Atomic uint64_t sum;
    _Atomic uint64_t min;
    _Atomic uint64_t max;
    _Atomic uint64_t buckets[BENCH_HIST_BUCKETS];
};

/* A plain (non-atomic) copy, for arithmetic on snapshots. */
struct bench_hist_snapshot {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t buckets[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *hist);

/* Single writer per histogram. */
static inline unsigned int
bench_hist_index(uint64_t value)
{
    unsigned int msb, shift;

    if (value < BENCH_HIST_SUB) {
        return (unsigned int) value;
    }
    msb   = 63u - (unsigned int) __builtin_clzll(value);
    shift = msb - BENCH_HIST_SUB_BITS + 1;
    return shift * BENCH_HIST_HALF + (unsigned int) (value >> shift);
}

static inline void
bench_hist_add_relaxed(_Atomic uint64_t *counter, uint64_t delta)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

static inline void
bench_hist_record(struct bench_hist *hist, uint64_t value)
{
    bench_hist_add_relaxed(&hist->buckets[bench_hist_index(value)], 1);
    bench_hist_add_relaxed(&hist->sum, value);
    if (value < atomic_load_explicit(&hist->min, memory_order_relaxed)) {
        atomic_store_explicit(&hist->min, value, memory_order_relaxed);
    }
    if (value > atomic_load_explicit(&hist->max, memory_order_relaxed)) {
        atomic_store_explicit(&hist->max, value, memory_order_relaxed);
    }
    /* Count last, so a reader never sees more samples than bucket entries. */
    bench_hist_add_relaxed(&hist->count, 1);
}

/* Lowest and highest value that land in bucket `index`. */
uint64_t bench_hist_bucket_low(unsigned int index);
uint64_t bench_hist_bucket_high(unsigned int index);

void bench_hist_snapshot(const struct bench_hist *hist, struct bench_hist_snapshot *snap);
void bench_hist_snapshot_clear(struct bench_hist_snapshot *snap);

/* dst += src (counts, sums, min/max). */
void bench_hist_snapshot_merge(struct bench_hist_snapshot       *dst,
                               const struct bench_hist_snapshot *src);

/* dst = later - earlier (counts only; min/max are unknown for an interval
 * and set from the buckets' bounds). */
void bench_hist_snapshot_diff(struct bench_hist_snapshot       *dst,
                              const struct bench_hist_snapshot *later,
                              const struct bench_hist_snapshot *earlier);

/*
 * The value at percentile `pct` (0..100): the smallest bucket whose
 * cumulative count reaches ceil(pct/100 * count), reported as the bucket's
 * midpoint clamped to [min, max].  0 for an empty histogram.
 */
uint64_t bench_hist_percentile(const struct bench_hist_snapshot *snap, double pct);
