/* Loop-internal timer entry points (src/core/timer.c). */
#pragma once

#include <stdint.h>

struct evpl;

/* Pass step 1: fire every timer due at `now`, earliest first. */
void evpl_timers_fire(struct evpl *evpl, uint64_t now);
/* ns until the earliest deadline (0 if due), -1 when no timer is armed. */
int64_t evpl_timers_next_ns(struct evpl *evpl, uint64_t now);
void    evpl_timers_cleanup(struct evpl *evpl);
