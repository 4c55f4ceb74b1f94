/*
 * RPC2 threads and connections: the per-loop context, connection creation
 * (accepted or connected), the bind notifications, and teardown.  A
 * connection carries calls both ways: CALL records go to the server layer
 * (the programs of its server, or the backchannel programs of a client
 * connection), REPLY records to the client layer.
 */
#include <stdlib.h>
#include <time.h>

#include "rpc2_internal.h"

static void
conn_notify_app(struct evpl_rpc2_thread *thread, struct rpc2_conn *conn, unsigned int type,
                void *private_data)
{
    struct evpl_rpc2_notify notify = {.notify_type = type};

    if (thread->notify_callback) {
        thread->notify_callback(thread, &conn->pub, &notify, private_data);
    }
}

struct rpc2_conn *
rpc2_conn_create(struct evpl_rpc2_thread *thread, struct evpl_bind *bind)
{
    struct rpc2_conn *conn = calloc(1, sizeof(*conn));
    struct timespec   ts;

    evpl_rpc2_abort_if(conn == NULL, "out of memory for a connection");
    conn->pub.thread = thread;
    conn->pub.bind   = bind;
    conn->at_header  = 1;
    /* Start xids somewhere unpredictable so that a reconnecting client does
     * not reuse the xids of its previous connection (RFC 5531 section 9). */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    conn->pub.next_xid = (uint32_t) (ts.tv_nsec ^ ((uintptr_t) conn >> 4) ^ (ts.tv_sec << 20));
    conn->pub.next     = (struct evpl_rpc2_conn *) thread->conns;
    if (thread->conns) {
        thread->conns->pub.prev = &conn->pub;
    }
    thread->conns = conn;
    if (bind) {
        conn->pub.protocol = evpl_bind_get_protocol(bind);
        conn->pub.rdma = evpl_bind_is_rdma(bind) && !evpl_protocol_is_stream(conn->pub.protocol);
    }
    return conn;
}

static void
conn_unlink(struct rpc2_conn *conn)
{
    struct evpl_rpc2_thread *thread = conn->pub.thread;

    if (conn->pub.prev) {
        conn->pub.prev->next = conn->pub.next;
    } else {
        thread->conns = (struct rpc2_conn *) conn->pub.next;
    }
    if (conn->pub.next) {
        conn->pub.next->prev = conn->pub.prev;
    }
}

void
rpc2_conn_close(struct rpc2_conn *conn)
{
    conn->closing = 1;
    if (conn->pub.bind) {
        evpl_close(conn->pub.thread->evpl, conn->pub.bind);
    }
}

void
rpc2_conn_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
                 void *private_data)
{
    struct rpc2_conn        *conn   = private_data;
    struct evpl_rpc2_thread *thread = conn->pub.thread;

    (void) bind;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        conn->connected = 1;
        if (conn->server == NULL) {
            conn_notify_app(thread, conn, EVPL_RPC2_NOTIFY_CONNECTED, thread->private_data);
        }
        break;
    case EVPL_NOTIFY_RECV_MSG:
        if (conn->pub.rdma) {
            rpc2_rdma_recv(evpl, conn, notify->recv_msg.iovec, (int) notify->recv_msg.niov,
                           notify->recv_msg.length);
        } else {
            rpc2_record_recv(evpl, conn, notify->recv_msg.iovec, (int) notify->recv_msg.niov,
                             notify->recv_msg.length);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        conn->closing = 1;
        rpc2_client_conn_stop_timeout(conn);
        rpc2_client_conn_lost(evpl, conn);
        rpc2_server_conn_gone(conn);
        rpc2_record_reset(evpl, conn);
        conn_notify_app(thread, conn, EVPL_RPC2_NOTIFY_DISCONNECTED,
                        conn->server ? conn->pub.server_private_data : thread->private_data);
        conn_unlink(conn);
        free(conn->pub.reasm_iov);
        free(conn);
        break;
    default:
        break;
    }
}

/* Attach callback of a server's listener binding: a new server connection. */
static void
server_accept(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    struct evpl_rpc2_server_binding *binding = private_data;
    struct rpc2_conn                *conn    = rpc2_conn_create(binding->thread, bind);

    (void) evpl;
    conn->server                  = binding->server;
    conn->pub.server_binding      = binding;
    conn->pub.server_private_data = binding->private_data;
    *notify_callback              = rpc2_conn_notify;
    *segment_callback             = rpc2_record_segment;
    *conn_private_data            = conn;
    conn_notify_app(binding->thread, conn, EVPL_RPC2_NOTIFY_ACCEPTED, binding->private_data);
}

struct evpl_rpc2_thread *
evpl_rpc2_thread_init(struct evpl *evpl, struct evpl_rpc2_program **programs, int nprograms,
                      evpl_rpc2_notify_callback_t notify_callback, void *private_data)
{
    struct evpl_rpc2_thread *thread;

    if (evpl == NULL || nprograms < 0 || (nprograms > 0 && programs == NULL)) {
        evpl_rpc2_error("evpl_rpc2_thread_init: bad arguments");
        return NULL;
    }
    thread = calloc(1, sizeof(*thread));
    evpl_rpc2_abort_if(thread == NULL, "out of memory for an RPC2 thread");
    thread->evpl            = evpl;
    thread->notify_callback = notify_callback;
    thread->private_data    = private_data;
    thread->max_record      = RPC2_DEFAULT_MAX_RECORD;
    if (nprograms > 0) {
        thread->programs = malloc((size_t) nprograms * sizeof(*programs));
        evpl_rpc2_abort_if(thread->programs == NULL, "out of memory");
        memcpy(thread->programs, programs, (size_t) nprograms * sizeof(*programs));
    }
    thread->nprograms = nprograms;
    rpc2_dbuf_init(&thread->client_dbuf, RPC2_DBUF_SIZE);
    rpc2_dbuf_init(&thread->reply_dbuf, RPC2_DBUF_SIZE);
    rpc2_metrics_thread_init(thread);
    return thread;
}

void
evpl_rpc2_thread_destroy(struct evpl_rpc2_thread *thread)
{
    if (thread == NULL) {
        return;
    }
    while (thread->bindings) {
        evpl_rpc2_server_detach(thread, thread->bindings->server);
    }
    for (struct rpc2_conn *c = thread->conns; c; c = (struct rpc2_conn *) c->pub.next) {
        rpc2_conn_close(c);
    }
    /* DISCONNECTED unlinks each connection. */
    while (thread->conns) {
        evpl_continue(thread->evpl);
    }
    rpc2_request_orphans_free(thread);
    rpc2_metrics_thread_destroy(thread);
    rpc2_auth_short_free(thread);
    rpc2_gss_free(thread);
    rpc2_request_pool_free(thread);
    rpc2_call_pool_free(thread);
    rpc2_dbuf_destroy(&thread->client_dbuf);
    rpc2_dbuf_destroy(&thread->reply_dbuf);
    free(thread->programs);
    free(thread);
}

void *
evpl_rpc2_thread_get_client_dbuf(struct evpl_rpc2_thread *thread)
{
    thread->client_dbuf.used = 0;
    return &thread->client_dbuf;
}

void
evpl_rpc2_server_attach(struct evpl_rpc2_thread *thread, struct evpl_rpc2_server *server,
                        void *private_data)
{
    struct evpl_rpc2_server_binding *binding = calloc(1, sizeof(*binding));

    evpl_rpc2_abort_if(binding == NULL, "out of memory");
    evpl_rpc2_abort_if(server->listener == NULL, "evpl_rpc2_server_attach: server was stopped");
    binding->thread       = thread;
    binding->server       = server;
    binding->private_data = private_data;
    binding->listener_binding =
        evpl_listener_attach(thread->evpl, server->listener, server_accept, binding);
    binding->next    = thread->bindings;
    thread->bindings = binding;
}

void
evpl_rpc2_server_detach(struct evpl_rpc2_thread *thread, struct evpl_rpc2_server *server)
{
    struct evpl_rpc2_server_binding **pp = &thread->bindings, *binding;

    while (*pp && (*pp)->server != server) {
        pp = &(*pp)->next;
    }
    evpl_rpc2_abort_if(*pp == NULL, "evpl_rpc2_server_detach: server %p is not attached",
                       (void *) server);
    binding = *pp;
    *pp     = binding->next;
    evpl_listener_detach(thread->evpl, binding->listener_binding);
    /* Existing connections keep serving; they only lose the back pointer. */
    for (struct rpc2_conn *c = thread->conns; c; c = (struct rpc2_conn *) c->pub.next) {
        if (c->pub.server_binding == binding) {
            c->pub.server_binding = NULL;
        }
    }
    free(binding);
}

struct evpl_rpc2_conn *
evpl_rpc2_client_connect(struct evpl_rpc2_thread *thread, int protocol,
                         struct evpl_endpoint *endpoint, struct evpl_rpc2_program **server_programs,
                         int num_server_programs, void *server_private_data)
{
    struct rpc2_conn *conn;
    struct evpl_bind *bind;

    if (thread == NULL || endpoint == NULL || num_server_programs < 0 || num_server_programs > 4 ||
        (num_server_programs > 0 && server_programs == NULL)) {
        evpl_rpc2_error("evpl_rpc2_client_connect: bad arguments");
        return NULL;
    }
    conn = rpc2_conn_create(thread, NULL);
    for (int i = 0; i < num_server_programs; i++) {
        conn->pub.server_programs[i]            = server_programs[i];
        server_programs[i]->send_reply_dispatch = rpc2_send_reply_dispatch;
    }
    conn->pub.num_server_programs = num_server_programs;
    conn->pub.server_private_data = server_private_data;
    bind = evpl_connect(thread->evpl, (enum evpl_protocol_id) protocol, NULL, endpoint,
                        rpc2_conn_notify, rpc2_record_segment, conn);
    if (bind == NULL) {
        conn_unlink(conn);
        free(conn);
        return NULL;
    }
    conn->pub.bind     = bind;
    conn->pub.protocol = (enum evpl_protocol_id) protocol;
    /* RPC-over-RDMA on RDMA-capable message binds, record marking on streams. */
    conn->pub.rdma = evpl_bind_is_rdma(bind) && !evpl_protocol_is_stream(protocol);
    return &conn->pub;
}

void
evpl_rpc2_client_disconnect(struct evpl_rpc2_thread *thread, struct evpl_rpc2_conn *conn)
{
    (void) thread;
    rpc2_conn_close(rpc2_conn_of(conn));
}

void
evpl_rpc2_conn_get_local_address(struct evpl_rpc2_conn *conn, char *str, int len)
{
    evpl_bind_get_local_address(conn->bind, str, len);
}

void
evpl_rpc2_conn_get_remote_address(struct evpl_rpc2_conn *conn, char *str, int len)
{
    evpl_bind_get_remote_address(conn->bind, str, len);
}

void
evpl_rpc2_conn_set_private_data(struct evpl_rpc2_conn *conn, void *private_data)
{
    conn->private_data = private_data;
}

void *
evpl_rpc2_conn_get_private_data(struct evpl_rpc2_conn *conn)
{
    return conn->private_data;
}

void
evpl_rpc2_thread_set_max_record(struct evpl_rpc2_thread *thread, uint32_t max_bytes)
{
    thread->max_record = max_bytes ? max_bytes : RPC2_DEFAULT_MAX_RECORD;
}
