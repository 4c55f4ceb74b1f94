/*
 * DATAGRAM_SOCKET_UDP: bound datagram sockets, received with recvmmsg()
 * straight into the loop's pooled receive buffer and sent with sendmmsg(),
 * max_datagram_batch datagrams per system call.
 *
 * Receive layout: a batch gives every slot max_datagram_size bytes of the
 * buffer; afterwards small datagrams are slid down next to their
 * predecessor so a batch of tiny datagrams does not burn a whole buffer.
 * The sender address handed to RECV_MSG comes from the bind's cache of
 * recent senders (struct evpl_address_cache): every datagram of one peer
 * carries the same shared address object, so steady traffic with a few peers
 * allocates nothing, even when the application replies to each of them.
 *
 * Segmentation offload.  The kernel's cost per datagram (a trip through the
 * IP stack on each side) dominates small-datagram traffic, and batching the
 * system calls does not remove it.  So a run of queued datagrams to one
 * destination with the same size (the last may be shorter) leaves as one
 * UDP_SEGMENT (GSO) send: one trip through the stack, cut into datagrams by
 * the device or, at the latest, before a receiver that does not take them
 * whole.  Receiving sockets enable UDP_GRO when a slot can hold a coalesced
 * run (max_datagram_size >= 64 KiB, the default): a run arrives as one
 * buffer plus its segment size and is delivered as the datagrams it was,
 * one RECV_MSG each, without a copy.  A route that refuses GSO (no checksum
 * offload, segment larger than the MTU) turns it off for the socket and the
 * datagrams go out one by one.  On the wire nothing changes: peers see
 * ordinary datagrams.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
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

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
/* Datagrams per GSO send (the kernel's UDP_MAX_SEGMENTS on older kernels)
 * and payload bytes one send may carry. */
#define UDP_GSO_MAX_SEGS  64
#define UDP_GSO_MAX_BYTES 65000u
/* A coalesced run never exceeds an IP packet. */
#define UDP_GRO_SLOT 65535u

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

    s->senders = malloc(sizeof(*s->senders));
    if (s->senders == NULL) {
        return -ENOMEM;
    }
    evpl_address_cache_init(s->senders);

    fd = socket(evpl_address_family(b->local), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (bind(fd, &b->local->sa, b->local->addrlen) < 0) {
        rc = -errno;
        close(fd);
        goto fail;
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
    rc                      = evpl_event_add_traffic(evpl, &s->event);
    if (rc < 0) {
        close(fd);
        goto fail;
    }
    evpl_event_read_interest(evpl, &s->event);

    /* Segmentation offload (see the top of this file). */
    int one = 1;

    s->gso = UDP_GSO_MAX_BYTES;
    s->gro = evpl_config()->max_datagram_size >= UDP_GRO_SLOT &&
             evpl_buffer_size() >= UDP_GRO_SLOT &&
             setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
    return 0;

fail:
    /* evpl_bind() discards the bind without calling close. */
    free(s->senders);
    s->senders = NULL;
    return rc;
}

static void
udp_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s = evpl_socket_of(bind);

    evpl_event_remove(evpl, &s->event);
    close(s->event.fd);
    s->event.fd = -1;
    /* Queued datagrams hold their own references: only the cache's go. */
    if (s->senders) {
        evpl_address_cache_clear(s->senders);
        free(s->senders);
    }
    s->senders = NULL;
}

/* The segment size of a coalesced run (UDP_GRO control message), or 0. */
static unsigned int
udp_gro_size(const struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *) mh, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int size;

            memcpy(&size, CMSG_DATA(c), sizeof(size));
            return size > 0 ? (unsigned int) size : 0;
        }
    }
    return 0;
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
    char              ctrl[UDP_MAX_BATCH][CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
    struct evpl_iovec got[UDP_MAX_BATCH];
    unsigned int      seg[UDP_MAX_BATCH]; /* segment size of a coalesced run */
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
            if (s->gro) {
                msgs[i].msg_hdr.msg_control    = ctrl[i];
                msgs[i].msg_hdr.msg_controllen = sizeof(ctrl[i]);
            }
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

        /* Slide small datagrams down behind their predecessor; take one
         * reference per datagram, a coalesced run counting as several. */
        char *pos = base;
        for (int i = 0; i < n; i++) {
            char        *src = iov[i].iov_base;
            unsigned int len = msgs[i].msg_len;

            seg[i] = s->gro ? udp_gro_size(&msgs[i].msg_hdr) : 0;
            if (seg[i] >= len) {
                seg[i] = 0;
            }
            if (src != pos && len <= UDP_COMPACT_MAX) {
                memmove(pos, src, len);
                src = pos;
            }
            got[i].data   = src;
            got[i].length = len;
            got[i].pad    = 0;
            got[i].ref    = ref;
            evpl_iovec_ref_incr(ref);
            for (unsigned int off = seg[i]; seg[i] && off < len; off += seg[i]) {
                evpl_iovec_ref_incr(ref);
            }
            pos = src + ((len + 7) & ~7u);
        }
        evpl_bind_recv_buffer_commit(evpl, skipped + (uint64_t) (pos - base));

        for (int i = 0; i < n; i++) {
            unsigned int step = seg[i] ? seg[i] : got[i].length;
            unsigned int off  = 0;
            /* Borrowed for the callbacks; a reply takes its own reference.
             * One lookup per received buffer: a coalesced run has one sender. */
            struct evpl_address *from_addr = evpl_address_cache_lookup(
                s->senders, (const struct sockaddr *) &from[i], msgs[i].msg_hdr.msg_namelen);

            do { /* an empty datagram is a message too */
                struct evpl_iovec one = got[i];

                one.data   = (char *) got[i].data + off;
                one.length = got[i].length - off < step ? got[i].length - off : step;
                if (evpl_bind_closing(bind)) {
                    evpl_iovec_release_internal(evpl, &one);
                } else {
                    evpl_bind_recv_msg(evpl, bind, &one, 1, one.length, from_addr);
                }
                off += step;
            } while (off < got[i].length);
        }
        if ((unsigned int) n < slots) {
            evpl_event_mark_unreadable(evpl, event);
            break;
        }
    }
}

static inline int
udp_same_destination(const struct evpl_address *a, const struct evpl_address *b)
{
    return a == b || (a->addrlen == b->addrlen && memcmp(&a->sa, &b->sa, a->addrlen) == 0);
}

/*
 * Fill msgs[n] with the datagrams from dgram-ring index *pos on: one, or a
 * run of equal-sized ones to the same destination as one GSO send.  Returns
 * the number of datagrams it covers (0 when the iovec scratch is full).
 */
static unsigned int
udp_fill_msg(struct evpl_socket *s, struct evpl_bind *bind, struct mmsghdr *msg, char *ctrl,
             struct iovec *iov, unsigned int *used, unsigned int max_iov, unsigned int *ring_pos,
             unsigned int first)
{
    struct evpl_dgram *d     = evpl_dgram_ring_at(&bind->dgram_ring, first);
    unsigned int       count = evpl_dgram_ring_count(&bind->dgram_ring);
    unsigned int       size = d->length, total = 0, ndgram = 0;
    struct iovec      *start = &iov[*used];

    memset(&msg->msg_hdr, 0, sizeof(msg->msg_hdr));
    msg->msg_hdr.msg_name    = &d->addr->sa;
    msg->msg_hdr.msg_namelen = d->addr->addrlen;
    msg->msg_hdr.msg_iov     = start;

    for (unsigned int i = first; i < count; i++) {
        struct evpl_dgram *e = evpl_dgram_ring_at(&bind->dgram_ring, i);

        if (ndgram > 0 &&
            (size > s->gso || e->addr == NULL || !udp_same_destination(e->addr, d->addr) ||
             e->length > size || size == 0 || ndgram == UDP_GSO_MAX_SEGS ||
             total + e->length > UDP_GSO_MAX_BYTES)) {
            break;
        }
        if (*used + e->niov > max_iov) {
            break;
        }
        for (unsigned int j = 0; j < e->niov; j++, (*ring_pos)++) {
            struct evpl_iovec *v = evpl_iovec_ring_at(&bind->send_ring, *ring_pos);
            iov[*used].iov_base  = v->data;
            iov[*used].iov_len   = v->length;
            (*used)++;
        }
        total += e->length;
        ndgram++;
        if (e->length < size) {
            break; /* a shorter datagram ends a run */
        }
    }
    msg->msg_hdr.msg_iovlen = &iov[*used] - start;
    if (ndgram > 1) {
        struct cmsghdr *c;
        uint16_t        gso = (uint16_t) size;

        /* The whole control buffer is handed to the kernel, alignment
         * padding after the 2-byte payload included. */
        memset(ctrl, 0, CMSG_SPACE(sizeof(gso)));
        msg->msg_hdr.msg_control    = ctrl;
        msg->msg_hdr.msg_controllen = CMSG_SPACE(sizeof(gso));
        c                           = CMSG_FIRSTHDR(&msg->msg_hdr);
        c->cmsg_level               = SOL_UDP;
        c->cmsg_type                = UDP_SEGMENT;
        c->cmsg_len                 = CMSG_LEN(sizeof(gso));
        memcpy(CMSG_DATA(c), &gso, sizeof(gso));
    }
    return ndgram;
}

static void
udp_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s       = evpl_socket_of(bind);
    struct iovec       *iov     = evpl_bind_scratch_iovec(evpl);
    unsigned int        max_iov = evpl_bind_max_iov();
    unsigned int        batch   = udp_batch();
    struct mmsghdr      msgs[UDP_MAX_BATCH];
    unsigned int        covers[UDP_MAX_BATCH];
    char ctrl[UDP_MAX_BATCH][CMSG_SPACE(sizeof(uint16_t))] __attribute__((aligned(8)));

    while (evpl_dgram_ring_count(&bind->dgram_ring)) {
        struct evpl_dgram *d = evpl_dgram_ring_front(&bind->dgram_ring);
        unsigned int       n = 0, used = 0, ring_pos = 0, next = 0;
        int                rc;

        /* Datagrams nobody can deliver are dropped, each counted as sent. */
        if (d->addr == NULL || d->niov > max_iov) {
            evpl_socket_error("dropping a datagram: %s",
                              d->addr ? "too many iovecs" : "no destination (use evpl_sendto)");
            evpl_bind_send_pop_msg(evpl, bind);
            continue;
        }

        while (n < batch && next < evpl_dgram_ring_count(&bind->dgram_ring)) {
            d = evpl_dgram_ring_at(&bind->dgram_ring, next);
            if (d->addr == NULL) {
                break;
            }
            covers[n] =
                udp_fill_msg(s, bind, &msgs[n], ctrl[n], iov, &used, max_iov, &ring_pos, next);
            if (covers[n] == 0) {
                break;
            }
            next += covers[n];
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
            if (covers[0] > 1 && (errno == EIO || errno == EINVAL || errno == EMSGSIZE ||
                                  errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
                /* The route refuses segmentation offload: datagrams this
                 * large (EINVAL, EMSGSIZE: a segment exceeds the MTU), or
                 * any (no checksum offload) go out one by one from now on. */
                unsigned int size = evpl_dgram_ring_front(&bind->dgram_ring)->length;

                s->gso = (errno == EINVAL || errno == EMSGSIZE) && size > 512 ? size - 1 : 0;
                evpl_socket_debug("UDP GSO refused for %u-byte datagrams (%s)", size,
                                  strerror(errno));
                continue;
            }
            /* The first datagram was refused (too large, unreachable, ...):
             * UDP is best effort, drop it and go on. */
            evpl_socket_debug("sendmmsg: %s", strerror(errno));
            evpl_bind_send_pop_msg(evpl, bind);
            continue;
        }
        for (int i = 0; i < rc; i++) {
            for (unsigned int k = 0; k < covers[i]; k++) {
                evpl_bind_send_pop_msg(evpl, bind);
            }
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
