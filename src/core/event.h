/*
 * Internal readiness events: the unit the core wait mechanism reports on.
 * Sockets, doorbells and caller fd events all embed one.
 *
 * Readiness is latched: the mechanism sets READABLE/WRITABLE (and ERROR); an
 * event whose latched flag matches an armed interest is "ready" and sits on
 * the loop's active list, dispatched once per pass until its owner clears the
 * flag (evpl_event_mark_unreadable/unwritable).  See evpl_fd_event.h for the
 * public statement of the contract.
 */
#pragma once

#include <stdint.h>

struct evpl;
struct evpl_event;

typedef void (*evpl_event_callback_t)(struct evpl *evpl, struct evpl_event *event);

#define EVPL_EVENT_READABLE       0x01u
#define EVPL_EVENT_WRITABLE       0x02u
#define EVPL_EVENT_READ_INTEREST  0x04u
#define EVPL_EVENT_WRITE_INTEREST 0x08u
#define EVPL_EVENT_ERROR          0x10u
#define EVPL_EVENT_REGISTERED     0x20u
#define EVPL_EVENT_HUP            0x40u /* peer hang-up / end of stream seen (epoll) */
#define EVPL_EVENT_TRAFFIC        0x80u /* readiness is traffic: keeps the loop spinning */

struct evpl_event {
    int                   fd;
    unsigned int          flags;
    int                   active_index; /* slot on the loop's active list, -1 if none */
    int                   mech_index;   /* private to the wait mechanism */
    evpl_event_callback_t read_callback;
    evpl_event_callback_t write_callback;
    evpl_event_callback_t error_callback;
};

/* Register ev->fd (callbacks set by the caller) with the loop's mechanism.
 * Returns 0 or a negative errno. */
int evpl_event_add(struct evpl *evpl, struct evpl_event *event);
/*
 * Register a transport's data descriptor (a connection or datagram socket).
 * Its readiness counts as loop activity, and while such events exist the
 * loop has a poll of its own, so the hybrid mode of contract 11.2 spins on
 * the wait mechanism under load and sleeps when traffic stops (traffic.c).
 */
int evpl_event_add_traffic(struct evpl *evpl, struct evpl_event *event);
/* Unregister; safe during dispatch; the event is never touched again. */
void evpl_event_remove(struct evpl *evpl, struct evpl_event *event);

void evpl_event_read_interest(struct evpl *evpl, struct evpl_event *event);
void evpl_event_read_disinterest(struct evpl *evpl, struct evpl_event *event);
void evpl_event_write_interest(struct evpl *evpl, struct evpl_event *event);
void evpl_event_write_disinterest(struct evpl *evpl, struct evpl_event *event);
void evpl_event_mark_readable(struct evpl *evpl, struct evpl_event *event);
void evpl_event_mark_unreadable(struct evpl *evpl, struct evpl_event *event);
void evpl_event_mark_writable(struct evpl *evpl, struct evpl_event *event);
void evpl_event_mark_unwritable(struct evpl *evpl, struct evpl_event *event);
void evpl_event_mark_error(struct evpl *evpl, struct evpl_event *event);
void evpl_event_mark_hup(struct evpl *evpl, struct evpl_event *event);

/*
 * A read returned fewer bytes than asked for: may the descriptor be treated
 * as drained (mark it unreadable) without another read() that would only
 * return EAGAIN?  Yes, unless a hang-up was latched: then the end of stream
 * may already be queued behind the data and would never be reported again
 * under edge-triggered epoll, so read on until read() returns 0 or EAGAIN.
 * Level-triggered select never latches HUP and reports what is left anyway.
 */
static inline int
evpl_event_short_read_drained(const struct evpl_event *event)
{
    return !(event->flags & EVPL_EVENT_HUP);
}
