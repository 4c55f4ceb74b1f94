/*
 * Peer: the pingpong and stream workloads written against libevent 2.1 the
 * way its documentation teaches: bufferevents on TCP (the server echoes by
 * moving the input evbuffer's chains to the output, no copy), an
 * evconnlistener for accepts, and a persistent read event with
 * recvfrom/sendto for UDP.  One event_base per thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "peer.h"

static int is_udp;

static int
libevent_prepare(struct bench_options *opt, char *err, size_t errlen)
{
    size_t len;
    int    rc = peer_prepare(opt, 1, &is_udp, err, errlen);

    if (rc == 0 && opt->server_threads > 1) {
        snprintf(err, errlen, "the libevent peer serves from one thread: use --server-threads 1");
        return -1;
    }
    if (rc == 0) {
        peer_payload(opt, &len);
    }
    return rc;
}

/* A periodic event that ends the loop once the run (or the server) stops. */
struct stopper {
    struct event *ev;
    atomic_int   *flag; /* NULL: bench_stopping() */
};

static void
stopper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct stopper *s = arg;

    (void) fd;
    (void) what;
    if (s->flag ? atomic_load(s->flag) : bench_stopping()) {
        event_base_loopbreak(event_get_base(s->ev));
    }
}

static void
stopper_add(struct event_base *base, struct stopper *s, atomic_int *flag)
{
    struct timeval tv = {0, 10000};

    s->flag = flag;
    s->ev   = event_new(base, -1, EV_PERSIST, stopper_cb, s);
    event_add(s->ev, &tv);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct server {
    pthread_t              thread;
    struct event_base     *base;
    struct evconnlistener *listener;
    struct event          *udp_ev;
    int                    udp_fd;
    unsigned char         *udp_buf;
    struct stopper         stopper;
    atomic_int             stop;
};

struct server_conn {
    int      have_hello;
    uint32_t workload;
};

static void
server_read_cb(struct bufferevent *bev, void *arg)
{
    struct server_conn *c  = arg;
    struct evbuffer    *in = bufferevent_get_input(bev);

    if (!c->have_hello) {
        struct bench_wire_hello hello;

        if (evbuffer_get_length(in) < sizeof(hello)) {
            return;
        }
        evbuffer_remove(in, &hello, sizeof(hello));
        if (peer_hello_parse(&hello) < 0) {
            bufferevent_free(bev);
            free(c);
            return;
        }
        c->have_hello = 1;
        c->workload   = hello.workload;
    }
    if (c->workload == BENCH_WORKLOAD_PINGPONG) {
        evbuffer_add_buffer(bufferevent_get_output(bev), in);
    } else {
        evbuffer_drain(in, evbuffer_get_length(in));
    }
}

static void
server_event_cb(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        bufferevent_free(bev);
        free(arg);
    }
}

static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                 void *arg)
{
    struct server_conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);

    (void) sa;
    (void) socklen;
    (void) arg;
    peer_set_nodelay(fd);
    bufferevent_setcb(bev, server_read_cb, NULL, server_event_cb, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
server_udp_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    (void) what;
    for (;;) {
        struct sockaddr_storage from;
        socklen_t               fromlen = sizeof(from);
        ssize_t n = recvfrom(fd, s->udp_buf, 65536, 0, (struct sockaddr *) &from, &fromlen);

        if (n < 0) {
            break;
        }
        sendto(fd, s->udp_buf, (size_t) n, 0, (struct sockaddr *) &from, fromlen);
    }
}

static void *
server_main(void *arg)
{
    struct server *s = arg;

    event_base_dispatch(s->base);
    return NULL;
}

static void *
libevent_server_start(const struct bench_options *opt, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof(*s));
    int fd = is_udp ? peer_bind_udp(opt, err, errlen) : peer_listen_tcp(opt, 0, err, errlen);

    if (fd < 0) {
        free(s);
        return NULL;
    }
    s->base = event_base_new();
    if (is_udp) {
        s->udp_fd  = fd;
        s->udp_buf = malloc(65536);
        s->udp_ev  = event_new(s->base, fd, EV_READ | EV_PERSIST, server_udp_cb, s);
        event_add(s->udp_ev, NULL);
    } else {
        s->listener = evconnlistener_new(s->base, server_accept_cb, s,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, fd);
    }
    stopper_add(s->base, &s->stopper, &s->stop);
    pthread_create(&s->thread, NULL, server_main, s);
    return s;
}

static void
libevent_server_stop(void *arg)
{
    struct server *s = arg;

    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    /* Connections still open are reclaimed with the process. */
    if (s->listener) {
        evconnlistener_free(s->listener);
    }
    if (s->udp_ev) {
        event_free(s->udp_ev);
        close(s->udp_fd);
        free(s->udp_buf);
    }
    event_free(s->stopper.ev);
    event_base_free(s->base);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct client;

struct client_flow {
    struct client      *c;
    struct bufferevent *bev;
    int                 connected;
    struct peer_flow    f;
};

struct client {
    struct bench_worker        *w;
    const struct bench_options *opt;
    struct event_base          *base;
    const unsigned char        *payload;
    size_t                      payload_len;
    int                         failed;
};

static void
client_fail(struct client *c, const char *msg)
{
    if (!c->failed) {
        c->failed = 1;
        snprintf(c->w->error, sizeof(c->w->error), "%s", msg);
        event_base_loopbreak(c->base);
    }
}

/* Queue `n` requests (constant bytes) on the flow. */
static void
client_queue(struct client_flow *cf, unsigned int n)
{
    struct client *c     = cf->c;
    uint64_t       bytes = (uint64_t) n * c->opt->size;

    while (bytes > 0) {
        size_t chunk = bytes < c->payload_len ? (size_t) bytes : c->payload_len;

        bufferevent_write(cf->bev, c->payload, chunk);
        bytes -= chunk;
    }
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
    struct client_flow *cf = arg;
    struct evbuffer    *in = bufferevent_get_input(bev);
    size_t              n  = evbuffer_get_length(in);
    unsigned int        again;

    evbuffer_drain(in, n);
    again = peer_flow_progress(&cf->f, cf->c->w, n, bench_now_ns());
    if (again) {
        client_queue(cf, again);
    }
}

/* Stream: the output evbuffer reports every byte the socket took. */
static void
client_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct client_flow *cf = arg;
    size_t              n  = info->n_deleted;
    unsigned int        again;

    (void) buf;
    if (n == 0) {
        return;
    }
    if (cf->f.hello_left) {
        size_t h = n < cf->f.hello_left ? n : cf->f.hello_left;

        cf->f.hello_left -= (uint32_t) h;
        n -= h;
    }
    again = peer_flow_progress(&cf->f, cf->c->w, n, bench_now_ns());
    if (again) {
        client_queue(cf, again);
    }
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct client_flow *cf = arg;

    (void) bev;
    if (what & BEV_EVENT_CONNECTED) {
        cf->connected = 1;
        peer_set_nodelay(bufferevent_getfd(bev));
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        client_fail(cf->c, cf->connected ? "connection closed by the server"
                                         : "cannot connect to the server");
    }
}

static int
client_tcp(struct client *c)
{
    const struct bench_options *opt   = c->opt;
    struct client_flow         *flows = calloc(opt->flows, sizeof(*flows));
    struct sockaddr_in          sin;
    struct bench_wire_hello     hello;
    struct stopper              stopper;
    char                        err[256];
    uint64_t                    now = bench_now_ns();

    if (peer_resolve(opt, &sin, err, sizeof(err)) != 0) {
        snprintf(c->w->error, sizeof(c->w->error), "%s", err);
        return -1;
    }
    peer_hello(opt, &hello);
    for (unsigned int i = 0; i < opt->flows; i++) {
        struct client_flow *cf = &flows[i];

        cf->c = c;
        peer_flow_init(&cf->f, opt);
        cf->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(cf->bev, client_read_cb, NULL, client_event_cb, cf);
        bufferevent_enable(cf->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(cf->bev, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
            snprintf(c->w->error, sizeof(c->w->error), "cannot connect to %s port %d (%s)",
                     opt->address, opt->port, opt->protocol);
            return -1;
        }
        if (opt->workload == BENCH_WORKLOAD_STREAM) {
            cf->f.hello_left = sizeof(hello);
            evbuffer_add_cb(bufferevent_get_output(cf->bev), client_output_cb, cf);
        }
        bufferevent_write(cf->bev, &hello, sizeof(hello));
        for (unsigned int k = 0; k < opt->depth; k++) {
            peer_flow_issue(&cf->f, opt, now);
        }
        client_queue(cf, opt->depth);
    }
    stopper_add(c->base, &stopper, NULL);
    event_base_dispatch(c->base);
    event_free(stopper.ev);
    for (unsigned int i = 0; i < opt->flows; i++) {
        bufferevent_free(flows[i].bev);
        peer_flow_free(&flows[i].f);
    }
    free(flows);
    return c->failed ? -1 : 0;
}

struct udp_flow {
    struct client         *c;
    struct event          *ev;
    struct peer_dgram_flow d;
    unsigned char         *buf;
};

static void
udp_send(struct udp_flow *uf, unsigned int slot, uint64_t now)
{
    peer_dgram_prepare_slot(&uf->d, uf->c->opt, slot, now);
    send(uf->d.fd, uf->d.buf, uf->c->opt->size, 0);
}

static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct udp_flow *uf = arg;
    ssize_t          r;

    (void) what;
    while ((r = recv(fd, uf->buf, 65536, 0)) >= 0) {
        uint64_t now  = bench_now_ns();
        int      slot = peer_dgram_answer(&uf->d, uf->c->w, uf->buf, (size_t) r, now);

        if (slot >= 0) {
            udp_send(uf, (unsigned int) slot, now);
        }
    }
}

struct udp_check {
    struct udp_flow *flows;
    unsigned int     n;
    unsigned int    *slots;
    struct event    *ev;
};

static void
udp_check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct udp_check *k   = arg;
    uint64_t          now = bench_now_ns();

    (void) fd;
    (void) what;
    if (bench_stopping()) {
        event_base_loopbreak(event_get_base(k->ev));
        return;
    }
    for (unsigned int i = 0; i < k->n; i++) {
        unsigned int m = peer_dgram_expired(&k->flows[i].d, k->flows[i].c->w, now, k->slots);

        for (unsigned int j = 0; j < m; j++) {
            udp_send(&k->flows[i], k->slots[j], now);
        }
    }
}

static int
client_udp(struct client *c)
{
    const struct bench_options *opt   = c->opt;
    struct udp_flow            *flows = calloc(opt->flows, sizeof(*flows));
    struct udp_check            check = {.flows = flows, .n = opt->flows};
    struct sockaddr_in          sin;
    struct timeval              tv = {0, 10000};
    char                        err[256];
    uint64_t                    now = bench_now_ns();

    if (peer_resolve(opt, &sin, err, sizeof(err)) != 0) {
        snprintf(c->w->error, sizeof(c->w->error), "%s", err);
        return -1;
    }
    check.slots = calloc(opt->depth, sizeof(*check.slots));
    for (unsigned int i = 0; i < opt->flows; i++) {
        struct udp_flow *uf = &flows[i];

        uf->c   = c;
        uf->buf = malloc(65536);
        peer_dgram_flow_init(&uf->d, opt, i);
        uf->d.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(uf->d.fd, (struct sockaddr *) &sin, sizeof(sin));
        uf->ev = event_new(c->base, uf->d.fd, EV_READ | EV_PERSIST, udp_read_cb, uf);
        event_add(uf->ev, NULL);
        for (unsigned int s = 0; s < opt->depth; s++) {
            udp_send(uf, s, now);
        }
    }
    check.ev = event_new(c->base, -1, EV_PERSIST, udp_check_cb, &check);
    event_add(check.ev, &tv);
    event_base_dispatch(c->base);
    event_free(check.ev);
    for (unsigned int i = 0; i < opt->flows; i++) {
        event_free(flows[i].ev);
        close(flows[i].d.fd);
        peer_dgram_flow_free(&flows[i].d);
        free(flows[i].buf);
    }
    free(check.slots);
    free(flows);
    return 0;
}

static int
libevent_client_run(struct bench_worker *w)
{
    struct client c = {.w = w, .opt = w->opt};
    int           rc;

    c.base    = event_base_new();
    c.payload = peer_payload(w->opt, &c.payload_len);
    rc        = is_udp ? client_udp(&c) : client_tcp(&c);
    event_base_free(c.base);
    return rc;
}

static const struct bench_impl libevent_impl = {
    .name         = "libevent",
    .prepare      = libevent_prepare,
    .server_start = libevent_server_start,
    .server_stop  = libevent_server_stop,
    .client_run   = libevent_client_run,
};

int
main(int argc, char **argv)
{
    return bench_main(&libevent_impl, argc, argv);
}
