/*
 * Caller-owned file descriptor events with latched readiness.
 *
 * The loop latches "readable"/"writable" per event when the mechanism reports
 * readiness.  An event with a latched flag and the matching interest armed is
 * ready and its callback runs on every pass (the loop does not sleep) until
 * the application clears the flag with evpl_fd_event_mark_unreadable() /
 * evpl_fd_event_mark_unwritable() -- normally after reading or writing until
 * EAGAIN.  Readiness is latched while interest is disarmed and delivered when
 * interest is armed again.  The library never closes the descriptor.
 *
 * epoll is edge-triggered: after mark_unreadable with data still pending the
 * event stays quiet until new data arrives (use mark_readable to restart).
 * select is level-triggered and reports pending data again by itself.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_fd_event.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_fd_event;

#ifndef EVPL_INTERNAL
/* Caller-allocated; exactly 80 bytes. */
struct evpl_fd_event {
    uint64_t opaque[10];
};
#endif

typedef void (*evpl_fd_event_callback_t)(struct evpl *evpl, struct evpl_fd_event *event);

/*
 * Register non-blocking descriptor fd (0 is accepted) with the loop.  Nothing
 * is armed: no callback runs until interest is declared.  Any callback may be
 * NULL.  Owning thread only; aborts if the mechanism refuses the descriptor.
 */
void evpl_add_fd_event(struct evpl *evpl, struct evpl_fd_event *event, int fd,
                       evpl_fd_event_callback_t read_callback,
                       evpl_fd_event_callback_t write_callback,
                       evpl_fd_event_callback_t error_callback);

/*
 * Unregister the event.  Legal from any callback (its own included); on
 * return the storage may be freed and its callbacks never run again.
 */
void evpl_remove_fd_event(struct evpl *evpl, struct evpl_fd_event *event);

/* The registered descriptor. */
int evpl_fd_event_fd(struct evpl_fd_event *event);

/* Arm / disarm delivery of read readiness (arming a NULL callback aborts). */
void evpl_fd_event_read_interest(struct evpl *evpl, struct evpl_fd_event *event);
void evpl_fd_event_read_disinterest(struct evpl *evpl, struct evpl_fd_event *event);

/* Arm / disarm delivery of write readiness (arming a NULL callback aborts). */
void evpl_fd_event_write_interest(struct evpl *evpl, struct evpl_fd_event *event);
void evpl_fd_event_write_disinterest(struct evpl *evpl, struct evpl_fd_event *event);

/* Latch "readable" without a kernel report (restart a paused consumer). */
void evpl_fd_event_mark_readable(struct evpl *evpl, struct evpl_fd_event *event);
/* Clear the latched readable / writable flag. */
void evpl_fd_event_mark_unreadable(struct evpl *evpl, struct evpl_fd_event *event);
void evpl_fd_event_mark_unwritable(struct evpl *evpl, struct evpl_fd_event *event);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
