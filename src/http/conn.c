/*
 * Connection state, shared by server and client connections: the queue of
 * requests in arrival (server) or dispatch (client) order, the output pump
 * that hands each message to the bind only once every earlier one is out
 * (so pipelined responses and requests leave in order), refusal, failure
 * and freeing.
 *
 * Freeing is deferred: every entry from outside (bind notification, public
 * call) holds the connection busy, and requests that reached their terminal
 * notification -- and the connection once it is down -- are freed only when
 * the outermost entry leaves, so no caller up the stack is left holding a
 * freed pointer.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"

uint64_t
http_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

uint64_t
http_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

struct evpl_http_request *
http_request_alloc(struct evpl_http_conn *conn)
{
    struct evpl_http_request *req = calloc(1, sizeof(*req));

    evpl_http_abort_if(!req, "out of memory allocating a request");
    req->conn          = conn;
    req->version_minor = 1;
    req->keepalive     = 1;
    req->sent_100      = 1;
    req->start_ns      = http_now_ns();
    req->url           = calloc(1, 1);
    evpl_http_abort_if(!req->url, "out of memory allocating a request");
    return req;
}

void
http_request_free(struct evpl_http_request *req)
{
    struct evpl *evpl = req->conn->agent->evpl;

    for (int i = req->in_head; i < req->in_count; i++) {
        evpl_iovec_release(evpl, &req->in_iov[i]);
    }
    for (int i = 0; i < req->out_count; i++) {
        evpl_iovec_release(evpl, &req->out_iov[i]);
    }
    free(req->in_iov);
    free(req->out_iov);
    http_fields_free(&req->in_hdr);
    http_fields_free(&req->in_trl);
    http_fields_free(&req->out_hdr);
    http_fields_free(&req->out_trl);
    free(req->url);
    free(req);
}

static void conn_resume(struct evpl *evpl, void *private_data);

struct evpl_http_conn *
http_conn_create(struct evpl_http_agent *agent, struct evpl_http_server *server, int is_client)
{
    struct evpl_http_conn *conn = calloc(1, sizeof(*conn));

    evpl_http_abort_if(!conn, "out of memory allocating a connection");
    conn->agent     = agent;
    conn->server    = server;
    conn->is_client = is_client ? 1 : 0;
    http_wire_init(&conn->parser, is_client);
    conn->parser.data = conn;
    conn->last_ms     = http_now_ms();
    evpl_deferral_init(&conn->resume, conn_resume, conn);
    conn->next = agent->conns;
    if (agent->conns) {
        agent->conns->prev = conn;
    }
    agent->conns = conn;
    return conn;
}

void
http_conn_free(struct evpl_http_conn *conn)
{
    struct evpl_http_agent *agent = conn->agent;

    evpl_remove_deferral(agent->evpl, &conn->resume);
    while (conn->dead) {
        struct evpl_http_request *req = conn->dead;

        conn->dead = req->dead_next;
        http_request_free(req);
    }
    if (conn->prev) {
        conn->prev->next = conn->next;
    } else {
        agent->conns = conn->next;
    }
    if (conn->next) {
        conn->next->prev = conn->prev;
    }
    free(conn);
}

void
http_conn_enter(struct evpl_http_conn *conn)
{
    conn->busy++;
}

void
http_conn_leave(struct evpl_http_conn *conn)
{
    if (--conn->busy > 0) {
        return;
    }
    while (conn->dead) {
        struct evpl_http_request *req = conn->dead;

        conn->dead = req->dead_next;
        http_request_free(req);
    }
    if (conn->down && (!conn->is_client || conn->user_closed)) {
        http_conn_free(conn);
    }
}

void
http_conn_enqueue(struct evpl_http_conn *conn, struct evpl_http_request *req)
{
    req->next = NULL;
    if (conn->tail) {
        conn->tail->next = req;
    } else {
        conn->head = req;
    }
    conn->tail = req;
    conn->nqueued++;
}

static void
conn_dequeue(struct evpl_http_conn *conn, struct evpl_http_request *req)
{
    struct evpl_http_request **pp = &conn->head, *prev = NULL;

    while (*pp && *pp != req) {
        prev = *pp;
        pp   = &(*pp)->next;
    }
    if (!*pp) {
        return;
    }
    *pp = req->next;
    if (conn->tail == req) {
        conn->tail = prev;
    }
    conn->nqueued--;
}

static void *
conn_private(struct evpl_http_conn *conn)
{
    return conn->private_data;
}

void
http_request_notify(struct evpl_http_request *req, enum evpl_http_notify_type type)
{
    struct evpl_http_conn *conn = req->conn;

    if (!req->notify_cb || req->terminal) {
        return;
    }
    conn->busy++;
    req->notify_cb(conn->agent->evpl, conn->agent, req, type, req->type, req->url, req->notify_data,
                   conn_private(conn));
    conn->busy--;
}

/* Deliver the request's one terminal notification and retire it. */
static void
request_terminal(struct evpl_http_request *req, enum evpl_http_notify_type type)
{
    struct evpl_http_conn *conn = req->conn;

    if (req->terminal) {
        return;
    }
    conn_dequeue(conn, req);
    if (conn->parsing == req) {
        conn->parsing = NULL;
    }
    if (req->notify_cb) {
        struct evpl_http_agent *agent = conn->agent;
        int                     side  = conn->is_client;

        if (type == EVPL_HTTP_NOTIFY_FAILED) {
            atomic_fetch_add_explicit(&agent->failed[side], 1, memory_order_relaxed);
        } else {
            uint64_t ns = http_now_ns() - req->start_ns, bound = 10000;
            int      b = 0;

            while (b < HTTP_LAT_BUCKETS && ns > bound) {
                bound *= 10;
                b++;
            }
            atomic_fetch_add_explicit(&agent->completed[side], 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&agent->lat_sum[side], ns, memory_order_relaxed);
            if (b < HTTP_LAT_BUCKETS) {
                atomic_fetch_add_explicit(&agent->lat_count[side][b], 1, memory_order_relaxed);
            }
        }
    }
    http_request_notify(req, type);
    req->terminal  = 1;
    req->dead_next = conn->dead;
    conn->dead     = req;
}

void
http_request_fail(struct evpl_http_request *req, int status)
{
    req->status = status;
    request_terminal(req, EVPL_HTTP_NOTIFY_FAILED);
}

void
http_request_check_done(struct evpl_http_request *req)
{
    if (req->terminal || !req->in_done || !req->out_done) {
        return;
    }
    request_terminal(req, req->conn->is_client ? EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE
                                               : EVPL_HTTP_NOTIFY_RESPONSE_COMPLETE);
}

static void
out_grow(struct evpl_http_request *req, int add)
{
    if (req->out_count + add > req->out_cap) {
        int                cap = req->out_cap ? req->out_cap * 2 : 8;
        struct evpl_iovec *iov;

        while (cap < req->out_count + add) {
            cap *= 2;
        }
        iov = realloc(req->out_iov, (size_t) cap * sizeof(*iov));
        evpl_http_abort_if(!iov, "out of memory queueing output");
        req->out_iov = iov;
        req->out_cap = cap;
    }
}

/* Copy len bytes into fresh library buffers queued as output. */
static int
out_copy(struct evpl_http_request *req, const void *data, unsigned int len, struct evpl_iovec *iov,
         int max)
{
    int n   = evpl_iovec_alloc(req->conn->agent->evpl, len, 0, (unsigned int) max, 0, iov);
    int off = 0;

    evpl_http_abort_if(n < 0, "output block of %u bytes does not fit %d buffers", len, max);
    for (int i = 0; i < n; i++) {
        memcpy(iov[i].data, (const char *) data + off, iov[i].length);
        off += (int) iov[i].length;
    }
    return n;
}

void
http_request_out_push(struct evpl_http_request *req, const void *data, unsigned int len)
{
    out_grow(req, 8);
    req->out_count += out_copy(req, data, len, &req->out_iov[req->out_count], 8);
}

void
http_request_out_push_front(struct evpl_http_request *req, const void *data, unsigned int len)
{
    struct evpl_iovec tmp[8];
    int               n = out_copy(req, data, len, tmp, 8);

    out_grow(req, n);
    memmove(&req->out_iov[n], req->out_iov, (size_t) req->out_count * sizeof(*tmp));
    memcpy(req->out_iov, tmp, (size_t) n * sizeof(*tmp));
    req->out_count += n;
}

void
http_request_out_pushv(struct evpl_http_request *req, struct evpl_iovec *iov, int niov)
{
    out_grow(req, niov);
    for (int i = 0; i < niov; i++) {
        evpl_iovec_move(&req->out_iov[req->out_count++], &iov[i]);
    }
}

void
http_request_in_push(struct evpl_http_request *req, const struct evpl_iovec *src,
                     unsigned int offset, unsigned int len)
{
    /* Bytes that continue the last segment in the same buffer extend it
     * (no new reference), so a body dribbled in small reads stays a few
     * iovecs for evpl_http_request_get_datav. */
    if (req->in_count > req->in_head) {
        struct evpl_iovec *last = &req->in_iov[req->in_count - 1];

        if (last->ref == src->ref &&
            (char *) last->data + last->length == (char *) src->data + offset) {
            last->length += len;
            req->in_avail += len;
            return;
        }
    }
    if (req->in_count == req->in_cap) {
        struct evpl_iovec *iov;

        /* Reclaim the slots already taken before growing. */
        if (req->in_head > 0) {
            memmove(req->in_iov, &req->in_iov[req->in_head],
                    (size_t) (req->in_count - req->in_head) * sizeof(*iov));
            req->in_count -= req->in_head;
            req->in_head = 0;
        }
        if (req->in_count == req->in_cap) {
            int cap = req->in_cap ? req->in_cap * 2 : 8;

            iov = realloc(req->in_iov, (size_t) cap * sizeof(*iov));
            evpl_http_abort_if(!iov, "out of memory queueing body data");
            req->in_iov = iov;
            req->in_cap = cap;
        }
    }
    evpl_iovec_clone_segment(&req->in_iov[req->in_count++], src, offset, len);
    req->in_avail += len;
}

/*
 * Hand every message that may leave now to the bind: each request's output
 * goes out once all earlier requests' outputs are complete.  Then ask the
 * request now at the front for more body (WANT_DATA), once per pump outside
 * of a nested one so a producer that always refills cannot recurse.
 */
void
http_conn_pump(struct evpl_http_conn *conn)
{
    struct evpl              *evpl = conn->agent->evpl;
    struct evpl_http_request *req, *next, *front = NULL;
    int                       nested = conn->in_pump;

    conn->in_pump = 1;
    for (req = conn->head; req; req = next) {
        next = req->next;
        if (conn->down) {
            break;
        }
        if (!conn->is_client && !req->sent_100 && !req->hdrs_built && !req->in_done) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

            evpl_send(evpl, conn->bind, cont, sizeof(cont) - 1);
            req->sent_100 = 1;
        }
        if (!req->hdrs_built) {
            front = NULL;
            break;
        }
        if (req->out_count) {
            uint64_t total = 0;

            for (int i = 0; i < req->out_count; i++) {
                total += req->out_iov[i].length;
            }
            evpl_sendv(evpl, conn->bind, req->out_iov, req->out_count, (int) total,
                       EVPL_SEND_FLAG_TAKE_REF);
            req->out_count = 0;
        }
        if (req->body_ended && !req->out_done) {
            req->out_done = 1;
            if (!req->keepalive) {
                conn->closing = 1;
                evpl_finish(evpl, conn->bind);
            }
            http_request_check_done(req);
        }
        if (!req->out_done) {
            front = req;
            break;
        }
    }
    conn->in_pump = nested;
    if (!nested && front && !front->body_ended && !front->want_pending && !conn->down) {
        front->want_pending = 1;
        http_request_notify(front, EVPL_HTTP_NOTIFY_WANT_DATA);
    }
}

void
http_conn_fail_all(struct evpl_http_conn *conn, int first_status)
{
    struct evpl_http_request *parsing = conn->parsing;

    conn->closing = 1;
    while (conn->head) {
        struct evpl_http_request *req = conn->head;

        http_request_fail(req, (req == parsing && first_status) ? first_status
                                                                : EVPL_HTTP_ERROR_CONN_LOST);
    }
    conn->parsing = NULL;
}

static void
conn_log_refusal(struct evpl_http_conn *conn, int status, const char *reason)
{
    char peer[EVPL_ADDRESS_STRLEN] = "(gone)";

    if (conn->bind) {
        evpl_bind_get_remote_address(conn->bind, peer, sizeof(peer));
    }
    if (conn->is_client) {
        evpl_http_error("bad response from %s: %s", peer, reason ? reason : "unparseable");
    } else {
        evpl_http_error("refused request from %s with %d: %s", peer, status,
                        reason ? reason : "unparseable");
    }
}

/*
 * A request (server) or response (client) could not be parsed.  Server:
 * earlier requests are still answered, then status and a close; a request
 * already being answered fails and the connection is cut.  Client: the
 * response being parsed fails with BAD_RESPONSE, the rest with CONN_LOST.
 */
void
http_conn_refuse(struct evpl_http_conn *conn, int status, const char *reason)
{
    struct evpl              *evpl = conn->agent->evpl;
    struct evpl_http_request *req  = conn->parsing;
    char                      head[256];
    int                       len;

    conn->stop_read = 1;
    if (conn->is_client) {
        conn_log_refusal(conn, status, reason);
        http_conn_fail_all(conn, EVPL_HTTP_ERROR_BAD_RESPONSE);
        evpl_close(evpl, conn->bind);
        return;
    }
    conn->closing = 1;
    conn->parsing = NULL;
    if (status > 0) {
        conn_log_refusal(conn, status, reason);
        atomic_fetch_add_explicit(&conn->agent->refused, 1, memory_order_relaxed);
    }
    if (req && req->dispatched) {
        int answered = req->hdrs_built;

        http_request_fail(req, EVPL_HTTP_ERROR_CONN_LOST);
        req = NULL;
        if (answered) {
            evpl_close(evpl, conn->bind);
            return;
        }
    }
    if (status <= 0) {
        if (req) {
            http_request_fail(req, EVPL_HTTP_ERROR_CONN_LOST);
        }
        if (!conn->head) {
            evpl_finish(evpl, conn->bind);
        }
        return;
    }
    if (!req) {
        req = http_request_alloc(conn);
        http_conn_enqueue(conn, req);
    }
    /* The refusal travels as a request of its own, answered in order. */
    http_fields_free(&req->in_hdr);
    req->dispatched    = 1;
    req->in_done       = 1;
    req->keepalive     = 0;
    req->version_minor = 1;
    req->status        = status;
    req->out_framing   = HTTP_FRAMING_NONE;
    req->type          = EVPL_HTTP_REQUEST_TYPE_GET;
    len                = http_wire_response_head(req, head, sizeof(head), 1);
    http_request_out_push_front(req, head, (unsigned int) len);
    req->hdrs_built = 1;
    req->body_ended = 1;
    http_conn_pump(conn);
}

void
http_conn_dispatch(struct evpl_http_conn *conn, struct evpl_http_request *req)
{
    struct evpl_http_server *server = conn->server;

    if (!server) {
        return; /* server destroyed: the connection is going down */
    }
    req->dispatched = 1;
    conn->busy++;
    server->dispatch(conn->agent->evpl, conn->agent, req, &req->notify_cb, &req->notify_data,
                     server->private_data);
    conn->busy--;
    evpl_http_abort_if(!req->notify_cb, "the dispatch callback set no notify callback");
    http_conn_pump(conn);
}

/* Whether the request being parsed holds as much unread body as allowed. */
static int
conn_over_buffer(struct evpl_http_conn *conn)
{
    return conn->parsing && conn->parsing->in_avail >= HTTP_MAX_BUFFERED;
}

/*
 * Take the bytes the bind holds and parse them, receive iovec by iovec,
 * HTTP_READ_CHUNK at a time, until the bind is empty or the request being
 * parsed has HTTP_MAX_BUFFERED body bytes the application has not taken:
 * then the rest stays in the bind (whose own flow control stops the peer)
 * until evpl_http_request_get_datav makes room.
 */
static void
conn_read(struct evpl_http_conn *conn)
{
    struct evpl      *evpl = conn->agent->evpl;
    struct evpl_iovec iov[64];
    int               n, len;

    if (conn->reading) {
        return; /* the outer read loop goes on */
    }
    conn->reading = 1;
    while (!conn->stop_read && !conn->down && !(conn->throttled = conn_over_buffer(conn)) &&
           (n = evpl_recvv(evpl, conn->bind, iov, 64, HTTP_READ_CHUNK, &len)) > 0) {
        for (int i = 0; i < n; i++) {
            int rc;

            if (conn->stop_read) {
                break;
            }
            rc = http_wire_feed(conn, &iov[i]);
            if (rc > 0) {
                conn->stop_read = 1;
                if (conn->is_client) {
                    /* The response closes the connection: later requests fail. */
                    evpl_finish(evpl, conn->bind);
                }
            } else if (rc < 0 && !conn->stop_read) {
                http_conn_refuse(conn, conn->refuse_status, conn->refuse_reason);
            }
        }
        evpl_iovecs_release(evpl, iov, n);
    }
    conn->reading = 0;
}

static void
conn_resume(struct evpl *evpl, void *private_data)
{
    struct evpl_http_conn *conn = private_data;

    (void) evpl;
    http_conn_enter(conn);
    conn_read(conn);
    http_conn_leave(conn);
}

/* The application took body bytes: read again if that made room. */
void
http_conn_body_taken(struct evpl_http_conn *conn)
{
    if (conn->throttled && !conn_over_buffer(conn) && !conn->down) {
        conn->throttled = 0;
        evpl_defer(conn->agent->evpl, &conn->resume);
    }
}

void
http_conn_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
                 void *private_data)
{
    struct evpl_http_conn *conn = private_data;

    (void) evpl;
    (void) bind;
    http_conn_enter(conn);
    conn->last_ms = http_now_ms();
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        conn_read(conn);
        break;
    case EVPL_NOTIFY_SENT:
        for (struct evpl_http_request *req = conn->head; req; req = req->next) {
            if (!req->out_done) {
                req->want_pending = 0;
                break;
            }
        }
        http_conn_pump(conn);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        if (conn->is_client && conn->parsing && !conn->stop_read) {
            /* End of stream completes a close-delimited response. */
            if (http_wire_finish(conn) < 0 && conn->parsing) {
                http_request_fail(conn->parsing, EVPL_HTTP_ERROR_CONN_LOST);
            }
        }
        conn->down = 1;
        http_conn_fail_all(conn, 0);
        conn->bind = NULL;
        if (conn->server) {
            conn->server->nconns--;
        }
        break;
    default:
        break;
    }
    http_conn_leave(conn);
}

/*
 * The agent's periodic sweep (extension): a server connection whose request
 * header section has taken longer than the server's header timeout gets 408
 * and a close (a client dribbling header bytes is cut off), and one that has
 * been quiet with no request in progress for the idle timeout is closed.
 */
void
http_agent_sweep(struct evpl *evpl, struct evpl_timer *timer)
{
    struct evpl_http_agent *agent =
        (struct evpl_http_agent *) ((char *) timer - offsetof(struct evpl_http_agent, sweep));
    struct evpl_http_conn *conn, *next;
    uint64_t               now = http_now_ms();

    for (conn = agent->conns; conn; conn = next) {
        struct evpl_http_server *server = conn->server;

        next = conn->next;
        if (!server || conn->down || conn->closing || conn->busy) {
            continue;
        }
        http_conn_enter(conn);
        if (conn->parsing && !conn->parsing->dispatched && server->header_ms &&
            now - conn->header_start_ms > server->header_ms) {
            http_conn_refuse(conn, 408, "request header timeout");
        } else if (!conn->head && !conn->parsing && server->idle_ms &&
                   now - conn->last_ms > server->idle_ms) {
            evpl_http_debug("closing a connection idle for %llu ms",
                            (unsigned long long) (now - conn->last_ms));
            conn->closing   = 1;
            conn->stop_read = 1;
            evpl_close(evpl, conn->bind);
        }
        http_conn_leave(conn);
    }
}
