/*
 * evpl-bench: the pingpong and stream workloads over any libevpl protocol
 * (and, in block.c, the block workload).  The driver (driver.c) owns roles,
 * threads and reporting; this file owns everything that touches the
 * library's network API.
 *
 * Server: a listener plus a thread pool of --server-threads loops attached
 * to it (UDP: one loop with a bound socket).  Each connection reads the
 * hello, then echoes (pingpong) or discards (stream) every message.
 *
 * Client: each client thread runs its own loop with --flows connections.
 * Messages are sent from preallocated library iovecs without TAKE_REF, so
 * the send path is zero-copy and allocation-free; the echoed answers are
 * framed either by a segment callback returning the fixed size (one
 * RECV_MSG per answer, --framing msg, the default) or by draining RECV_DATA
 * with evpl_recvv and counting whole messages (--framing data).
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evpl/evpl.h>
#include <evpl/evpl_topology.h>

#include "block.h"
#include "driver.h"
#include "evpl_bench.h"
#include "wire.h"

#define MAX_MSG_IOV 64

/* ------------------------------------------------------------------ */
/* Library log capture                                                 */
/* ------------------------------------------------------------------ */

/*
 * While setting up (prepare, listen, bind) the library's error messages are
 * kept instead of printed, so that a failure reads as one line naming the
 * cause; afterwards they are printed as they come.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int             log_capturing;
static char            log_last[384];

static void
bench_log(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
          va_list argp)
{
    char msg[384];

    (void) srcfile;
    (void) lineno;
    if (strcmp(level, "debug") == 0 ||
        (strcmp(level, "info") == 0 && !getenv("EVPL_BENCH_VERBOSE"))) {
        return;
    }
    vsnprintf(msg, sizeof(msg), fmt, argp);
    pthread_mutex_lock(&log_lock);
    if (log_capturing && strcmp(level, "fatal") != 0) {
        snprintf(log_last, sizeof(log_last), "%s", msg);
    } else {
        fprintf(stderr, "evpl-bench: libevpl %s (%s): %s\n", level, module, msg);
    }
    pthread_mutex_unlock(&log_lock);
}

void
evpl_bench_log_capture(int on)
{
    pthread_mutex_lock(&log_lock);
    log_capturing = on;
    if (on) {
        log_last[0] = '\0';
    }
    pthread_mutex_unlock(&log_lock);
}

const char *
evpl_bench_log_last(void)
{
    static char copy[sizeof(log_last)];

    pthread_mutex_lock(&log_lock);
    memcpy(copy, log_last, sizeof(copy));
    pthread_mutex_unlock(&log_lock);
    return copy[0] ? copy : "no reason given";
}

/* ------------------------------------------------------------------ */
/* Protocol and endpoint selection                                     */
/* ------------------------------------------------------------------ */

static enum evpl_protocol_id bench_protocol;
static int                   bench_is_stream, bench_is_dgram;

static const char *const contract_names[] = {
    "DATAGRAM_SOCKET_UDP", "DATAGRAM_RDMACM_RC",  "DATAGRAM_RDMACM_UD", "STREAM_SOCKET_TCP",
    "STREAM_XLIO_TCP",     "STREAM_IO_URING_TCP", "STREAM_RDMACM_RC",   "STREAM_SOCKET_TLS",
    "DATAGRAM_TCP_RDMA",   "STREAM_SOCKET_UNIX",  "STREAM_INPROC",      "DATAGRAM_INPROC",
};

/* Bound (connectionless) protocols: clients use evpl_bind + sendto. */
static int
protocol_is_bound(enum evpl_protocol_id id)
{
    return id == EVPL_DATAGRAM_SOCKET_UDP || id == EVPL_DATAGRAM_RDMACM_UD;
}

static int
evpl_prepare(struct bench_options *opt, char *err, size_t errlen)
{
    int known = 0;

    struct evpl_global_config *config;

    evpl_set_log_fn(bench_log, NULL);

    /* Explicit initialisation, before anything initialises implicitly: the
     * TLS listener makes itself a self-signed certificate, which the
     * client can only accept with peer verification off. */
    config = evpl_global_config_init();
    evpl_global_config_set_tls_verify_peer(config, 0);
    if (strcmp(opt->steer, "least-loaded") == 0) {
        evpl_global_config_set_listener_policy(config, EVPL_LISTENER_POLICY_LEAST_LOADED);
    } else if (strcmp(opt->steer, "incoming-cpu") == 0) {
        evpl_global_config_set_listener_policy(config, EVPL_LISTENER_POLICY_INCOMING_CPU);
    }
    evpl_init(config);

    if (opt->workload == BENCH_WORKLOAD_BLOCK) {
        return evpl_bench_block_prepare(opt, err, errlen);
    }
    for (size_t i = 0; i < sizeof(contract_names) / sizeof(contract_names[0]); i++) {
        known |= strcmp(contract_names[i], opt->protocol) == 0;
    }
    if (evpl_protocol_lookup(&bench_protocol, opt->protocol) != 0) {
        if (known) {
            snprintf(err, errlen, "protocol %s is not available in this build or on this machine",
                     opt->protocol);
            return -2;
        } else {
            snprintf(err, errlen,
                     "unknown protocol '%s' (use a contract name such as "
                     "STREAM_SOCKET_TCP, DATAGRAM_SOCKET_UDP, STREAM_SOCKET_UNIX)",
                     opt->protocol);
        }
        return -1;
    }
    bench_is_stream = evpl_protocol_is_stream(bench_protocol);
    bench_is_dgram  = protocol_is_bound(bench_protocol);

    if (bench_is_dgram) {
        if (opt->workload == BENCH_WORKLOAD_STREAM) {
            snprintf(err, errlen, "the stream workload needs a connected protocol, not %s",
                     opt->protocol);
            return -1;
        }
        if (opt->size < BENCH_WIRE_MIN_DGRAM || opt->size > 65000) {
            snprintf(err, errlen, "--size must be %d to 65000 bytes over %s", BENCH_WIRE_MIN_DGRAM,
                     opt->protocol);
            return -1;
        }
        if (opt->server_threads > 1) {
            snprintf(err, errlen, "%s serves from one loop: use --server-threads 1", opt->protocol);
            return -1;
        }
    }
    if (opt->size > UINT32_MAX / 2) {
        snprintf(err, errlen, "--size too large");
        return -1;
    }
    if (evpl_protocol_is_local(bench_protocol) && !(opt->given & BENCH_GIVEN_ADDRESS)) {
        snprintf(opt->address, sizeof(opt->address), "/tmp/evpl-bench-%d.sock", opt->port);
    }
    if (evpl_protocol_is_inproc(bench_protocol) && !(opt->given & BENCH_GIVEN_ADDRESS)) {
        snprintf(opt->address, sizeof(opt->address), "evpl-bench-%d", opt->port);
    }
    return 0;
}

static struct evpl_endpoint *
make_endpoint(const struct bench_options *opt, const char *address, int port, char *err,
              size_t errlen)
{
    struct evpl_endpoint *ep;

    if (evpl_protocol_is_local(bench_protocol)) {
        ep = evpl_endpoint_create_local(address);
    } else if (evpl_protocol_is_inproc(bench_protocol)) {
        ep = evpl_endpoint_create_inproc(address);
    } else {
        ep = evpl_endpoint_create(address, port);
    }
    if (!ep) {
        snprintf(err, errlen, "invalid address '%s' for %s", address, opt->protocol);
    }
    return ep;
}

static void
copy_from_iovecs(void *dst, const struct evpl_iovec *iov, unsigned int niov, unsigned int len)
{
    unsigned char *out = dst;

    for (unsigned int i = 0; i < niov && len > 0; i++) {
        unsigned int n = iov[i].length < len ? iov[i].length : len;

        memcpy(out, iov[i].data, n);
        out += n;
        len -= n;
    }
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct server {
    const struct bench_options *opt;
    struct evpl_endpoint       *endpoint;
    struct evpl_listener       *listener;
    struct evpl_threadpool     *pool;
    struct evpl_thread         *dgram_thread;
    struct evpl_bind           *dgram_bind;
    char                        error[256];
};

struct server_thread {
    struct server                *server;
    struct evpl_listener_binding *binding;
};

struct server_conn {
    int      have_hello;
    uint32_t workload;
    uint32_t size;
};

static int
server_accept_hello(struct evpl *evpl, struct evpl_bind *bind, struct server_conn *conn,
                    const struct bench_wire_hello *hello)
{
    if (hello->magic != BENCH_WIRE_MAGIC ||
        (hello->workload != BENCH_WORKLOAD_PINGPONG && hello->workload != BENCH_WORKLOAD_STREAM) ||
        hello->size == 0) {
        fprintf(stderr, "evpl-bench: server: bad hello from a client, closing it\n");
        evpl_close(evpl, bind);
        return -1;
    }
    conn->have_hello = 1;
    conn->workload   = hello->workload;
    conn->size       = hello->size;
    return 0;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct server_conn     *conn = data;
    struct bench_wire_hello hello;
    struct evpl_iovec       iov[MAX_MSG_IOV];
    int                     n, len;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_MSG:
        if (!conn->have_hello) {
            if (notify->recv_msg.length == sizeof(hello)) {
                copy_from_iovecs(&hello, notify->recv_msg.iovec, notify->recv_msg.niov,
                                 sizeof(hello));
            } else {
                hello.magic = 0;
            }
            evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
            server_accept_hello(evpl, bind, conn, &hello);
        } else if (conn->workload == BENCH_WORKLOAD_PINGPONG) {
            evpl_sendv(evpl, bind, notify->recv_msg.iovec, notify->recv_msg.niov,
                       notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        } else {
            evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        }
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (!conn->have_hello) {
            if (evpl_recv(evpl, bind, &hello, sizeof(hello), EVPL_RECV_FLAG_ALL_OR_NONE) !=
                    (int) sizeof(hello) ||
                server_accept_hello(evpl, bind, conn, &hello) != 0) {
                break;
            }
        }
        /* A byte-for-byte echo is a valid answer: the client cuts the
         * answers back into messages itself. */
        while ((n = evpl_recvv(evpl, bind, iov, MAX_MSG_IOV, INT_MAX, &len)) > 0) {
            if (conn->workload == BENCH_WORKLOAD_PINGPONG) {
                evpl_sendv(evpl, bind, iov, n, len, EVPL_SEND_FLAG_TAKE_REF);
            } else {
                evpl_iovecs_release(evpl, iov, n);
            }
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        free(conn);
        break;
    default:
        break;
    }
}

static int
server_segment(struct evpl *evpl, struct evpl_bind *bind, void *data)
{
    struct server_conn *conn = data;

    (void) evpl;
    (void) bind;
    return conn->have_hello ? (int) conn->size : (int) sizeof(struct bench_wire_hello);
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    struct server      *server = private_data;
    struct server_conn *conn   = calloc(1, sizeof(*conn));

    (void) evpl;
    (void) bind;
    if (!conn) {
        abort();
    }
    *notify_callback   = server_notify;
    *conn_private_data = conn;
    if (bench_is_stream && server->opt->framing == BENCH_FRAMING_MSG) {
        *segment_callback = server_segment;
    }
}

static void *
server_thread_init(struct evpl *evpl, void *private_data)
{
    struct server        *server = private_data;
    struct server_thread *t      = calloc(1, sizeof(*t));

    if (!t) {
        abort();
    }
    t->server  = server;
    t->binding = evpl_listener_attach(evpl, server->listener, server_attach, server);
    return t;
}

static void
server_thread_shutdown(struct evpl *evpl, void *private_data)
{
    struct server_thread *t = private_data;

    evpl_listener_detach(evpl, t->binding);
    free(t);
}

/*
 * The server's loops: a plain pool, or with --placement one placed pool of
 * --server-threads loops going round that policy's domains.
 */
static struct evpl_threadpool *
bench_server_pool(const struct bench_options *opt, struct server *server)
{
    enum evpl_placement_policy policy;
    struct evpl_topology      *topo;
    struct evpl_placement     *plan;
    struct evpl_threadpool    *pool;

    if (!opt->placement[0] || evpl_placement_policy_parse(opt->placement, &policy) != 0) {
        return evpl_threadpool_create(NULL, (int) opt->server_threads, server_thread_init,
                                      server_thread_shutdown, server);
    }
    topo = evpl_topology_discover();
    plan = evpl_placement_create(topo, policy, NULL, 0, (int) opt->server_threads);
    pool = evpl_threadpool_create_placed(NULL, plan, server_thread_init, server_thread_shutdown,
                                         server);
    evpl_placement_destroy(plan);
    evpl_topology_destroy(topo);
    return pool;
}

/* UDP: echo every datagram to its sender. */
static void
dgram_server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
                    void *data)
{
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        evpl_sendtov(evpl, bind, notify->recv_msg.addr, notify->recv_msg.iovec,
                     notify->recv_msg.niov, notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
    }
}

static void *
dgram_server_init(struct evpl *evpl, void *private_data)
{
    struct server *server = private_data;

    server->dgram_bind =
        evpl_bind(evpl, bench_protocol, server->endpoint, dgram_server_notify, server);
    return server;
}

static void *
evpl_server_start(const struct bench_options *opt, char *err, size_t errlen)
{
    struct server *server = calloc(1, sizeof(*server));

    if (!server) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    server->opt = opt;
    evpl_bench_log_capture(1);
    server->endpoint = make_endpoint(opt, opt->address, opt->port, err, errlen);
    if (!server->endpoint) {
        evpl_bench_log_capture(0);
        free(server);
        return NULL;
    }
    if (bench_is_dgram) {
        server->dgram_thread = evpl_thread_create(NULL, dgram_server_init, NULL, server);
        if (!server->dgram_bind) {
            snprintf(err, errlen, "cannot bind %s port %d (%s): %s", opt->address, opt->port,
                     opt->protocol, evpl_bench_log_last());
            evpl_thread_destroy(server->dgram_thread);
            evpl_bench_log_capture(0);
            free(server);
            return NULL;
        }
        evpl_bench_log_capture(0);
        return server;
    }

    server->listener = evpl_listener_create();
    server->pool     = bench_server_pool(opt, server);
    if (evpl_listen(server->listener, bench_protocol, server->endpoint) != 0) {
        if (evpl_protocol_is_local(bench_protocol) || evpl_protocol_is_inproc(bench_protocol)) {
            snprintf(err, errlen, "cannot listen on %s (%s): %s", opt->address, opt->protocol,
                     evpl_bench_log_last());
        } else {
            snprintf(err, errlen, "cannot listen on %s port %d (%s): %s", opt->address, opt->port,
                     opt->protocol, evpl_bench_log_last());
        }
        evpl_threadpool_destroy(server->pool);
        evpl_listener_destroy(server->listener);
        evpl_bench_log_capture(0);
        free(server);
        return NULL;
    }
    evpl_bench_log_capture(0);
    return server;
}

static void
evpl_server_stop(void *arg)
{
    struct server *server = arg;

    if (server->dgram_thread) {
        evpl_thread_destroy(server->dgram_thread);
    } else {
        evpl_threadpool_destroy(server->pool);
        evpl_listener_destroy(server->listener);
    }
    evpl_endpoint_close(server->endpoint);
    free(server);
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct client;

struct flow {
    struct client    *client;
    struct evpl_bind *bind;
    unsigned int      index;
    int               connected;
    int               closed;
    uint64_t          sent;       /* messages issued */
    uint64_t          done;       /* messages completed */
    uint64_t          rx_bytes;   /* data framing / stream: bytes not yet a whole message */
    unsigned int      hello_left; /* stream: hello bytes not yet reported SENT */
    uint64_t         *stamp;      /* send time of message k at [k % depth] */
    /* datagram: per-slot request iovecs carrying the request id */
    struct evpl_iovec *slot_iov;
    uint64_t          *slot_id;
};

struct client {
    struct bench_worker        *w;
    const struct bench_options *opt;
    struct evpl                *evpl;
    struct evpl_endpoint       *remote;
    struct evpl_endpoint       *local; /* datagram: our bound address */
    struct flow                *flows;
    struct evpl_iovec           msg[MAX_MSG_IOV];
    int                         msg_niov;
    struct evpl_timer           timer;
    int                         stopped;
    int                         failed;
    uint64_t                    next_id;
    uint64_t                    now; /* this pass's clock reading, 0: not taken yet */
};

/*
 * One clock reading per loop pass, shared by every completion in it (the
 * peers read the clock once per read batch too, so per-message reads would
 * load evpl-bench with work the others do not do).  The iteration_end hook
 * forgets it, on full and pure poll passes alike.
 */
static inline uint64_t
client_now(struct client *c)
{
    if (c->now == 0) {
        c->now = bench_now_ns();
    }
    return c->now;
}

static void
client_pass_end(struct evpl *evpl, void *private_data)
{
    struct client *c = private_data;

    (void) evpl;
    c->now = 0;
}

static void
client_stop(struct client *c)
{
    if (!c->stopped) {
        c->stopped = 1;
        evpl_stop(c->evpl);
    }
}

static void
client_fail(struct client *c, const char *fmt, ...)
{
    va_list ap;

    if (!c->failed) {
        c->failed = 1;
        va_start(ap, fmt);
        vsnprintf(c->w->error, sizeof(c->w->error), fmt, ap);
        va_end(ap);
    }
    client_stop(c);
}

static inline void
flow_send_one(struct flow *f, uint64_t now)
{
    struct client *c = f->client;

    /* Stream: the latency runs from queuing to SENT, and both can happen
     * within one pass (or one SENT notification, when the transport takes
     * the bytes at once): stamp with a fresh reading rather than the
     * completion time that triggered this send, or such messages would
     * read as taking 0 ns. */
    if (c->opt->workload == BENCH_WORKLOAD_STREAM) {
        now = bench_now_ns();
    }
    f->stamp[f->sent % c->opt->depth] = now;
    f->sent++;
    evpl_sendv(c->evpl, f->bind, c->msg, c->msg_niov, (int) c->opt->size, 0);
}

/* One message of the flow finished (answer received, or handed to the
 * transport for stream); start the next unless the run is over. */
static inline void
flow_complete(struct flow *f, uint64_t now)
{
    struct client *c = f->client;

    bench_record(c->w, f->stamp[f->done % c->opt->depth], now, c->opt->size);
    f->done++;
    if (!bench_stopping()) {
        flow_send_one(f, now);
    }
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct flow      *f = data;
    struct client    *c = f->client;
    struct evpl_iovec iov[MAX_MSG_IOV];
    uint64_t          now, sent, size = c->opt->size;
    int               n, len;

    (void) bind;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        f->connected = 1;
        break;
    case EVPL_NOTIFY_RECV_MSG:
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        if (notify->recv_msg.length != size) {
            client_fail(c, "flow %u: answer of %u bytes, expected %llu", f->index,
                        notify->recv_msg.length, (unsigned long long) size);
            break;
        }
        flow_complete(f, client_now(c));
        break;
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recvv(evpl, f->bind, iov, MAX_MSG_IOV, INT_MAX, &len)) > 0) {
            evpl_iovecs_release(evpl, iov, n);
            f->rx_bytes += (uint64_t) len;
        }
        now = client_now(c);
        while (f->rx_bytes >= size) {
            f->rx_bytes -= size;
            flow_complete(f, now);
        }
        break;
    case EVPL_NOTIFY_SENT:
        /* stream: a message is done once the transport has taken all of
         * it; the hello's bytes come first and are not a message. */
        sent = notify->sent.bytes;
        if (f->hello_left) {
            uint64_t take = sent < f->hello_left ? sent : f->hello_left;

            f->hello_left -= (unsigned int) take;
            sent -= take;
        }
        f->rx_bytes += sent;
        /* Not the per-pass clock: on transports that complete sends inside
         * the deferral step (in-process), a sender driven by SENT keeps one
         * pass going for the whole run. */
        now = bench_now_ns();
        while (f->rx_bytes >= size) {
            f->rx_bytes -= size;
            flow_complete(f, now);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        f->closed = 1;
        f->bind   = NULL;
        if (!c->stopped && !bench_stopping()) {
            if (!f->connected) {
                client_fail(c, "cannot connect to %s port %d (%s)", c->opt->address, c->opt->port,
                            c->opt->protocol);
            } else {
                client_fail(c, "flow %u: connection closed by the server", f->index);
            }
        }
        break;
    default:
        break;
    }
}

static int
client_segment(struct evpl *evpl, struct evpl_bind *bind, void *data)
{
    struct flow *f = data;

    (void) evpl;
    (void) bind;
    return (int) f->client->opt->size;
}

/* Datagram flows: the answer names its slot by request id. */
static void
dgram_send_slot(struct flow *f, unsigned int slot, uint64_t now)
{
    struct client *c = f->client;
    /* ids are allocated so that id % depth == slot */
    uint64_t id = c->next_id++ * c->opt->depth + slot;

    f->slot_id[slot] = id;
    f->stamp[slot]   = now;
    memcpy(f->slot_iov[slot].data, &id, sizeof(id));
    evpl_sendtoepv(c->evpl, f->bind, c->remote, &f->slot_iov[slot], 1, (int) c->opt->size, 0);
}

static void
dgram_client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
                    void *data)
{
    struct flow   *f = data;
    struct client *c = f->client;
    uint64_t       id, now;
    unsigned int   slot;

    (void) bind;
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        f->closed = 1;
        f->bind   = NULL;
        return;
    }
    if (notify->notify_type != EVPL_NOTIFY_RECV_MSG) {
        return;
    }
    if (notify->recv_msg.length < sizeof(id)) {
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        return;
    }
    copy_from_iovecs(&id, notify->recv_msg.iovec, notify->recv_msg.niov, sizeof(id));
    evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
    slot = (unsigned int) (id % c->opt->depth);
    if (f->slot_id[slot] != id) {
        return; /* a late answer to a request already given up on */
    }
    now = client_now(c);
    bench_record(c->w, f->stamp[slot], now, c->opt->size);
    f->slot_id[slot] = UINT64_MAX;
    if (!bench_stopping()) {
        dgram_send_slot(f, slot, now);
    }
}

/* Every 10 ms: end the run when the window is over; over datagrams, give
 * up on requests unanswered for 200 ms and send new ones. */
static void
client_tick(struct evpl *evpl, struct evpl_timer *timer)
{
    struct client *c = (struct client *) ((char *) timer - offsetof(struct client, timer));
    uint64_t       now;

    (void) evpl;
    if (bench_stopping()) {
        client_stop(c);
        return;
    }
    if (!bench_is_dgram) {
        return;
    }
    now = bench_now_ns();
    for (unsigned int i = 0; i < c->opt->flows; i++) {
        struct flow *f = &c->flows[i];

        for (unsigned int s = 0; s < c->opt->depth; s++) {
            if (f->slot_id[s] != UINT64_MAX && now - f->stamp[s] > 200000000u) {
                c->w->lost++;
                dgram_send_slot(f, s, now);
            }
        }
    }
}

static int
alloc_message(struct client *c, struct evpl_iovec *iov, int max_iov)
{
    int n =
        evpl_iovec_alloc(c->evpl, (unsigned int) c->opt->size, 0, (unsigned int) max_iov, 0, iov);

    if (n <= 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        memset(iov[i].data, 'a' + (i % 26), iov[i].length);
    }
    return n;
}

static int
client_setup(struct client *c)
{
    const struct bench_options *opt = c->opt;
    char                        err[256];
    struct bench_wire_hello     hello = {.magic    = BENCH_WIRE_MAGIC,
                                         .workload = (uint32_t) opt->workload,
                                         .size     = (uint32_t) opt->size};
    uint64_t                    now;

    c->remote = make_endpoint(opt, opt->address, opt->port, err, sizeof(err));
    if (!c->remote) {
        snprintf(c->w->error, sizeof(c->w->error), "%s", err);
        return -1;
    }
    c->flows = calloc(opt->flows, sizeof(*c->flows));
    if (!c->flows) {
        return -1;
    }
    if (!bench_is_dgram) {
        c->msg_niov = alloc_message(c, c->msg, MAX_MSG_IOV);
        if (c->msg_niov < 0) {
            snprintf(c->w->error, sizeof(c->w->error), "cannot allocate a %llu-byte message",
                     (unsigned long long) opt->size);
            return -1;
        }
    } else {
        c->local = evpl_endpoint_create("0.0.0.0", 0);
    }

    now = bench_now_ns();
    for (unsigned int i = 0; i < opt->flows; i++) {
        struct flow *f = &c->flows[i];

        f->client = c;
        f->index  = i;
        f->stamp  = calloc(opt->depth, sizeof(*f->stamp));
        if (!f->stamp) {
            return -1;
        }
        if (bench_is_dgram) {
            f->slot_iov = calloc(opt->depth, sizeof(*f->slot_iov));
            f->slot_id  = calloc(opt->depth, sizeof(*f->slot_id));
            if (!f->slot_iov || !f->slot_id) {
                return -1;
            }
            evpl_bench_log_capture(1);
            f->bind = evpl_bind(c->evpl, bench_protocol, c->local, dgram_client_notify, f);
            evpl_bench_log_capture(0);
            if (!f->bind) {
                snprintf(c->w->error, sizeof(c->w->error), "cannot bind a %s socket: %s",
                         opt->protocol, evpl_bench_log_last());
                return -1;
            }
            for (unsigned int s = 0; s < opt->depth; s++) {
                if (alloc_message(c, &f->slot_iov[s], 1) != 1) {
                    return -1;
                }
                dgram_send_slot(f, s, now);
            }
            continue;
        }
        f->bind = evpl_connect(c->evpl, bench_protocol, NULL, c->remote, client_notify,
                               bench_is_stream && opt->framing == BENCH_FRAMING_MSG &&
                                       opt->workload == BENCH_WORKLOAD_PINGPONG
                                   ? client_segment
                                   : NULL,
                               f);
        if (!f->bind) {
            snprintf(c->w->error, sizeof(c->w->error), "cannot connect to %s port %d (%s)",
                     opt->address, opt->port, opt->protocol);
            return -1;
        }
        if (opt->workload == BENCH_WORKLOAD_STREAM) {
            f->hello_left = BENCH_WIRE_HELLO_SIZE;
            evpl_bind_request_send_notifications(c->evpl, f->bind);
        }
        evpl_send(c->evpl, f->bind, &hello, sizeof(hello));
        for (unsigned int k = 0; k < opt->depth; k++) {
            flow_send_one(f, now);
        }
    }
    return 0;
}

static int
evpl_client_run(struct bench_worker *w)
{
    struct client c = {.w = w, .opt = w->opt};
    int           rc;

    struct evpl_loop_hooks hooks = {.iteration_end = client_pass_end, .private_data = &c};

    c.evpl = evpl_create(NULL);
    evpl_set_loop_hooks(c.evpl, &hooks);
    rc = client_setup(&c);
    if (rc == 0) {
        evpl_add_timer(c.evpl, &c.timer, client_tick, 10000);
        evpl_run(c.evpl);
        evpl_remove_timer(c.evpl, &c.timer);
        rc = c.failed ? -1 : 0;
    } else if (!w->error[0]) {
        snprintf(w->error, sizeof(w->error), "client setup failed");
    }
    /* Destroying the loop closes every flow and delivers its DISCONNECTED. */
    c.stopped = 1;
    if (c.msg_niov > 0) {
        evpl_iovecs_release(c.evpl, c.msg, c.msg_niov);
    }
    for (unsigned int i = 0; c.flows && i < c.opt->flows; i++) {
        if (c.flows[i].slot_iov) {
            for (unsigned int s = 0; s < c.opt->depth; s++) {
                if (c.flows[i].slot_iov[s].data) {
                    evpl_iovec_release(c.evpl, &c.flows[i].slot_iov[s]);
                }
            }
        }
    }
    evpl_destroy(c.evpl);
    for (unsigned int i = 0; c.flows && i < c.opt->flows; i++) {
        free(c.flows[i].stamp);
        free(c.flows[i].slot_iov);
        free(c.flows[i].slot_id);
    }
    free(c.flows);
    if (c.remote) {
        evpl_endpoint_close(c.remote);
    }
    if (c.local) {
        evpl_endpoint_close(c.local);
    }
    return rc;
}

const struct bench_impl evpl_bench_impl = {
    .name         = "evpl",
    .prepare      = evpl_prepare,
    .server_start = evpl_server_start,
    .server_stop  = evpl_server_stop,
    .client_run   = evpl_client_run,
    .block_run    = evpl_bench_block_run,
};

int
main(int argc, char **argv)
{
    return bench_main(&evpl_bench_impl, argc, argv);
}
