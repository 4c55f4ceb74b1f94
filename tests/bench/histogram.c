/*
 * evpl-bench latency histogram: bucket layout (contiguous, monotonic,
 * every value in its own bucket's bounds), percentiles against known
 * distributions within the 1/64 bucket precision, min/max exact, merge and
 * interval difference.
 */
#include <math.h>
#include <stdlib.h>

#include "histogram.h"
#include "test.h"

static struct bench_hist          hist, hist2;
static struct bench_hist_snapshot snap, snap2, merged, diff;

/* |got - want| within the histogram's precision (1/64 relative, or exact
 * below 128). */
static void
expect_close(uint64_t got, double want, const char *what)
{
    double tol = want < 128 ? 0.5 : want / 64.0 + 1;

    test_assert_msg(fabs((double) got - want) <= tol, "%s: got %llu, want %.1f (tol %.1f)", what,
                    (unsigned long long) got, want, tol);
}

static uint64_t
rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

int
main(void)
{
    uint64_t     rng = 42;
    unsigned int prev;

    /* Layout: indices are monotonic in the value and buckets tile the
     * range with no gap or overlap. */
    prev = 0;
    for (uint64_t v = 1; v < (1u << 20); v++) {
        unsigned int i = bench_hist_index(v);

        test_assert(i == prev || i == prev + 1);
        test_assert(bench_hist_bucket_low(i) <= v && v <= bench_hist_bucket_high(i));
        prev = i;
    }
    for (unsigned int i = 1; i < BENCH_HIST_BUCKETS; i++) {
        test_assert_eq(bench_hist_bucket_low(i), bench_hist_bucket_high(i - 1) + 1);
    }
    test_assert(bench_hist_index(UINT64_MAX) == BENCH_HIST_BUCKETS - 1);
    test_assert(bench_hist_bucket_high(BENCH_HIST_BUCKETS - 1) == UINT64_MAX);
    for (int shift = 7; shift < 63; shift++) {
        uint64_t     v = (1ull << shift) + 12345;
        unsigned int i = bench_hist_index(v);

        /* relative bucket width bounded by 1/64 */
        test_assert((double) (bench_hist_bucket_high(i) - bench_hist_bucket_low(i) + 1) <=
                    (double) bench_hist_bucket_low(i) / 64.0 + 1);
    }

    /* Empty. */
    bench_hist_init(&hist);
    bench_hist_snapshot(&hist, &snap);
    test_assert_eq(snap.count, 0);
    test_assert_eq(bench_hist_percentile(&snap, 50), 0);

    /* A constant small value is exact. */
    for (int i = 0; i < 1000; i++) {
        bench_hist_record(&hist, 77);
    }
    bench_hist_snapshot(&hist, &snap);
    test_assert_eq(bench_hist_percentile(&snap, 50), 77);
    test_assert_eq(bench_hist_percentile(&snap, 99.9), 77);
    test_assert_eq(snap.min, 77);
    test_assert_eq(snap.max, 77);

    /* Uniform 1..1,000,000 (each once): pXX = XX% of a million. */
    bench_hist_init(&hist);
    for (uint64_t v = 1; v <= 1000000; v++) {
        bench_hist_record(&hist, v);
    }
    bench_hist_snapshot(&hist, &snap);
    test_assert_eq(snap.count, 1000000);
    test_assert_eq(snap.min, 1);
    test_assert_eq(snap.max, 1000000);
    test_assert_eq(snap.sum, 500000500000ull);
    expect_close(bench_hist_percentile(&snap, 50), 500000, "uniform p50");
    expect_close(bench_hist_percentile(&snap, 90), 900000, "uniform p90");
    expect_close(bench_hist_percentile(&snap, 99), 990000, "uniform p99");
    expect_close(bench_hist_percentile(&snap, 99.9), 999000, "uniform p99.9");
    expect_close(bench_hist_percentile(&snap, 1), 10000, "uniform p1");
    test_assert_eq(bench_hist_percentile(&snap, 0), 1);
    test_assert_eq(bench_hist_percentile(&snap, 100), 1000000);

    /* Exponential, mean 10 us: p = -mean * ln(1 - q). */
    bench_hist_init(&hist2);
    for (int i = 0; i < 2000000; i++) {
        double u = (double) (rng_next(&rng) >> 11) / 9007199254740992.0;

        bench_hist_record(&hist2, (uint64_t) (-10000.0 * log(1.0 - u)));
    }
    bench_hist_snapshot(&hist2, &snap2);
    /* sampling noise at 2M samples is well under the 1.6% bucket error
     * for these quantiles; allow both */
    {
        const double qs[] = {0.5, 0.9, 0.99};

        for (int i = 0; i < 3; i++) {
            double   want = -10000.0 * log(1.0 - qs[i]);
            uint64_t got  = bench_hist_percentile(&snap2, qs[i] * 100);

            test_assert_msg(fabs((double) got - want) <= want * 0.03,
                            "exponential q%.2f: got %llu want %.0f", qs[i],
                            (unsigned long long) got, want);
        }
    }

    /* Bimodal: 99% at 100 us, 1% at 10 ms; p99 is the fast mode, p99.9 the
     * slow one. */
    bench_hist_init(&hist);
    for (int i = 0; i < 99000; i++) {
        bench_hist_record(&hist, 100000);
    }
    for (int i = 0; i < 1000; i++) {
        bench_hist_record(&hist, 10000000);
    }
    bench_hist_snapshot(&hist, &snap);
    expect_close(bench_hist_percentile(&snap, 50), 100000, "bimodal p50");
    expect_close(bench_hist_percentile(&snap, 99), 100000, "bimodal p99");
    expect_close(bench_hist_percentile(&snap, 99.9), 10000000, "bimodal p99.9");
    test_assert_eq(snap.max, 10000000);

    /* Merge = the histogram of all samples together. */
    bench_hist_snapshot_clear(&merged);
    bench_hist_snapshot_merge(&merged, &snap);
    bench_hist_snapshot_merge(&merged, &snap2);
    test_assert_eq(merged.count, snap.count + snap2.count);
    test_assert_eq(merged.min, snap2.min < snap.min ? snap2.min : snap.min);
    test_assert_eq(merged.max, 10000000 > snap2.max ? 10000000 : snap2.max);

    /* Interval difference: later - earlier holds only the new samples. */
    bench_hist_snapshot(&hist, &snap);
    for (int i = 0; i < 500; i++) {
        bench_hist_record(&hist, 5000);
    }
    bench_hist_snapshot(&hist, &snap2);
    bench_hist_snapshot_diff(&diff, &snap2, &snap);
    test_assert_eq(diff.count, 500);
    expect_close(bench_hist_percentile(&diff, 50), 5000, "interval p50");
    expect_close(bench_hist_percentile(&diff, 99), 5000, "interval p99");
    return 0;
}
