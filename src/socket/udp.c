/*
 * DATAGRAM_SOCKET_UDP: bound datagram sockets, received with recvmmsg()
 * straight into the loop's pooled receive buffer and sent with sendmmsg(),
 * max_datagram_batch datagrams per system call.
 *
 * Receive layout: a batch gives every slot max_datagram_size bytes of the
 * buffer; afterwards small datagrams are slid down next to their
 * predecessor so a batch of tiny datagrams does not burn a whole buffer.
 * The sender address handed to RECV_MSG is reused from datagram to datagram
 * while it is unchanged and nobody else kept a reference, so steady traffic
 * allocates nothing.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/shared.h"
#include "memory/allocator.h"
#include "socket/socket.h"

#define UDP_MAX_BATCH 64
/* recvmmsg calls per dispatch before other events get a turn */
#define UDP_ROUNDS 16
/* Datagrams up to this size are compacted after a batch (cheap copies). */
#define UDP_COMPACT_MAX 2048

static void udp_read_cb(struct evpl *evpl, struct evpl_event *event);
static void udp_write_cb(struct evpl *evpl, struct evpl_event *event);

static inline unsigned int
udp_batch(void)
{
    unsigned int batch = evpl_config()->max_datagram_batch;

    return batch == 0 ? 1 : batch > UDP_MAX_BATCH ? UDP_MAX_BATCH : batch;
}

static int
udp_bind(struct evpl *evpl, struct evpl_bind *b)
{
    struct evpl_socket     *s = evpl_socket_of(b);
    struct sockaddr_storage ss;
    socklen_t               len = sizeof(ss);
    int                     fd, rc;

    fd = socket(evpl_address_family(b->local), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, &b->local->sa, b->local->addrlen) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    /* Port 0 picks a port: report the real one. */
    if (getsockname(fd, (struct sockaddr *) &ss, &len) == 0) {
        evpl_address_release(b->local);
        b->local = evpl_address_create((struct sockaddr *) &ss, len);
    }

    s->event.fd             = fd;
    s->event.read_callback  = udp_read_cb;
    s->event.write_callback = udp_write_cb;
    s->event.error_callback = NULL;
    rc                      = evpl_event_add(evpl, &s->event);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    evpl_event_read_interest(evpl, &s->event);
    return 0;
}

static void
udp_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s = evpl_socket_of(bind);

    evpl_event_remove(evpl, &s->event);
    close(s->event.fd);
    s->event.fd = -1;
    evpl_address_release(s->last_from);
    s->last_from = NULL;
}

/* The sender address for a datagram, reusing the previous one when possible. */
static struct evpl_address *
sender_address(struct evpl_socket *s, const struct sockaddr_storage *ss, socklen_t len)
{
    struct evpl_address *a = s->last_from;

    if (a && a->addrlen == len && memcmp(&a->ss, ss, len) == 0) {
        return a;
    }
    if (a && atomic_load_explicit(&a->refcnt, memory_order_acquire) == 1) {
        memcpy(&a->ss, ss, len);
        a->addrlen = len;
        return a;
    }
    evpl_address_release(a);
    s->last_from = evpl_address_create((const struct sockaddr *) ss, len);
    return s->last_from;
}

static void
udp_read_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind       *bind  = evpl_socket_bind(event);
    struct evpl_socket     *s     = evpl_socket_of(bind);
    unsigned int            batch = udp_batch();
    unsigned int            dsize = evpl_config()->max_datagram_size;
    struct mmsghdr          msgs[UDP_MAX_BATCH];
    struct iovec            iov[UDP_MAX_BATCH];
    struct sockaddr_storage from[UDP_MAX_BATCH];
    struct evpl_iovec       got[UDP_MAX_BATCH];
    struct evpl_recv_buffer rb;

    if (dsize > evpl_buffer_size()) {
        dsize = evpl_buffer_size();
    }

    for (int round = 0; round < UDP_ROUNDS && !evpl_bind_closing(bind); round++) {
        char                  *base;
        unsigned int           avail, slots, skipped = 0;
        struct evpl_iovec_ref *ref;
        int                    n;

        evpl_bind_recv_buffer(evpl, &rb);
        if (rb.tail_len >= dsize) {
            base  = rb.tail;
            avail = rb.tail_len;
            ref   = rb.tail_ref;
        } else {
            base    = rb.spare;
            avail   = rb.spare_len;
            ref     = rb.spare_ref;
            skipped = rb.tail_len;
        }
        slots = avail / dsize;
        if (slots > batch) {
            slots = batch;
        }
        for (unsigned int i = 0; i < slots; i++) {
            iov[i].iov_base = base + (size_t) i * dsize;
            iov[i].iov_len  = dsize;
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_iov     = &iov[i];
            msgs[i].msg_hdr.msg_iovlen  = 1;
            msgs[i].msg_hdr.msg_name    = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
        }

        n = recvmmsg(event->fd, msgs, slots, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                evpl_socket_debug("recvmmsg: %s", strerror(errno));
            }
            evpl_event_mark_unreadable(evpl, event);
            break;
        }

        /* Slide small datagrams down behind their predecessor. */
        char *pos = base;
        for (int i = 0; i < n; i++) {
            char        *src = iov[i].iov_base;
            unsigned int len = msgs[i].msg_len;

            if (src != pos && len <= UDP_COMPACT_MAX) {
                memmove(pos, src, len);
                src = pos;
            }
            got[i].data   = src;
            got[i].length = len;
            got[i].pad    = 0;
            got[i].ref    = ref;
            evpl_iovec_ref_incr(ref);
            pos = src + ((len + 7) & ~7u);
        }
        evpl_bind_recv_buffer_commit(evpl, skipped + (uint64_t) (pos - base));

        for (int i = 0; i < n; i++) {
            if (evpl_bind_closing(bind)) {
                evpl_iovec_release_internal(evpl, &got[i]);
                continue;
            }
            struct evpl_address *from_addr =
                sender_address(s, &from[i], msgs[i].msg_hdr.msg_namelen);
            evpl_bind_recv_msg(evpl, bind, &got[i], 1, got[i].length, from_addr);
        }
        if ((unsigned int) n < slots) {
            evpl_event_mark_unreadable(evpl, event);
            break;
        }
    }
}

static void
udp_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s       = evpl_socket_of(bind);
    struct iovec       *iov     = evpl_bind_scratch_iovec(evpl);
    unsigned int        max_iov = evpl_bind_max_iov();
    unsigned int        batch   = udp_batch();
    struct mmsghdr      msgs[UDP_MAX_BATCH];

    while (evpl_dgram_ring_count(&bind->dgram_ring)) {
        struct evpl_dgram *d = evpl_dgram_ring_front(&bind->dgram_ring);
        unsigned int       n = 0, used = 0, ring_pos = 0;
        int                rc;

        /* Datagrams nobody can deliver are dropped, each counted as sent. */
        if (d->addr == NULL || d->niov > max_iov) {
            evpl_socket_error("dropping a datagram: %s",
                              d->addr ? "too many iovecs" : "no destination (use evpl_sendto)");
            evpl_bind_send_pop_msg(evpl, bind);
            continue;
        }

        for (unsigned int i = 0; i < batch && i < evpl_dgram_ring_count(&bind->dgram_ring); i++) {
            d = evpl_dgram_ring_at(&bind->dgram_ring, i);
            if (d->addr == NULL || used + d->niov > max_iov) {
                break;
            }
            memset(&msgs[n].msg_hdr, 0, sizeof(msgs[n].msg_hdr));
            msgs[n].msg_hdr.msg_name    = &d->addr->sa;
            msgs[n].msg_hdr.msg_namelen = d->addr->addrlen;
            msgs[n].msg_hdr.msg_iov     = &iov[used];
            msgs[n].msg_hdr.msg_iovlen  = d->niov;
            for (unsigned int j = 0; j < d->niov; j++, ring_pos++) {
                struct evpl_iovec *e = evpl_iovec_ring_at(&bind->send_ring, ring_pos);
                iov[used].iov_base   = e->data;
                iov[used].iov_len    = e->length;
                used++;
            }
            n++;
        }

        rc = sendmmsg(s->event.fd, msgs, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                evpl_event_mark_unwritable(evpl, &s->event);
                evpl_event_write_interest(evpl, &s->event);
                break;
            }
            /* The first datagram was refused (too large, unreachable, ...):
             * UDP is best effort, drop it and go on. */
            evpl_socket_debug("sendmmsg: %s", strerror(errno));
            evpl_bind_send_pop_msg(evpl, bind);
            continue;
        }
        for (int i = 0; i < rc; i++) {
            evpl_bind_send_pop_msg(evpl, bind);
        }
        if ((unsigned int) rc < n) {
            evpl_event_mark_unwritable(evpl, &s->event);
            evpl_event_write_interest(evpl, &s->event);
            break;
        }
    }
    if (evpl_dgram_ring_count(&bind->dgram_ring) == 0) {
        evpl_event_write_disinterest(evpl, &s->event);
    }
    evpl_bind_flushed(evpl, bind);
}

static void
udp_write_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind = evpl_socket_bind(event);

    if (evpl_dgram_ring_count(&bind->dgram_ring) == 0) {
        evpl_event_write_disinterest(evpl, event);
        return;
    }
    udp_flush(evpl, bind);
}

static const struct evpl_protocol_ops udp_ops = {
    .bind  = udp_bind,
    .flush = udp_flush,
    .close = udp_close,
};

static const struct evpl_protocol udp_protocol = {
    .id    = EVPL_DATAGRAM_SOCKET_UDP,
    .name  = "DATAGRAM_SOCKET_UDP",
    .flags = 0,
    .ops   = &udp_ops,
};

void
evpl_socket_udp_register(void)
{
    evpl_protocol_register(&udp_protocol);
}
