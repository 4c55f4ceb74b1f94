/*
 * The block workload of evpl-bench: random reads and/or writes of --size
 * bytes at queue depth --depth per client thread, through the block API
 * (contract section 14), one queue per thread on one shared device.
 */
#pragma once

#include <stddef.h>

#include "driver.h"

/* Open (creating if needed) the file and the device.  -1 with a message on
 * error, -2 when the backend is unavailable. */
int evpl_bench_block_prepare(struct bench_options *opt, char *err, size_t errlen);

int evpl_bench_block_run(struct bench_worker *w);
