/*
 * Printing figures: the live progress line, the human summary and the
 * --json document.  Every implementation prints through these, so their
 * outputs compare field for field.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "histogram.h"
#include "options.h"

struct bench_cpu {
    int      valid;
    uint64_t user_ns;
    uint64_t sys_ns;
};

struct bench_result {
    const char                 *impl;
    const struct bench_options *opt;
    uint64_t                    elapsed_ns; /* measured window */
    uint64_t                    ops;
    uint64_t                    bytes;
    uint64_t                    lost;
    struct bench_hist_snapshot *hist;
    struct bench_cpu            client_cpu;
    struct bench_cpu            server_cpu;      /* valid only when measured */
    const char                 *server_cpu_note; /* why it is missing */
};

/* One progress line (carriage return, no newline) on `out`. */
void bench_report_progress(FILE *out, double t_s, int warmup, double ops_s, double gbit_s,
                           uint64_t p50_ns, uint64_t p99_ns);

void bench_report_summary(FILE *out, const struct bench_result *r);
void bench_report_json(FILE *out, const struct bench_result *r);

/* What a standalone server prints when it stops. */
void bench_report_server(FILE *out, const char *impl, const struct bench_options *opt,
                         double elapsed_s, const struct bench_cpu *cpu, int json);
