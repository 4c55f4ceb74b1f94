/*
 * Internal interface between the parts of evpl-bench that use libevpl
 * (evpl_bench.c for the network workloads, block.c for block I/O).
 */
#pragma once

/* While on, the library's error messages are kept rather than printed. */
void evpl_bench_log_capture(int on);
/* The last message kept ("no reason given" when none). */
const char *evpl_bench_log_last(void);
