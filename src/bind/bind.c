/*
 * The protocol-agnostic bind layer (API §6): bind creation, the send and
 * receive queues, closing, queries, and the services transports build on
 * (backend.h).  Nothing here knows which transport a bind uses.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/shared.h"
#include "memory/allocator.h"
#include "bind/backend.h"
#include "bind/bind_loop.h"

/* The public notification record's layout (contract section 1). */
_Static_assert(sizeof(struct evpl_notify) == 32, "struct evpl_notify size");
_Static_assert(offsetof(struct evpl_notify, notify_type) == 0, "notify_type");
_Static_assert(offsetof(struct evpl_notify, notify_status) == 4, "notify_status");
_Static_assert(offsetof(struct evpl_notify, recv_msg.iovec) == 8, "recv_msg.iovec");
_Static_assert(offsetof(struct evpl_notify, recv_msg.niov) == 16, "recv_msg.niov");
_Static_assert(offsetof(struct evpl_notify, recv_msg.length) == 20, "recv_msg.length");
_Static_assert(offsetof(struct evpl_notify, recv_msg.addr) == 24, "recv_msg.addr");
_Static_assert(offsetof(struct evpl_notify, sent.bytes) == 8, "sent.bytes");
_Static_assert(offsetof(struct evpl_notify, sent.msgs) == 16, "sent.msgs");

#define evpl_bind_error(...)       evpl_log_error("bind", __VA_ARGS__)
#define evpl_bind_abort_if(c, ...) evpl_abort_if(c, "bind", __VA_ARGS__)

/* Iovecs one copy chunk may need; chunks are at most 4 buffers long. */
#define COPY_CHUNK_IOV 8
/* Iovecs a received message is gathered into before it is linearised. */
#define MSG_STACK_IOV 64

static inline unsigned int
ring_initial(void)
{
    return evpl_config()->iovec_ring_size;
}

static inline unsigned int
dgram_initial(void)
{
    return evpl_config()->dgram_ring_size;
}

static void
bind_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify)
{
    bind->notify_callback(evpl, bind, notify, bind->private_data);
}

/* ---- deferrals ---------------------------------------------------------- */

static void
bind_flush_deferred(struct evpl *evpl, void *private_data)
{
    struct evpl_bind *bind = private_data;

    if ((bind->flags & (EVPL_BIND_CONNECTED | EVPL_BIND_CLOSED)) == EVPL_BIND_CONNECTED) {
        bind->ops->flush(evpl, bind);
    }
}

static void
bind_close_deferred(struct evpl *evpl, void *private_data)
{
    evpl_bind_close_now(evpl, private_data);
}

static inline void
bind_request_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    if (!bind->flush_deferral.armed) {
        evpl_defer(evpl, &bind->flush_deferral);
    }
}

static void
bind_queue_close(struct evpl *evpl, struct evpl_bind *bind)
{
    bind->flags |= EVPL_BIND_CLOSING;
    if (!(bind->flags & EVPL_BIND_CLOSE_QUEUED)) {
        bind->flags |= EVPL_BIND_CLOSE_QUEUED;
        evpl_defer(evpl, &bind->close_deferral);
    }
}

void
evpl_bind_close_now(struct evpl *evpl, struct evpl_bind *bind)
{
    if (bind->flags & EVPL_BIND_CLOSED) {
        return;
    }
    bind->flags |= EVPL_BIND_CLOSED | EVPL_BIND_CLOSING | EVPL_BIND_CLOSE_QUEUED;
    evpl_remove_deferral(evpl, &bind->flush_deferral);
    evpl_remove_deferral(evpl, &bind->close_deferral);

    bind->ops->close(evpl, bind);

    /* Unsent data is discarded and unconsumed data dropped (API §6.8). */
    evpl_iovec_ring_clear(evpl, &bind->send_ring);
    evpl_dgram_ring_clear(&bind->dgram_ring);
    evpl_iovec_ring_clear(evpl, &bind->recv_ring);

    evpl_bind_loop_mark_closed(evpl, bind);
}

/* ---- creation ----------------------------------------------------------- */

static int
endpoint_fits(const struct evpl_protocol *protocol, const struct evpl_endpoint *endpoint)
{
    enum evpl_endpoint_kind want = EVPL_ENDPOINT_INET;

    if (protocol->flags & EVPL_PROTOCOL_LOCAL) {
        want = EVPL_ENDPOINT_LOCAL;
    } else if (protocol->flags & EVPL_PROTOCOL_INPROC) {
        want = EVPL_ENDPOINT_INPROC;
    }
    if (evpl_endpoint_kind(endpoint) != want) {
        evpl_bind_error("protocol %s cannot use endpoint '%s' (wrong kind)", protocol->name,
                        evpl_endpoint_address(endpoint));
        return 0;
    }
    return 1;
}

/* The available protocol id, or NULL with an error log. */
static const struct evpl_protocol *
protocol_for(enum evpl_protocol_id id, const char *what)
{
    const struct evpl_protocol *protocol = evpl_protocol_get(id);

    if (protocol == NULL || protocol->ops == NULL) {
        evpl_bind_error("%s: protocol %d is not available", what, (int) id);
        return NULL;
    }
    return protocol;
}

/* The resolved address of endpoint, or NULL when it does not fit protocol. */
struct evpl_address *
evpl_bind_resolve_for(const struct evpl_protocol *protocol, struct evpl_endpoint *endpoint)
{
    if (endpoint == NULL) {
        evpl_bind_error("protocol %s: NULL endpoint", protocol->name);
        return NULL;
    }
    if (!endpoint_fits(protocol, endpoint)) {
        return NULL;
    }
    return evpl_endpoint_resolve(endpoint);
}

/* A fresh bind on evpl's live list with the callbacks set. */
struct evpl_bind *
evpl_bind_create(struct evpl *evpl, const struct evpl_protocol *protocol,
                 evpl_notify_callback_t notify_callback, evpl_segment_callback_t segment_callback,
                 void *private_data)
{
    struct evpl_bind *bind = evpl_bind_loop_alloc(evpl);

    bind->protocol = protocol;
    bind->ops      = protocol->ops;
    bind->evpl     = evpl;
    evpl_bind_set_callbacks(bind, notify_callback, segment_callback, private_data);
    evpl_deferral_init(&bind->flush_deferral, bind_flush_deferred, bind);
    evpl_deferral_init(&bind->close_deferral, bind_close_deferred, bind);
    return bind;
}

void
evpl_bind_set_callbacks(struct evpl_bind *bind, evpl_notify_callback_t notify_callback,
                        evpl_segment_callback_t segment_callback, void *private_data)
{
    int stream = (bind->protocol->flags & EVPL_PROTOCOL_STREAM) != 0;

    bind->notify_callback  = notify_callback;
    bind->segment_callback = stream ? segment_callback : NULL;
    bind->private_data     = private_data;
    if (!stream || segment_callback) {
        bind->flags |= EVPL_BIND_MESSAGE;
    } else {
        bind->flags &= ~EVPL_BIND_MESSAGE;
    }
}

struct evpl_bind *
evpl_connect(struct evpl *evpl, enum evpl_protocol_id protocol_id,
             struct evpl_endpoint *local_endpoint, struct evpl_endpoint *remote_endpoint,
             evpl_notify_callback_t notify_callback, evpl_segment_callback_t segment_callback,
             void *private_data)
{
    const struct evpl_protocol *protocol = protocol_for(protocol_id, "evpl_connect");
    struct evpl_address        *remote;
    struct evpl_bind           *bind;
    int                         rc;

    if (protocol == NULL) {
        return NULL;
    }
    evpl_bind_abort_if(!(protocol->flags & EVPL_PROTOCOL_CONNECTED),
                       "evpl_connect: %s is a bound protocol, use evpl_bind()", protocol->name);
    evpl_bind_abort_if(notify_callback == NULL, "evpl_connect: NULL notify callback");

    if (local_endpoint && !endpoint_fits(protocol, local_endpoint)) {
        return NULL;
    }
    remote = evpl_bind_resolve_for(protocol, remote_endpoint);
    if (remote == NULL) {
        return NULL;
    }

    bind = evpl_bind_create(evpl, protocol, notify_callback, segment_callback, private_data);
    bind->remote = remote;

    if (!evpl_endpoint_is_local(remote_endpoint) && !evpl_endpoint_is_inproc(remote_endpoint)) {
        bind->connect_host = evpl_endpoint_address(remote_endpoint);
    }
    rc                 = bind->ops->connect(evpl, bind);
    bind->connect_host = NULL;
    if (rc < 0) {
        /* The caller still gets a bind; the failure arrives as DISCONNECTED
         * on a later pass, like an asynchronous refusal would. */
        evpl_log_debug("bind", "connect over %s failed at once: %s", protocol->name, strerror(-rc));
        evpl_bind_transport_closed(evpl, bind);
    }
    return bind;
}

struct evpl_bind *
evpl_bind(struct evpl *evpl, enum evpl_protocol_id protocol_id, struct evpl_endpoint *endpoint,
          evpl_notify_callback_t callback, void *private_data)
{
    const struct evpl_protocol *protocol = protocol_for(protocol_id, "evpl_bind");
    struct evpl_address        *local;
    struct evpl_bind           *bind;
    int                         rc;

    if (protocol == NULL) {
        return NULL;
    }
    evpl_bind_abort_if(protocol->flags & EVPL_PROTOCOL_CONNECTED,
                       "evpl_bind: %s is a connected protocol, use evpl_connect()", protocol->name);
    evpl_bind_abort_if(callback == NULL, "evpl_bind: NULL notify callback");

    local = evpl_bind_resolve_for(protocol, endpoint);
    if (local == NULL) {
        return NULL;
    }

    bind        = evpl_bind_create(evpl, protocol, callback, NULL, private_data);
    bind->local = local;

    rc = bind->ops->bind(evpl, bind);
    if (rc < 0) {
        char text[EVPL_ADDRESS_STRLEN];
        evpl_address_render(local, text, sizeof(text));
        evpl_bind_error("evpl_bind: %s on %s failed: %s", protocol->name, text, strerror(-rc));
        evpl_bind_loop_discard(evpl, bind);
        return NULL;
    }
    bind->flags |= EVPL_BIND_CONNECTED;
    return bind;
}

/* ---- transport services ------------------------------------------------- */

void
evpl_bind_connected(struct evpl *evpl, struct evpl_bind *bind)
{
    if (bind->flags & EVPL_BIND_CLOSED) {
        return;
    }
    bind->flags |= EVPL_BIND_CONNECTED;

    if ((bind->protocol->flags & EVPL_PROTOCOL_CONNECTED) &&
        !(bind->flags & EVPL_BIND_NOTIFIED_UP)) {
        struct evpl_notify notify = {.notify_type = EVPL_NOTIFY_CONNECTED};

        bind->flags |= EVPL_BIND_NOTIFIED_UP;
        bind_notify(evpl, bind, &notify);
    }

    /* Data queued before the connection was up goes out now; the deferral
     * keeps the "flush at the end of the pass" batching. */
    if (!evpl_iovec_ring_empty(&bind->send_ring) || (bind->flags & EVPL_BIND_FINISHING)) {
        bind_request_flush(evpl, bind);
    }
}

void
evpl_bind_transport_closed(struct evpl *evpl, struct evpl_bind *bind)
{
    bind_queue_close(evpl, bind);
}

int
evpl_bind_send_gather(struct evpl_bind *bind, struct iovec *iov, int max, uint64_t *bytes,
                      unsigned int *entries)
{
    struct evpl_iovec_ring *ring  = &bind->send_ring;
    unsigned int            count = evpl_iovec_ring_count(ring);
    uint64_t                total = 0;
    int                     n     = 0;

    if (count > (unsigned int) max) {
        count = max;
    }
    for (unsigned int i = 0; i < count; i++) {
        const struct evpl_iovec *e = evpl_iovec_ring_at(ring, i);

        if (n > 0 && (const char *) iov[n - 1].iov_base + iov[n - 1].iov_len == e->data) {
            iov[n - 1].iov_len += e->length;
        } else {
            iov[n].iov_base = e->data;
            iov[n].iov_len  = e->length;
            n++;
        }
        total += e->length;
    }
    *bytes = total;
    if (entries) {
        *entries = count;
    }
    return n;
}

void
evpl_bind_send_advance(struct evpl *evpl, struct evpl_bind *bind, uint64_t bytes)
{
    struct evpl_iovec_ring *ring = &bind->send_ring;
    uint64_t                left = bytes;

    ring->length -= bytes;
    while (left) {
        struct evpl_iovec *e = evpl_iovec_ring_front(ring);

        if (e->length <= left) {
            left -= e->length;
            evpl_iovec_release_internal(evpl, e);
            evpl_iovec_ring_pop(ring);
        } else {
            e->data = (char *) e->data + left;
            e->length -= left;
            left = 0;
        }
    }

    if (bind->flags & EVPL_BIND_MESSAGE) {
        /* A message completes when its last byte has been handed over. */
        left = bytes;
        while (left && evpl_dgram_ring_count(&bind->dgram_ring)) {
            struct evpl_dgram *d    = evpl_dgram_ring_front(&bind->dgram_ring);
            unsigned int       take = d->length < left ? d->length : (unsigned int) left;

            d->length -= take;
            left -= take;
            if (d->length == 0) {
                evpl_address_release(d->addr);
                evpl_dgram_ring_pop(&bind->dgram_ring);
                if (bind->flags & EVPL_BIND_SEND_NOTIFY) {
                    bind->sent_msgs++;
                }
            }
        }
    }
    if (bind->flags & EVPL_BIND_SEND_NOTIFY) {
        bind->sent_bytes += bytes;
    }
}

void
evpl_bind_send_pop_msg(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_dgram *d = evpl_dgram_ring_front(&bind->dgram_ring);

    for (unsigned int i = 0; i < d->niov; i++) {
        struct evpl_iovec *e = evpl_iovec_ring_front(&bind->send_ring);
        bind->send_ring.length -= e->length;
        evpl_iovec_release_internal(evpl, e);
        evpl_iovec_ring_pop(&bind->send_ring);
    }
    if (bind->flags & EVPL_BIND_SEND_NOTIFY) {
        bind->sent_bytes += d->length;
        bind->sent_msgs++;
    }
    evpl_address_release(d->addr);
    evpl_dgram_ring_pop(&bind->dgram_ring);
}

void
evpl_bind_flushed(struct evpl *evpl, struct evpl_bind *bind)
{
    if ((bind->flags & EVPL_BIND_SEND_NOTIFY) && (bind->sent_bytes || bind->sent_msgs)) {
        struct evpl_notify notify = {.notify_type = EVPL_NOTIFY_SENT};

        notify.sent.bytes = bind->sent_bytes;
        notify.sent.msgs  = bind->sent_msgs;
        bind->sent_bytes  = 0;
        bind->sent_msgs   = 0;
        bind_notify(evpl, bind, &notify);
    }
    if ((bind->flags & EVPL_BIND_FINISHING) && evpl_iovec_ring_empty(&bind->send_ring) &&
        !(bind->ops->pending_output && bind->ops->pending_output(bind))) {
        bind_queue_close(evpl, bind);
    }
}

void
evpl_bind_recv_append(struct evpl *evpl, struct evpl_bind *bind, void *data, unsigned int length,
                      struct evpl_iovec_ref *ref)
{
    struct evpl_iovec_ring *ring = &bind->recv_ring;
    struct evpl_iovec      *e;

    (void) evpl;
    ring->length += length;
    if (!evpl_iovec_ring_empty(ring)) {
        e = evpl_iovec_ring_back(ring);
        if (e->ref == ref && (char *) e->data + e->length == (char *) data) {
            e->length += length;
            return;
        }
    }
    e         = evpl_iovec_ring_push(ring, ring_initial());
    e->data   = data;
    e->length = length;
    e->pad    = 0;
    e->ref    = ref;
    evpl_iovec_ref_incr(ref);
}

static inline uint64_t
recv_high_water(const struct evpl_bind *bind)
{
    uint64_t segment = bind->segment_length > 0 ? (uint64_t) bind->segment_length : 0;

    return segment > EVPL_RECV_HIGH_WATER ? segment : EVPL_RECV_HIGH_WATER;
}

int
evpl_bind_recv_throttle(struct evpl_bind *bind)
{
    if (bind->ops->recv_resume == NULL || bind->recv_ring.length < recv_high_water(bind)) {
        return 0;
    }
    bind->flags |= EVPL_BIND_THROTTLED;
    return 1;
}

/* After the application consumed: resume a throttled transport. */
static inline void
recv_maybe_resume(struct evpl *evpl, struct evpl_bind *bind)
{
    if (__builtin_expect((bind->flags & EVPL_BIND_THROTTLED) != 0, 0) &&
        bind->recv_ring.length <= recv_high_water(bind) / 2 && !(bind->flags & EVPL_BIND_CLOSED)) {
        bind->flags &= ~EVPL_BIND_THROTTLED;
        bind->ops->recv_resume(evpl, bind);
    }
}

/* Drop `length` bytes from the front of the receive ring (length <= ring length). */
static void
recv_ring_consume(struct evpl *evpl, struct evpl_iovec_ring *ring, uint64_t length)
{
    ring->length -= length;
    while (length) {
        struct evpl_iovec *e = evpl_iovec_ring_front(ring);

        if (e->length <= length) {
            length -= e->length;
            evpl_iovec_release_internal(evpl, e);
            evpl_iovec_ring_pop(ring);
        } else {
            e->data = (char *) e->data + length;
            e->length -= length;
            length = 0;
        }
    }
}

/*
 * Move the first `length` bytes of the receive ring into iov[] (at most max
 * entries), each with its own reference.  Returns the count, or -1 when more
 * than max entries would be needed (nothing moved then).
 */
static int
recv_ring_take(struct evpl *evpl, struct evpl_iovec_ring *ring, uint64_t length,
               struct evpl_iovec *iov, int max)
{
    uint64_t left = length;
    int      n    = 0;

    (void) evpl;
    for (unsigned int i = 0; left; i++, n++) {
        if (n == max) {
            return -1;
        }
        unsigned int elen = evpl_iovec_ring_at(ring, i)->length;
        left -= elen < left ? elen : left;
    }

    left = length;
    for (int i = 0; i < n; i++) {
        struct evpl_iovec *e = evpl_iovec_ring_front(ring);

        if (e->length <= left) {
            iov[i] = *e;
            left -= e->length;
            ring->length -= e->length;
            evpl_iovec_ring_pop(ring);
        } else {
            iov[i]        = *e;
            iov[i].length = left;
            evpl_iovec_ref_incr(e->ref);
            e->data = (char *) e->data + left;
            e->length -= left;
            ring->length -= left;
            left = 0;
        }
    }
    return n;
}

/* Copy up to length bytes from the front of the ring (without consuming). */
static uint64_t
recv_ring_copy(struct evpl_iovec_ring *ring, void *buffer, uint64_t length)
{
    uint64_t done = 0;

    for (unsigned int i = 0; done < length && i < evpl_iovec_ring_count(ring); i++) {
        struct evpl_iovec *e    = evpl_iovec_ring_at(ring, i);
        uint64_t           take = e->length < length - done ? e->length : length - done;

        memcpy((char *) buffer + done, e->data, take);
        done += take;
    }
    return done;
}

static void
deliver_segment(struct evpl *evpl, struct evpl_bind *bind, unsigned int length)
{
    struct evpl_iovec  stack_iov[MSG_STACK_IOV];
    struct evpl_notify notify = {.notify_type = EVPL_NOTIFY_RECV_MSG};
    int                n;

    n = recv_ring_take(evpl, &bind->recv_ring, length, stack_iov, MSG_STACK_IOV);
    if (n < 0) {
        /* Too fragmented to hand over as views: linearise into fresh
         * buffers (rare: needs many interleaved small reads). */
        n = evpl_iovec_alloc(evpl, length, 0, MSG_STACK_IOV, 0, stack_iov);
        evpl_bind_abort_if(n < 0, "received message of %u bytes needs more than %d buffers", length,
                           MSG_STACK_IOV);
        for (int i = 0, off = 0; i < n; off += stack_iov[i].length, i++) {
            recv_ring_copy(&bind->recv_ring, stack_iov[i].data, stack_iov[i].length);
            recv_ring_consume(evpl, &bind->recv_ring, stack_iov[i].length);
            (void) off;
        }
    }
    notify.recv_msg.iovec  = stack_iov;
    notify.recv_msg.niov   = n;
    notify.recv_msg.length = length;
    notify.recv_msg.addr   = bind->remote;
    bind_notify(evpl, bind, &notify);
}

void
evpl_bind_recv_stream(struct evpl *evpl, struct evpl_bind *bind)
{
    if (bind->segment_callback == NULL) {
        if (bind->recv_ring.length) {
            struct evpl_notify notify = {.notify_type = EVPL_NOTIFY_RECV_DATA};
            bind_notify(evpl, bind, &notify);
        }
        return;
    }

    while (!(bind->flags & EVPL_BIND_CLOSING)) {
        if (bind->segment_length == 0) {
            int length;

            if (bind->recv_ring.length == 0) {
                break;
            }
            length = bind->segment_callback(evpl, bind, bind->private_data);
            if (length < 0) {
                evpl_log_debug("bind", "segment callback rejected the stream (%d)", length);
                bind_queue_close(evpl, bind);
                break;
            }
            if (length == 0) {
                break;
            }
            bind->segment_length = length;
        }
        if (bind->recv_ring.length < (uint64_t) bind->segment_length) {
            break;
        }
        unsigned int length  = bind->segment_length;
        bind->segment_length = 0;
        deliver_segment(evpl, bind, length);
    }
    recv_maybe_resume(evpl, bind);
}

void
evpl_bind_recv_msg(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iov, int niov,
                   unsigned int length, struct evpl_address *addr)
{
    struct evpl_notify notify = {.notify_type = EVPL_NOTIFY_RECV_MSG};

    notify.recv_msg.iovec  = iov;
    notify.recv_msg.niov   = niov;
    notify.recv_msg.length = length;
    notify.recv_msg.addr   = addr ? addr : bind->remote;
    bind_notify(evpl, bind, &notify);
}

/* ---- sending ------------------------------------------------------------ */

/* May the application still queue data on bind? */
static inline int
send_allowed(struct evpl_bind *bind)
{
    return !(bind->flags & (EVPL_BIND_CLOSE_QUEUED | EVPL_BIND_CLOSED));
}

static void
queue_message(struct evpl *evpl, struct evpl_bind *bind, unsigned int niov, unsigned int length,
              struct evpl_address *addr)
{
    if (bind->flags & EVPL_BIND_MESSAGE) {
        struct evpl_dgram *d = evpl_dgram_ring_push(&bind->dgram_ring, dgram_initial());
        d->niov              = niov;
        d->length            = length;
        d->addr              = addr;
    } else {
        evpl_address_release(addr);
    }
    bind_request_flush(evpl, bind);
}

static void
send_copy(struct evpl *evpl, struct evpl_bind *bind, struct evpl_address *addr, const void *buffer,
          unsigned int length)
{
    const char  *src   = buffer;
    unsigned int chunk = evpl_buffer_size() * 4;
    unsigned int niov = 0, left = length;

    evpl_bind_abort_if(length == 0, "evpl_send: zero-length send");
    if (!send_allowed(bind)) {
        evpl_address_release(addr);
        return;
    }

    while (left) {
        struct evpl_iovec tmp[COPY_CHUNK_IOV];
        unsigned int      len = left < chunk ? left : chunk;
        int               n   = evpl_iovec_alloc(evpl, len, 0, COPY_CHUNK_IOV, 0, tmp);

        evpl_bind_abort_if(n <= 0, "evpl_send: cannot allocate %u bytes", len);
        for (int i = 0; i < n; i++) {
            struct evpl_iovec *e = evpl_iovec_ring_push(&bind->send_ring, ring_initial());
            memcpy(tmp[i].data, src, tmp[i].length);
            src += tmp[i].length;
            *e = tmp[i];
            bind->send_ring.length += tmp[i].length;
        }
        niov += n;
        left -= len;
    }
    queue_message(evpl, bind, niov, length, addr);
}

static void
send_iovecs(struct evpl *evpl, struct evpl_bind *bind, struct evpl_address *addr,
            struct evpl_iovec *iovecs, int nbufvecs, int length, unsigned int flags)
{
    int      take_ref = (flags & EVPL_SEND_FLAG_TAKE_REF) != 0;
    uint64_t total    = 0;
    int      niov = 0, left = length;

    if (nbufvecs <= 0) {
        evpl_address_release(addr);
        return;
    }
    for (int i = 0; i < nbufvecs; i++) {
        total += iovecs[i].length;
    }
    evpl_bind_abort_if(length < 0 || total < (uint64_t) length,
                       "evpl_sendv: iovecs hold %llu bytes, %d requested",
                       (unsigned long long) total, length);

    if (length == 0 || !send_allowed(bind)) {
        if (take_ref) {
            evpl_iovecs_release_internal(evpl, iovecs, nbufvecs);
        }
        evpl_address_release(addr);
        return;
    }

    for (int i = 0; i < nbufvecs; i++) {
        if (left == 0 || iovecs[i].length == 0) {
            if (take_ref) {
                evpl_iovec_release_internal(evpl, &iovecs[i]);
            }
            continue;
        }
        struct evpl_iovec *e = evpl_iovec_ring_push(&bind->send_ring, ring_initial());
        *e                   = iovecs[i];
        if ((int) e->length > left) {
            e->length = left;
        }
        if (take_ref) {
            iovecs[i].data = NULL;
        } else {
            evpl_iovec_ref_incr(e->ref);
        }
        left -= e->length;
        bind->send_ring.length += e->length;
        niov++;
    }
    queue_message(evpl, bind, niov, length, addr);
}

/* The destination to store with a datagram: only bound binds keep one. */
static inline struct evpl_address *
dest_address(struct evpl_bind *bind, struct evpl_address *address)
{
    if (address == NULL || (bind->protocol->flags & EVPL_PROTOCOL_CONNECTED)) {
        return NULL;
    }
    return evpl_address_ref(address);
}

static struct evpl_address *
dest_endpoint(struct evpl_bind *bind, struct evpl_endpoint *endpoint)
{
    if (endpoint == NULL || (bind->protocol->flags & EVPL_PROTOCOL_CONNECTED)) {
        return NULL;
    }
    return evpl_bind_resolve_for(bind->protocol, endpoint);
}

void
evpl_send(struct evpl *evpl, struct evpl_bind *bind, const void *buffer, unsigned int length)
{
    send_copy(evpl, bind, NULL, buffer, length);
}

void
evpl_sendv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovecs, int nbufvecs,
           int length, unsigned int flags)
{
    send_iovecs(evpl, bind, NULL, iovecs, nbufvecs, length, flags);
}

void
evpl_sendto(struct evpl *evpl, struct evpl_bind *bind, struct evpl_address *address,
            const void *buffer, unsigned int length)
{
    send_copy(evpl, bind, dest_address(bind, address), buffer, length);
}

void
evpl_sendtoep(struct evpl *evpl, struct evpl_bind *bind, struct evpl_endpoint *endpoint,
              const void *buffer, unsigned int length)
{
    send_copy(evpl, bind, dest_endpoint(bind, endpoint), buffer, length);
}

void
evpl_sendtov(struct evpl *evpl, struct evpl_bind *bind, struct evpl_address *address,
             struct evpl_iovec *iovecs, int nbufvecs, int length, unsigned int flags)
{
    send_iovecs(evpl, bind, dest_address(bind, address), iovecs, nbufvecs, length, flags);
}

void
evpl_sendtoepv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_endpoint *endpoint,
               struct evpl_iovec *iovecs, int nbufvecs, int length, unsigned int flags)
{
    send_iovecs(evpl, bind, dest_endpoint(bind, endpoint), iovecs, nbufvecs, length, flags);
}

/* ---- receiving ---------------------------------------------------------- */

static inline int
is_stream(const struct evpl_bind *bind)
{
    return (bind->protocol->flags & EVPL_PROTOCOL_STREAM) != 0;
}

int
evpl_peek(struct evpl *evpl, struct evpl_bind *bind, void *buffer, int length)
{
    (void) evpl;
    if (bind == NULL || buffer == NULL || length <= 0 || !is_stream(bind)) {
        errno = EINVAL;
        return -1;
    }
    return (int) recv_ring_copy(&bind->recv_ring, buffer, length);
}

int
evpl_peekv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovecs, int maxiovecs,
           int length)
{
    struct evpl_iovec_ring *ring = &bind->recv_ring;
    int                     n    = 0;
    int                     left = length;

    (void) evpl;
    if (bind == NULL || iovecs == NULL || length <= 0 || maxiovecs <= 0 || !is_stream(bind)) {
        errno = EINVAL;
        return -1;
    }
    for (unsigned int i = 0; left > 0 && n < maxiovecs && i < evpl_iovec_ring_count(ring); i++) {
        struct evpl_iovec *e = evpl_iovec_ring_at(ring, i);

        iovecs[n] = *e;
        if ((int) e->length > left) {
            iovecs[n].length = left;
        }
        left -= iovecs[n].length;
        n++;
    }
    return n;
}

int
evpl_consume(struct evpl *evpl, struct evpl_bind *bind, int length)
{
    if (bind == NULL || length < 0 || (uint64_t) length > bind->recv_ring.length) {
        return -1;
    }
    recv_ring_consume(evpl, &bind->recv_ring, length);
    recv_maybe_resume(evpl, bind);
    return 0;
}

int
evpl_recv(struct evpl *evpl, struct evpl_bind *bind, void *buffer, int maxlength,
          unsigned int flags)
{
    uint64_t n;

    if (bind == NULL || buffer == NULL || maxlength <= 0 || !is_stream(bind) ||
        bind->segment_callback) {
        errno = EINVAL;
        return -1;
    }
    if ((flags & EVPL_RECV_FLAG_ALL_OR_NONE) && bind->recv_ring.length < (uint64_t) maxlength) {
        return 0;
    }
    n = recv_ring_copy(&bind->recv_ring, buffer, maxlength);
    recv_ring_consume(evpl, &bind->recv_ring, n);
    recv_maybe_resume(evpl, bind);
    return (int) n;
}

int
evpl_recvv(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovecs, int maxiovecs,
           int maxlength, int *length)
{
    struct evpl_iovec_ring *ring = &bind->recv_ring;
    int                     n = 0, done = 0;

    (void) evpl;
    if (length) {
        *length = 0;
    }
    if (bind == NULL || iovecs == NULL || maxlength <= 0 || maxiovecs <= 0 || !is_stream(bind) ||
        bind->segment_callback) {
        errno = EINVAL;
        return -1;
    }
    while (n < maxiovecs && done < maxlength && !evpl_iovec_ring_empty(ring)) {
        struct evpl_iovec *e    = evpl_iovec_ring_front(ring);
        int                left = maxlength - done;

        if ((int) e->length <= left) {
            iovecs[n] = *e;
            evpl_iovec_ring_pop(ring);
        } else {
            iovecs[n]        = *e;
            iovecs[n].length = left;
            evpl_iovec_ref_incr(e->ref);
            e->data = (char *) e->data + left;
            e->length -= left;
        }
        ring->length -= iovecs[n].length;
        done += iovecs[n].length;
        n++;
    }
    if (length) {
        *length = done;
    }
    recv_maybe_resume(evpl, bind);
    return n;
}

/* ---- closing and queries ------------------------------------------------ */

void
evpl_close(struct evpl *evpl, struct evpl_bind *bind)
{
    bind_queue_close(evpl, bind);
}

void
evpl_finish(struct evpl *evpl, struct evpl_bind *bind)
{
    if (bind->flags & EVPL_BIND_CLOSE_QUEUED) {
        return;
    }
    bind->flags |= EVPL_BIND_FINISHING | EVPL_BIND_CLOSING;
    if (evpl_iovec_ring_empty(&bind->send_ring) &&
        !(bind->ops->pending_output && bind->ops->pending_output(bind))) {
        bind_queue_close(evpl, bind);
    } else {
        bind_request_flush(evpl, bind);
    }
}

void
evpl_bind_get_local_address(struct evpl_bind *bind, char *str, int len)
{
    evpl_address_render(bind->local, str, len);
}

void
evpl_bind_get_remote_address(struct evpl_bind *bind, char *str, int len)
{
    evpl_address_render(bind->remote, str, len);
}

enum evpl_protocol_id
evpl_bind_get_protocol(struct evpl_bind *bind)
{
    return bind->protocol->id;
}

int
evpl_bind_is_rdma(struct evpl_bind *bind)
{
    return (bind->protocol->flags & EVPL_PROTOCOL_RDMA) != 0;
}

int
evpl_bind_is_closing(struct evpl_bind *bind)
{
    return (bind->flags & EVPL_BIND_CLOSING) != 0;
}

void
evpl_bind_request_send_notifications(struct evpl *evpl, struct evpl_bind *bind)
{
    (void) evpl;
    bind->flags |= EVPL_BIND_SEND_NOTIFY;
}

/* ---- finalisation (step 6) ---------------------------------------------- */

void
evpl_bind_finalize_one(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_notify notify = {.notify_type = EVPL_NOTIFY_DISCONNECTED};

    bind_notify(evpl, bind, &notify);

    if (bind->binding) {
        evpl_listener_binding_conn_closed(bind->binding);
        bind->binding = NULL;
    }
    evpl_address_release(bind->local);
    evpl_address_release(bind->remote);
    bind->local  = NULL;
    bind->remote = NULL;
    evpl_bind_loop_discard(evpl, bind);
}
