/*
 * The per-loop io_uring.
 *
 * One ring per loop, created when the loop first needs it and kept for the
 * loop's lifetime (evpl_framework_set cleanup): connections come and go
 * without rebuilding the ring, its buffer ring and its file table.  Setup prefers SINGLE_ISSUER |
 * COOP_TASKRUN | TASKRUN_FLAG: task work runs in this thread without an IPI, and the kernel raises
 * IORING_SQ_TASKRUN in the shared SQ flags when there is work to collect, so checking for
 * completions costs no system call.  Older kernels get a plain ring.
 *
 * Not DEFER_TASKRUN: it is meant for a thread that sleeps in io_uring_enter(GETEVENTS), and this
 * loop sleeps in epoll/select on the eventfd.  With DEFER_TASKRUN the eventfd is signalled when
 * the task work is queued, in the waker's context -- for a loopback receive, the softirq of the
 * peer's send -- and there the kernel (6.18 seen) may defer the signal to an RCU callback
 * (io_eventfd_do_signal): a sleeping loop then woke 15-40 ms late on a 2-vCPU VM, and two
 * loops that both slept stayed in that state (each round trip longer than the 1 ms spin window),
 * about 500 round trips/s, so uring_pingpong timed out.  With COOP_TASKRUN the queued task work
 * wakes the sleeping thread itself (TIF_NOTIFY_SIGNAL ends the wait), the completion is posted
 * from this thread, and the eventfd is signalled there at once.
 *
 * How completions are noticed:
 *   sleeping  the completion eventfd is an internal event in the loop's
 *             epoll/select set, so a sleeping loop wakes when work arrives;
 *   spinning  a registered poll checks the shared flags and CQ on every pass
 *             and reports evpl_activity() when it found something, which is
 *             what keeps the hybrid spin-then-sleep mode (API 11.2) spinning
 *             while traffic flows.  While the loop spins the eventfd is
 *             switched off (IORING_CQ_EVENTFD_DISABLED) so the kernel does
 *             not pay for wakeups nobody waits for.
 * Submissions queued during a pass go to the kernel in one io_uring_enter()
 * from a deferral, at the end of the pass (API 2.4 step 8).
 */
#include "io_uring/uring.h"

#ifdef EVPL_HAVE_LIBURING

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/poll.h"
#include "core/shared.h"

#define EVPL_URING_MAX_ENTRIES 32768
#define EVPL_URING_MAX_SLOTS   4096
/* Completion batches reaped per dispatch before other events get a turn. */
#define EVPL_URING_REAP_ROUNDS 4
/* How long a close waits for the SQPOLL thread to take its submissions. */
#define EVPL_URING_SQPOLL_WAIT_NS (100ull * 1000000ull)
/* How long teardown waits for cancelled operations to complete. */
#define EVPL_URING_DRAIN_NS (2ull * 1000000000ull)

static void ring_destroy(struct evpl_uring *ur);

/*
 * liburing maps and unmaps the rings with raw system calls, which
 * ThreadSanitizer does not see: when a ring torn down on one thread is
 * followed by a new ring mapped at the same address on another, it reports
 * the stale shadow of the old mapping as a race.  Order the two explicitly.
 */
#if defined(__SANITIZE_THREAD__)
#define EVPL_URING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVPL_URING_TSAN 1
#endif
#endif
#ifdef EVPL_URING_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static void
ring_tsan(struct io_uring *ring, void (*fn)(void *))
{
    fn(ring->sq.sqes);
    fn(ring->sq.ring_ptr);
    fn(ring->cq.ring_ptr);
}
#define RING_MAPPED(ring)    ring_tsan(ring, __tsan_acquire)
#define RING_UNMAPPING(ring) ring_tsan(ring, __tsan_release)
#else
#define RING_MAPPED(ring)    ((void) (ring))
#define RING_UNMAPPING(ring) ((void) (ring))
#endif

static inline struct evpl_uring *
ring_of_event(struct evpl_event *event)
{
    return (struct evpl_uring *) ((char *) event - offsetof(struct evpl_uring, event));
}

int
evpl_uring_pending(struct evpl_uring *ur)
{
    unsigned int sq_flags = IO_URING_READ_ONCE(*ur->ring.sq.kflags);

    if (sq_flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) {
        return 1;
    }
    return io_uring_cq_ready(&ur->ring) > 0;
}

/*
 * Switch the completion eventfd back on.  The caller then checks for work
 * that arrived while it was off; the kernel sets IORING_SQ_TASKRUN or posts
 * a completion before it reads the eventfd-disabled flag, so the store here
 * must be ordered before those loads (a store-load pair: a full fence), or
 * both sides could miss each other and the loop sleep with work pending.
 */
static inline void
ring_eventfd_on(struct evpl_uring *ur)
{
    io_uring_cq_eventfd_toggle(&ur->ring, true);
    atomic_thread_fence(memory_order_seq_cst);
}

/*
 * Collect and handle completions; returns how many were seen and sets *more
 * when the round limit left some behind.  Received bytes are handed up once
 * per batch (evpl_uring_deliver), not once per completion.
 */
static int
ring_reap(struct evpl_uring *ur, int *more)
{
    struct io_uring *ring  = &ur->ring;
    int              total = 0;

    *more = 0;
    ur->reaping++;
    for (int round = 0; round < EVPL_URING_REAP_ROUNDS; round++) {
        struct io_uring_cqe *cqe;
        unsigned int         head, n = 0;

        if (IO_URING_READ_ONCE(*ring->sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) {
            io_uring_get_events(ring);
        }
        io_uring_for_each_cqe(ring, head, cqe)
        {
            if (cqe->user_data) {
                evpl_uring_complete(ur, cqe);
            }
            n++;
        }
        io_uring_cq_advance(ring, n);
        total += n;
        if (n == 0) {
            break;
        }
        if (round == EVPL_URING_REAP_ROUNDS - 1) {
            *more = evpl_uring_pending(ur);
        }
    }
    ur->reaping--;
    evpl_uring_deliver(ur);
    if (io_uring_sq_ready(ring) && !ur->submit.armed) {
        evpl_defer(ur->evpl, &ur->submit);
    }
    return total;
}

/* Sleeping path: the eventfd became readable. */
static void
ring_event_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_uring *ur = ring_of_event(event);
    uint64_t           value;
    int                more;

    ur->submit_reaped = 0;
    /* Drain the counter so a level-triggered mechanism (select) quiets. */
    if (read(event->fd, &value, sizeof(value)) < 0 && errno != EAGAIN) {
        evpl_uring_debug("eventfd read: %s", strerror(errno));
    }
    /* Work found after a wakeup restarts the spin window too: traffic that
     * woke a sleeping loop is likely to continue, and spinning collects it
     * without a wakeup per completion (API 11.2). */
    if (ring_reap(ur, &more)) {
        evpl_activity_internal(evpl);
    }
    if (!more) {
        evpl_event_mark_unreadable(evpl, event);
    }
}

/* The poll's probe: would ring_poll_cb find work?  Shared memory only. */
static int
ring_probe(void *private_data)
{
    return evpl_uring_pending(private_data);
}

/* Spinning path: called on every pass while the loop is in poll mode. */
static void
ring_poll_cb(struct evpl *evpl, void *private_data)
{
    struct evpl_uring *ur = private_data;
    int                more;

    ur->submit_reaped = 0;
    if (evpl_uring_pending(ur) && ring_reap(ur, &more)) {
        evpl_activity_internal(evpl);
    }
}

static void
ring_poll_enter(struct evpl *evpl, void *private_data)
{
    struct evpl_uring *ur = private_data;

    (void) evpl;
    io_uring_cq_eventfd_toggle(&ur->ring, false);
}

static void
ring_poll_exit(struct evpl *evpl, void *private_data)
{
    struct evpl_uring *ur = private_data;

    ring_eventfd_on(ur);
    /* Completions that arrived while the eventfd was off signalled nothing:
     * latch the event so the loop collects them before it sleeps. */
    if (evpl_uring_pending(ur)) {
        evpl_event_mark_readable(evpl, &ur->event);
    }
}

/*
 * End of the pass (deferral): everything queued goes to the kernel in one
 * io_uring_enter().  Sends usually complete inside that call; their
 * completions are collected right here, once per pass, instead of costing a
 * wakeup and another pass (SENT may be delivered in the deferral step, as
 * for the in-process transports).  The eventfd is muted around the call so
 * those inline completions do not signal it; anything left is latched on
 * the event, which keeps the loop from sleeping on it.
 */
static void
ring_submit_cb(struct evpl *evpl, void *private_data)
{
    struct evpl_uring *ur = private_data;
    int                rc, more;

    if (!io_uring_sq_ready(&ur->ring)) {
        return;
    }
    if (!evpl_poll_entered(ur->poll)) {
        io_uring_cq_eventfd_toggle(&ur->ring, false);
    }
    /* Sends on a socket with room complete inside the submit and post their
     * completions directly.  Asking for events as well costs a wait setup
     * in the kernel on every pass, so it is only done when task work
     * (receives that arrived meanwhile) is already pending: the same system
     * call then collects them. */
    if (IO_URING_READ_ONCE(*ur->ring.sq.kflags) & IORING_SQ_TASKRUN) {
        rc = io_uring_submit_and_get_events(&ur->ring);
    } else {
        rc = io_uring_submit(&ur->ring);
    }
    if (!evpl_poll_entered(ur->poll)) {
        ring_eventfd_on(ur);
    }
    if (rc == -EBUSY || rc == -EAGAIN) {
        /* The completion queue is backed up: collect first, the reap arms
         * this deferral again for what is still queued. */
        evpl_event_mark_readable(evpl, &ur->event);
        return;
    }
    if (rc < 0 && rc != -EINTR) {
        evpl_uring_error("io_uring_submit: %s", strerror(-rc));
    }
    if (!ur->submit_reaped && io_uring_cq_ready(&ur->ring)) {
        ur->submit_reaped = 1;
        ring_reap(ur, &more);
    }
    if (evpl_uring_pending(ur)) {
        evpl_event_mark_readable(evpl, &ur->event);
    }
}

void
evpl_uring_submit_now(struct evpl_uring *ur)
{
    if (io_uring_sq_ready(&ur->ring)) {
        int rc = io_uring_submit(&ur->ring);

        if (rc < 0) {
            evpl_uring_debug("io_uring_submit: %s", strerror(-rc));
        }
    }
    /* With a kernel submission thread (the SQPOLL knob) submitting only
     * wakes the thread.  The close paths name descriptors they close right
     * after this call, so wait until the thread has issued everything
     * queued: the kernel advances the SQ head after issuing a batch.
     * Without this a cancellation by fd found the fd already closed, and
     * the multishot accept it was meant for stayed in flight until ring
     * teardown gave up on it (2 s). */
    if (ur->setup_flags & IORING_SETUP_SQPOLL) {
        uint64_t deadline = evpl_monotonic_ns() + EVPL_URING_SQPOLL_WAIT_NS;

        while (io_uring_sq_ready(&ur->ring) && evpl_monotonic_ns() < deadline) {
            sched_yield();
        }
    }
}

struct io_uring_sqe *
evpl_uring_sqe(struct evpl_uring *ur)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ur->ring);

    if (__builtin_expect(sqe == NULL, 0)) {
        evpl_uring_submit_now(ur);
        sqe = io_uring_get_sqe(&ur->ring);
        evpl_abort_if(sqe == NULL, "io_uring", "submission queue stays full");
    }
    if (!ur->submit.armed) {
        evpl_defer(ur->evpl, &ur->submit);
    }
    return sqe;
}

/* ---- fixed files -------------------------------------------------------- */

static void
slots_init(struct evpl_uring *ur)
{
    struct rlimit rl;
    unsigned int  n = EVPL_URING_MAX_SLOTS;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n) {
        n = (unsigned int) rl.rlim_cur;
    }
    ur->slot_free = malloc(n * sizeof(*ur->slot_free));
    if (ur->slot_free == NULL || io_uring_register_files_sparse(&ur->ring, n) < 0) {
        /* Raw descriptors work too, just with a file lookup per operation. */
        free(ur->slot_free);
        ur->slot_free = NULL;
        return;
    }
    ur->slot_count = (int) n;
    for (int i = 0; i < (int) n; i++) {
        ur->slot_free[i] = (int) n - 1 - i;
    }
    ur->slot_nfree = (int) n;
}

int
evpl_uring_slot_get(struct evpl_uring *ur, int fd)
{
    int slot;

    if (ur->slot_nfree == 0) {
        return -1;
    }
    slot = ur->slot_free[--ur->slot_nfree];
    if (io_uring_register_files_update(&ur->ring, (unsigned int) slot, &fd, 1) != 1) {
        ur->slot_free[ur->slot_nfree++] = slot;
        return -1;
    }
    return slot;
}

void
evpl_uring_slot_close(struct evpl_uring *ur, int slot)
{
    struct io_uring_sqe *sqe = evpl_uring_sqe(ur);

    io_uring_prep_close_direct(sqe, (unsigned int) slot);
    io_uring_sqe_set_data64(sqe, ((uint64_t) slot << 3) | EVPL_URING_OP_CLOSE);
    ur->inflight++;
}

void
evpl_uring_slot_done(struct evpl_uring *ur, int slot)
{
    ur->slot_free[ur->slot_nfree++] = slot;
}

/* ---- creation and teardown ---------------------------------------------- */

static int
ring_setup(struct io_uring *ring, unsigned int *flags_used)
{
    /* No DEFER_TASKRUN: see the top of this file. */
    static const unsigned int attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
            IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    unsigned int entries = evpl_config()->io_uring_entries;
    const char  *sqpoll  = getenv("EVPL_IO_URING_SQPOLL");
    int          rc      = -EINVAL;

    if (entries == 0) {
        entries = 8192;
    } else if (entries > EVPL_URING_MAX_ENTRIES) {
        entries = EVPL_URING_MAX_ENTRIES;
    }

    /* Internal knob: a kernel submission thread per ring.  Off by default:
     * it burns a core per loop, which is what made the original slow on
     * small machines. */
    if (sqpoll && *sqpoll && *sqpoll != '0') {
        struct io_uring_params p;

        memset(&p, 0, sizeof(p));
        p.flags          = IORING_SETUP_SQPOLL;
        p.sq_thread_idle = 50;
        rc               = io_uring_queue_init_params(entries, ring, &p);
        if (rc == 0) {
            RING_MAPPED(ring);
            *flags_used = p.flags;
            return 0;
        }
    }
    for (unsigned int i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        struct io_uring_params p;

        memset(&p, 0, sizeof(p));
        p.flags = attempts[i];
        rc      = io_uring_queue_init_params(entries, ring, &p);
        if (rc == 0) {
            RING_MAPPED(ring);
            *flags_used = attempts[i];
            return 0;
        }
        if (rc != -EINVAL) {
            break;
        }
    }
    return rc;
}

static struct evpl_uring *
ring_create(struct evpl *evpl, int *err)
{
    struct evpl_uring *ur = calloc(1, sizeof(*ur));
    int                rc;

    if (ur == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    ur->evpl     = evpl;
    ur->event.fd = -1;
    ur->recv_len = EVPL_BIND_RECV_READ_MAX;

    rc = ring_setup(&ur->ring, &ur->setup_flags);
    if (rc < 0) {
        evpl_uring_error("cannot create an io_uring: %s", strerror(-rc));
        free(ur);
        *err = rc;
        return NULL;
    }
    /* Saves the fd lookup on every io_uring_enter(). */
    io_uring_register_ring_fd(&ur->ring);

    ur->event.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ur->event.fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = io_uring_register_eventfd(&ur->ring, ur->event.fd);
    if (rc < 0) {
        goto fail;
    }

    slots_init(ur);

    ur->bufs = evpl_uring_bufs_create(ur, &rc);
    if (ur->bufs == NULL) {
        evpl_uring_error("cannot set up the provided-buffer ring: %s", strerror(-rc));
        goto fail;
    }

    ur->event.read_callback = ring_event_cb;
    rc                      = evpl_event_add(evpl, &ur->event);
    if (rc < 0) {
        goto fail;
    }
    evpl_event_read_interest(evpl, &ur->event);
    evpl_deferral_init(&ur->submit, ring_submit_cb, ur);
    /* Added while the loop spins, it is entered before its first call. */
    ur->poll = evpl_add_internal_poll(evpl, ring_poll_enter, ring_poll_exit, ring_poll_cb, ur);
    evpl_poll_set_probe(evpl, ur->poll, ring_probe);

    evpl_uring_debug("loop %p: ring ready (flags 0x%x, %d fixed-file slots)", (void *) evpl,
                     ur->setup_flags, ur->slot_count);
    return ur;

fail:
    RING_UNMAPPING(&ur->ring);
    io_uring_queue_exit(&ur->ring);
    if (ur->bufs) {
        evpl_uring_bufs_destroy(evpl, ur->bufs);
    }
    if (ur->event.fd >= 0) {
        close(ur->event.fd);
    }
    free(ur->slot_free);
    free(ur);
    *err = rc;
    return NULL;
}

/* evpl_destroy(): every bind is closed; the ring goes with the loop. */
static void
ring_cleanup(struct evpl *evpl, void *state)
{
    struct evpl_uring *ur = state;

    (void) evpl;
    ur->closing = 1;
    if (ur->users == 0) {
        ring_destroy(ur);
    }
}

struct evpl_uring *
evpl_uring_get(struct evpl *evpl, int *err)
{
    struct evpl_uring *ur = evpl_framework_get(evpl, EVPL_FRAMEWORK_IO_URING);

    if (ur == NULL) {
        ur = ring_create(evpl, err);
        if (ur == NULL) {
            return NULL;
        }
        evpl_framework_set(evpl, EVPL_FRAMEWORK_IO_URING, ur, ring_cleanup);
    }
    ur->users++;
    return ur;
}

void
evpl_uring_put(struct evpl_uring *ur)
{
    /* The ring outlives its connections: a loop that connects again (or
     * accepts the next client) reuses it instead of paying for a new ring,
     * buffer ring and file table.  It goes with the loop (ring_cleanup),
     * or with the last user after that. */
    if (--ur->users == 0 && ur->closing) {
        evpl_abort_if(ur->reaping, "io_uring", "last user dropped while reaping completions");
        ring_destroy(ur);
    }
}

/*
 * The last user is gone.  Cancellations and direct closes were queued by
 * the close paths; wait (bounded) for every outstanding completion so no
 * object is freed under the kernel, then take the ring down.
 */
static void
ring_destroy(struct evpl_uring *ur)
{
    struct evpl *evpl     = ur->evpl;
    uint64_t     deadline = evpl_monotonic_ns() + EVPL_URING_DRAIN_NS;

    while (ur->inflight > 0) {
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20000000};
        struct io_uring_cqe     *cqe;
        int                      more;
        int rc = io_uring_submit_and_wait_timeout(&ur->ring, &cqe, 1, &ts, NULL);

        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            evpl_uring_debug("teardown wait: %s", strerror(-rc));
            break;
        }
        ring_reap(ur, &more);
        if (ur->inflight > 0 && evpl_monotonic_ns() > deadline) {
            evpl_uring_error("ring torn down with %u operations still in flight", ur->inflight);
            break;
        }
    }

    evpl_remove_poll(evpl, ur->poll);
    evpl_remove_deferral(evpl, &ur->submit);
    evpl_event_remove(evpl, &ur->event);
    io_uring_unregister_eventfd(&ur->ring);
    close(ur->event.fd);

    /* Exiting the ring cancels whatever is left; only then may the memory
     * those operations pointed at go (connections, send records, chunks). */
    RING_UNMAPPING(&ur->ring);
    io_uring_queue_exit(&ur->ring);
    evpl_uring_conns_abandon(ur);
    evpl_uring_bufs_destroy(evpl, ur->bufs);

    free(ur->slot_free);
    if (evpl_framework_get(evpl, EVPL_FRAMEWORK_IO_URING) == ur) {
        evpl_framework_set(evpl, EVPL_FRAMEWORK_IO_URING, NULL, NULL);
    }
    free(ur);
}

#endif /* EVPL_HAVE_LIBURING */
