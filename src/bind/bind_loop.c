/*
 * The bind layer's per-loop state and its hooks into the loop core:
 * finalisation (pass step 6), teardown (evpl_destroy), bind storage, the
 * shared receive buffer and the queue of connections handed over by
 * listeners.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "core/log.h"
#include "core/shared.h"
#include "memory/allocator.h"
#include "bind/bind_loop.h"

/* Recycled bind storage kept per loop (keeps warm ring memory). */
#define MAX_SPARE_BINDS 256

static void handoff_doorbell_cb(struct evpl *evpl, struct evpl_doorbell *doorbell);

struct evpl_bind_loop *
evpl_bind_loop_get(struct evpl *evpl)
{
    struct evpl_bind_loop *bl = evpl->binds;

    if (__builtin_expect(bl != NULL, 1)) {
        return bl;
    }
    bl = calloc(1, sizeof(*bl));
    evpl_abort_if(bl == NULL, "bind", "out of memory creating the bind state");
    bl->max_iov          = evpl_bind_max_iov();
    bl->scratch_iov      = calloc(bl->max_iov, sizeof(*bl->scratch_iov));
    bl->scratch_evpl_iov = calloc(bl->max_iov, sizeof(*bl->scratch_evpl_iov));
    evpl_abort_if(!bl->scratch_iov || !bl->scratch_evpl_iov, "bind", "out of memory");
    pthread_mutex_init(&bl->handoff_lock, NULL);
    evpl->binds = bl;
    return bl;
}

unsigned int
evpl_bind_max_iov(void)
{
    unsigned int max = evpl_config()->max_num_iovec;

    if (max > IOV_MAX) {
        max = IOV_MAX;
    }
    return max ? max : 1;
}

struct iovec *
evpl_bind_scratch_iovec(struct evpl *evpl)
{
    return evpl_bind_loop_get(evpl)->scratch_iov;
}

struct evpl_iovec *
evpl_bind_scratch_evpl_iovec(struct evpl *evpl)
{
    return evpl_bind_loop_get(evpl)->scratch_evpl_iov;
}

/* ---- lists -------------------------------------------------------------- */

static void
list_add(struct evpl_bind **head, struct evpl_bind *bind)
{
    bind->prev = NULL;
    bind->next = *head;
    if (*head) {
        (*head)->prev = bind;
    }
    *head = bind;
}

static void
list_del(struct evpl_bind **head, struct evpl_bind *bind)
{
    if (bind->prev) {
        bind->prev->next = bind->next;
    } else {
        *head = bind->next;
    }
    if (bind->next) {
        bind->next->prev = bind->prev;
    }
    bind->prev = bind->next = NULL;
}

struct evpl_bind *
evpl_bind_loop_alloc(struct evpl *evpl)
{
    struct evpl_bind_loop *bl = evpl_bind_loop_get(evpl);
    struct evpl_bind      *bind;

    if (bl->spare) {
        struct evpl_iovec_ring send = bl->spare->send_ring, recv = bl->spare->recv_ring;
        struct evpl_dgram_ring dgram = bl->spare->dgram_ring;

        bind      = bl->spare;
        bl->spare = bind->next;
        bl->nspare--;
        memset(bind, 0, sizeof(*bind));
        /* keep the warm (empty) ring storage */
        bind->send_ring  = send;
        bind->recv_ring  = recv;
        bind->dgram_ring = dgram;
    } else {
        bind = calloc(1, sizeof(*bind));
        evpl_abort_if(bind == NULL, "bind", "out of memory allocating a bind");
    }
    list_add(&bl->live, bind);
    return bind;
}

/* Return storage; the bind is on the live or closed list. */
void
evpl_bind_loop_discard(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_bind_loop *bl = evpl_bind_loop_get(evpl);

    if (bind->flags & EVPL_BIND_CLOSED) {
        list_del(&bl->closed, bind);
    } else {
        list_del(&bl->live, bind);
    }
    evpl_iovec_ring_clear(evpl, &bind->send_ring);
    evpl_iovec_ring_clear(evpl, &bind->recv_ring);
    evpl_dgram_ring_clear(&bind->dgram_ring);

    if (bl->nspare >= MAX_SPARE_BINDS) {
        evpl_iovec_ring_free(&bind->send_ring);
        evpl_iovec_ring_free(&bind->recv_ring);
        evpl_dgram_ring_free(&bind->dgram_ring);
        free(bind);
        return;
    }
    bind->next = bl->spare;
    bl->spare  = bind;
    bl->nspare++;
}

void
evpl_bind_loop_mark_closed(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_bind_loop *bl = evpl_bind_loop_get(evpl);

    list_del(&bl->live, bind);
    list_add(&bl->closed, bind);
    evpl->pending_close++;
}

/* ---- loop hooks --------------------------------------------------------- */

void
evpl_binds_finalize(struct evpl *evpl)
{
    struct evpl_bind_loop *bl = evpl->binds;

    if (bl == NULL) {
        return;
    }
    while (bl->closed) {
        struct evpl_bind *bind = bl->closed;

        evpl->pending_close--;
        evpl_bind_finalize_one(evpl, bind);
    }
}

/* Connections handed over but never attached are simply dropped. */
static void
binds_discard_handoffs(struct evpl_bind_loop *bl)
{
    struct evpl_handoff *h;

    pthread_mutex_lock(&bl->handoff_lock);
    h                = bl->handoff_head;
    bl->handoff_head = bl->handoff_tail = NULL;
    pthread_mutex_unlock(&bl->handoff_lock);
    while (h) {
        struct evpl_handoff *next = h->next;
        evpl_handoff_discard(h);
        h = next;
    }
}

/*
 * Listener bindings are left alone here: a thread's shutdown callback, which
 * runs after this (contract 13), is the documented place to detach them.
 */
void
evpl_binds_close_all(struct evpl *evpl)
{
    struct evpl_bind_loop *bl = evpl->binds;

    if (bl == NULL) {
        return;
    }

    binds_discard_handoffs(bl);

    /* DISCONNECTED callbacks may close (or, unwisely, open) other binds:
     * repeat until nothing is left. */
    while (bl->live || bl->closed) {
        while (bl->live) {
            evpl_bind_close_now(evpl, bl->live);
        }
        evpl_binds_finalize(evpl);
    }
}

void
evpl_binds_cleanup(struct evpl *evpl)
{
    struct evpl_bind_loop *bl = evpl->binds;

    if (bl == NULL) {
        return;
    }
    if (bl->num_bindings > 0) {
        evpl_log_error("bind", "loop destroyed with %d listener binding(s) still attached",
                       bl->num_bindings);
        evpl_remove_doorbell(evpl, &bl->handoff_doorbell);
        bl->num_bindings = 0;
    }
    /* Handoffs that arrived after the last close_all (e.g. during a
     * thread's shutdown callback) are dropped too. */
    binds_discard_handoffs(bl);
    while (bl->spare) {
        struct evpl_bind *bind = bl->spare;
        bl->spare              = bind->next;
        evpl_iovec_ring_free(&bind->send_ring);
        evpl_iovec_ring_free(&bind->recv_ring);
        evpl_dgram_ring_free(&bind->dgram_ring);
        free(bind);
    }
    if (bl->cur_ref) {
        evpl_iovec_ref_release(evpl, bl->cur_ref);
    }
    if (bl->spare_ref) {
        evpl_iovec_ref_release(evpl, bl->spare_ref);
    }
    pthread_mutex_destroy(&bl->handoff_lock);
    free(bl->scratch_iov);
    free(bl->scratch_evpl_iov);
    free(bl);
    evpl->binds = NULL;
}

/* ---- shared receive buffer ---------------------------------------------- */

void
evpl_bind_recv_buffer(struct evpl *evpl, struct evpl_recv_buffer *rb)
{
    struct evpl_bind_loop *bl = evpl_bind_loop_get(evpl);

    if (bl->cur_ref == NULL) {
        void *data;
        bl->cur_ref  = evpl_buffer_get(evpl, &data, &bl->cur_size);
        bl->cur_data = data;
        bl->cur_used = 0;
    }
    if (bl->spare_ref == NULL) {
        void *data;
        bl->spare_ref  = evpl_buffer_get(evpl, &data, &bl->spare_size);
        bl->spare_data = data;
    }
    /* Nobody holds any of the bytes read so far (the application released
     * them, or they were copied out): read into the start again, which is
     * still in the CPU's cache, instead of walking on through the buffer. */
    if (bl->cur_used && bl->cur_ref->refcnt == 1) {
        bl->cur_used = 0;
    }
    rb->tail      = bl->cur_data + bl->cur_used;
    rb->tail_len  = bl->cur_size - bl->cur_used;
    rb->tail_ref  = bl->cur_ref;
    rb->spare     = bl->spare_data;
    rb->spare_len = bl->spare_size;
    rb->spare_ref = bl->spare_ref;
}

void
evpl_bind_recv_buffer_commit(struct evpl *evpl, uint64_t used)
{
    struct evpl_bind_loop *bl   = evpl->binds;
    unsigned int           tail = bl->cur_size - bl->cur_used;

    if (used <= tail) {
        bl->cur_used += used;
        /* An exhausted tail is retired now so the next read gets a whole
         * buffer in one piece. */
        if (bl->cur_used < bl->cur_size) {
            return;
        }
        used = 0;
    } else {
        used -= tail;
    }
    evpl_iovec_ref_release(evpl, bl->cur_ref);
    bl->cur_ref   = bl->spare_ref;
    bl->cur_data  = bl->spare_data;
    bl->cur_size  = bl->spare_size;
    bl->cur_used  = used;
    bl->spare_ref = NULL;
}

/* ---- listener handoffs -------------------------------------------------- */

void
evpl_bind_loop_binding_added(struct evpl *evpl)
{
    struct evpl_bind_loop *bl = evpl_bind_loop_get(evpl);

    if (bl->num_bindings++ == 0) {
        evpl_add_doorbell(evpl, &bl->handoff_doorbell, handoff_doorbell_cb);
    }
}

void
evpl_bind_loop_binding_removed(struct evpl *evpl, struct evpl_listener_binding *binding)
{
    struct evpl_bind_loop *bl = evpl_bind_loop_get(evpl);
    struct evpl_handoff  **pp, *drop = NULL;

    /* Connections steered to this binding but not attached yet go away
     * with it (no new ones can arrive: the listener no longer has it). */
    pthread_mutex_lock(&bl->handoff_lock);
    bl->handoff_tail = NULL;
    for (pp = &bl->handoff_head; *pp;) {
        struct evpl_handoff *h = *pp;
        if (h->binding == binding) {
            *pp     = h->next;
            h->next = drop;
            drop    = h;
        } else {
            bl->handoff_tail = h;
            pp               = &h->next;
        }
    }
    pthread_mutex_unlock(&bl->handoff_lock);

    while (drop) {
        struct evpl_handoff *next = drop->next;
        evpl_handoff_discard(drop);
        drop = next;
    }

    if (--bl->num_bindings == 0) {
        evpl_remove_doorbell(evpl, &bl->handoff_doorbell);
    }
}

void
evpl_bind_loop_handoff_push(struct evpl *evpl, struct evpl_handoff *handoff)
{
    struct evpl_bind_loop *bl = evpl->binds; /* exists: a binding is attached */

    handoff->next = NULL;
    pthread_mutex_lock(&bl->handoff_lock);
    if (bl->handoff_tail) {
        bl->handoff_tail->next = handoff;
    } else {
        bl->handoff_head = handoff;
    }
    bl->handoff_tail = handoff;
    evpl_ring_doorbell(&bl->handoff_doorbell);
    pthread_mutex_unlock(&bl->handoff_lock);
}

static void
handoff_doorbell_cb(struct evpl *evpl, struct evpl_doorbell *doorbell)
{
    struct evpl_bind_loop *bl = evpl->binds;
    struct evpl_handoff   *h;

    (void) doorbell;
    pthread_mutex_lock(&bl->handoff_lock);
    h                = bl->handoff_head;
    bl->handoff_head = bl->handoff_tail = NULL;
    pthread_mutex_unlock(&bl->handoff_lock);

    while (h) {
        struct evpl_handoff *next = h->next;
        evpl_listener_accept_handoff(evpl, h);
        h = next;
    }
}

ssize_t
evpl_bind_recv_readv(struct evpl *evpl, struct evpl_bind *bind, const struct evpl_event *event,
                     int *drained)
{
    struct evpl_recv_buffer rb;
    struct iovec            iov[2];
    uint64_t                want = 0;
    int                     n    = 0;
    ssize_t                 rc;

    *drained = 0;
    evpl_bind_recv_buffer(evpl, &rb);
    if (rb.tail_len) {
        iov[n].iov_base = rb.tail;
        iov[n].iov_len =
            rb.tail_len < EVPL_BIND_RECV_READ_MAX ? rb.tail_len : EVPL_BIND_RECV_READ_MAX;
        want += iov[n].iov_len;
        n++;
    }
    if (want < EVPL_BIND_RECV_READ_MAX) {
        iov[n].iov_base = rb.spare;
        iov[n].iov_len  = rb.spare_len < EVPL_BIND_RECV_READ_MAX - want
                              ? rb.spare_len
                              : EVPL_BIND_RECV_READ_MAX - want;
        want += iov[n].iov_len;
        n++;
    }

    do {
        rc = readv(event->fd, iov, n);
    } while (rc < 0 && errno == EINTR);

    if (rc < 0) {
        *drained = errno == EAGAIN || errno == EWOULDBLOCK;
        return -errno;
    }
    if (rc == 0) {
        return 0;
    }

    /* Reference the filled bytes before commit can retire the tail. */
    if ((uint64_t) rc <= rb.tail_len) {
        evpl_bind_recv_append(evpl, bind, rb.tail, rc, rb.tail_ref);
    } else {
        if (rb.tail_len) {
            evpl_bind_recv_append(evpl, bind, rb.tail, rb.tail_len, rb.tail_ref);
        }
        evpl_bind_recv_append(evpl, bind, rb.spare, rc - rb.tail_len, rb.spare_ref);
    }
    evpl_bind_recv_buffer_commit(evpl, rc);

    /* A short read drained the socket -- unless a hang-up was latched, in
     * which case the end of stream may sit behind the data and, with
     * edge-triggered epoll, is only seen by reading again. */
    *drained = (uint64_t) rc < want && evpl_event_short_read_drained(event);
    return rc;
}
