/*
 * Doorbells: one eventfd per doorbell, registered with the loop like any
 * descriptor.  The counter is drained before the callback runs, so a ring
 * that lands while the callback is running produces another callback.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/doorbell.h"
#include "core/loop.h"

_Static_assert(sizeof(struct evpl_doorbell) <= 64, "doorbell state exceeds its public size");

static void
doorbell_read_callback(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_doorbell *doorbell = (struct evpl_doorbell *) event;
    uint64_t              value;
    ssize_t               rc = read(event->fd, &value, sizeof(value));

    evpl_event_mark_unreadable(evpl, event);
    if (rc == sizeof(value)) {
        /* Last use of the doorbell here: the callback may remove it. */
        doorbell->callback(evpl, doorbell);
    }
}

void
evpl_add_doorbell(struct evpl *evpl, struct evpl_doorbell *doorbell,
                  evpl_doorbell_callback_t callback)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    evpl_core_abort_if(fd < 0, "eventfd failed: errno %d", errno);

    doorbell->event.fd             = fd;
    doorbell->event.read_callback  = doorbell_read_callback;
    doorbell->event.write_callback = NULL;
    doorbell->event.error_callback = NULL;
    doorbell->callback             = callback;

    int rc = evpl_event_add(evpl, &doorbell->event);

    evpl_core_abort_if(rc < 0, "cannot register doorbell: errno %d", -rc);
    evpl_event_read_interest(evpl, &doorbell->event);
}

void
evpl_ring_doorbell(struct evpl_doorbell *doorbell)
{
    uint64_t one = 1;
    ssize_t  rc;

    do {
        rc = write(doorbell->event.fd, &one, sizeof(one));
    } while (rc < 0 && errno == EINTR);
    /* EAGAIN means the counter is saturated: the loop is certainly woken. */
    evpl_core_abort_if(rc < 0 && errno != EAGAIN, "doorbell ring failed: errno %d", errno);
}

void
evpl_remove_doorbell(struct evpl *evpl, struct evpl_doorbell *doorbell)
{
    evpl_event_remove(evpl, &doorbell->event);
    close(doorbell->event.fd);
    doorbell->event.fd = -1;
}

int
evpl_doorbell_fd(struct evpl_doorbell *doorbell)
{
    return doorbell->event.fd;
}
