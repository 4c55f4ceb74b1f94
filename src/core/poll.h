/* Loop-internal poll entry points (src/core/poll.c). */
#pragma once

#include <stdint.h>

struct evpl;

void evpl_polls_call(struct evpl *evpl);
void evpl_poll_mode_update(struct evpl *evpl, uint64_t now);
void evpl_polls_cleanup(struct evpl *evpl);
