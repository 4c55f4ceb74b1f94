/*
 * In-process transports: STREAM_INPROC (a byte stream) and DATAGRAM_INPROC
 * (messages, with RDMA emulated as memory copies), between loops of one
 * process -- on different threads or on the same loop.
 *
 * Shape.  A connection is one struct inproc_conn holding two ends: end 0 is
 * the connecting bind, end 1 the accepted one.  Each end owns the queue of
 * what its peer sent it (iovecs holding SHARED references, plus message
 * boundaries), protected by the end's own mutex, so the two directions never
 * contend.  A sender appends to the peer's queue under the peer's lock and
 * puts the peer on its loop's ready list; the receiving loop takes the whole
 * queue in one swap and delivers it without holding any lock.
 *
 * Wakeups.  Each loop that has had in-process binds owns one struct
 * inproc_loop: an eventfd registered with the loop and a locked ready list
 * of ends with something to deliver.  A sender on another thread writes the
 * eventfd only when the list was idle; a sender on the receiving loop's own
 * thread just latches the event readable (no system call).  The state is
 * created with the loop's first in-process bind and lives as long as the
 * loop: evpl_destroy() frees it through the framework cleanup, after every
 * bind of the loop has been closed.
 *
 * Lifetime.  The connection holds one reference per end (atomic) and is
 * freed with the last end.  The loop state of an end is reachable from
 * other threads only through end->loop, which is set at attach and cleared
 * at close, both under end->lock.  So a thread holding end->lock that sees
 * end->loop non-NULL holds an open end of a loop whose bind has not been
 * closed: evpl_destroy() on the owning thread cannot get past closing that
 * bind -- let alone free the loop state, its eventfd or the evpl itself --
 * until the lock is released.  Every cross-thread use follows this rule:
 *   - signal (end_signal): the caller holds end->lock, end->loop != NULL;
 *   - flush: the peer's loop is read, compared and signalled under
 *     peer->lock only, and only while peer->loop != NULL;
 *   - close: clears end->loop under end->lock before the loop can go;
 *   - destroy: runs after every end of the loop has closed.
 * (A flush that looked at peer->loop after the peer had closed could read
 * the state of a loop that evpl_destroy() was freeing on another thread.)
 * Lock order: end->lock, then loop->lock; never two end locks at once.
 *
 * Flow control.  A sender moves data into its peer's queue (`in`) only
 * while that queue holds fewer than EVPL_RECV_HIGH_WATER bytes (the
 * receive high-water mark of the socket transports): a stream is cut at
 * the mark, messages go whole (one message may overshoot by its size).
 * What does not fit stays on the sender's bind -- no SENT for it, as with
 * a full kernel socket buffer -- and the sender leaves `sender_waiting` on
 * the peer.  The receiving loop takes its whole queue at once (leaving it
 * empty, below any low-water mark), and then sets `resume` on the sender's
 * end and signals it; the sender's loop flushes again.  A stream receiver
 * whose application does not read stops taking its queue while the bind
 * layer says it is throttled (receive ring over the same mark) and starts
 * again from recv_resume (ring consumed down to half), so a stream buffers
 * at most about three marks in all.  Neither side ever waits for the
 * other, so full-duplex bulk transfers cannot deadlock.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "core/event.h"
#include "core/loop.h"
#include "bind/backend.h"

#define evpl_inproc_debug(...) evpl_log_debug("inproc", __VA_ARGS__)
#define evpl_inproc_error(...) evpl_log_error("inproc", __VA_ARGS__)

struct inproc_end;

/* Per-loop wakeup state (evpl_framework_get(evpl, EVPL_FRAMEWORK_INPROC)). */
struct inproc_loop {
    struct evpl_event event; /* eventfd; first member */
    struct evpl      *evpl;
    unsigned int      nends; /* ends attached here (owning thread only; 0 at destroy) */

    pthread_mutex_t    lock; /* ready list and signalled */
    struct inproc_end *ready_head;
    struct inproc_end *ready_tail;
    unsigned int       ready_count;
    int                signalled; /* kicked and not yet drained */
};

/* One RDMA completion waiting for a later pass (owning thread only). */
struct inproc_completion {
    void (*callback)(int status, void *private_data);
    void *private_data;
    int   status;
};

struct inproc_end {
    struct inproc_conn *conn;
    int                 side; /* 0 connecting, 1 accepted */

    /* Under lock: everything a peer may look at or fill. */
    pthread_mutex_t        lock;
    struct inproc_loop    *loop;           /* attached and not closed; else NULL */
    int                    closed;         /* close ran (or the handoff was dropped) */
    int                    peer_gone;      /* the peer closed: end of stream after the data */
    int                    up;             /* the accepted end exists: deliver CONNECTED */
    int                    sender_waiting; /* the peer holds output back: `in` was full */
    int                    resume;         /* the peer took our output: flush again */
    struct evpl_iovec_ring in;             /* payload from the peer (SHARED or same-loop refs) */
    struct evpl_dgram_ring in_msg;         /* message boundaries of `in` */

    /* Under loop->lock. */
    int                on_ready;
    struct inproc_end *ready_next;

    /* Owning thread of the end's loop only. */
    struct evpl_bind         *bind;
    struct evpl_iovec_ring    rx; /* swapped with `in` for delivery */
    struct evpl_dgram_ring    rx_msg;
    struct evpl_iovec_ring    stage; /* outbound, prepared outside the peer's lock */
    struct evpl_dgram_ring    stage_msg;
    struct evpl_iovec        *msg_iov; /* contiguous copy of one message for RECV_MSG */
    unsigned int              msg_iov_max;
    struct inproc_completion *comp; /* ring of RDMA completions */
    unsigned int              comp_mask;
    unsigned int              comp_head;
    unsigned int              comp_tail;
    int                       eof_delivered;
    int                       throttled; /* stream: the bind layer paused receiving */
};

struct inproc_conn {
    atomic_int        refs;    /* one per end */
    int               message; /* DATAGRAM_INPROC */
    struct inproc_end end[2];
};

/* What a bind's backend_private holds. */
struct inproc_bind {
    struct inproc_end *end; /* NULL when connect failed */
};

static inline struct inproc_end *
inproc_end_of(struct evpl_bind *bind)
{
    return ((struct inproc_bind *) evpl_bind_private(bind))->end;
}

static inline struct inproc_end *
inproc_peer(struct inproc_end *end)
{
    return &end->conn->end[!end->side];
}

/* registry.c: the process-wide name space and connection serials. */
int  evpl_inproc_listen(struct evpl_listen_socket *ls);
void evpl_inproc_listen_close(struct evpl_listen_socket *ls);
/*
 * Find the listener holding name for protocol and, with the registry still
 * locked (so the listener cannot be torn down meanwhile), call
 * fn(listener, serial, arg) with the connection's fresh serial.  Returns
 * fn's result, or -ECONNREFUSED when nobody listens (no serial consumed).
 */
int evpl_inproc_lookup(const char *name, enum evpl_protocol_id protocol,
                       int (*fn)(struct evpl_listener *listener, uint64_t serial, void *arg),
                       void *arg);

/* inproc.c: put end on its loop's ready list and wake the loop (end->lock held,
 * end->loop non-NULL). */
void evpl_inproc_end_signal(struct inproc_end *end);

/* rdma.c: DATAGRAM_INPROC one-sided operations. */
void evpl_inproc_rdma_read(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                           uint64_t remote_address, struct evpl_iovec *iov, int niov,
                           void (*callback)(int status, void *private_data), void *private_data);
void evpl_inproc_rdma_write(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                            uint64_t remote_address, struct evpl_iovec *iov, int niov,
                            unsigned int flags, void (*callback)(int status, void *private_data),
                            void        *private_data);
void evpl_inproc_rdma_get_address(struct evpl *evpl, struct evpl_bind *bind,
                                  struct evpl_iovec *iovec, uint32_t *r_key, uint64_t *r_address);
/* rdma.c: run the completions queued on end (owning thread). */
void evpl_inproc_run_completions(struct inproc_end *end);
/* rdma.c: free the completion ring, running what is left with its status. */
void evpl_inproc_drop_completions(struct inproc_end *end);

/* Registration, called from evpl_backends_register(). */
void evpl_inproc_register(void);
