/* Loop-internal deferral entry points (src/core/deferral.c). */
#pragma once

struct evpl;

int  evpl_deferrals_pending(struct evpl *evpl);
void evpl_deferrals_run(struct evpl *evpl);
void evpl_deferrals_cleanup(struct evpl *evpl);
