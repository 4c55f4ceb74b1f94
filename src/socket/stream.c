/*
 * Stream sockets (TCP and AF_UNIX): connect, accept, gather writes and
 * zero-copy reads into the loop's pooled receive buffer.
 *
 * Readiness follows core/event.h: we read until EAGAIN (or a fairness limit,
 * leaving the event ready for the next pass) and then mark the event
 * unreadable; a write that does not take
 * everything marks it unwritable and arms write interest, which is disarmed
 * again once the send queue is empty, so an idle connection costs nothing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/shared.h"
#include "socket/socket.h"

/* Full-size reads per dispatch before other events get a turn. */
#define READS_PER_DISPATCH 8

static void stream_read_cb(struct evpl *evpl, struct evpl_event *event);
static void stream_write_cb(struct evpl *evpl, struct evpl_event *event);
static void stream_error_cb(struct evpl *evpl, struct evpl_event *event);

_Static_assert(sizeof(struct evpl_socket) <= EVPL_BIND_PRIVATE_SIZE, "socket state too large");
_Static_assert(sizeof(struct evpl_socket_listen) <= EVPL_LISTEN_PRIVATE_SIZE,
               "listen state too large");

/* TCP sockets (not AF_UNIX ones) get the shared TCP options. */
static void
socket_tune(int fd, int family)
{
    if (family == AF_INET || family == AF_INET6) {
        evpl_socket_tcp_setup(fd);
    }
}

static int
stream_register(struct evpl *evpl, struct evpl_socket *s, int fd)
{
    s->event.fd             = fd;
    s->event.read_callback  = stream_read_cb;
    s->event.write_callback = stream_write_cb;
    s->event.error_callback = stream_error_cb;
    return evpl_event_add_traffic(evpl, &s->event);
}

void
evpl_socket_set_local_address(struct evpl_bind *bind, int fd)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof(ss);

    if (bind->local == NULL && getsockname(fd, (struct sockaddr *) &ss, &len) == 0) {
        bind->local = evpl_address_create((struct sockaddr *) &ss, len);
    }
}

int
evpl_socket_stream_connect(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket  *s      = evpl_socket_of(bind);
    struct evpl_address *remote = bind->remote;
    int                  fd, rc;

    s->event.fd = -1;
    fd = socket(evpl_address_family(remote), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    socket_tune(fd, evpl_address_family(remote));

    /* Register after connect(): the mechanism then reports the real state
     * of the attempt rather than that of an unconnected socket. */
    rc = connect(fd, &remote->sa, remote->addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    s->connecting = 1;
    rc            = stream_register(evpl, s, fd);
    if (rc < 0) {
        close(fd);
        s->event.fd = -1;
        return rc;
    }
    evpl_event_write_interest(evpl, &s->event);
    return 0;
}

int
evpl_socket_stream_attach(struct evpl *evpl, struct evpl_bind *bind, struct evpl_handoff *handoff)
{
    struct evpl_socket *s = evpl_socket_of(bind);
    int                 rc;

    rc = stream_register(evpl, s, handoff->fd);
    if (rc < 0) {
        close(handoff->fd);
        return rc;
    }
    handoff->fd = -1;
    evpl_socket_set_local_address(bind, s->event.fd);
    evpl_event_read_interest(evpl, &s->event);
    return 0;
}

void
evpl_socket_handoff_discard(struct evpl_handoff *handoff)
{
    if (handoff->fd >= 0) {
        close(handoff->fd);
        handoff->fd = -1;
    }
}

void
evpl_socket_stream_recv_resume(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s = evpl_socket_of(bind);

    evpl_event_read_interest(evpl, &s->event);
}

void
evpl_socket_stream_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s = evpl_socket_of(bind);

    if (s->event.fd >= 0) {
        evpl_event_remove(evpl, &s->event);
        close(s->event.fd);
        s->event.fd = -1;
    }
}

/*
 * SO_ERROR == 0 alone does not prove the connection is up: it also reads 0
 * while the attempt is still in progress, or once the error was consumed.
 * Returns 1 when the attempt is over (*err set if it failed), 0 when it is
 * still in progress.
 */
static int
connect_settled(int fd, int *err)
{
    struct sockaddr_storage peer;
    socklen_t               len  = sizeof(peer);
    struct pollfd           pfd  = {.fd = fd, .events = POLLOUT};
    socklen_t               elen = sizeof(*err);

    if (getpeername(fd, (struct sockaddr *) &peer, &len) == 0) {
        return 1;
    }
    if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
        return 0;
    }
    /* Over now; it may have finished between the two calls, so look again. */
    len = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *) &peer, &len) == 0) {
        return 1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen) < 0 || *err == 0) {
        *err = ECONNABORTED; /* not connected, and no error left to read */
    }
    return 1;
}

int
evpl_socket_connect_result(int fd)
{
    int       err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    if (err == 0 && !connect_settled(fd, &err)) {
        return -1;
    }
    return err;
}

/* The non-blocking connect finished (writable or error reported). */
static void
connect_complete(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s   = evpl_socket_of(bind);
    int                 err = evpl_socket_connect_result(s->event.fd);

    if (err < 0) {
        /* A readiness report that does not match the socket (seen once
         * under heavy load with select): keep waiting for the real one. */
        evpl_event_mark_unwritable(evpl, &s->event);
        return;
    }
    s->connecting = 0;
    if (err) {
        evpl_socket_debug("connect failed: %s", strerror(err));
        evpl_event_write_disinterest(evpl, &s->event);
        evpl_bind_transport_closed(evpl, bind);
        return;
    }
    evpl_socket_set_local_address(bind, s->event.fd);
    evpl_event_write_disinterest(evpl, &s->event);
    evpl_event_read_interest(evpl, &s->event);
    evpl_bind_connected(evpl, bind);
}

void
evpl_socket_stream_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_socket *s   = evpl_socket_of(bind);
    struct iovec       *iov = evpl_bind_scratch_iovec(evpl);
    int                 max = evpl_bind_max_iov();

    while (!evpl_iovec_ring_empty(&bind->send_ring)) {
        uint64_t      bytes;
        int           n   = evpl_bind_send_gather(bind, iov, max, &bytes, NULL);
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t       rc  = sendmsg(s->event.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                evpl_event_mark_unwritable(evpl, &s->event);
                evpl_event_write_interest(evpl, &s->event);
                break;
            }
            evpl_socket_debug("send failed: %s", strerror(errno));
            evpl_bind_transport_closed(evpl, bind);
            return;
        }
        evpl_bind_send_advance(evpl, bind, rc);
        if ((uint64_t) rc < bytes) {
            /* The socket buffer is full; wait for the next writable edge. */
            evpl_event_mark_unwritable(evpl, &s->event);
            evpl_event_write_interest(evpl, &s->event);
            break;
        }
    }
    if (evpl_iovec_ring_empty(&bind->send_ring)) {
        evpl_event_write_disinterest(evpl, &s->event);
    }
    evpl_bind_flushed(evpl, bind);
}

static void
stream_read_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind  = evpl_socket_bind(event);
    uint64_t          total = 0;
    int               eof   = 0;

    if (evpl_bind_closing(bind)) {
        /* Closing: whatever arrives now would be dropped anyway. */
        evpl_event_mark_unreadable(evpl, event);
        return;
    }
    if (bind->flags & EVPL_BIND_THROTTLED) {
        return; /* reached through the error path; resume re-arms reading */
    }

    for (int round = 0; round < READS_PER_DISPATCH; round++) {
        int     drained;
        ssize_t rc = evpl_bind_recv_readv(evpl, bind, event, &drained);

        if (rc <= 0) {
            if (rc < 0 && !drained) {
                evpl_socket_debug("recv failed: %s", strerror((int) -rc));
            }
            if (drained) {
                evpl_event_mark_unreadable(evpl, event);
            } else {
                eof = 1;
            }
            break;
        }
        total += rc;

        if (evpl_bind_recv_throttle(bind)) {
            /* The application is not keeping up: stop reading (readiness
             * stays latched) until it has consumed; TCP flow control then
             * slows the sender down. */
            evpl_event_read_disinterest(evpl, event);
            break;
        }
        if (drained) {
            evpl_event_mark_unreadable(evpl, event);
            break;
        }
    }

    /* Data that arrived before the end of stream is delivered first. */
    if (total) {
        evpl_bind_recv_stream(evpl, bind);
    }
    if (eof) {
        evpl_event_mark_unreadable(evpl, event);
        evpl_bind_transport_closed(evpl, bind);
    }
}

static void
stream_write_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind   *bind = evpl_socket_bind(event);
    struct evpl_socket *s    = evpl_socket_of(bind);

    if (s->connecting) {
        connect_complete(evpl, bind);
        return;
    }
    if (bind->flags & EVPL_BIND_CLOSED) {
        return;
    }
    if (evpl_iovec_ring_empty(&bind->send_ring)) {
        evpl_event_write_disinterest(evpl, event);
        return;
    }
    evpl_socket_stream_flush(evpl, bind);
}

static void
stream_error_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind   *bind = evpl_socket_bind(event);
    struct evpl_socket *s    = evpl_socket_of(bind);

    if (s->connecting) {
        connect_complete(evpl, bind);
        return;
    }
    if (!evpl_bind_closing(bind)) {
        /* Reading surfaces the error or end of stream, after any data. */
        stream_read_cb(evpl, event);
    }
}

/* ---- listening ------------------------------------------------------------ */

static void listen_read_cb(struct evpl *evpl, struct evpl_event *event);

static void
listen_retry_cb(struct evpl *evpl, struct evpl_timer *timer)
{
    struct evpl_socket_listen *sl =
        (struct evpl_socket_listen *) ((char *) timer - offsetof(struct evpl_socket_listen, retry));

    sl->retry_armed = 0;
    evpl_event_read_interest(evpl, &sl->event);
    /* Pending connections produce no new edge: look again ourselves. */
    evpl_event_mark_readable(evpl, &sl->event);
}

static void
listen_read_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_socket_listen *sl = (struct evpl_socket_listen *) event;
    struct evpl_listen_socket *ls = sl->ls;

    while (1) {
        struct sockaddr_storage ss;
        socklen_t               len = sizeof(ss);
        struct evpl_handoff    *handoff;
        int                     fd;

        fd = accept4(event->fd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                evpl_event_mark_unreadable(evpl, event);
                return;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: leave the connection queued in the
                 * kernel and retry shortly instead of spinning. */
                if (!sl->retry_armed) {
                    if (!sl->starved) {
                        evpl_socket_error("accept: %s; retrying every 10 ms", strerror(errno));
                        sl->starved = 1;
                    }
                    sl->retry_armed = 1;
                    evpl_event_read_disinterest(evpl, event);
                    evpl_event_mark_unreadable(evpl, event);
                    evpl_add_oneshot_timer(evpl, &sl->retry, listen_retry_cb, 10000);
                }
                return;
            }
            evpl_socket_error("accept: %s", strerror(errno));
            evpl_event_mark_unreadable(evpl, event);
            return;
        }
        if (sl->starved) {
            evpl_socket_info("accept: descriptors available again");
            sl->starved = 0;
        }
        socket_tune(fd, ss.ss_family);

        handoff         = evpl_handoff_alloc(ls->protocol);
        handoff->fd     = fd;
        handoff->remote = evpl_address_create((struct sockaddr *) &ss, len);
        evpl_listener_handoff(ls->listener, handoff);
    }
}

int
evpl_socket_listen_start(struct evpl_listen_socket *ls, int fd)
{
    struct evpl_socket_listen *sl = (struct evpl_socket_listen *) ls->backend_private;
    int                        rc;

    if (listen(fd, evpl_config()->max_pending) < 0) {
        return -errno;
    }
    sl->ls                   = ls;
    sl->event.fd             = fd;
    sl->event.read_callback  = listen_read_cb;
    sl->event.write_callback = NULL;
    sl->event.error_callback = NULL;
    rc                       = evpl_event_add(ls->loop, &sl->event);
    if (rc < 0) {
        return rc;
    }
    evpl_event_read_interest(ls->loop, &sl->event);
    return 0;
}

void
evpl_socket_listen_stop(struct evpl_listen_socket *ls)
{
    struct evpl_socket_listen *sl = (struct evpl_socket_listen *) ls->backend_private;

    if (sl->retry_armed) {
        evpl_remove_timer(ls->loop, &sl->retry);
        sl->retry_armed = 0;
    }
    evpl_event_remove(ls->loop, &sl->event);
    close(sl->event.fd);
}
