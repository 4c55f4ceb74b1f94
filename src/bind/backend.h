/*
 * The backend interface: what a transport implements (struct
 * evpl_protocol_ops) and what the bind layer offers it in return.
 *
 * Layering.  The public API (evpl_bind.h) is implemented once, in src/bind/,
 * on top of struct evpl_bind.  A transport (src/socket/, src/inproc/, ...)
 * only moves bytes: it registers one struct evpl_protocol per protocol id
 * (evpl_protocol_register() from evpl_backends_register() in
 * src/bind/backends.c) whose `ops` points at a struct evpl_protocol_ops.
 * Nothing above this interface switches on the protocol id; it only reads
 * the protocol flags (STREAM, CONNECTED, LOCAL, INPROC, RDMA).
 *
 * Threads.  Every op except listen/listen_close and handoff_discard runs on
 * the owning thread of the bind's loop.  listen/listen_close run on the
 * listener's service thread; handoff_discard on whatever thread drops the
 * handoff.  Ops return 0 or a negative errno; none may block.
 *
 * Life of a bind, as a backend sees it
 *
 *   1. Creation.  The bind layer allocates the bind, fills protocol, loop,
 *      callbacks, local/remote addresses and zeroes backend_private, then
 *      calls exactly one of
 *         connect(evpl, bind)          evpl_connect(); bind->remote is set
 *         bind(evpl, bind)             evpl_bind(); bind->local is set
 *         attach(evpl, bind, handoff)  a listener handed over a connection
 *      A failing connect is not an error for the caller: the bind layer
 *      returns the bind and delivers DISCONNECTED on a later pass (close is
 *      still called, so the backend must cope with a half-made transport).
 *      A failing bind() makes evpl_bind() return NULL (the bind is discarded
 *      without any callback; close is not called).  attach runs before the
 *      application's attach callback and returns 0 when the connection is
 *      up (the bind layer then calls evpl_bind_connected() right after the
 *      attach callback, in the same pass), EVPL_ATTACH_PENDING when a
 *      handshake is still running (the backend calls evpl_bind_connected()
 *      itself later), or a negative errno after cleaning up after itself (the
 *      bind is then discarded silently and the application never sees it).
 *   2. Connection.  When the transport is up the backend calls
 *      evpl_bind_connected(): it delivers CONNECTED (connected protocols)
 *      and arms the flush of whatever was queued before.
 *   3. Sending.  The evpl_send* functions append iovecs (each holding one
 *      reference) to bind->send_ring and, on message binds, one record per
 *      send call to bind->dgram_ring, then arm the bind's flush deferral.  At
 *      the end of the pass the bind layer calls flush(evpl, bind) (never on a
 *      bind that is not yet connected or already closed).  flush hands as
 *      much as the transport takes to it and reports every byte with
 *      evpl_bind_send_advance() (stream transports) or
 *      evpl_bind_send_pop_msg() (message transports), which drop the
 *      references and count bytes/messages for SENT.  When the transport
 *      would block, the backend waits for writability itself and calls its
 *      own flush again.  It must call evpl_bind_flushed() at the end of each
 *      flush attempt: that delivers SENT and completes evpl_finish().
 *   4. Receiving.  Stream transports append received bytes to
 *      bind->recv_ring (evpl_bind_recv_append(); the loop's receive buffer,
 *      evpl_bind_recv_buffer(), lets them read straight into pooled memory)
 *      and then call evpl_bind_recv_stream(), which runs the segment
 *      callback or delivers RECV_DATA.  Message transports call
 *      evpl_bind_recv_msg() once per message.  Either may close the bind;
 *      check evpl_bind_closing() before reading on.  Stream transports
 *      that implement recv_resume call evpl_bind_recv_throttle() after each
 *      append and pause reading while it says so (bounded buffering for
 *      applications that read slower than the peer sends).
 *   5. Closing.  Any end (evpl_close, completed evpl_finish, a segment
 *      callback error, or the backend itself via evpl_bind_transport_closed()
 *      on end-of-stream or error) leads to close(evpl, bind) being called
 *      exactly once, from a deferral at the end of a pass (or from
 *      evpl_destroy()).  close releases the transport (fd, events, peers)
 *      synchronously; afterwards the backend must not touch the bind again.
 *      The bind layer then drops the rings and, at step 6 of the next pass,
 *      delivers DISCONNECTED and recycles the bind.
 *
 * Listeners.  evpl_listen() runs listen(ls) on the listener's service
 * thread, synchronously for its caller.  ls->address is the resolved
 * endpoint address, ls->loop the service loop.  When a connection arrives the
 * backend creates a struct evpl_handoff (evpl_handoff_alloc; fd and/or
 * backend data filled in) and calls evpl_listener_handoff(ls->listener,
 * handoff): the bind layer picks a binding by the listener policy and queues
 * the handoff to that binding's loop, which runs attach() there.  When no
 * binding is attached, or the binding goes away before the handoff is
 * consumed, handoff_discard(handoff) is called instead (close the fd, drop
 * peers) and the handoff is freed by the bind layer.  In-process transports,
 * which have no listening socket, call evpl_listener_handoff() from the
 * connecting thread (the listener pointer being whatever their registry
 * holds).  listen_close(ls) stops listening (and removes any socket file)
 * when the listener is destroyed.
 *
 * RDMA.  rdma_read/rdma_write/rdma_get_address are only called on binds of
 * protocols flagged EVPL_PROTOCOL_RDMA and may be NULL otherwise; the bind
 * layer answers ENOTSUP / 0,0 for everything else.
 */
#pragma once

#include <stdint.h>
#include <sys/uio.h>

#include "evpl/evpl.h"
#include "core/event.h"
#include "core/protocol.h"
#include "bind/address.h"
#include "bind/ring.h"

struct evpl_listener;
struct evpl_listener_binding;
struct evpl_listen_socket;
struct evpl_handoff;

/* attach() result: connection set up, handshake still running. */
#define EVPL_ATTACH_PENDING 1

/* Bytes of transport state embedded in every bind and listen socket. */
#define EVPL_BIND_PRIVATE_SIZE   256
#define EVPL_LISTEN_PRIVATE_SIZE 256

struct evpl_protocol_ops {
    /* Start connecting bind to bind->remote (evpl_connect()). */
    int (*connect)(struct evpl *evpl, struct evpl_bind *bind);
    /* Open a bound datagram socket at bind->local (evpl_bind()). */
    int (*bind)(struct evpl *evpl, struct evpl_bind *bind);
    /* Set bind up from a listener handoff, on the chosen loop.  Must set
     * bind->local/remote when the handoff did not carry them. */
    int (*attach)(struct evpl *evpl, struct evpl_bind *bind, struct evpl_handoff *handoff);
    /* Drop a handoff that will never be attached (close its fd, ...). */
    void (*handoff_discard)(struct evpl_handoff *handoff);
    /* Start listening at ls->address on the service loop ls->loop. */
    int (*listen)(struct evpl_listen_socket *ls);
    /* Stop listening (service thread); release everything listen() made. */
    void (*listen_close)(struct evpl_listen_socket *ls);
    /* Hand queued data to the transport (see step 3 above). */
    void (*flush)(struct evpl *evpl, struct evpl_bind *bind);
    /* Release the transport synchronously (see step 5 above). */
    void (*close)(struct evpl *evpl, struct evpl_bind *bind);

    /* Optional, EVPL_PROTOCOL_RDMA protocols only (semantics of evpl_rdma.h;
     * the callbacks must run on a later pass, never inside the call). */
    void (*rdma_read)(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                      uint64_t remote_address, struct evpl_iovec *iov, int niov,
                      void (*callback)(int status, void *private_data), void *private_data);
    void (*rdma_write)(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                       uint64_t remote_address, struct evpl_iovec *iov, int niov,
                       unsigned int flags, void (*callback)(int status, void *private_data),
                       void        *private_data);
    void (*rdma_get_address)(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovec,
                             uint32_t *r_key, uint64_t *r_address);

    /* Optional, stream transports that throttle (evpl_bind_recv_throttle()):
     * the application drained the receive ring, start reading again. */
    void (*recv_resume)(struct evpl *evpl, struct evpl_bind *bind);

    /* Optional: non-zero while the backend holds output of its own beyond
     * the send ring (e.g. protocol control frames owed to the peer).  A
     * graceful evpl_finish() waits for it as for queued sends; the backend
     * calls evpl_bind_flushed() again once it has drained. */
    int (*pending_output)(struct evpl_bind *bind);
};

/* bind->flags */
#define EVPL_BIND_CONNECTED    0x0001u /* transport up: flush may run */
#define EVPL_BIND_CLOSING      0x0002u /* evpl_bind_is_closing() */
#define EVPL_BIND_FINISHING    0x0004u /* evpl_finish(): close once the send ring drains */
#define EVPL_BIND_CLOSE_QUEUED 0x0008u /* close deferral armed or ran */
#define EVPL_BIND_CLOSED       0x0010u /* ops->close ran; waiting for finalisation */
#define EVPL_BIND_SEND_NOTIFY  0x0020u /* SENT requested */
#define EVPL_BIND_MESSAGE      0x0040u /* message bind: one dgram record per send */
#define EVPL_BIND_NOTIFIED_UP  0x0080u /* CONNECTED was delivered */
#define EVPL_BIND_ACCEPTED     0x0100u /* came from a listener */
#define EVPL_BIND_THROTTLED    0x0200u /* reading paused: receive ring over the high-water mark */

/*
 * Receive flow control.  A stream whose application does not consume what
 * arrives must not buffer without bound: once the receive ring holds
 * EVPL_RECV_HIGH_WATER bytes (or the length the segment callback announced,
 * if larger) the transport stops reading, so the kernel's windows push back
 * on the sender; when the application has consumed the ring down to half of
 * that, the bind layer calls ops->recv_resume().
 */
#define EVPL_RECV_HIGH_WATER (16u << 20)

struct evpl_bind {
    const struct evpl_protocol     *protocol;
    const struct evpl_protocol_ops *ops;
    struct evpl                    *evpl;

    evpl_notify_callback_t  notify_callback;
    evpl_segment_callback_t segment_callback;
    void                   *private_data;

    unsigned int flags;
    int          segment_length; /* length returned by the segment callback, 0 if unknown */

    struct evpl_address *local; /* owned references, NULL when unknown */
    struct evpl_address *remote;

    struct evpl_iovec_ring send_ring;  /* queued outbound payload */
    struct evpl_iovec_ring recv_ring;  /* buffered inbound stream bytes */
    struct evpl_dgram_ring dgram_ring; /* message records of send_ring */

    /* SENT accounting since the last SENT notification */
    uint64_t sent_bytes;
    uint64_t sent_msgs;

    struct evpl_deferral flush_deferral;
    struct evpl_deferral close_deferral;

    struct evpl_listener_binding *binding; /* accepted binds: for least-loaded counts */

    /* The inet endpoint's host string as the application gave it (a name or
     * an IP literal), for transports that authenticate the peer by name
     * (TLS: SNI and host check).  Set only while ops->connect runs. */
    const char *connect_host;

    /* per-loop lists (bind_loop.c) */
    struct evpl_bind *prev;
    struct evpl_bind *next;

    /* transport state; see evpl_bind_private() */
    uint64_t backend_private[EVPL_BIND_PRIVATE_SIZE / sizeof(uint64_t)];
};

static inline void *
evpl_bind_private(struct evpl_bind *bind)
{
    return bind->backend_private;
}

/* The bind that embeds a backend_private area. */
static inline struct evpl_bind *
evpl_bind_from_private(void *private_area)
{
    return (struct evpl_bind *) ((char *) private_area -
                                 __builtin_offsetof(struct evpl_bind, backend_private));
}

/* ---- listener side ------------------------------------------------------ */

struct evpl_listen_socket {
    struct evpl_listener       *listener;
    struct evpl                *loop; /* the listener's service loop */
    const struct evpl_protocol *protocol;
    struct evpl_address        *address; /* resolved endpoint (owned by the listener) */
    struct evpl_listen_socket  *next;
    uint64_t                    backend_private[EVPL_LISTEN_PRIVATE_SIZE / sizeof(uint64_t)];
};

/*
 * One accepted connection on its way from the listener to a loop.  fd,
 * local, remote and backend_data are the backend's to fill; addresses given
 * here are adopted by the bind (their references move to it).
 */
struct evpl_handoff {
    struct evpl_handoff          *next;
    struct evpl_listener_binding *binding; /* set by the bind layer */
    const struct evpl_protocol   *protocol;
    int                           fd;
    struct evpl_address          *local;
    struct evpl_address          *remote;
    void                         *backend_data;
};

/* A zeroed handoff for protocol (fd = -1).  Aborts on allocation failure. */
struct evpl_handoff *evpl_handoff_alloc(const struct evpl_protocol *protocol);

/*
 * Give an accepted connection to one of the listener's bindings (listener
 * policy), waking its loop.  Any thread.  Returns 0, or -ENOTCONN when no
 * binding is attached, in which case the handoff has already been discarded
 * (ops->handoff_discard + free).
 */
int evpl_listener_handoff(struct evpl_listener *listener, struct evpl_handoff *handoff);

/* ---- services for transports (owning loop thread) ---------------------- */

/*
 * A fresh bind of protocol on evpl's live list with the callbacks set (the
 * MESSAGE flag follows from the protocol and segment callback).  Used by the
 * bind layer itself and by transports that create binds outside
 * evpl_connect/evpl_bind.
 */
struct evpl_bind *evpl_bind_create(struct evpl *evpl, const struct evpl_protocol *protocol,
                                   evpl_notify_callback_t  notify_callback,
                                   evpl_segment_callback_t segment_callback, void *private_data);
void              evpl_bind_set_callbacks(struct evpl_bind *bind, evpl_notify_callback_t notify,
                                          evpl_segment_callback_t segment, void *private_data);

/* The resolved address (new reference) of endpoint when its kind fits
 * protocol; NULL with an error log otherwise. */
struct evpl_address *evpl_bind_resolve_for(const struct evpl_protocol *protocol,
                                           struct evpl_endpoint       *endpoint);

/* The transport is up: deliver CONNECTED (connected protocols) and flush. */
void evpl_bind_connected(struct evpl *evpl, struct evpl_bind *bind);

/*
 * The transport ended (end of stream, reset, failed connect, peer gone):
 * mark the bind closing and schedule ops->close at the end of the pass.
 * Idempotent.  Buffered received data was delivered before this call.
 */
void evpl_bind_transport_closed(struct evpl *evpl, struct evpl_bind *bind);

/* Is a close underway (no point in reading/writing further)? */
static inline int
evpl_bind_closing(const struct evpl_bind *bind)
{
    return (bind->flags & EVPL_BIND_CLOSING) != 0;
}

/*
 * Fill iov[] with the front of the send ring (at most max ring entries) for a
 * gather write; returns the number of iovecs filled and stores the byte
 * total and, when entries is not NULL, the number of ring entries covered.
 * Entries that continue each other in memory (an echo of one receive, a
 * header carved just before its payload) share one iovec: the kernel then
 * copies one run instead of several, and a transport can use its
 * single-buffer send.
 */
int evpl_bind_send_gather(struct evpl_bind *bind, struct iovec *iov, int max, uint64_t *bytes,
                          unsigned int *entries);

/*
 * Stream transports: bytes were handed to the transport; drop fully sent
 * iovecs, trim a partially sent one and count bytes and completed messages.
 */
void evpl_bind_send_advance(struct evpl *evpl, struct evpl_bind *bind, uint64_t bytes);

/*
 * Message transports: the front message (evpl_dgram_ring_front(), whose niov
 * iovecs start at the send ring front) was handed over whole; drop it.
 */
void evpl_bind_send_pop_msg(struct evpl *evpl, struct evpl_bind *bind);

/*
 * End of a flush attempt: deliver SENT if requested and anything was counted;
 * if the send ring is empty, disarm nothing more and complete a pending
 * evpl_finish() by scheduling the close.
 */
void evpl_bind_flushed(struct evpl *evpl, struct evpl_bind *bind);

/*
 * Append length received bytes at data, owned by buffer ref (a reference is
 * taken), to the receive ring; contiguous appends from one buffer merge.
 */
void evpl_bind_recv_append(struct evpl *evpl, struct evpl_bind *bind, void *data,
                           unsigned int length, struct evpl_iovec_ref *ref);

/*
 * Should the transport stop reading (receive ring full)?  When this returns
 * 1 the bind is marked THROTTLED and the transport must pause reading until
 * ops->recv_resume() (which must exist) is called.
 */
int evpl_bind_recv_throttle(struct evpl_bind *bind);

/*
 * New bytes are in recv_ring: run the segment callback and deliver RECV_MSG
 * per message, or deliver RECV_DATA.  May close the bind.
 */
void evpl_bind_recv_stream(struct evpl *evpl, struct evpl_bind *bind);

/*
 * Deliver one RECV_MSG.  The references in iov pass to the application; addr
 * is borrowed for the callback (NULL: the bind's remote address is used).
 */
void evpl_bind_recv_msg(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iov, int niov,
                        unsigned int length, struct evpl_address *addr);

/*
 * Bytes one stream read may take.  The kernel copies a read's bytes into
 * the pooled buffer, and the application consumes them right after it; a
 * read of megabytes evicts its own first bytes from the core's cache before
 * they are used.  64 KiB reads are consumed while still in cache: streaming
 * 128 KiB messages over TCP on a 16-core machine ran 35.5 Gbit/s with
 * whole-buffer reads and 47.5 Gbit/s with 64 KiB (medians of 4 alternated
 * runs; 256 KiB reads: 36).  Small messages never reach the cap.  The
 * io_uring transport caps its receives the same way (docs/io_uring.md).
 */
#define EVPL_BIND_RECV_READ_MAX (64u * 1024u)

/*
 * The loop's shared receive buffer: read straight into pooled memory.
 * evpl_bind_recv_buffer() returns the unused tail of the loop's current
 * buffer and a whole spare buffer (either may be 0 bytes long when the tail
 * is exhausted); after the read, evpl_bind_recv_buffer_commit() records
 * that `used` bytes were filled (tail first, then spare, switching the
 * current buffer to the spare when it was touched).  Whatever a caller keeps
 * of the bytes it read must hold a reference (evpl_bind_recv_append) before
 * the next evpl_bind_recv_buffer(): once the loop holds the only reference,
 * the buffer is reused from its start.
 */
struct evpl_recv_buffer {
    void                  *tail;
    unsigned int           tail_len;
    struct evpl_iovec_ref *tail_ref;
    void                  *spare;
    unsigned int           spare_len;
    struct evpl_iovec_ref *spare_ref;
};
void evpl_bind_recv_buffer(struct evpl *evpl, struct evpl_recv_buffer *rb);
void evpl_bind_recv_buffer_commit(struct evpl *evpl, uint64_t used);

/*
 * One readv() of stream descriptor fd straight into the loop's receive
 * buffer, appending what arrived to bind's receive ring.  Returns the bytes
 * read (> 0), 0 at end of stream, or a negative errno (-EAGAIN: nothing to
 * read; EINTR is retried).  *drained is set when the read proved the socket
 * empty: EAGAIN, or a short read with no hang-up latched on event (see
 * evpl_event_short_read_drained()); the caller then marks it unreadable.
 */
ssize_t evpl_bind_recv_readv(struct evpl *evpl, struct evpl_bind *bind,
                             const struct evpl_event *event, int *drained);

/* Scratch arrays of the loop, max_num_iovec entries each (not reentrant:
 * use only between two callbacks into application code). */
struct iovec      *evpl_bind_scratch_iovec(struct evpl *evpl);
struct evpl_iovec *evpl_bind_scratch_evpl_iovec(struct evpl *evpl);

/* max_num_iovec capped at IOV_MAX: entries per gather write. */
unsigned int evpl_bind_max_iov(void);
