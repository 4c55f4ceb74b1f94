/*
 * What the block io_uring backend needs beyond the liburing it was built
 * against.  Debian 12 ships liburing 2.3, whose headers already know
 * SINGLE_ISSUER, DEFER_TASKRUN, io_uring_get_events() and sparse buffer
 * registration; the definitions below cover older headers (2.1/2.2) so the
 * backend still builds there and simply falls back at run time (the kernel
 * answers EINVAL for setup flags it does not know, and the backend retries
 * with plain setup).
 */
#pragma once

#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2)
#endif
#ifndef IORING_ENTER_GETEVENTS
#define IORING_ENTER_GETEVENTS (1U << 0)
#endif

/*
 * Run deferred task work and flush overflowed completions without waiting:
 * io_uring_get_events() (liburing >= 2.3) as a raw io_uring_enter, so that
 * it exists whatever the library version.
 */
static inline int
uring_compat_get_events(struct io_uring *ring)
{
    int rc = (int) syscall(__NR_io_uring_enter, ring->ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL,
                           (size_t) _NSIG / 8);

    return rc < 0 ? -errno : rc;
}
