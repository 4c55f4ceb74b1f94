/*
 * The public API of include/evpl/evpl_http.h: agents, servers, client
 * connections, and the request calls both sides share.  Every call that may
 * lead to a notification holds the connection busy (http_conn_enter/leave)
 * so that nothing is freed under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* Exported by the core for the protocol modules (src/core/config.c). */
unsigned int evpl_config_http_max_header_size(void);

struct evpl_http_agent *
evpl_http_init(struct evpl *evpl)
{
    struct evpl_http_agent *agent = calloc(1, sizeof(*agent));

    evpl_http_abort_if(!agent, "out of memory allocating the HTTP agent");
    agent->evpl = evpl;
    http_metrics_attach(agent);
    agent->max_header_size = evpl_config_http_max_header_size();
    if (agent->max_header_size < 512) {
        agent->max_header_size = 512;
    }
    return agent;
}

void
evpl_http_destroy(struct evpl_http_agent *agent)
{
    struct evpl_http_conn *conn, *next;

    for (conn = agent->conns; conn; conn = next) {
        next              = conn->next;
        conn->user_closed = 1;
        if (conn->down) {
            if (!conn->busy) {
                http_conn_free(conn);
            }
        } else {
            evpl_close(agent->evpl, conn->bind);
        }
    }
    /* Each connection is freed once its DISCONNECTED has been handled. */
    while (agent->conns) {
        evpl_continue(agent->evpl);
    }
    if (agent->sweep_armed) {
        evpl_remove_timer(agent->evpl, &agent->sweep);
    }
    http_metrics_detach(agent);
    free(agent);
}

static void
server_accept(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    struct evpl_http_server *server = private_data;
    struct evpl_http_conn   *conn   = http_conn_create(server->agent, server, 0);

    (void) segment_callback;
    conn->bind         = bind;
    conn->private_data = server->private_data;
    *notify_callback   = http_conn_notify;
    *conn_private_data = conn;
    server->nconns++;
    evpl_bind_request_send_notifications(evpl, bind);
    if (server->max_conns && server->nconns > server->max_conns) {
        char peer[EVPL_ADDRESS_STRLEN];

        evpl_bind_get_remote_address(bind, peer, sizeof(peer));
        evpl_http_error("refused connection from %s: %u connections open (the limit)", peer,
                        server->max_conns);
        conn->closing   = 1;
        conn->stop_read = 1;
        evpl_close(evpl, bind);
    }
}

struct evpl_http_server *
evpl_http_attach(struct evpl_http_agent *agent, struct evpl_listener *listener,
                 evpl_http_dispatch_callback_t dispatch_callback, void *private_data)
{
    struct evpl_http_server *server = calloc(1, sizeof(*server));

    evpl_http_abort_if(!server, "out of memory allocating a server");
    server->agent        = agent;
    server->dispatch     = dispatch_callback;
    server->private_data = private_data;
    server->idle_ms      = HTTP_DEFAULT_IDLE_MS;
    server->header_ms    = HTTP_DEFAULT_HEADER_MS;
    server->binding      = evpl_listener_attach(agent->evpl, listener, server_accept, server);
    if (!server->binding) {
        free(server);
        return NULL;
    }
    if (!agent->sweep_armed) {
        evpl_add_timer(agent->evpl, &agent->sweep, http_agent_sweep, HTTP_SWEEP_US);
        agent->sweep_armed = 1;
    }
    return server;
}

void
evpl_http_server_destroy(struct evpl_http_agent *agent, struct evpl_http_server *server)
{
    evpl_listener_detach(agent->evpl, server->binding);
    for (struct evpl_http_conn *conn = agent->conns; conn; conn = conn->next) {
        if (conn->server == server) {
            conn->server = NULL;
            if (!conn->down) {
                evpl_close(agent->evpl, conn->bind);
            }
        }
    }
    free(server);
}

void
evpl_http_server_set_max_connections(struct evpl_http_server *server, unsigned int max)
{
    server->max_conns = max;
}

void
evpl_http_server_set_idle_timeout_ms(struct evpl_http_server *server, uint64_t ms)
{
    server->idle_ms = ms;
}

void
evpl_http_server_set_header_timeout_ms(struct evpl_http_server *server, uint64_t ms)
{
    server->header_ms = ms;
}

enum evpl_http_protocol
evpl_http_request_protocol(struct evpl_http_request *request)
{
    (void) request;
    return EVPL_HTTP_PROTOCOL_HTTP1;
}

enum evpl_http_request_type
evpl_http_request_type(struct evpl_http_request *request)
{
    return request->type;
}

const char *
evpl_http_request_type_to_string(struct evpl_http_request *request)
{
    return request->method;
}

const char *
evpl_http_request_url(struct evpl_http_request *request, int *len)
{
    if (len) {
        *len = (int) request->url_len;
    }
    return request->url;
}

static const struct http_fields *
request_headers(struct evpl_http_request *request)
{
    return request->conn->is_client ? &request->out_hdr : &request->in_hdr;
}

const char *
evpl_http_request_header(struct evpl_http_request *request, const char *name)
{
    return http_fields_get(request_headers(request), name);
}

void
evpl_http_request_header_iterate(struct evpl_http_request     *request,
                                 evpl_http_request_header_cb_t callback, void *private_data)
{
    http_fields_iterate(request_headers(request), callback, private_data);
}

const char *
evpl_http_request_trailer(struct evpl_http_request *request, const char *name)
{
    return http_fields_get(&request->in_trl, name);
}

void
evpl_http_request_trailer_iterate(struct evpl_http_request     *request,
                                  evpl_http_request_header_cb_t callback, void *private_data)
{
    http_fields_iterate(&request->in_trl, callback, private_data);
}

int
evpl_http_request_status(struct evpl_http_request *request)
{
    return request->status;
}

const char *
evpl_http_response_header(struct evpl_http_request *request, const char *name)
{
    return request->conn->is_client ? http_fields_get(&request->in_hdr, name)
                                    : http_fields_get(&request->out_hdr, name);
}

void
evpl_http_response_header_iterate(struct evpl_http_request     *request,
                                  evpl_http_request_header_cb_t callback, void *private_data)
{
    http_fields_iterate(request->conn->is_client ? &request->in_hdr : &request->out_hdr, callback,
                        private_data);
}

uint64_t
evpl_http_request_get_data_avail(struct evpl_http_request *request)
{
    return request->in_avail;
}

int
evpl_http_request_get_datav(struct evpl *evpl, struct evpl_http_request *request,
                            struct evpl_iovec *iov, int length)
{
    int n = 0;

    (void) evpl;
    if (length < 0) {
        return 0;
    }
    if ((uint64_t) length > request->in_avail) {
        length = (int) request->in_avail;
    }
    while (length > 0) {
        struct evpl_iovec *front = &request->in_iov[request->in_head];

        if (front->length <= (unsigned int) length) {
            length -= (int) front->length;
            request->in_avail -= front->length;
            evpl_iovec_move(&iov[n++], front);
            request->in_head++;
        } else {
            evpl_iovec_clone_segment(&iov[n++], front, 0, (unsigned int) length);
            front->data = (char *) front->data + length;
            front->length -= (unsigned int) length;
            request->in_avail -= (unsigned int) length;
            length = 0;
        }
    }
    if (request->in_head == request->in_count) {
        request->in_head = request->in_count = 0;
    }
    if (n > 0) {
        http_conn_body_taken(request->conn);
    }
    return n;
}

void
evpl_http_request_add_datav(struct evpl_http_request *request, struct evpl_iovec *iov, int niov)
{
    struct evpl_http_conn *conn  = request->conn;
    uint64_t               total = 0;
    char                   line[32];

    if (niov > 0) {
        evpl_http_abort_if(request->body_ended, "evpl_http_request_add_datav after end of body");
    } else if (request->body_ended) {
        return; /* ending twice is harmless */
    }
    http_conn_enter(conn);
    if (niov > 0) {
        for (int i = 0; i < niov; i++) {
            total += iov[i].length;
        }
        request->out_body += total;
        if (request->no_body || request->terminal || total == 0) {
            evpl_iovecs_release(conn->agent->evpl, iov, niov);
        } else if (request->out_framing == HTTP_FRAMING_CHUNKED) {
            int len = snprintf(line, sizeof(line), "%llx\r\n", (unsigned long long) total);

            http_request_out_push(request, line, (unsigned int) len);
            http_request_out_pushv(request, iov, niov);
            http_request_out_push(request, "\r\n", 2);
        } else {
            http_request_out_pushv(request, iov, niov);
        }
        request->want_pending = 0;
    } else {
        if (request->out_framing == HTTP_FRAMING_CHUNKED && !request->no_body) {
            char *blk = malloc(http_header_limit(conn->agent) + 64);
            int   len;

            evpl_http_abort_if(!blk, "out of memory writing trailers");
            len = http_wire_trailer_block(request, blk, (int) http_header_limit(conn->agent) + 64);
            http_request_out_push(request, blk, (unsigned int) len);
            free(blk);
        } else if (request->out_framing == HTTP_FRAMING_CLOSE) {
            request->keepalive = 0;
        } else if (request->out_framing == HTTP_FRAMING_LENGTH && !request->no_body &&
                   request->out_body != request->out_length) {
            evpl_http_error("message body of %llu bytes against a Content-Length of %llu: "
                            "closing the connection",
                            (unsigned long long) request->out_body,
                            (unsigned long long) request->out_length);
            request->keepalive = 0;
        }
        request->body_ended = 1;
    }
    if (!request->terminal) {
        http_conn_pump(conn);
    }
    http_conn_leave(conn);
}

static int
fields_add_checked(struct evpl_http_request *request, struct http_fields *f, const char *name,
                   const char *value)
{
    if (!http_token_valid(name) || !http_value_valid(value)) {
        return -1;
    }
    return http_fields_add(f, name, (unsigned int) strlen(name), value,
                           (unsigned int) strlen(value), http_header_limit(request->conn->agent));
}

int
evpl_http_request_add_header(struct evpl_http_request *request, const char *name, const char *value)
{
    if (request->hdrs_built) {
        return -1;
    }
    return fields_add_checked(request, &request->out_hdr, name, value);
}

int
evpl_http_request_add_trailer(struct evpl_http_request *request, const char *name,
                              const char *value)
{
    if (request->body_ended) {
        return -1;
    }
    return fields_add_checked(request, &request->out_trl, name, value);
}

void
evpl_http_server_set_response_length(struct evpl_http_request *request, uint64_t content_length)
{
    request->out_framing = HTTP_FRAMING_LENGTH;
    request->out_length  = content_length;
}

void
evpl_http_server_set_response_chunked(struct evpl_http_request *request)
{
    /* HTTP/1.0 has no chunked coding: the body is ended by closing. */
    request->out_framing = request->version_minor == 0 ? HTTP_FRAMING_CLOSE : HTTP_FRAMING_CHUNKED;
}

void
evpl_http_server_dispatch_default(struct evpl_http_request *request, int status)
{
    struct evpl_http_conn *conn = request->conn;
    unsigned int           size = http_header_limit(conn->agent) + 512;
    char                  *head;
    int                    len;

    evpl_http_abort_if(request->hdrs_built, "response headers sent twice");
    if (status < 100 || status > 599) {
        status = 500;
    }
    request->status  = status;
    request->no_body = request->type == EVPL_HTTP_REQUEST_TYPE_HEAD || status < 200 ||
                       status == 204 || status == 304;
    if (request->out_framing == HTTP_FRAMING_CLOSE) {
        request->keepalive = 0;
    }
    head = malloc(size);
    evpl_http_abort_if(!head, "out of memory writing a response");
    len = http_wire_response_head(request, head, (int) size, !request->keepalive);
    evpl_http_abort_if(len < 0, "response header block over %u bytes", size);
    http_conn_enter(conn);
    http_request_out_push_front(request, head, (unsigned int) len);
    free(head);
    request->hdrs_built = 1;
    request->sent_100   = 1; /* a final response makes 100 Continue moot */
    if (request->out_framing == HTTP_FRAMING_NONE) {
        request->body_ended = 1;
    }
    if (!request->terminal) {
        http_conn_pump(conn);
    }
    http_conn_leave(conn);
}

struct evpl_http_conn *
evpl_http_client_connect(struct evpl_http_agent *agent, enum evpl_protocol_id protocol_id,
                         struct evpl_endpoint *endpoint, enum evpl_http_version version,
                         void *private_data)
{
    struct evpl_http_conn *conn;
    const char            *addr;

    if (version == EVPL_HTTP_VERSION_HTTP2) {
        evpl_http_error("HTTP/2 is not implemented");
        return NULL;
    }
    conn               = http_conn_create(agent, NULL, 1);
    conn->private_data = private_data;
    addr               = evpl_endpoint_address(endpoint);
    if (evpl_endpoint_is_local(endpoint) || evpl_endpoint_is_inproc(endpoint) || !addr) {
        snprintf(conn->private_host, sizeof(conn->private_host), "localhost");
    } else if (strchr(addr, ':')) {
        snprintf(conn->private_host, sizeof(conn->private_host), "[%s]:%d", addr,
                 evpl_endpoint_port(endpoint));
    } else {
        snprintf(conn->private_host, sizeof(conn->private_host), "%s:%d", addr,
                 evpl_endpoint_port(endpoint));
    }
    conn->bind =
        evpl_connect(agent->evpl, protocol_id, NULL, endpoint, http_conn_notify, NULL, conn);
    if (!conn->bind) {
        http_conn_free(conn);
        return NULL;
    }
    evpl_bind_request_send_notifications(agent->evpl, conn->bind);
    return conn;
}

void
evpl_http_client_close(struct evpl_http_agent *agent, struct evpl_http_conn *conn)
{
    (void) agent;
    http_conn_enter(conn);
    conn->user_closed = 1;
    if (!conn->down) {
        conn->stop_read = 1;
        evpl_close(conn->agent->evpl, conn->bind);
        http_conn_fail_all(conn, 0);
    }
    http_conn_leave(conn);
}

struct evpl_http_request *
evpl_http_request_create(struct evpl_http_conn *conn, enum evpl_http_request_type method,
                         const char *url)
{
    struct evpl_http_request *req;
    const char               *token = http_method_token(method);
    size_t                    ulen  = strlen(url);

    if (!token || method == EVPL_HTTP_REQUEST_TYPE_UNKNOWN || ulen == 0 ||
        strlen(token) + ulen + 12 > http_header_limit(conn->agent) || strpbrk(url, " \t\r\n")) {
        return NULL;
    }
    req       = http_request_alloc(conn);
    req->type = method;
    snprintf(req->method, sizeof(req->method), "%s", token);
    free(req->url);
    req->url = strdup(url);
    evpl_http_abort_if(!req->url, "out of memory allocating a request");
    req->url_len = (unsigned int) ulen;
    return req;
}

void
evpl_http_client_set_request_length(struct evpl_http_request *request, uint64_t content_length)
{
    request->out_framing = HTTP_FRAMING_LENGTH;
    request->out_length  = content_length;
}

void
evpl_http_client_set_request_chunked(struct evpl_http_request *request)
{
    request->out_framing = HTTP_FRAMING_CHUNKED;
}

void
evpl_http_request_dispatch(struct evpl_http_request   *request,
                           evpl_http_notify_callback_t notify_callback, void *notify_data)
{
    struct evpl_http_conn *conn = request->conn;
    unsigned int           size = http_header_limit(conn->agent) + 512;
    char                  *head;
    int                    len;

    evpl_http_abort_if(request->dispatched, "request dispatched twice");
    request->notify_cb   = notify_callback;
    request->notify_data = notify_data;
    request->dispatched  = 1;
    request->start_ns    = http_now_ns();
    http_conn_enter(conn);
    http_conn_enqueue(conn, request);
    if (conn->down || conn->closing) {
        http_request_fail(request, EVPL_HTTP_ERROR_CONN_LOST);
        http_conn_leave(conn);
        return;
    }
    head = malloc(size);
    evpl_http_abort_if(!head, "out of memory writing a request");
    len = http_wire_request_head(request, head, (int) size);
    if (len < 0) {
        free(head);
        evpl_http_error("request header block over %u bytes", size);
        http_request_fail(request, EVPL_HTTP_ERROR_CONN_LOST);
        http_conn_leave(conn);
        return;
    }
    http_request_out_push_front(request, head, (unsigned int) len);
    free(head);
    request->hdrs_built = 1;
    if (request->out_framing == HTTP_FRAMING_NONE) {
        request->body_ended = 1;
    }
    http_conn_pump(conn);
    http_conn_leave(conn);
}
