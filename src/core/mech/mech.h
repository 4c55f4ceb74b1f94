/*
 * The core wait mechanisms (epoll, select).  Each lives in its own file
 * behind these few functions; the loop never knows which one it talks to.
 *
 * A mechanism reports readiness by calling evpl_event_mark_readable /
 * _writable / _error on the events it watches; the loop does the rest.
 */
#pragma once

#include <stdint.h>

struct evpl;
struct evpl_event;

struct evpl_mech_ops {
    const char *name;
    /* Create the per-loop state; NULL with errno set on failure. */
    void *(*create)(struct evpl *evpl);
    void (*destroy)(void *mech);
    /* Start watching event->fd.  Returns 0 or a negative errno. */
    int (*add)(void *mech, struct evpl_event *event);
    /* Interest or latched flags changed (level-triggered mechanisms care). */
    void (*update)(void *mech, struct evpl_event *event);
    void (*remove)(void *mech, struct evpl_event *event);
    /*
     * Wait up to timeout_ns (-1: forever, 0: poll) and latch what became
     * ready.  Returns the number of events reported (0 on timeout/EINTR).
     */
    int (*wait)(void *mech, struct evpl *evpl, int64_t timeout_ns);
};

extern const struct evpl_mech_ops evpl_mech_epoll;
extern const struct evpl_mech_ops evpl_mech_select;
