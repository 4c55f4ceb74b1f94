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
 * Wakeups.  Each loop that has in-process binds owns one struct inproc_loop:
 * an eventfd registered with the loop and a locked ready list of ends with
 * something to deliver.  A sender on another thread writes the eventfd only
 * when the list was idle; a sender on the receiving loop's own thread just
 * latches the event readable (no system call).  The state is created with
 * the loop's first in-process bind and freed with its last.
 *
 * Lifetime.  The connection holds one reference per end (atomic).  An end
 * stays attached to its loop from attach/connect until its close; a peer
 * touches another end's loop only under that end's lock while the end is
 * not closed, so the loop state cannot vanish under a sender.
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

/* Per-loop wakeup state (evpl->framework_private[EVPL_FRAMEWORK_INPROC]). */
struct inproc_loop {
    struct evpl_event event; /* eventfd; first member */
    struct evpl      *evpl;
    unsigned int      nends; /* ends attached here (owning thread only) */

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
    struct inproc_loop    *loop;      /* NULL until attached */
    int                    closed;    /* close ran (or the handoff was dropped) */
    int                    peer_gone; /* the peer closed: end of stream after the data */
    int                    up;        /* the accepted end exists: deliver CONNECTED */
    struct evpl_iovec_ring in;        /* payload from the peer (SHARED or same-loop refs) */
    struct evpl_dgram_ring in_msg;    /* message boundaries of `in` */

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

/* inproc.c: put end on its loop's ready list and wake the loop (end->lock held). */
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
