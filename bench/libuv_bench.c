/*
 * Peer: the pingpong and stream workloads written against libuv 1.44 the
 * way its guide teaches: uv_tcp_t streams, uv_read_start with an alloc
 * callback, uv_write with a completion callback.  Read buffers and write
 * requests come from small free lists instead of malloc per call, so the
 * comparison measures libuv rather than the allocator.  TCP only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "peer.h"

#define READ_BUF (64 * 1024)

static int
libuv_prepare(struct bench_options *opt, char *err, size_t errlen)
{
    size_t len;
    int    is_udp, rc = peer_prepare(opt, 0, &is_udp, err, errlen);

    if (rc == 0 && opt->server_threads > 1) {
        snprintf(err, errlen, "the libuv peer serves from one thread: use --server-threads 1");
        return -1;
    }
    if (rc == 0) {
        peer_payload(opt, &len);
    }
    return rc;
}

/* Fixed-size read buffers recycled through a free list (one loop each). */
struct buf_pool {
    void **free;
    int    n, cap;
};

static char *
pool_get(struct buf_pool *p)
{
    if (p->n > 0) {
        return p->free[--p->n];
    }
    return malloc(READ_BUF);
}

static void
pool_put(struct buf_pool *p, void *b)
{
    if (p->n == p->cap) {
        p->cap  = p->cap ? p->cap * 2 : 64;
        p->free = realloc(p->free, (size_t) p->cap * sizeof(*p->free));
    }
    p->free[p->n++] = b;
}

static void
pool_destroy(struct buf_pool *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->free[i]);
    }
    free(p->free);
}

static void
alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct buf_pool *pool = handle->loop->data;

    (void) suggested;
    buf->base = pool_get(pool);
    buf->len  = READ_BUF;
}

struct stopper {
    uv_timer_t  timer;
    atomic_int *flag; /* NULL: bench_stopping() */
};

static void
stopper_cb(uv_timer_t *t)
{
    struct stopper *s = (struct stopper *) t;

    if (s->flag ? atomic_load(s->flag) : bench_stopping()) {
        uv_stop(t->loop);
    }
}

static void
stopper_start(uv_loop_t *loop, struct stopper *s, atomic_int *flag)
{
    s->flag = flag;
    uv_timer_init(loop, &s->timer);
    uv_timer_start(&s->timer, stopper_cb, 10, 10);
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
    (void) arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* Close every handle on the loop and run it until they are gone. */
static void
loop_teardown(uv_loop_t *loop)
{
    uv_walk(loop, close_walk_cb, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct server {
    pthread_t       thread;
    uv_loop_t       loop;
    uv_tcp_t        listener;
    struct stopper  stopper;
    struct buf_pool pool;
    atomic_int      stop;
};

struct server_conn {
    uv_tcp_t                tcp;
    int                     have_hello;
    unsigned int            hello_got;
    struct bench_wire_hello hello;
};

/* An echo write owns the read buffer it sends from. */
struct echo_req {
    uv_write_t req;
    char      *base;
};

static void
echo_done(uv_write_t *req, int status)
{
    struct echo_req *e = (struct echo_req *) req;

    (void) status;
    pool_put(req->handle->loop->data, e->base);
    free(e);
}

static void
conn_free_cb(uv_handle_t *h)
{
    free(h);
}

static void
server_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct server_conn *c    = (struct server_conn *) stream;
    struct buf_pool    *pool = stream->loop->data;
    char               *p    = buf->base;

    if (nread < 0) {
        pool_put(pool, buf->base);
        if (!uv_is_closing((uv_handle_t *) stream)) {
            uv_close((uv_handle_t *) stream, conn_free_cb);
        }
        return;
    }
    if (!c->have_hello && nread > 0) {
        size_t take = sizeof(c->hello) - c->hello_got;

        if (take > (size_t) nread) {
            take = (size_t) nread;
        }
        memcpy((char *) &c->hello + c->hello_got, p, take);
        c->hello_got += (unsigned int) take;
        p += take;
        nread -= (ssize_t) take;
        if (c->hello_got == sizeof(c->hello)) {
            if (peer_hello_parse(&c->hello) < 0) {
                pool_put(pool, buf->base);
                uv_close((uv_handle_t *) stream, conn_free_cb);
                return;
            }
            c->have_hello = 1;
        }
    }
    if (nread > 0 && c->have_hello && c->hello.workload == BENCH_WORKLOAD_PINGPONG) {
        struct echo_req *e   = malloc(sizeof(*e));
        uv_buf_t         out = uv_buf_init(p, (unsigned int) nread);

        e->base = buf->base;
        uv_write(&e->req, stream, &out, 1, echo_done);
        return;
    }
    pool_put(pool, buf->base);
}

static void
server_connection_cb(uv_stream_t *listener, int status)
{
    struct server_conn *c;

    if (status < 0) {
        return;
    }
    c = calloc(1, sizeof(*c));
    uv_tcp_init(listener->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *) &c->tcp) != 0) {
        uv_close((uv_handle_t *) &c->tcp, conn_free_cb);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *) &c->tcp, alloc_cb, server_read_cb);
}

static void *
server_main(void *arg)
{
    struct server *s = arg;

    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void *
libuv_server_start(const struct bench_options *opt, char *err, size_t errlen)
{
    struct server *s  = calloc(1, sizeof(*s));
    int            fd = peer_listen_tcp(opt, 0, err, errlen);

    if (fd < 0) {
        free(s);
        return NULL;
    }
    uv_loop_init(&s->loop);
    s->loop.data = &s->pool;
    uv_tcp_init(&s->loop, &s->listener);
    uv_tcp_open(&s->listener, fd);
    if (uv_listen((uv_stream_t *) &s->listener, 128, server_connection_cb) != 0) {
        snprintf(err, errlen, "cannot listen on %s port %d", opt->address, opt->port);
        return NULL;
    }
    stopper_start(&s->loop, &s->stopper, &s->stop);
    pthread_create(&s->thread, NULL, server_main, s);
    return s;
}

static void
libuv_server_stop(void *arg)
{
    struct server *s = arg;

    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    /* Connections still open are reclaimed with the process. */
    free(s);
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct client;

struct client_flow {
    uv_tcp_t         tcp;
    uv_connect_t     connect;
    struct client   *c;
    int              connected;
    struct peer_flow f;
};

struct client {
    struct bench_worker        *w;
    const struct bench_options *opt;
    uv_loop_t                   loop;
    struct buf_pool             pool;
    const unsigned char        *payload;
    size_t                      payload_len;
    struct bench_wire_hello     hello;
    int                         failed;
    /* free list of write requests */
    struct client_write *free_writes;
};

struct client_write {
    uv_write_t           req;
    struct client_flow  *cf;
    uint64_t             bytes; /* request bytes it carries (stream accounting) */
    struct client_write *next;
};

static void
client_fail(struct client *c, const char *msg)
{
    if (!c->failed) {
        c->failed = 1;
        snprintf(c->w->error, sizeof(c->w->error), "%s", msg);
        uv_stop(&c->loop);
    }
}

static void client_write_done(uv_write_t *req, int status);

/* Send `n` requests (constant bytes) as one uv_write. */
static void
client_send(struct client_flow *cf, unsigned int n)
{
    struct client       *c     = cf->c;
    uint64_t             bytes = (uint64_t) n * c->opt->size;
    struct client_write *wr;
    uv_buf_t             bufs[16];
    unsigned int         nb = 0;

    while (bytes > 0) {
        size_t chunk = bytes < c->payload_len ? (size_t) bytes : c->payload_len;

        wr = c->free_writes;
        if (wr) {
            c->free_writes = wr->next;
        } else {
            wr = malloc(sizeof(*wr));
        }
        wr->cf     = cf;
        wr->bytes  = chunk;
        nb         = 0;
        bufs[nb++] = uv_buf_init((char *) c->payload, (unsigned int) chunk);
        if (uv_write(&wr->req, (uv_stream_t *) &cf->tcp, bufs, nb, client_write_done) != 0) {
            client_fail(c, "write failed");
            return;
        }
        bytes -= chunk;
    }
}

static void
client_write_done(uv_write_t *req, int status)
{
    struct client_write *wr = (struct client_write *) req;
    struct client_flow  *cf = wr->cf;
    struct client       *c  = cf->c;

    wr->next       = c->free_writes;
    c->free_writes = wr;
    if (status < 0) {
        return;
    }
    if (c->opt->workload == BENCH_WORKLOAD_STREAM && wr->bytes) {
        unsigned int again = peer_flow_progress(&cf->f, c->w, wr->bytes, bench_now_ns());

        if (again) {
            client_send(cf, again);
        }
    }
}

static void
client_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct client_flow *cf = (struct client_flow *) stream;
    struct client      *c  = cf->c;

    pool_put(&c->pool, buf->base);
    if (nread < 0) {
        client_fail(c, "connection closed by the server");
        return;
    }
    if (nread > 0) {
        unsigned int again = peer_flow_progress(&cf->f, c->w, (uint64_t) nread, bench_now_ns());

        if (again) {
            client_send(cf, again);
        }
    }
}

static void
client_connect_cb(uv_connect_t *req, int status)
{
    struct client_flow  *cf = req->data;
    struct client       *c  = cf->c;
    uv_buf_t             hb = uv_buf_init((char *) &c->hello, sizeof(c->hello));
    struct client_write *wr;

    if (status < 0) {
        char msg[1024];

        snprintf(msg, sizeof(msg), "cannot connect to %s port %d (%s): %s", c->opt->address,
                 c->opt->port, c->opt->protocol, uv_strerror(status));
        client_fail(c, msg);
        return;
    }
    cf->connected = 1;
    uv_tcp_nodelay(&cf->tcp, 1);
    wr        = malloc(sizeof(*wr));
    wr->cf    = cf;
    wr->bytes = 0;
    uv_write(&wr->req, (uv_stream_t *) &cf->tcp, &hb, 1, client_write_done);
    client_send(cf, c->opt->depth);
    uv_read_start((uv_stream_t *) &cf->tcp, alloc_cb, client_read_cb);
}

static int
libuv_client_run(struct bench_worker *w)
{
    const struct bench_options *opt = w->opt;
    struct client               c   = {.w = w, .opt = opt};
    struct client_flow         *flows;
    struct stopper              stopper;
    struct sockaddr_in          sin;
    char                        err[256];
    uint64_t                    now;

    if (peer_resolve(opt, &sin, err, sizeof(err)) != 0) {
        snprintf(w->error, sizeof(w->error), "%s", err);
        return -1;
    }
    uv_loop_init(&c.loop);
    c.loop.data = &c.pool;
    c.payload   = peer_payload(opt, &c.payload_len);
    peer_hello(opt, &c.hello);
    flows = calloc(opt->flows, sizeof(*flows));
    now   = bench_now_ns();
    for (unsigned int i = 0; i < opt->flows; i++) {
        struct client_flow *cf = &flows[i];

        cf->c = &c;
        peer_flow_init(&cf->f, opt);
        for (unsigned int k = 0; k < opt->depth; k++) {
            peer_flow_issue(&cf->f, opt, now);
        }
        uv_tcp_init(&c.loop, &cf->tcp);
        cf->connect.data = cf;
        uv_tcp_connect(&cf->connect, &cf->tcp, (const struct sockaddr *) &sin, client_connect_cb);
    }
    stopper_start(&c.loop, &stopper, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    loop_teardown(&c.loop);
    while (c.free_writes) {
        struct client_write *next = c.free_writes->next;

        free(c.free_writes);
        c.free_writes = next;
    }
    for (unsigned int i = 0; i < opt->flows; i++) {
        peer_flow_free(&flows[i].f);
    }
    free(flows);
    pool_destroy(&c.pool);
    return c.failed ? -1 : 0;
}

static const struct bench_impl libuv_impl = {
    .name         = "libuv",
    .prepare      = libuv_prepare,
    .server_start = libuv_server_start,
    .server_stop  = libuv_server_stop,
    .client_run   = libuv_client_run,
};

int
main(int argc, char **argv)
{
    return bench_main(&libuv_impl, argc, argv);
}
