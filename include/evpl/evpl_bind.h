/*
 * Binds, listeners and data transfer.  Included through <evpl/evpl.h> only.
 *
 * A bind is one transport endpoint owned by one loop: a connection (from
 * evpl_connect() or accepted through a listener) or a bound datagram socket
 * (evpl_bind()).  Every notification about a bind arrives through its notify
 * callback on the owning loop's thread.  Unless marked thread-safe, every
 * function here must be called on the owning thread of the loop it is given.
 *
 * Ordering and lifetime:
 *   - no notification is delivered from inside the call that caused it
 *     (except DISCONNECTEDs delivered by evpl_destroy()/thread teardown);
 *   - per bind: CONNECTED (connected protocols only) precedes every RECV_*
 *     notification, and DISCONNECTED comes exactly once, last;
 *   - a bind pointer is valid from creation until its DISCONNECTED callback
 *     returns; the library recycles the storage afterwards;
 *   - the notification record, recv_msg.iovec (the array) and recv_msg.addr
 *     live only during the callback; the references held by recv_msg.iovec
 *     entries belong to the application.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_bind.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_listener;         /* accepts connections on a private service thread */
struct evpl_bind;             /* one connection or bound datagram socket */
struct evpl_listener_binding; /* one loop's attachment to a listener */
struct iovec;

/*
 * The notification record handed to notify callbacks; owned by the library.
 *   CONNECTED    the connection is up (status 0).
 *   DISCONNECTED the bind is gone; the pointer is invalid once the callback
 *                returns (status 0: the cause is not reported).
 *   RECV_DATA    bytes were appended to a stream bind's receive buffer; read
 *                them with evpl_recv*() / evpl_peek*().  Fires once per
 *                arrival, not again for bytes left unconsumed.
 *   RECV_MSG     exactly one whole message in recv_msg.iovec[0..niov-1]
 *                (total recv_msg.length bytes; not necessarily one iovec);
 *                recv_msg.addr is the sender (bound datagram binds) or the
 *                peer.  The application owns the iovec references and must
 *                release, move or send (EVPL_SEND_FLAG_TAKE_REF) each once.
 *   SENT         after evpl_bind_request_send_notifications(): sent.bytes
 *                payload bytes were handed to the transport since the last
 *                SENT, completing sent.msgs whole messages (datagrams on bound
 *                binds, messages on message binds, evpl_send* calls on stream
 *                binds with a segment callback, 0 on plain streams).
 */
struct evpl_notify {
    unsigned int notify_type;
    int          notify_status;
    union {
        struct {
            struct evpl_iovec   *iovec;
            unsigned int         niov;
            unsigned int         length;
            struct evpl_address *addr;
        } recv_msg;
        struct {
            unsigned long bytes;
            unsigned long msgs;
        } sent;
    };
};

#define EVPL_NOTIFY_CONNECTED    1
#define EVPL_NOTIFY_DISCONNECTED 2
#define EVPL_NOTIFY_RECV_DATA    3
#define EVPL_NOTIFY_RECV_MSG     4
#define EVPL_NOTIFY_SENT         5

#define EVPL_SEND_FLAG_TAKE_REF    0x01
#define EVPL_RECV_FLAG_ALL_OR_NONE 0x1
#ifndef EVPL_ADDRESS_STRLEN
#define EVPL_ADDRESS_STRLEN 128 /* holds every address rendering */
#endif

/* Receives every notification of one bind; private_data is the bind's. */
typedef void (*evpl_notify_callback_t)(struct evpl *evpl, struct evpl_bind *bind,
                                       struct evpl_notify *notify, void *private_data);

/*
 * Message framing over a stream bind: inspect buffered bytes with
 * evpl_peek()/evpl_peekv() (never consume) and return the total length of the
 * next message (> 0; may precede its full arrival), 0 when it is not known yet,
 * or < 0 to reject the stream (the bind is closed).  Never called on message
 * protocols, which keep boundaries themselves.
 */
typedef int (*evpl_segment_callback_t)(struct evpl *evpl, struct evpl_bind *bind,
                                       void *private_data);

/*
 * Called on the chosen loop for a newly accepted connection, before its
 * CONNECTED.  The out-parameters start as NULL: store a non-NULL notify
 * callback, optionally a segment callback and the bind's private pointer.
 * private_data is the value given to evpl_listener_attach().  The bind is
 * usable inside the callback (sends are queued, queries answer).
 */
typedef void (*evpl_attach_callback_t)(struct evpl *evpl, struct evpl_bind *bind,
                                       evpl_notify_callback_t  *notify_callback,
                                       evpl_segment_callback_t *segment_callback,
                                       void **conn_private_data, void *private_data);

/* ---- listeners ------------------------------------------------------- */

/*
 * Create a listener and its internal service thread (with its own loop) that
 * owns the listening sockets; returns once the thread is ready.  Thread-safe;
 * initialises the library implicitly.  Aborts if the thread cannot be started.
 */
struct evpl_listener *evpl_listener_create(void);

/*
 * Stop listening on everything, close the listening sockets (unlinking AF_UNIX
 * socket files this listener created, releasing its in-process names) and join
 * the service thread.  Accepted connections are unaffected.  Bindings still
 * attached become inert; their loops must still call evpl_listener_detach().
 * Any thread except the service thread.
 */
void evpl_listener_destroy(struct evpl_listener *listener);

/*
 * Make loop evpl a recipient of connections accepted by listener; returns the
 * binding handle (owned by the caller until evpl_listener_detach()).  Accepted
 * connections are spread over the attached bindings by the global
 * listener_policy (round-robin in attachment order by default, or to the
 * binding with the fewest live connections from this listener) and set up on
 * the chosen loop, which calls attach_callback(..., private_data) there.  A
 * connection accepted while nothing is attached is closed.  Owning thread of
 * evpl.
 */
struct evpl_listener_binding *evpl_listener_attach(struct evpl           *evpl,
                                                   struct evpl_listener  *listener,
                                                   evpl_attach_callback_t attach_callback,
                                                   void                  *private_data);

/*
 * Remove the binding (no further connections reach this loop through it) and
 * free the handle; existing connections are unaffected.  Valid whether or not
 * the listener was destroyed.  Owning thread; binding must not be NULL.
 */
void evpl_listener_detach(struct evpl *evpl, struct evpl_listener_binding *binding);

/*
 * Start accepting protocol connections on endpoint.  Synchronous: returns
 * after the listening socket is live on the service thread, so clients may
 * connect at once.  Thread-safe.  Returns 0, or -1 with an error log when the
 * protocol is unavailable or not connection-oriented, the endpoint kind does
 * not match, an inet name cannot be resolved, the OS refuses (address in use,
 * permission denied, a live AF_UNIX listener owns the path), or the in-process
 * name is taken.  The listener stays usable after a failure.  TCP-family
 * listeners use SO_REUSEADDR and a backlog of max_pending.  A stale AF_UNIX
 * socket file (nobody accepts on it) is replaced; a live one is probed with a
 * real connect that its server observes.
 */
int evpl_listen(struct evpl_listener *listener, enum evpl_protocol_id protocol,
                struct evpl_endpoint *endpoint);

/* ---- client and datagram binds --------------------------------------- */

/*
 * Start connecting loop evpl to remote_endpoint and return the bind at once.
 * CONNECTED follows on success; DISCONNECTED without CONNECTED on failure
 * (refused, unreachable, no in-process listener).  Sends may be queued
 * immediately and go out once connected.  local_endpoint may be NULL; when
 * given it is validated against the protocol but the socket transports do not
 * bind to it.  segment_callback turns a stream into messages (NULL for plain
 * streams; ignored by message protocols).  notify_callback must not be NULL.
 * Returns NULL (error log) for an unavailable protocol, an endpoint-kind
 * mismatch, an unresolvable endpoint or a socket that cannot be created; aborts
 * for a bound-only protocol (caller error).
 */
struct evpl_bind *evpl_connect(struct evpl *evpl, enum evpl_protocol_id protocol_id,
                               struct evpl_endpoint   *local_endpoint,
                               struct evpl_endpoint   *remote_endpoint,
                               evpl_notify_callback_t  notify_callback,
                               evpl_segment_callback_t segment_callback, void *private_data);

/*
 * Create a bound datagram socket on endpoint's address and port ("0.0.0.0"
 * for all interfaces), usable at once: no CONNECTED, datagrams arrive as
 * RECV_MSG with the sender in recv_msg.addr, evpl_close()/evpl_finish() end it
 * with DISCONNECTED.  Returns NULL (error log) for an unavailable protocol, a
 * kind mismatch, an unresolvable endpoint or an OS refusal (e.g. port in use);
 * aborts for a connected protocol (caller error).
 *
 * Sender addresses (DATAGRAM_SOCKET_UDP): recv_msg.addr is borrowed for the
 * callback -- the application keeps an address only by sending to it, the
 * queued datagram holding the library's own reference.  The bind remembers
 * its 16 most recent senders and hands every datagram of one of them the
 * same address object, so a steady exchange with a few peers allocates no
 * address per datagram.  The pointer is not a peer identity, though: a peer
 * that drops out of the 16 gets another object when it sends again, and the
 * object of a dropped peer that nobody kept may be reused for a new one.
 *
 * Segmentation offload (DATAGRAM_SOCKET_UDP, behaviour of this
 * implementation): datagrams queued in one pass to one destination with the
 * same size (the last may be shorter) leave as one UDP_SEGMENT send, and a
 * bind receives coalesced runs (UDP_GRO, when max_datagram_size is 64 KiB,
 * the default) and delivers them as the datagrams they were -- one
 * RECV_MSG each, in order, without a copy.  Peers see ordinary datagrams.
 * A route that refuses offload (segment above the MTU, no checksum offload)
 * makes the bind send such datagrams singly from then on.
 */
struct evpl_bind *evpl_bind(struct evpl *evpl, enum evpl_protocol_id protocol,
                            struct evpl_endpoint *endpoint, evpl_notify_callback_t callback,
                            void *private_data);

/* ---- sending ----------------------------------------------------------
 * Sends queue on the bind and return; queued data is flushed at the end of the
 * current pass, so sends from one callback coalesce into few system calls.
 * Sends on one bind go out in call order.  Data queued on a bind closed with
 * evpl_close() may be discarded.  Sending after evpl_finish() is unsupported.
 */

/*
 * Copy length (> 0, any size) bytes into library buffers and queue them as one
 * send unit (one message on message binds).  buffer is reusable on return.
 * Connected binds.  Aborts on length 0.
 */
void evpl_send(struct evpl *evpl, struct evpl_bind *bind, const void *buffer, unsigned int length);

/*
 * Zero-copy send of the first length bytes of iovecs[0..nbufvecs-1] as one
 * send unit (the last needed iovec is trimmed, later ones are not sent; fewer
 * bytes than length aborts; nbufvecs == 0 does nothing).  flags 0: the library
 * takes its own references and the caller keeps (and releases) its own; the
 * bytes must not change until sent.  EVPL_SEND_FLAG_TAKE_REF: every one of the
 * caller's references (also those beyond length) passes to the library; the
 * array itself stays the caller's.  GLOBAL iovecs: never with TAKE_REF.
 */
void evpl_sendv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovecs, int nbufvecs,
                int length, unsigned int flags);

/*
 * Addressed variants for bound datagram binds: one datagram per call to
 * address (typically recv_msg.addr: the library takes its own reference, so
 * this is valid inside the RECV_MSG callback) or to endpoint (resolved through
 * its cache).  Copy and v variants follow evpl_send / evpl_sendv.  On connected
 * binds the destination is ignored.
 */
void evpl_sendto(struct evpl *evpl, struct evpl_bind *bind, struct evpl_address *address,
                 const void *buffer, unsigned int length);
void evpl_sendtoep(struct evpl *evpl, struct evpl_bind *bind, struct evpl_endpoint *endpoint,
                   const void *buffer, unsigned int length);
void evpl_sendtov(struct evpl *evpl, struct evpl_bind *bind, struct evpl_address *address,
                  struct evpl_iovec *iovecs, int nbufvecs, int length, unsigned int flags);
void evpl_sendtoepv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_endpoint *endpoint,
                    struct evpl_iovec *iovecs, int nbufvecs, int length, unsigned int flags);

/* ---- receiving from stream binds --------------------------------------
 * The receive buffer of a stream bind, normally read from RECV_DATA (and
 * peeked from a segment callback).  Errors return -1 with errno = EINVAL.
 */

/*
 * Copy up to length bytes from the front of the receive buffer without
 * consuming them.  Returns the count (0 when empty), -1 for a NULL argument,
 * length <= 0 or a non-stream protocol.
 */
int evpl_peek(struct evpl *evpl, struct evpl_bind *bind, void *buffer, int length);

/*
 * Fill up to maxiovecs borrowed views (no references: never release them) of
 * the first length buffered bytes, valid until the bytes are consumed or the
 * callback returns.  Returns the number filled (0 when empty) or -1 as
 * evpl_peek (also maxiovecs <= 0).
 */
int evpl_peekv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovecs, int maxiovecs,
               int length);

/* Discard length bytes; 0, or -1 (nothing discarded) if fewer are buffered. */
int evpl_consume(struct evpl *evpl, struct evpl_bind *bind, int length);

/*
 * Copy up to maxlength buffered bytes into buffer and consume them.  Returns
 * the count (0 when empty), or -1 for a NULL argument, maxlength <= 0, a
 * non-stream bind or a bind with a segment callback.  With
 * EVPL_RECV_FLAG_ALL_OR_NONE: exactly maxlength bytes, or 0 and nothing
 * consumed when fewer are buffered.
 */
int evpl_recv(struct evpl *evpl, struct evpl_bind *bind, void *buffer, int maxlength,
              unsigned int flags);

/*
 * Zero-copy receive of up to maxlength bytes into at most maxiovecs iovecs
 * whose references the caller owns.  Returns the number of iovecs (0 when
 * empty) or -1 as evpl_recv (also maxiovecs <= 0).  *length (if not NULL) is
 * set to the bytes received (0 first, also on error).
 */
int evpl_recvv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovecs, int maxiovecs,
               int maxlength, int *length);

/* ---- closing ---------------------------------------------------------- */

/*
 * Tear the bind down: the transport is shut at the end of the current pass
 * and DISCONNECTED follows on a later pass; queued sends may be discarded and
 * unconsumed received data is dropped.  Repeated calls are no-ops.
 */
void evpl_close(struct evpl *evpl, struct evpl_bind *bind);

/*
 * Graceful close: once everything queued so far has been handed to the
 * transport (at once if nothing is queued) the bind closes; DISCONNECTED
 * follows on both ends of a connected pair.  Works on bound datagram binds.
 */
void evpl_finish(struct evpl *evpl, struct evpl_bind *bind);

/* ---- queries ---------------------------------------------------------- */

/*
 * Render the local / remote address ("a.b.c.d:port", "[v6]:port",
 * "unix:<path>", "unix:@<name>", "unix:*", "inproc:<name>[#serial]",
 * "(NULL)") into str, truncated to len bytes and always NUL-terminated
 * (nothing written when len <= 0).  Accepted connections report the concrete
 * local interface address.  A connecting bind's local address is meaningful
 * once CONNECTED.  Any thread that keeps the bind alive.
 */
void evpl_bind_get_local_address(struct evpl_bind *bind, char *str, int len);
void evpl_bind_get_remote_address(struct evpl_bind *bind, char *str, int len);

/* The protocol the bind was created with. */
enum evpl_protocol_id evpl_bind_get_protocol(struct evpl_bind *bind);

/* 1 if one-sided RDMA operations work on this bind (protocols 1, 6, 8, 11). */
int evpl_bind_is_rdma(struct evpl_bind *bind);

/*
 * 1 from the moment a close is underway (evpl_close/evpl_finish, or the
 * peer's end of stream or an error was seen) until DISCONNECTED; 0 otherwise.
 */
int evpl_bind_is_closing(struct evpl_bind *bind);

/*
 * Opt in to EVPL_NOTIFY_SENT (there is no opt-out).  Consulted at flush time,
 * so data queued earlier in the same pass is reported too.  Owning thread.
 *
 * On transports that complete sends synchronously (the in-process ones),
 * SENT is delivered from the end-of-pass flush, and data sent from a SENT
 * callback is flushed -- and reported -- in the same drain, until the
 * peer's queue is full (flow control: see enum evpl_protocol_id), after
 * which SENT waits for the peer's loop to take what it has.  A sender that
 * always refills from SENT can therefore keep the pass from ending (timers
 * and other events starve) while the peer keeps up: bound the refill, e.g.
 * by a window of messages in flight that the receiver's replies reopen, or
 * send from a timer.
 */
void evpl_bind_request_send_notifications(struct evpl *evpl, struct evpl_bind *bind);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
