/*
 * Metrics exporter internals: how modules contribute to
 * evpl_metrics_scrape() (Prometheus text exposition format 0.0.4).
 *
 * Prometheus requires every sample of a family to follow that family's one
 * HELP/TYPE pair, so contributions come in two kinds:
 *
 *   - sample writers, attached to a named family (built in, or declared
 *     with evpl_metrics_family_declare()), emit only sample lines; any number
 *     of them (one per block device, per RPC2 thread, ...) may feed one
 *     family, and the scrape prints the family header once before them;
 *   - family writers (evpl_metrics_register) emit whole families of their own,
 *     header included, after all declared families.
 *
 * Writers run under the registry lock, on the scraping thread: they must be
 * thread-safe with respect to the state they read, must not block, and must
 * not register or unregister writers.  Every output helper is bounded: once
 * the buffer is full the writer is marked overflowed, further output is
 * discarded, and the scrape returns -1.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct evpl_metrics_writer;

/* Exported (not in a public header) for the protocol modules built as
 * libraries of their own on top of libevpl (src/rpc2/). */
#pragma GCC visibility push(default)

typedef void (*evpl_metrics_fn)(struct evpl_metrics_writer *w, void *private_data);

/* Metric types, as written on the TYPE line. */
#define EVPL_METRICS_COUNTER   "counter"
#define EVPL_METRICS_GAUGE     "gauge"
#define EVPL_METRICS_HISTOGRAM "histogram"

/*
 * Declare a family so that sample writers can be attached to it.  name and
 * help must be static strings (they are not copied).  Declaring a family that
 * exists with the same type is a no-op.  Returns 0, or -1 when the name is
 * taken with another type or the table is full.  Built in (always present):
 * evpl_block_latency_nanoseconds, evpl_block_request_bytes (histograms),
 * evpl_block_queue_depth and evpl_rpc2_queue_depth (gauges).
 */
int evpl_metrics_family_declare(const char *name, const char *type, const char *help);

/* Attach a sample writer to a declared family.  Returns 0 or -1 (unknown
 * family, out of memory). */
int evpl_metrics_register_samples(const char *family, evpl_metrics_fn fn, void *private_data);

/* Register a writer that emits complete families (HELP/TYPE and samples).
 * Returns 0 or -1 (out of memory). */
int evpl_metrics_register(evpl_metrics_fn fn, void *private_data);

/* Remove every registration (either kind) of (fn, private_data).  Once it
 * returns, fn is not running and will not be called again. */
void evpl_metrics_unregister(evpl_metrics_fn fn, void *private_data);

/* --- output helpers for writers --- */

/* printf-style raw output. */
void evpl_metrics_printf(struct evpl_metrics_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP name help" and "# TYPE name type" (for family writers). */
void evpl_metrics_family(struct evpl_metrics_writer *w, const char *name, const char *type,
                         const char *help);

/*
 * One sample line: "name{labels} value".  labels is the text between the
 * braces, e.g. device="nvme0",type="io_uring", or NULL/"" for none; label
 * values must already be escaped (evpl_metrics_escape_label).
 */
void evpl_metrics_sample(struct evpl_metrics_writer *w, const char *name, const char *labels,
                         uint64_t value);

/*
 * A histogram's series: name_bucket{labels,le="bounds[i]"} for each of the
 * nbuckets ascending bounds, then le="+Inf" (= count), name_sum and
 * name_count.  counts[i] is the number of observations in bucket i alone
 * (bounds[i-1] < v <= bounds[i]); the helper emits the cumulative values the
 * format requires.
 */
void evpl_metrics_histogram(struct evpl_metrics_writer *w, const char *name, const char *labels,
                            const uint64_t *bounds, const uint64_t *counts, int nbuckets,
                            uint64_t sum, uint64_t count);

/* Copy src into dst (dst_size bytes, NUL-terminated, truncated if needed)
 * escaping backslash, double quote and newline as a label value requires. */
void evpl_metrics_escape_label(char *dst, size_t dst_size, const char *src);

#pragma GCC visibility pop
