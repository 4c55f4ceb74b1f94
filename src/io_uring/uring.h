/*
 * STREAM_IO_URING_TCP: kernel TCP driven through one io_uring per loop.
 *
 * Shared by the files of src/io_uring/:
 *   ring.c     the per-loop ring: lazy creation, completion eventfd in the
 *              loop's wait set, busy-poll reaping, the end-of-pass submit
 *              deferral, fixed-file slots and teardown
 *   buffers.c  the provided-buffer ring, carved from the library's pooled
 *              buffers and replenished as the application releases iovecs
 *   tcp.c      the protocol: connect, multishot accept and receive, sends
 *
 * Every submission whose completion we still expect holds the object it
 * names (connection, listener, zero-copy send) alive: objects carry an
 * `inflight` count and outlive their bind or listen socket until it drops to
 * zero.  user_data is the object's address with an operation tag in the low
 * three bits; 0 marks completions nobody waits for (cancellations).
 */
#pragma once

#ifdef EVPL_HAVE_LIBURING

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "io_uring/compat.h"
#include "core/event.h"
#include "core/loop.h"
#include "bind/backend.h"

#define evpl_uring_debug(...) evpl_log_debug("io_uring", __VA_ARGS__)
#define evpl_uring_info(...)  evpl_log_info("io_uring", __VA_ARGS__)
#define evpl_uring_error(...) evpl_log_error("io_uring", __VA_ARGS__)

/* user_data operation tags */
#define EVPL_URING_OP_RECV     1u /* multishot (or one-shot) receive into provided buffers */
#define EVPL_URING_OP_SEND     2u /* copying send/sendmsg */
#define EVPL_URING_OP_ZC       3u /* zero-copy send: data completion, then a notification */
#define EVPL_URING_OP_CONNECT  4u
#define EVPL_URING_OP_ACCEPT   5u /* multishot accept on a listener */
#define EVPL_URING_OP_FALLBACK 6u /* one-shot receive into a private buffer (ENOBUFS) */
#define EVPL_URING_OP_CLOSE    7u /* close of a fixed-file slot; pointer bits hold the slot */
#define EVPL_URING_OP_MASK     7u

struct evpl_uring_bufs;
struct evpl_uring_conn;
struct evpl_uring_zc;
struct evpl_uring_listen;

/* Per-loop state (evpl->framework_private[EVPL_FRAMEWORK_IO_URING]). */
struct evpl_uring {
    struct io_uring      ring;
    struct evpl         *evpl;
    struct evpl_event    event;  /* completion eventfd */
    struct evpl_poll    *poll;   /* reaps completions while the loop spins */
    struct evpl_deferral submit; /* one io_uring_enter per pass for everything queued */
    unsigned int         setup_flags;
    unsigned int         users;    /* live connections and listeners */
    int                  closing;  /* the loop is being destroyed */
    unsigned int         inflight; /* submissions whose final completion is due */
    int                  reaping;
    int                  no_multishot;  /* kernel rejected multishot receive */
    unsigned int         recv_len;      /* cap per multishot receive; 0 if refused */
    int                  submit_reaped; /* the submit deferral reaped this pass */

    /* fixed-file table: sparse, slots handed out from a free stack */
    int *slot_free;
    int  slot_nfree;
    int  slot_count;

    struct evpl_uring_bufs *bufs;

    struct evpl_uring_conn *deliver; /* received bytes to hand up after this batch */
    /* objects not yet freed, for teardown after a drain that timed out */
    struct evpl_uring_conn   *conns;
    struct evpl_uring_zc     *zc_busy;
    struct evpl_uring_listen *listens;
    struct evpl_uring_zc     *zc_free; /* recycled zero-copy send records */
};

/* ---- ring.c ------------------------------------------------------------- */

/* The loop's ring, created on first use (NULL with *err on failure) and
 * kept until the loop is destroyed; each successful call counts one user,
 * dropped with evpl_uring_put(). */
struct evpl_uring *evpl_uring_get(struct evpl *evpl, int *err);
void               evpl_uring_put(struct evpl_uring *ur);

/* A submission slot (submits to make room when the queue is full); the
 * submit deferral is armed so everything queued goes out this pass. */
struct io_uring_sqe *evpl_uring_sqe(struct evpl_uring *ur);
/* Submit now (close paths that must not wait for the end of the pass). */
void evpl_uring_submit_now(struct evpl_uring *ur);

/* Fixed-file slot holding fd, or -1 when the table is full/unsupported. */
int evpl_uring_slot_get(struct evpl_uring *ur, int fd);
/* Queue a direct close of slot; the slot is reused once it completes. */
void evpl_uring_slot_close(struct evpl_uring *ur, int slot);
void evpl_uring_slot_done(struct evpl_uring *ur, int slot);

/* Is a completion waiting (without entering the kernel)? */
int evpl_uring_pending(struct evpl_uring *ur);

/* ---- buffers.c ---------------------------------------------------------- */

#define EVPL_URING_BGID 0

struct evpl_uring_bufs *evpl_uring_bufs_create(struct evpl_uring *ur, int *err);
/* Ring gone: chunks the application still holds free themselves later. */
void evpl_uring_bufs_destroy(struct evpl *evpl, struct evpl_uring_bufs *bufs);
/* After ENOBUFS: widen the window of offered chunks (adding memory when
 * every chunk is out); returns how many chunks are offered now, 0 when the
 * cap is reached and the application holds them all. */
int evpl_uring_bufs_grow(struct evpl *evpl, struct evpl_uring_bufs *bufs);

/*
 * A receive completion selected buffer bid and filled len bytes: returns the
 * data and the chunk's reference header.  The caller takes its own
 * references (evpl_bind_recv_append) and then calls
 * evpl_uring_bufs_recv_done(), which drops the kernel's hold unless the
 * kernel keeps using the rest of the chunk (buf_more).
 */
void *evpl_uring_bufs_recv(struct evpl_uring_bufs *bufs, unsigned int bid, unsigned int len,
                           struct evpl_iovec_ref **ref);
void  evpl_uring_bufs_recv_done(struct evpl *evpl, struct evpl_uring_bufs *bufs, unsigned int bid,
                                int buf_more);

/* ---- tcp.c -------------------------------------------------------------- */

/* Handle one completion (ring.c's reap loop); user_data != 0. */
void evpl_uring_complete(struct evpl_uring *ur, const struct io_uring_cqe *cqe);
/* After a batch of completions: hand received bytes and ends of stream up. */
void evpl_uring_deliver(struct evpl_uring *ur);
/* Ring teardown: free every connection and send record still waiting for
 * completions that will now never come. */
void evpl_uring_conns_abandon(struct evpl_uring *ur);

#endif /* EVPL_HAVE_LIBURING */

/* Registration (src/bind/backends.c): honours io_uring_enabled and probes
 * the kernel once; a stub when the library is built without liburing. */
struct evpl_global_config;
void evpl_io_uring_register(const struct evpl_global_config *config);
