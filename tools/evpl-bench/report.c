/*
 * Output formats (see report.h).  Units: ops/s, Gbit/s of payload in one
 * direction (pingpong counts the request bytes only), latencies in
 * microseconds for people and nanoseconds in JSON.
 */
#include <string.h>

#include "report.h"

static const double pcts[]      = {50, 90, 99, 99.9};
static const char  *pct_names[] = {"p50", "p90", "p99", "p99.9"};
#define NPCTS (sizeof(pcts) / sizeof(pcts[0]))

void
bench_report_progress(FILE *out, double t_s, int warmup, double ops_s, double gbit_s,
                      uint64_t p50_ns, uint64_t p99_ns)
{
    fprintf(out, "\r%6.1fs %-7s %12.0f ops/s %8.3f Gbit/s  p50 %9.1f us  p99 %9.1f us ", t_s,
            warmup ? "warmup" : "", ops_s, gbit_s, p50_ns / 1e3, p99_ns / 1e3);
    fflush(out);
}

static double
rate(uint64_t n, uint64_t ns)
{
    return ns ? (double) n * 1e9 / (double) ns : 0.0;
}

static void
print_cpu(FILE *out, const char *side, const struct bench_cpu *cpu, uint64_t elapsed_ns,
          const char *note)
{
    if (!cpu->valid) {
        fprintf(out, "  cpu %-7s n/a (%s)\n", side, note ? note : "not measured");
        return;
    }
    fprintf(out, "  cpu %-7s %7.3f s (user %.3f, sys %.3f) = %5.1f%% of one core\n", side,
            (cpu->user_ns + cpu->sys_ns) / 1e9, cpu->user_ns / 1e9, cpu->sys_ns / 1e9,
            elapsed_ns ? 100.0 * (double) (cpu->user_ns + cpu->sys_ns) / (double) elapsed_ns : 0.0);
}

static const char *
subject(const struct bench_options *opt)
{
    return opt->workload == BENCH_WORKLOAD_BLOCK ? opt->backend : opt->protocol;
}

void
bench_report_summary(FILE *out, const struct bench_result *r)
{
    const struct bench_options *opt = r->opt;

    fprintf(out, "%s %s %s size=%llu depth=%u", r->impl, bench_workload_name(opt->workload),
            subject(opt), (unsigned long long) opt->size, opt->depth);
    if (opt->workload == BENCH_WORKLOAD_BLOCK) {
        fprintf(out, " rw=%s threads=%u", bench_rw_name(opt->rw), opt->client_threads);
    } else {
        fprintf(out, " flows=%u client-threads=%u server-threads=%u", opt->flows,
                opt->client_threads, opt->server_threads);
    }
    fprintf(out, " duration=%.2fs\n", r->elapsed_ns / 1e9);
    fprintf(out, "  throughput  %.0f ops/s  %.3f Gbit/s  (%llu ops, %llu bytes",
            rate(r->ops, r->elapsed_ns), rate(r->bytes, r->elapsed_ns) * 8 / 1e9,
            (unsigned long long) r->ops, (unsigned long long) r->bytes);
    if (r->lost) {
        fprintf(out, ", %llu lost", (unsigned long long) r->lost);
    }
    fprintf(out, ")\n");
    fprintf(out, "  latency us  min %.1f", r->hist->count ? r->hist->min / 1e3 : 0.0);
    for (size_t i = 0; i < NPCTS; i++) {
        fprintf(out, "  %s %.1f", pct_names[i], bench_hist_percentile(r->hist, pcts[i]) / 1e3);
    }
    fprintf(out, "  max %.1f\n", r->hist->max / 1e3);
    print_cpu(out, "client", &r->client_cpu, r->elapsed_ns, NULL);
    if (opt->workload != BENCH_WORKLOAD_BLOCK) {
        print_cpu(out, "server", &r->server_cpu, r->elapsed_ns, r->server_cpu_note);
    }
}

static void
json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fprintf(out, "\\%c", *s);
        } else if ((unsigned char) *s < 0x20) {
            fprintf(out, "\\u%04x", (unsigned char) *s);
        } else {
            fputc(*s, out);
        }
    }
    fputc('"', out);
}

static void
json_cpu(FILE *out, const char *name, const struct bench_cpu *cpu)
{
    fprintf(out, "\"%s\":", name);
    if (!cpu->valid) {
        fprintf(out, "null");
    } else {
        fprintf(out, "{\"user_s\":%.6f,\"sys_s\":%.6f,\"total_s\":%.6f}", cpu->user_ns / 1e9,
                cpu->sys_ns / 1e9, (cpu->user_ns + cpu->sys_ns) / 1e9);
    }
}

void
bench_report_json(FILE *out, const struct bench_result *r)
{
    const struct bench_options *opt = r->opt;

    fprintf(out, "{\"tool\":\"evpl-bench\",\"impl\":");
    json_string(out, r->impl);
    fprintf(out, ",\"workload\":\"%s\",\"protocol\":", bench_workload_name(opt->workload));
    json_string(out, subject(opt));
    fprintf(out,
            ",\"size\":%llu,\"depth\":%u,\"flows\":%u,\"client_threads\":%u,"
            "\"server_threads\":%u,\"framing\":\"%s\",",
            (unsigned long long) opt->size, opt->depth, opt->flows, opt->client_threads,
            opt->server_threads, opt->framing == BENCH_FRAMING_MSG ? "msg" : "data");
    if (opt->workload == BENCH_WORKLOAD_BLOCK) {
        fprintf(out, "\"rw\":\"%s\",", bench_rw_name(opt->rw));
    }
    fprintf(out,
            "\"duration_s\":%.6f,\"ops\":%llu,\"bytes\":%llu,\"lost\":%llu,"
            "\"ops_per_sec\":%.1f,\"gbit_per_sec\":%.6f,",
            r->elapsed_ns / 1e9, (unsigned long long) r->ops, (unsigned long long) r->bytes,
            (unsigned long long) r->lost, rate(r->ops, r->elapsed_ns),
            rate(r->bytes, r->elapsed_ns) * 8 / 1e9);
    fprintf(out, "\"latency_ns\":{\"count\":%llu,\"min\":%llu,",
            (unsigned long long) r->hist->count,
            (unsigned long long) (r->hist->count ? r->hist->min : 0));
    for (size_t i = 0; i < NPCTS; i++) {
        fprintf(out, "\"%s\":%llu,", pct_names[i],
                (unsigned long long) bench_hist_percentile(r->hist, pcts[i]));
    }
    fprintf(out, "\"max\":%llu,\"mean\":%.1f},\"cpu\":{", (unsigned long long) r->hist->max,
            r->hist->count ? (double) r->hist->sum / (double) r->hist->count : 0.0);
    json_cpu(out, "client", &r->client_cpu);
    fputc(',', out);
    json_cpu(out, "server", &r->server_cpu);
    fprintf(out, "}}\n");
    fflush(out);
}

void
bench_report_server(FILE *out, const char *impl, const struct bench_options *opt, double elapsed_s,
                    const struct bench_cpu *cpu, int json)
{
    if (json) {
        fprintf(out, "{\"tool\":\"evpl-bench\",\"impl\":");
        json_string(out, impl);
        fprintf(out, ",\"role\":\"server\",\"protocol\":");
        json_string(out, opt->protocol);
        fprintf(out, ",\"elapsed_s\":%.3f,\"cpu\":{", elapsed_s);
        json_cpu(out, "server", cpu);
        fprintf(out, "}}\n");
    } else {
        fprintf(out, "%s server %s: ran %.1f s, cpu %.3f s (user %.3f, sys %.3f)\n", impl,
                opt->protocol, elapsed_s, (cpu->user_ns + cpu->sys_ns) / 1e9, cpu->user_ns / 1e9,
                cpu->sys_ns / 1e9);
    }
    fflush(out);
}
