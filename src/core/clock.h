/*
 * Loop clock helpers (src/core/clock.c): the high-frequency monotonic clock
 * (evpl_get_hf_monotonic_time), the process-wide virtual clock, and the loop
 * clock (evpl_loop_clock_ns, declared in core/loop.h) that reads whichever
 * of the two is in force.
 */
#pragma once

#include <stdint.h>

struct evpl_global_config;

/*
 * Called once by evpl_init() before the library is published: resolves
 * hf_time_mode 2 (auto) to 0 or 1 in config, anchors the TSC calibration,
 * and switches the process onto the virtual clock when config asks for it.
 */
void evpl_clock_init(struct evpl_global_config *config);

/* CLOCK_MONOTONIC in ns, whatever clock the loops run on: for bounds on
 * real time spent (spinning), which the virtual clock must not stretch. */
uint64_t evpl_monotonic_ns(void);

/* Non-zero when the process runs on the virtual clock.  Thread-safe. */
int evpl_virtual_clock_enabled(void);
