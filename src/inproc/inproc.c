/*
 * STREAM_INPROC and DATAGRAM_INPROC: connections, per-loop wakeups, sending
 * and delivery.  The design is described in inproc.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/shared.h"
#include "memory/allocator.h"
#include "inproc/inproc.h"

_Static_assert(sizeof(struct inproc_bind) <= EVPL_BIND_PRIVATE_SIZE, "inproc bind state too large");

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

/* ---- per-loop wakeup ------------------------------------------------------ */

static void end_deliver(struct evpl *evpl, struct inproc_end *end);

static void
loop_event_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct inproc_loop *loop = (struct inproc_loop *) event;
    uint64_t            value;
    unsigned int        count;

    /* Drain before looking at the list: a kick landing after this read
     * makes the event readable again and is seen on a later pass. */
    while (read(event->fd, &value, sizeof(value)) == sizeof(value)) {
    }
    evpl_event_mark_unreadable(evpl, event);

    pthread_mutex_lock(&loop->lock);
    loop->signalled = 0;
    count           = loop->ready_count;
    pthread_mutex_unlock(&loop->lock);

    /* Only the ends queued now: an end re-queued by its own delivery (a
     * same-loop ping-pong) waits for the next pass, so a pass stays bounded. */
    while (count--) {
        struct inproc_end *end;

        pthread_mutex_lock(&loop->lock);
        end = loop->ready_head;
        if (end) {
            loop->ready_head = end->ready_next;
            if (loop->ready_head == NULL) {
                loop->ready_tail = NULL;
            }
            loop->ready_count--;
            end->on_ready   = 0;
            end->ready_next = NULL;
        }
        pthread_mutex_unlock(&loop->lock);
        if (end == NULL) {
            break;
        }
        end_deliver(evpl, end);
    }
}

/* evpl_destroy(): every bind of the loop is closed, so no end refers to the
 * state any more and no other thread can reach it. */
static void
loop_cleanup(struct evpl *evpl, void *state)
{
    struct inproc_loop *loop = state;

    evpl_abort_if(loop->nends != 0 || loop->ready_head != NULL, "inproc",
                  "loop destroyed with %u in-process ends still attached", loop->nends);
    evpl_event_remove(evpl, &loop->event);
    close(loop->event.fd);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

static struct inproc_loop *
loop_get(struct evpl *evpl)
{
    struct inproc_loop *loop = evpl_framework_get(evpl, EVPL_FRAMEWORK_INPROC);
    int                 rc;

    if (loop) {
        return loop;
    }
    loop = calloc(1, sizeof(*loop));
    evpl_abort_if(loop == NULL, "inproc", "out of memory creating in-process loop state");
    loop->evpl     = evpl;
    loop->event.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    evpl_abort_if(loop->event.fd < 0, "inproc", "eventfd failed: %s", strerror(errno));
    loop->event.read_callback = loop_event_cb;
    rc                        = evpl_event_add(evpl, &loop->event);
    evpl_abort_if(rc < 0, "inproc", "cannot register the in-process wakeup: %s", strerror(-rc));
    evpl_event_read_interest(evpl, &loop->event);
    pthread_mutex_init(&loop->lock, NULL);
    /* Kept until evpl_destroy(): connection churn does not recreate it. */
    evpl_framework_set(evpl, EVPL_FRAMEWORK_INPROC, loop, loop_cleanup);
    return loop;
}

static void
loop_kick(struct inproc_loop *loop)
{
    if (pthread_equal(pthread_self(), loop->evpl->owner)) {
        /* Our own loop: latch the event, the pass dispatches it. */
        evpl_event_mark_readable(loop->evpl, &loop->event);
    } else {
        uint64_t one = 1;
        ssize_t  rc;

        do {
            rc = write(loop->event.fd, &one, sizeof(one));
        } while (rc < 0 && errno == EINTR);
        evpl_abort_if(rc < 0 && errno != EAGAIN, "inproc", "wakeup failed: %s", strerror(errno));
    }
}

void
evpl_inproc_end_signal(struct inproc_end *end)
{
    struct inproc_loop *loop = end->loop;
    int                 kick = 0;

    pthread_mutex_lock(&loop->lock);
    if (!end->on_ready) {
        end->on_ready   = 1;
        end->ready_next = NULL;
        if (loop->ready_tail) {
            loop->ready_tail->ready_next = end;
        } else {
            loop->ready_head = end;
        }
        loop->ready_tail = end;
        loop->ready_count++;
        if (!loop->signalled) {
            loop->signalled = 1;
            kick            = 1;
        }
    }
    pthread_mutex_unlock(&loop->lock);
    /* Still under end->lock with end->loop set: the end cannot close, so
     * neither the loop state nor its evpl can go away before the kick lands. */
    if (kick) {
        loop_kick(loop);
    }
}

static void
loop_unready(struct inproc_loop *loop, struct inproc_end *end)
{
    pthread_mutex_lock(&loop->lock);
    if (end->on_ready) {
        struct inproc_end **pp   = &loop->ready_head;
        struct inproc_end  *prev = NULL;

        while (*pp != end) {
            prev = *pp;
            pp   = &(*pp)->ready_next;
        }
        *pp = end->ready_next;
        if (loop->ready_tail == end) {
            loop->ready_tail = prev;
        }
        loop->ready_count--;
        end->on_ready   = 0;
        end->ready_next = NULL;
    }
    pthread_mutex_unlock(&loop->lock);
}

/* ---- connections ---------------------------------------------------------- */

static struct inproc_conn *
conn_create(int message)
{
    struct inproc_conn *conn = calloc(1, sizeof(*conn));

    evpl_abort_if(conn == NULL, "inproc", "out of memory creating an in-process connection");
    atomic_init(&conn->refs, 2);
    conn->message = message;
    for (int i = 0; i < 2; i++) {
        conn->end[i].conn = conn;
        conn->end[i].side = i;
        pthread_mutex_init(&conn->end[i].lock, NULL);
    }
    return conn;
}

static void
conn_put(struct inproc_conn *conn)
{
    if (atomic_fetch_sub_explicit(&conn->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        struct inproc_end *end = &conn->end[i];

        /* Both ends closed: their queues were emptied at close. */
        evpl_iovec_ring_free(&end->in);
        evpl_dgram_ring_free(&end->in_msg);
        pthread_mutex_destroy(&end->lock);
    }
    free(conn);
}

static inline int
end_has_work(const struct inproc_end *end)
{
    return end->up || end->peer_gone || end->resume || !evpl_iovec_ring_empty(&end->in) ||
           evpl_dgram_ring_count(&end->in_msg);
}

/* Tie end to bind on evpl; anything the peer did before is delivered soon. */
static void
end_attach(struct evpl *evpl, struct evpl_bind *bind, struct inproc_end *end)
{
    struct inproc_loop *loop = loop_get(evpl);

    loop->nends++;
    ((struct inproc_bind *) evpl_bind_private(bind))->end = end;
    end->bind                                             = bind;

    pthread_mutex_lock(&end->lock);
    end->loop = loop;
    if (end_has_work(end)) {
        evpl_inproc_end_signal(end);
    }
    pthread_mutex_unlock(&end->lock);
}

/* end's queued output was taken by its peer: flush again (any thread). */
static void
end_resume(struct inproc_end *end)
{
    pthread_mutex_lock(&end->lock);
    if (end->loop) {
        end->resume = 1;
        evpl_inproc_end_signal(end);
    }
    pthread_mutex_unlock(&end->lock);
}

/* Tell end its peer is gone (any thread). */
static void
end_peer_gone(struct inproc_end *end)
{
    pthread_mutex_lock(&end->lock);
    if (!end->closed) {
        end->peer_gone      = 1;
        end->sender_waiting = 0;
        if (end->loop) {
            evpl_inproc_end_signal(end);
        }
    }
    pthread_mutex_unlock(&end->lock);
}

/*
 * Close end to its peer and release what the peer queued for it.  From now
 * on no other thread reaches end's loop state through end->loop.
 */
static void
end_drop_input(struct evpl *evpl, struct inproc_end *end)
{
    struct evpl_iovec_ring in;
    struct evpl_dgram_ring in_msg;

    pthread_mutex_lock(&end->lock);
    end->closed         = 1;
    end->loop           = NULL;
    end->sender_waiting = 0;
    in                  = end->in;
    in_msg              = end->in_msg;
    end->in             = (struct evpl_iovec_ring){0};
    end->in_msg         = (struct evpl_dgram_ring){0};
    pthread_mutex_unlock(&end->lock);

    evpl_iovec_ring_clear(evpl, &in);
    evpl_iovec_ring_free(&in);
    evpl_dgram_ring_clear(&in_msg);
    evpl_dgram_ring_free(&in_msg);
}

/* ---- delivery (receiving loop) -------------------------------------------- */

static void
deliver_stream(struct evpl *evpl, struct inproc_end *end)
{
    struct evpl_bind       *bind = end->bind;
    struct evpl_iovec_ring *rx   = &end->rx;
    int                     any  = 0;

    while (!evpl_iovec_ring_empty(rx)) {
        struct evpl_iovec *iov = evpl_iovec_ring_front(rx);

        if (!evpl_bind_closing(bind)) {
            evpl_bind_recv_append(evpl, bind, iov->data, iov->length, iov->ref);
            any = 1;
        }
        evpl_iovec_release_internal(evpl, iov);
        evpl_iovec_ring_pop(rx);
    }
    rx->length = 0;
    evpl_dgram_ring_clear(&end->rx_msg);
    if (any) {
        /* An application that does not read: take no more of the queue
         * until it has consumed (recv_resume), so the sender blocks. */
        if (evpl_bind_recv_throttle(bind)) {
            end->throttled = 1;
        }
        evpl_bind_recv_stream(evpl, bind);
    }
}

static void
deliver_messages(struct evpl *evpl, struct inproc_end *end)
{
    struct evpl_bind *bind = end->bind;

    while (evpl_dgram_ring_count(&end->rx_msg)) {
        struct evpl_dgram *d      = evpl_dgram_ring_front(&end->rx_msg);
        unsigned int       niov   = d->niov;
        unsigned int       length = d->length;

        if (niov > end->msg_iov_max) {
            unsigned int       max = niov < 16 ? 16 : niov * 2;
            struct evpl_iovec *p   = realloc(end->msg_iov, max * sizeof(*p));

            evpl_abort_if(p == NULL, "inproc", "out of memory receiving a message");
            end->msg_iov     = p;
            end->msg_iov_max = max;
        }
        for (unsigned int i = 0; i < niov; i++) {
            end->msg_iov[i] = *evpl_iovec_ring_front(&end->rx);
            end->rx.length -= end->msg_iov[i].length;
            evpl_iovec_ring_pop(&end->rx);
        }
        evpl_dgram_ring_pop(&end->rx_msg);

        if (evpl_bind_closing(bind)) {
            evpl_iovecs_release_internal(evpl, end->msg_iov, niov);
        } else {
            /* The references pass to the application. */
            evpl_bind_recv_msg(evpl, bind, end->msg_iov, niov, length, NULL);
        }
    }
}

static void inproc_flush(struct evpl *evpl, struct evpl_bind *bind);

static void
end_deliver(struct evpl *evpl, struct inproc_end *end)
{
    struct evpl_bind      *bind = end->bind;
    struct evpl_iovec_ring swap_iov;
    struct evpl_dgram_ring swap_msg;
    int                    up, gone, resume, taken, wake_sender = 0;

    /* Take everything queued so far in one swap (rx is empty here), unless
     * a throttled stream must leave it where the sender can see it. */
    pthread_mutex_lock(&end->lock);
    taken = !end->throttled;
    if (taken) {
        swap_iov            = end->in;
        end->in             = end->rx;
        end->rx             = swap_iov;
        swap_msg            = end->in_msg;
        end->in_msg         = end->rx_msg;
        end->rx_msg         = swap_msg;
        wake_sender         = end->sender_waiting;
        end->sender_waiting = 0;
    }
    up          = end->up;
    gone        = end->peer_gone;
    resume      = end->resume;
    end->up     = 0;
    end->resume = 0;
    pthread_mutex_unlock(&end->lock);

    /* The queue is empty now: let a blocked sender fill it again while we
     * deliver (not under our lock: never two end locks at once). */
    if (wake_sender) {
        end_resume(inproc_peer(end));
    }

    if (up && !evpl_bind_closing(bind)) {
        evpl_bind_connected(evpl, bind);
    }
    evpl_inproc_run_completions(end);

    if (taken) {
        if (end->conn->message) {
            deliver_messages(evpl, end);
        } else {
            deliver_stream(evpl, end);
        }
    }

    /* Our peer took what we had queued for it: move what waits on the bind. */
    if (resume && !gone &&
        (bind->flags & (EVPL_BIND_CONNECTED | EVPL_BIND_CLOSED)) == EVPL_BIND_CONNECTED) {
        inproc_flush(evpl, bind);
    }

    /* Everything the peer sent before closing has been delivered above. */
    if (gone && taken && !end->eof_delivered) {
        end->eof_delivered = 1;
        evpl_bind_transport_closed(evpl, bind);
    }
}

/* ---- sending -------------------------------------------------------------- */

/*
 * Append one outbound iovec to the stage ring, by reference when the peer
 * may hold it (SHARED, or any non-GLOBAL iovec when the peer runs on this
 * very loop), else as a copy into SHARED buffers.  GLOBAL iovecs are always
 * copied: the receiver gets owned references, and releasing a borrowed
 * GLOBAL one would free it.  Copies of consecutive iovecs of one message are
 * packed and merged into as few entries as possible; first is the number
 * of stage entries that belong to earlier messages (counts, not indices:
 * growing a ring renumbers its slots).
 */
static void
stage_iovec(struct evpl *evpl, struct inproc_end *end, const struct evpl_iovec *src, int same_loop,
            unsigned int first)
{
    struct evpl_iovec_ring *stage = &end->stage;
    unsigned int            flags = src->ref->flags;
    unsigned int            bsize = evpl_buffer_size();
    unsigned int            off   = 0;

    if (!(flags & EVPL_IOVEC_FLAG_GLOBAL) && (same_loop || (flags & EVPL_IOVEC_FLAG_SHARED))) {
        struct evpl_iovec *e = evpl_iovec_ring_push(stage, ring_initial());

        evpl_iovec_clone(e, (struct evpl_iovec *) src);
        stage->length += src->length;
        return;
    }

    while (off < src->length) {
        unsigned int      chunk = src->length - off < bsize ? src->length - off : bsize;
        struct evpl_iovec tmp;
        int               n = evpl_iovec_alloc(evpl, chunk, 0, 1, EVPL_IOVEC_FLAG_SHARED, &tmp);

        evpl_abort_if(n != 1, "inproc", "cannot allocate %u bytes to cross loops", chunk);
        memcpy(tmp.data, (const char *) src->data + off, chunk);
        off += chunk;
        stage->length += chunk;

        if (evpl_iovec_ring_count(stage) > first) {
            struct evpl_iovec *back = evpl_iovec_ring_back(stage);

            if (back->ref == tmp.ref && (char *) back->data + back->length == (char *) tmp.data) {
                back->length += chunk;
                evpl_iovec_ref_release(evpl, tmp.ref);
                continue;
            }
        }
        *evpl_iovec_ring_push(stage, ring_initial()) = tmp;
    }
}

/* Move the stage rings to the back of the peer's queue (peer->lock held). */
static void
stage_hand_over(struct inproc_end *end, struct inproc_end *peer)
{
    if (evpl_iovec_ring_empty(&peer->in) && evpl_dgram_ring_count(&peer->in_msg) == 0) {
        struct evpl_iovec_ring ri = peer->in;
        struct evpl_dgram_ring rm = peer->in_msg;

        peer->in          = end->stage;
        peer->in_msg      = end->stage_msg;
        end->stage        = ri;
        end->stage_msg    = rm;
        end->stage.length = 0;
        return;
    }
    while (!evpl_iovec_ring_empty(&end->stage)) {
        *evpl_iovec_ring_push(&peer->in, ring_initial()) = *evpl_iovec_ring_front(&end->stage);
        evpl_iovec_ring_pop(&end->stage);
    }
    peer->in.length += end->stage.length;
    end->stage.length = 0;
    while (evpl_dgram_ring_count(&end->stage_msg)) {
        *evpl_dgram_ring_push(&peer->in_msg, dgram_initial()) =
            *evpl_dgram_ring_front(&end->stage_msg);
        evpl_dgram_ring_pop(&end->stage_msg);
    }
}

/* Bytes the peer's queue takes before it is full (peer->lock held). */
static inline uint64_t
queue_room(const struct inproc_end *peer)
{
    return peer->in.length < EVPL_RECV_HIGH_WATER ? EVPL_RECV_HIGH_WATER - peer->in.length : 0;
}

/* Stage whole messages from the send ring while fewer than room bytes are
 * staged (so one message always goes, however large). */
static void
stage_messages(struct evpl *evpl, struct evpl_bind *bind, struct inproc_end *end, int same_loop,
               uint64_t room)
{
    uint64_t staged = 0;

    while (staged < room && evpl_dgram_ring_count(&bind->dgram_ring)) {
        struct evpl_dgram *d     = evpl_dgram_ring_front(&bind->dgram_ring);
        unsigned int       first = evpl_iovec_ring_count(&end->stage);
        struct evpl_dgram *m;

        for (unsigned int i = 0; i < d->niov; i++) {
            stage_iovec(evpl, end, evpl_iovec_ring_at(&bind->send_ring, i), same_loop, first);
        }
        m         = evpl_dgram_ring_push(&end->stage_msg, dgram_initial());
        m->niov   = evpl_iovec_ring_count(&end->stage) - first;
        m->length = d->length;
        m->addr   = NULL;
        staged += d->length;
        evpl_bind_send_pop_msg(evpl, bind);
    }
}

/* Stage the first room bytes (at most) of the stream's send ring. */
static void
stage_stream(struct evpl *evpl, struct evpl_bind *bind, struct inproc_end *end, int same_loop,
             uint64_t room)
{
    uint64_t bytes = bind->send_ring.length < room ? bind->send_ring.length : room;
    uint64_t left  = bytes;

    for (unsigned int i = 0; left; i++) {
        struct evpl_iovec part = *evpl_iovec_ring_at(&bind->send_ring, i);

        if (part.length > left) {
            part.length = (unsigned int) left; /* the rest stays queued */
        }
        stage_iovec(evpl, end, &part, same_loop, 0);
        left -= part.length;
    }
    if (bytes) {
        evpl_bind_send_advance(evpl, bind, bytes);
    }
}

static void
inproc_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct inproc_end *end = inproc_end_of(bind);
    struct inproc_end *peer;
    uint64_t           room;
    int                closed, same_loop;

    if (end == NULL) {
        evpl_bind_flushed(evpl, bind);
        return;
    }
    peer = inproc_peer(end);

    /* peer->loop is NULL once the peer closed; while it is not, the peer's
     * loop (and its evpl) cannot go away before we unlock. */
    pthread_mutex_lock(&peer->lock);
    closed    = peer->closed;
    same_loop = peer->loop && peer->loop->evpl == evpl;
    room      = queue_room(peer);
    if (!closed && room == 0 && !evpl_iovec_ring_empty(&bind->send_ring)) {
        peer->sender_waiting = 1; /* the peer resumes us when it takes its queue */
    }
    pthread_mutex_unlock(&peer->lock);

    if (closed) {
        evpl_bind_transport_closed(evpl, bind);
        evpl_bind_flushed(evpl, bind);
        return;
    }

    /* The peer only ever shrinks its queue meanwhile, so room stays valid;
     * when it took the queue, the next round finds more room. */
    while (room && !evpl_iovec_ring_empty(&bind->send_ring)) {
        /* Prepare outside the peer's lock: copies can be large. */
        if (end->conn->message) {
            stage_messages(evpl, bind, end, same_loop, room);
        } else {
            stage_stream(evpl, bind, end, same_loop, room);
        }

        pthread_mutex_lock(&peer->lock);
        closed = peer->closed;
        if (!closed) {
            stage_hand_over(end, peer);
            if (peer->loop) {
                evpl_inproc_end_signal(peer);
            }
            room = queue_room(peer);
            if (room == 0 && !evpl_iovec_ring_empty(&bind->send_ring)) {
                peer->sender_waiting = 1;
            }
        }
        pthread_mutex_unlock(&peer->lock);

        if (closed) {
            evpl_iovec_ring_clear(evpl, &end->stage);
            evpl_dgram_ring_clear(&end->stage_msg);
            evpl_bind_transport_closed(evpl, bind);
            break;
        }
    }
    evpl_bind_flushed(evpl, bind);
}

/* ---- connect, attach, close ----------------------------------------------- */

struct connect_ctx {
    struct evpl_bind   *bind;
    const char         *name;
    struct inproc_conn *conn;
    uint64_t            serial;
};

/* Registry locked: hand the accepting end to the listener. */
static int
connect_handoff(struct evpl_listener *listener, uint64_t serial, void *arg)
{
    struct connect_ctx  *ctx = arg;
    struct evpl_handoff *handoff;

    ctx->conn   = conn_create(!(ctx->bind->protocol->flags & EVPL_PROTOCOL_STREAM));
    ctx->serial = serial;

    handoff               = evpl_handoff_alloc(ctx->bind->protocol);
    handoff->local        = evpl_address_create_inproc(ctx->name, 0);
    handoff->remote       = evpl_address_create_inproc(ctx->name, serial);
    handoff->backend_data = ctx->conn;
    /* On failure the handoff was discarded: the accepting end is closed. */
    return evpl_listener_handoff(listener, handoff);
}

static int
inproc_connect(struct evpl *evpl, struct evpl_bind *bind)
{
    struct connect_ctx ctx = {.bind = bind};
    int                rc;

    if (evpl_address_family(bind->remote) != EVPL_AF_INPROC) {
        return -EINVAL;
    }
    ctx.name = bind->remote->inproc.name;

    rc = evpl_inproc_lookup(ctx.name, bind->protocol->id, connect_handoff, &ctx);
    if (rc < 0) {
        if (ctx.conn) {
            conn_put(ctx.conn);
        }
        evpl_inproc_debug("connect to in-process name '%s' failed: %s", ctx.name, strerror(-rc));
        return rc;
    }

    evpl_address_release(bind->local);
    bind->local = evpl_address_create_inproc(ctx.name, ctx.serial);
    end_attach(evpl, bind, &ctx.conn->end[0]);
    return 0;
}

static int
inproc_attach(struct evpl *evpl, struct evpl_bind *bind, struct evpl_handoff *handoff)
{
    struct inproc_conn *conn = handoff->backend_data;

    handoff->backend_data = NULL;
    end_attach(evpl, bind, &conn->end[1]);

    /* The connecting end learns that it is connected. */
    pthread_mutex_lock(&conn->end[0].lock);
    if (!conn->end[0].closed) {
        conn->end[0].up = 1;
        if (conn->end[0].loop) {
            evpl_inproc_end_signal(&conn->end[0]);
        }
    }
    pthread_mutex_unlock(&conn->end[0].lock);
    return 0;
}

static void
inproc_handoff_discard(struct evpl_handoff *handoff)
{
    struct inproc_conn *conn = handoff->backend_data;

    if (conn == NULL) {
        return;
    }
    handoff->backend_data = NULL;
    /* Never attached, so its queue holds SHARED references only. */
    end_drop_input(NULL, &conn->end[1]);
    end_peer_gone(&conn->end[0]);
    conn_put(conn);
}

static void
inproc_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct inproc_bind *ib  = evpl_bind_private(bind);
    struct inproc_end  *end = ib->end;
    struct inproc_loop *loop;

    if (end == NULL) {
        return; /* the connect never got anywhere */
    }
    ib->end = NULL;
    loop    = end->loop; /* only this thread writes it */

    end_drop_input(evpl, end);
    loop_unready(loop, end);
    loop->nends--;

    evpl_iovec_ring_clear(evpl, &end->rx);
    evpl_iovec_ring_free(&end->rx);
    evpl_dgram_ring_clear(&end->rx_msg);
    evpl_dgram_ring_free(&end->rx_msg);
    evpl_iovec_ring_clear(evpl, &end->stage);
    evpl_iovec_ring_free(&end->stage);
    evpl_dgram_ring_clear(&end->stage_msg);
    evpl_dgram_ring_free(&end->stage_msg);
    free(end->msg_iov);
    end->msg_iov = NULL;
    evpl_inproc_drop_completions(end);
    end->bind = NULL;

    end_peer_gone(inproc_peer(end));
    conn_put(end->conn);
}

/* The application consumed a throttled stream: take the queue again. */
static void
inproc_recv_resume(struct evpl *evpl, struct evpl_bind *bind)
{
    struct inproc_end *end = inproc_end_of(bind);

    (void) evpl;
    if (end == NULL) {
        return;
    }
    end->throttled = 0;
    /* Deliver from the loop, not from inside the application's evpl_recv*(). */
    pthread_mutex_lock(&end->lock);
    if (end->loop) {
        evpl_inproc_end_signal(end);
    }
    pthread_mutex_unlock(&end->lock);
}

/* ---- registration --------------------------------------------------------- */

static const struct evpl_protocol_ops inproc_stream_ops = {
    .connect         = inproc_connect,
    .attach          = inproc_attach,
    .handoff_discard = inproc_handoff_discard,
    .listen          = evpl_inproc_listen,
    .listen_close    = evpl_inproc_listen_close,
    .flush           = inproc_flush,
    .close           = inproc_close,
    .recv_resume     = inproc_recv_resume,
};

static const struct evpl_protocol_ops inproc_datagram_ops = {
    .connect          = inproc_connect,
    .attach           = inproc_attach,
    .handoff_discard  = inproc_handoff_discard,
    .listen           = evpl_inproc_listen,
    .listen_close     = evpl_inproc_listen_close,
    .flush            = inproc_flush,
    .close            = inproc_close,
    .rdma_read        = evpl_inproc_rdma_read,
    .rdma_write       = evpl_inproc_rdma_write,
    .rdma_get_address = evpl_inproc_rdma_get_address,
};

static const struct evpl_protocol inproc_stream_protocol = {
    .id    = EVPL_STREAM_INPROC,
    .name  = "STREAM_INPROC",
    .flags = EVPL_PROTOCOL_STREAM | EVPL_PROTOCOL_CONNECTED | EVPL_PROTOCOL_INPROC,
    .ops   = &inproc_stream_ops,
};

static const struct evpl_protocol inproc_datagram_protocol = {
    .id    = EVPL_DATAGRAM_INPROC,
    .name  = "DATAGRAM_INPROC",
    .flags = EVPL_PROTOCOL_CONNECTED | EVPL_PROTOCOL_INPROC | EVPL_PROTOCOL_RDMA,
    .ops   = &inproc_datagram_ops,
};

void
evpl_inproc_register(void)
{
    evpl_protocol_register(&inproc_stream_protocol);
    evpl_protocol_register(&inproc_datagram_protocol);
}
