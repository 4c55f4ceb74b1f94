/*
 * Caller-owned descriptor events: thin wrappers over the internal latched
 * events (event.c), which implement the whole readiness contract.
 */
#include <errno.h>

#include "core/fd_event.h"
#include "core/loop.h"

_Static_assert(sizeof(struct evpl_fd_event) <= 80, "fd event state exceeds its public size");

static void
fd_event_on_read(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_fd_event *fe = (struct evpl_fd_event *) event;

    fe->read_callback(evpl, fe);
}

static void
fd_event_on_write(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_fd_event *fe = (struct evpl_fd_event *) event;

    fe->write_callback(evpl, fe);
}

static void
fd_event_on_error(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_fd_event *fe = (struct evpl_fd_event *) event;

    fe->error_callback(evpl, fe);
}

void
evpl_add_fd_event(struct evpl *evpl, struct evpl_fd_event *event, int fd,
                  evpl_fd_event_callback_t read_callback, evpl_fd_event_callback_t write_callback,
                  evpl_fd_event_callback_t error_callback)
{
    evpl_core_abort_if(fd < 0, "evpl_add_fd_event: invalid descriptor %d", fd);

    event->read_callback        = read_callback;
    event->write_callback       = write_callback;
    event->error_callback       = error_callback;
    event->event.fd             = fd;
    event->event.read_callback  = fd_event_on_read;
    event->event.write_callback = fd_event_on_write;
    event->event.error_callback = error_callback ? fd_event_on_error : NULL;

    int rc = evpl_event_add(evpl, &event->event);

    evpl_core_abort_if(rc < 0, "cannot register descriptor %d: errno %d", fd, -rc);
}

void
evpl_remove_fd_event(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_event_remove(evpl, &event->event);
}

int
evpl_fd_event_fd(struct evpl_fd_event *event)
{
    return event->event.fd;
}

void
evpl_fd_event_read_interest(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_core_abort_if(!event->read_callback, "read interest armed without a read callback");
    evpl_event_read_interest(evpl, &event->event);
}

void
evpl_fd_event_read_disinterest(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_event_read_disinterest(evpl, &event->event);
}

void
evpl_fd_event_write_interest(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_core_abort_if(!event->write_callback, "write interest armed without a write callback");
    evpl_event_write_interest(evpl, &event->event);
}

void
evpl_fd_event_write_disinterest(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_event_write_disinterest(evpl, &event->event);
}

void
evpl_fd_event_mark_readable(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_event_mark_readable(evpl, &event->event);
}

void
evpl_fd_event_mark_unreadable(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_event_mark_unreadable(evpl, &event->event);
}

void
evpl_fd_event_mark_unwritable(struct evpl *evpl, struct evpl_fd_event *event)
{
    evpl_event_mark_unwritable(evpl, &event->event);
}
