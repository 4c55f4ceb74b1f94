/*
 * The "no library" baseline: the pingpong and stream workloads written
 * directly against epoll and non-blocking sockets, the way a careful
 * programmer would without an event library.  Level-triggered; one read()
 * of up to 256 KiB per readable event; writes go out at once and only a
 * short write arms EPOLLOUT.  Requests are constant bytes, so pending
 * output is just a byte count into a constant buffer (no copies).
 *
 * Server threads: one listening socket per thread with SO_REUSEPORT, so the
 * kernel spreads connections.  UDP: recvfrom/sendto per datagram.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "peer.h"

#define RX_BUF (256 * 1024)

static int is_udp;

static int
epoll_prepare(struct bench_options *opt, char *err, size_t errlen)
{
    size_t len;
    int    rc = peer_prepare(opt, 1, &is_udp, err, errlen);

    if (rc == 0 && is_udp && opt->server_threads > 1) {
        snprintf(err, errlen, "UDP serves from one thread: use --server-threads 1");
        return -1;
    }
    if (rc == 0) {
        peer_payload(opt, &len);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct server_conn {
    int                     fd;
    int                     have_hello;
    unsigned int            hello_got;
    struct bench_wire_hello hello;
    unsigned char          *out; /* unsent echo bytes */
    size_t                  out_len, out_cap;
    int                     want_out;
};

struct server_thread {
    pthread_t                   thread;
    const struct bench_options *opt;
    int                         listen_fd;
    int                         epfd;
    atomic_int                  stop;
};

struct server {
    unsigned int          n;
    struct server_thread *threads;
};

static void
conn_close(struct server_thread *t, struct server_conn *c)
{
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

static int
conn_flush(struct server_thread *t, struct server_conn *c)
{
    while (c->out_len > 0) {
        ssize_t w = write(c->fd, c->out, c->out_len);

        if (w < 0) {
            if (errno == EAGAIN) {
                break;
            }
            return -1;
        }
        memmove(c->out, c->out + w, c->out_len - (size_t) w);
        c->out_len -= (size_t) w;
    }
    if ((c->out_len > 0) != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (c->out_len ? EPOLLOUT : 0), .data.ptr = c};

        c->want_out = c->out_len > 0;
        epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return 0;
}

/* Echo `data`: straight to the socket unless earlier bytes are waiting. */
static int
conn_echo(struct server_thread *t, struct server_conn *c, const unsigned char *data, size_t len)
{
    if (c->out_len == 0) {
        ssize_t w = write(c->fd, data, len);

        if (w < 0 && errno != EAGAIN) {
            return -1;
        }
        if (w > 0) {
            data += w;
            len -= (size_t) w;
        }
    }
    if (len > 0) {
        if (c->out_len + len > c->out_cap) {
            c->out_cap = (c->out_len + len) * 2;
            c->out     = realloc(c->out, c->out_cap);
            if (!c->out) {
                abort();
            }
        }
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
    }
    return conn_flush(t, c);
}

static int
conn_readable(struct server_thread *t, struct server_conn *c, unsigned char *buf)
{
    ssize_t        n = read(c->fd, buf, RX_BUF);
    unsigned char *p = buf;

    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        return -1;
    }
    if (n < 0) {
        return 0;
    }
    if (!c->have_hello) {
        size_t take = sizeof(c->hello) - c->hello_got;

        if (take > (size_t) n) {
            take = (size_t) n;
        }
        memcpy((unsigned char *) &c->hello + c->hello_got, p, take);
        c->hello_got += (unsigned int) take;
        p += take;
        n -= (ssize_t) take;
        if (c->hello_got < sizeof(c->hello)) {
            return 0;
        }
        if (peer_hello_parse(&c->hello) < 0) {
            return -1;
        }
        c->have_hello = 1;
    }
    if (n > 0 && c->hello.workload == BENCH_WORKLOAD_PINGPONG) {
        return conn_echo(t, c, p, (size_t) n);
    }
    return 0;
}

static void *
server_tcp_main(void *arg)
{
    struct server_thread *t   = arg;
    unsigned char        *buf = malloc(RX_BUF);
    struct epoll_event    events[64];
    struct epoll_event    lev = {.events = EPOLLIN, .data.ptr = NULL};

    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->listen_fd, &lev);
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        int n = epoll_wait(t->epfd, events, 64, 10);

        for (int i = 0; i < n; i++) {
            struct server_conn *c = events[i].data.ptr;

            if (!c) {
                int fd;

                while ((fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
                       0) {
                    struct epoll_event ev;

                    c = calloc(1, sizeof(*c));
                    if (!c) {
                        abort();
                    }
                    c->fd = fd;
                    peer_set_nodelay(fd);
                    ev.events   = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if ((events[i].events & (EPOLLERR | EPOLLHUP)) && !(events[i].events & EPOLLIN)) {
                conn_close(t, c);
                continue;
            }
            if ((events[i].events & EPOLLOUT) && conn_flush(t, c) != 0) {
                conn_close(t, c);
                continue;
            }
            if ((events[i].events & EPOLLIN) && conn_readable(t, c, buf) != 0) {
                conn_close(t, c);
            }
        }
    }
    free(buf);
    return NULL;
}

static void *
server_udp_main(void *arg)
{
    struct server_thread *t   = arg;
    unsigned char        *buf = malloc(65536);
    struct epoll_event    ev  = {.events = EPOLLIN}, events[4];

    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->listen_fd, &ev);
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        if (epoll_wait(t->epfd, events, 4, 10) <= 0) {
            continue;
        }
        for (;;) {
            struct sockaddr_storage from;
            socklen_t               fromlen = sizeof(from);
            ssize_t n = recvfrom(t->listen_fd, buf, 65536, 0, (struct sockaddr *) &from, &fromlen);

            if (n < 0) {
                break;
            }
            sendto(t->listen_fd, buf, (size_t) n, 0, (struct sockaddr *) &from, fromlen);
        }
    }
    free(buf);
    return NULL;
}

static void *
epoll_server_start(const struct bench_options *opt, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof(*s));

    s->n       = opt->server_threads;
    s->threads = calloc(s->n, sizeof(*s->threads));
    for (unsigned int i = 0; i < s->n; i++) {
        struct server_thread *t = &s->threads[i];

        t->opt  = opt;
        t->epfd = epoll_create1(EPOLL_CLOEXEC);
        t->listen_fd =
            is_udp ? peer_bind_udp(opt, err, errlen) : peer_listen_tcp(opt, s->n > 1, err, errlen);
        if (t->listen_fd < 0) {
            /* threads started so far are stopped by the caller's exit */
            return NULL;
        }
    }
    for (unsigned int i = 0; i < s->n; i++) {
        pthread_create(&s->threads[i].thread, NULL, is_udp ? server_udp_main : server_tcp_main,
                       &s->threads[i]);
    }
    return s;
}

static void
epoll_server_stop(void *arg)
{
    struct server *s = arg;

    for (unsigned int i = 0; i < s->n; i++) {
        atomic_store(&s->threads[i].stop, 1);
    }
    for (unsigned int i = 0; i < s->n; i++) {
        pthread_join(s->threads[i].thread, NULL);
        close(s->threads[i].listen_fd);
        close(s->threads[i].epfd);
    }
    free(s->threads);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct client_flow {
    int              fd;
    int              connected;
    int              want_out;
    size_t           hello_left; /* hello bytes still to write */
    uint64_t         pending;    /* request bytes still to write */
    struct peer_flow f;
};

struct client {
    struct bench_worker        *w;
    const struct bench_options *opt;
    int                         epfd;
    const unsigned char        *payload;
    size_t                      payload_len;
    struct bench_wire_hello     hello;
};

/* Write what is pending; stream completions are counted here. */
static int
flow_write(struct client *c, struct client_flow *cf)
{
    while (cf->hello_left > 0 || cf->pending > 0) {
        struct iovec iov[2];
        int          n = 0;
        ssize_t      w;

        if (cf->hello_left) {
            iov[n].iov_base = (char *) &c->hello + sizeof(c->hello) - cf->hello_left;
            iov[n].iov_len  = cf->hello_left;
            n++;
        }
        if (cf->pending) {
            iov[n].iov_base = (void *) c->payload;
            iov[n].iov_len  = cf->pending < c->payload_len ? cf->pending : c->payload_len;
            n++;
        }
        w = writev(cf->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN) {
                break;
            }
            return -1;
        }
        if (cf->hello_left) {
            size_t h = (size_t) w < cf->hello_left ? (size_t) w : cf->hello_left;

            cf->hello_left -= h;
            w -= (ssize_t) h;
        }
        cf->pending -= (uint64_t) w;
        if (c->opt->workload == BENCH_WORKLOAD_STREAM && w > 0) {
            cf->pending +=
                (uint64_t) peer_flow_progress(&cf->f, c->w, (uint64_t) w, bench_now_ns()) *
                c->opt->size;
        }
    }
    if ((cf->pending > 0 || cf->hello_left > 0) != cf->want_out) {
        struct epoll_event ev;

        cf->want_out = !cf->want_out;
        ev.events    = EPOLLIN | (cf->want_out ? EPOLLOUT : 0);
        ev.data.ptr  = cf;
        epoll_ctl(c->epfd, EPOLL_CTL_MOD, cf->fd, &ev);
    }
    return 0;
}

static int
flow_read(struct client *c, struct client_flow *cf, unsigned char *buf)
{
    ssize_t n = read(cf->fd, buf, RX_BUF);

    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        return -1;
    }
    if (n > 0 && c->opt->workload == BENCH_WORKLOAD_PINGPONG) {
        cf->pending += (uint64_t) peer_flow_progress(&cf->f, c->w, (uint64_t) n, bench_now_ns()) *
                       c->opt->size;
        return flow_write(c, cf);
    }
    return 0;
}

static int
client_tcp(struct client *c)
{
    const struct bench_options *opt   = c->opt;
    struct client_flow         *flows = calloc(opt->flows, sizeof(*flows));
    unsigned char              *buf   = malloc(RX_BUF);
    struct sockaddr_in          sin;
    struct epoll_event          events[64];
    char                        err[256];
    int                         rc  = 0;
    uint64_t                    now = bench_now_ns();

    if (peer_resolve(opt, &sin, err, sizeof(err)) != 0) {
        snprintf(c->w->error, sizeof(c->w->error), "%s", err);
        return -1;
    }
    for (unsigned int i = 0; i < opt->flows; i++) {
        struct client_flow *cf = &flows[i];
        struct epoll_event  ev;

        peer_flow_init(&cf->f, opt);
        cf->fd = peer_connect_tcp(&sin);
        if (cf->fd < 0) {
            snprintf(c->w->error, sizeof(c->w->error), "cannot connect to %s port %d (%s)",
                     opt->address, opt->port, opt->protocol);
            return -1;
        }
        cf->hello_left = sizeof(c->hello);
        for (unsigned int k = 0; k < opt->depth; k++) {
            peer_flow_issue(&cf->f, opt, now);
        }
        cf->pending  = (uint64_t) opt->depth * opt->size;
        cf->want_out = 1;
        ev.events    = EPOLLIN | EPOLLOUT;
        ev.data.ptr  = cf;
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, cf->fd, &ev);
    }
    while (!bench_stopping() && rc == 0) {
        int n = epoll_wait(c->epfd, events, 64, 10);

        for (int i = 0; i < n && rc == 0; i++) {
            struct client_flow *cf = events[i].data.ptr;

            if (!cf->connected && (events[i].events & (EPOLLOUT | EPOLLIN))) {
                int       so_error = 0;
                socklen_t len      = sizeof(so_error);

                getsockopt(cf->fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
                if (so_error) {
                    snprintf(c->w->error, sizeof(c->w->error),
                             "cannot connect to %s port %d (%s): %s", opt->address, opt->port,
                             opt->protocol, strerror(so_error));
                    rc = -1;
                    break;
                }
                cf->connected = 1;
            }
            if ((events[i].events & EPOLLOUT) && flow_write(c, cf) != 0) {
                rc = -1;
            }
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                flow_read(c, cf, buf) != 0) {
                rc = -1;
            }
            if (rc != 0 && !c->w->error[0]) {
                snprintf(c->w->error, sizeof(c->w->error),
                         cf->connected ? "connection closed by the server"
                                       : "cannot connect to the server");
            }
        }
    }
    for (unsigned int i = 0; i < opt->flows; i++) {
        if (flows[i].fd > 0) {
            close(flows[i].fd);
        }
        peer_flow_free(&flows[i].f);
    }
    free(flows);
    free(buf);
    return rc;
}

static int
client_udp(struct client *c)
{
    const struct bench_options *opt   = c->opt;
    struct peer_dgram_flow     *flows = calloc(opt->flows, sizeof(*flows));
    unsigned char              *buf   = malloc(65536);
    unsigned int               *slots = calloc(opt->depth, sizeof(*slots));
    struct sockaddr_in          sin;
    struct epoll_event          events[64];
    char                        err[256];
    uint64_t                    now = bench_now_ns(), last_check = now;

    if (peer_resolve(opt, &sin, err, sizeof(err)) != 0) {
        snprintf(c->w->error, sizeof(c->w->error), "%s", err);
        return -1;
    }
    for (unsigned int i = 0; i < opt->flows; i++) {
        struct peer_dgram_flow *f  = &flows[i];
        struct epoll_event      ev = {.events = EPOLLIN, .data.ptr = f};

        peer_dgram_flow_init(f, opt, i);
        f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(f->fd, (struct sockaddr *) &sin, sizeof(sin));
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, f->fd, &ev);
        for (unsigned int s = 0; s < opt->depth; s++) {
            peer_dgram_prepare_slot(f, opt, s, now);
            send(f->fd, f->buf, opt->size, 0);
        }
    }
    while (!bench_stopping()) {
        int n = epoll_wait(c->epfd, events, 64, 10);

        for (int i = 0; i < n; i++) {
            struct peer_dgram_flow *f = events[i].data.ptr;
            ssize_t                 r;

            while ((r = recv(f->fd, buf, 65536, 0)) >= 0) {
                int slot;

                now  = bench_now_ns();
                slot = peer_dgram_answer(f, c->w, buf, (size_t) r, now);
                if (slot >= 0) {
                    peer_dgram_prepare_slot(f, opt, (unsigned int) slot, now);
                    send(f->fd, f->buf, opt->size, 0);
                }
            }
        }
        now = bench_now_ns();
        if (now - last_check > 10000000u) {
            last_check = now;
            for (unsigned int i = 0; i < opt->flows; i++) {
                unsigned int k = peer_dgram_expired(&flows[i], c->w, now, slots);

                for (unsigned int j = 0; j < k; j++) {
                    peer_dgram_prepare_slot(&flows[i], opt, slots[j], now);
                    send(flows[i].fd, flows[i].buf, opt->size, 0);
                }
            }
        }
    }
    for (unsigned int i = 0; i < opt->flows; i++) {
        close(flows[i].fd);
        peer_dgram_flow_free(&flows[i]);
    }
    free(flows);
    free(buf);
    free(slots);
    return 0;
}

static int
epoll_client_run(struct bench_worker *w)
{
    struct client c = {.w = w, .opt = w->opt};
    int           rc;

    c.epfd    = epoll_create1(EPOLL_CLOEXEC);
    c.payload = peer_payload(w->opt, &c.payload_len);
    peer_hello(w->opt, &c.hello);
    rc = is_udp ? client_udp(&c) : client_tcp(&c);
    close(c.epfd);
    return rc;
}

static const struct bench_impl epoll_impl = {
    .name         = "epoll",
    .prepare      = epoll_prepare,
    .server_start = epoll_server_start,
    .server_stop  = epoll_server_stop,
    .client_run   = epoll_client_run,
};

int
main(int argc, char **argv)
{
    return bench_main(&epoll_impl, argc, argv);
}
