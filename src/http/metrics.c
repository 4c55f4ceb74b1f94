/*
 * HTTP metrics in evpl_metrics_scrape() output, one sample set per agent
 * (label agent="N"):
 *   evpl_http_requests_total{side,outcome}       requests that ended
 *   evpl_http_refusals_total                     requests refused by the server
 *   evpl_http_request_duration_nanoseconds{side} start to terminal notification
 *     (server: first byte of the request to RESPONSE_COMPLETE; client:
 *     dispatch to RECEIVE_COMPLETE)
 * The counters are relaxed atomics: the agent's loop writes them, a scrape
 * from any thread reads them.
 */
#include <stdio.h>

#include "http_internal.h"
#include "core/metrics.h"

static atomic_uint http_agent_ids;

static const char *const side_name[2] = {"server", "client"};

static void
write_requests(struct evpl_metrics_writer *w, void *private_data)
{
    struct evpl_http_agent *agent = private_data;
    char                    labels[96];

    for (int side = 0; side < 2; side++) {
        snprintf(labels, sizeof(labels), "agent=\"%u\",side=\"%s\",outcome=\"complete\"", agent->id,
                 side_name[side]);
        evpl_metrics_sample(w, "evpl_http_requests_total", labels,
                            atomic_load_explicit(&agent->completed[side], memory_order_relaxed));
        snprintf(labels, sizeof(labels), "agent=\"%u\",side=\"%s\",outcome=\"failed\"", agent->id,
                 side_name[side]);
        evpl_metrics_sample(w, "evpl_http_requests_total", labels,
                            atomic_load_explicit(&agent->failed[side], memory_order_relaxed));
    }
}

static void
write_refusals(struct evpl_metrics_writer *w, void *private_data)
{
    struct evpl_http_agent *agent = private_data;
    char                    labels[32];

    snprintf(labels, sizeof(labels), "agent=\"%u\"", agent->id);
    evpl_metrics_sample(w, "evpl_http_refusals_total", labels,
                        atomic_load_explicit(&agent->refused, memory_order_relaxed));
}

static void
write_latency(struct evpl_metrics_writer *w, void *private_data)
{
    struct evpl_http_agent *agent = private_data;
    uint64_t                bounds[HTTP_LAT_BUCKETS], counts[HTTP_LAT_BUCKETS], bound = 10000;
    char                    labels[64];

    for (int b = 0; b < HTTP_LAT_BUCKETS; b++, bound *= 10) {
        bounds[b] = bound;
    }
    for (int side = 0; side < 2; side++) {
        for (int b = 0; b < HTTP_LAT_BUCKETS; b++) {
            counts[b] = atomic_load_explicit(&agent->lat_count[side][b], memory_order_relaxed);
        }
        snprintf(labels, sizeof(labels), "agent=\"%u\",side=\"%s\"", agent->id, side_name[side]);
        evpl_metrics_histogram(w, "evpl_http_request_duration_nanoseconds", labels, bounds, counts,
                               HTTP_LAT_BUCKETS,
                               atomic_load_explicit(&agent->lat_sum[side], memory_order_relaxed),
                               atomic_load_explicit(&agent->completed[side], memory_order_relaxed));
    }
}

void
http_metrics_attach(struct evpl_http_agent *agent)
{
    agent->id = atomic_fetch_add(&http_agent_ids, 1);
    evpl_metrics_family_declare("evpl_http_requests_total", EVPL_METRICS_COUNTER,
                                "HTTP requests that ended, by side and outcome");
    evpl_metrics_family_declare("evpl_http_refusals_total", EVPL_METRICS_COUNTER,
                                "HTTP requests the server refused as malformed or too large");
    evpl_metrics_family_declare("evpl_http_request_duration_nanoseconds", EVPL_METRICS_HISTOGRAM,
                                "HTTP request duration, start to terminal notification");
    evpl_metrics_register_samples("evpl_http_requests_total", write_requests, agent);
    evpl_metrics_register_samples("evpl_http_refusals_total", write_refusals, agent);
    evpl_metrics_register_samples("evpl_http_request_duration_nanoseconds", write_latency, agent);
}

void
http_metrics_detach(struct evpl_http_agent *agent)
{
    evpl_metrics_unregister(write_requests, agent);
    evpl_metrics_unregister(write_refusals, agent);
    evpl_metrics_unregister(write_latency, agent);
}
