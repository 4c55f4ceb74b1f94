/*
 * epoll wait mechanism.  Descriptors are registered edge-triggered.  Input
 * is always watched, so read readiness is latched even while read interest
 * is disarmed; output is watched only while write interest is armed, because
 * an always-registered EPOLLOUT makes every read of an eventfd and every ACK
 * on a socket wake a sleeping loop for nothing.  Arming write interest costs
 * one EPOLL_CTL_MOD, which also re-reports current writability, so
 * latched-while-disarmed write readiness is still delivered on re-arm.
 * event->mech_index holds the mask currently registered.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/event.h"
#include "core/log.h"
#include "core/mech/mech.h"

#define EPOLL_BATCH 256

struct evpl_epoll {
    int                epfd;
    int                have_pwait2;
    struct epoll_event events[EPOLL_BATCH];
};

static void *
epoll_mech_create(struct evpl *evpl)
{
    struct evpl_epoll *ep = calloc(1, sizeof(*ep));

    (void) evpl;
    if (!ep) {
        return NULL;
    }
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ep->epfd < 0) {
        free(ep);
        return NULL;
    }
    ep->have_pwait2 = 1;
    return ep;
}

static void
epoll_mech_destroy(void *mech)
{
    struct evpl_epoll *ep = mech;

    close(ep->epfd);
    free(ep);
}

static inline uint32_t
epoll_mask(const struct evpl_event *event)
{
    uint32_t mask = EPOLLIN | EPOLLRDHUP | EPOLLET;

    if (event->flags & EVPL_EVENT_WRITE_INTEREST) {
        mask |= EPOLLOUT;
    }
    return mask;
}

static int
epoll_mech_add(void *mech, struct evpl_event *event)
{
    struct evpl_epoll *ep = mech;
    struct epoll_event ev = {
        .events   = epoll_mask(event),
        .data.ptr = event,
    };

    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, event->fd, &ev) < 0) {
        return -errno;
    }
    event->mech_index = (int) ev.events;
    return 0;
}

static void
epoll_mech_update(void *mech, struct evpl_event *event)
{
    struct evpl_epoll *ep   = mech;
    uint32_t           mask = epoll_mask(event);

    if (mask == (uint32_t) event->mech_index) {
        return;
    }

    struct epoll_event ev = {
        .events   = mask,
        .data.ptr = event,
    };

    evpl_abort_if(epoll_ctl(ep->epfd, EPOLL_CTL_MOD, event->fd, &ev) < 0, "core",
                  "epoll_ctl(MOD) failed on descriptor %d: errno %d", event->fd, errno);
    event->mech_index = (int) mask;
}

static void
epoll_mech_remove(void *mech, struct evpl_event *event)
{
    struct evpl_epoll *ep = mech;

    /* The descriptor may already be closed by its owner: ignore errors. */
    epoll_ctl(ep->epfd, EPOLL_CTL_DEL, event->fd, NULL);
}

/* epoll_pwait2 (Linux 5.11) takes a timespec, so timer deadlines are met
 * to the nanosecond instead of being rounded to milliseconds. */
static int
epoll_mech_syscall(struct evpl_epoll *ep, int64_t timeout_ns)
{
#ifdef SYS_epoll_pwait2
    if (ep->have_pwait2 && timeout_ns > 0) {
        struct timespec ts = {
            .tv_sec  = timeout_ns / 1000000000,
            .tv_nsec = timeout_ns % 1000000000,
        };
        int n = syscall(SYS_epoll_pwait2, ep->epfd, ep->events, EPOLL_BATCH, &ts, NULL, 0);

        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        ep->have_pwait2 = 0;
    }
#endif
    int ms;

    if (timeout_ns < 0) {
        ms = -1;
    } else {
        /* Round up: waking early would spin until the deadline. */
        int64_t r = (timeout_ns + 999999) / 1000000;
        ms        = r > 0x7fffffff ? 0x7fffffff : (int) r;
    }
    return epoll_wait(ep->epfd, ep->events, EPOLL_BATCH, ms);
}

static int
epoll_mech_wait(void *mech, struct evpl *evpl, int64_t timeout_ns)
{
    struct evpl_epoll *ep = mech;
    int                n  = epoll_mech_syscall(ep, timeout_ns);

    if (n < 0) {
        evpl_abort_if(errno != EINTR, "core", "epoll_wait failed: errno %d", errno);
        return 0;
    }

    for (int i = 0; i < n; i++) {
        struct evpl_event *event = ep->events[i].data.ptr;
        uint32_t           flags = ep->events[i].events;

        if (flags & (EPOLLRDHUP | EPOLLHUP)) {
            evpl_event_mark_hup(evpl, event);
        }
        if (flags & (EPOLLERR | EPOLLHUP)) {
            evpl_event_mark_error(evpl, event);
        }
        if (flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            evpl_event_mark_readable(evpl, event);
        }
        if (flags & (EPOLLOUT | EPOLLERR)) {
            evpl_event_mark_writable(evpl, event);
        }
    }
    return n;
}

const struct evpl_mech_ops evpl_mech_epoll = {
    .name    = "epoll",
    .create  = epoll_mech_create,
    .destroy = epoll_mech_destroy,
    .add     = epoll_mech_add,
    .update  = epoll_mech_update,
    .remove  = epoll_mech_remove,
    .wait    = epoll_mech_wait,
};
