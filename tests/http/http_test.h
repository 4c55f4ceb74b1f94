/*
 * Helpers shared by the HTTP tests: a server whose handler is driven by the
 * request target, and small body helpers.
 *
 * Targets the test server understands:
 *   /echo          200, the request body back (chunked when the request was)
 *   /hello         200 "hello" (Content-Length)
 *   /chunked       200 "abc" "def" as two chunks and a trailer X-T: done
 *   /nocontent     204
 *   /notmodified   304
 *   /slow          200 "late", answered only when the test calls
 *                  http_test_release_slow()
 *   anything else  404 "M U L" (method, target, body length)
 */
#pragma once

#include <evpl/evpl_http.h>

#include "net_test.h"

struct http_test_req {
    struct evpl_http_request *request;
    char                     *body;
    size_t                    len;
    int                       chunked_reply;
};

static struct evpl_http_request *http_test_slow;
static atomic_int                http_test_server_completes, http_test_server_failures;

static inline void
http_test_append(struct evpl *evpl, struct evpl_http_request *request, char **buf, size_t *len)
{
    struct evpl_iovec iov[256];
    uint64_t          avail = evpl_http_request_get_data_avail(request);

    while (avail > 0) {
        int take = avail > 65536 ? 65536 : (int) avail;
        int n    = evpl_http_request_get_datav(evpl, request, iov, take);

        *buf = realloc(*buf, *len + (size_t) take + 1);
        for (int i = 0; i < n; i++) {
            memcpy(*buf + *len, iov[i].data, iov[i].length);
            *len += iov[i].length;
        }
        evpl_iovecs_release(evpl, iov, n);
        avail -= (uint64_t) take;
    }
}

/* Send len bytes of data as body data (copied into library buffers). */
static inline void
http_test_send(struct evpl *evpl, struct evpl_http_request *request, const void *data, size_t len)
{
    struct evpl_iovec iov[64];
    int               n;

    if (len == 0) {
        return;
    }
    n = evpl_iovec_alloc(evpl, (unsigned int) len, 0, 64, 0, iov);
    test_assert(n > 0);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(iov[i].data, (const char *) data + off, iov[i].length);
        off += iov[i].length;
    }
    evpl_http_request_add_datav(request, iov, n);
}

static inline void
http_test_reply(struct evpl *evpl, struct evpl_http_request *request, int status, const char *body,
                size_t len)
{
    evpl_http_server_set_response_length(request, len);
    evpl_http_server_dispatch_default(request, status);
    http_test_send(evpl, request, body, len);
    evpl_http_request_add_datav(request, NULL, 0);
}

static inline void
http_test_answer(struct evpl *evpl, struct http_test_req *t)
{
    struct evpl_http_request *request = t->request;
    const char               *url     = evpl_http_request_url(request, NULL);

    if (strcmp(url, "/echo") == 0) {
        if (t->chunked_reply) {
            evpl_http_server_set_response_chunked(request);
            test_assert_eq(evpl_http_request_add_header(request, "X-Echo", "yes"), 0);
            evpl_http_server_dispatch_default(request, 200);
            http_test_send(evpl, request, t->body, t->len);
            evpl_http_request_add_trailer(request, "X-Len", "echoed");
            evpl_http_request_add_datav(request, NULL, 0);
        } else {
            http_test_reply(evpl, request, 200, t->body, t->len);
        }
    } else if (strcmp(url, "/hello") == 0) {
        http_test_reply(evpl, request, 200, "hello", 5);
    } else if (strcmp(url, "/chunked") == 0) {
        evpl_http_server_set_response_chunked(request);
        evpl_http_server_dispatch_default(request, 200);
        http_test_send(evpl, request, "abc", 3);
        http_test_send(evpl, request, "def", 3);
        evpl_http_request_add_trailer(request, "X-T", "done");
        evpl_http_request_add_datav(request, NULL, 0);
    } else if (strcmp(url, "/nocontent") == 0) {
        evpl_http_server_dispatch_default(request, 204);
    } else if (strcmp(url, "/notmodified") == 0) {
        evpl_http_server_dispatch_default(request, 304);
    } else if (strcmp(url, "/slow") == 0) {
        http_test_slow = request;
    } else {
        char msg[512];
        int  n = snprintf(msg, sizeof(msg), "%s %s %zu", evpl_http_request_type_to_string(request),
                          url, t->len);

        http_test_reply(evpl, request, 404, msg, (size_t) n);
    }
}

static inline void
http_test_release_slow(struct evpl *evpl)
{
    if (http_test_slow) {
        http_test_reply(evpl, http_test_slow, 200, "late", 4);
        http_test_slow = NULL;
    }
}

static inline void
http_test_server_notify(struct evpl *evpl, struct evpl_http_agent *agent,
                        struct evpl_http_request *request, enum evpl_http_notify_type type,
                        enum evpl_http_request_type request_type, const char *uri,
                        void *notify_data, void *private_data)
{
    struct http_test_req *t = notify_data;

    (void) agent;
    (void) request_type;
    (void) uri;
    (void) private_data;
    switch (type) {
    case EVPL_HTTP_NOTIFY_RECEIVE_DATA:
        http_test_append(evpl, request, &t->body, &t->len);
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE:
        http_test_append(evpl, request, &t->body, &t->len);
        http_test_answer(evpl, t);
        break;
    case EVPL_HTTP_NOTIFY_WANT_DATA:
        break;
    case EVPL_HTTP_NOTIFY_RESPONSE_COMPLETE:
    case EVPL_HTTP_NOTIFY_FAILED:
        if (type == EVPL_HTTP_NOTIFY_FAILED) {
            atomic_fetch_add(&http_test_server_failures, 1);
            if (http_test_slow == request) {
                http_test_slow = NULL;
            }
        } else {
            atomic_fetch_add(&http_test_server_completes, 1);
        }
        free(t->body);
        free(t);
        break;
    default:
        test_fail("server got notification %d", type);
    }
}

static inline void
http_test_dispatch(struct evpl *evpl, struct evpl_http_agent *agent,
                   struct evpl_http_request *request, evpl_http_notify_callback_t *notify_callback,
                   void **notify_data, void *private_data)
{
    struct http_test_req *t = calloc(1, sizeof(*t));
    const char           *te;

    (void) evpl;
    (void) agent;
    (void) private_data;
    t->request       = request;
    te               = evpl_http_request_header(request, "Transfer-Encoding");
    t->chunked_reply = te && strcasecmp(te, "chunked") == 0;
    *notify_callback = http_test_server_notify;
    *notify_data     = t;
}

/* A server on its own thread for tests whose peers are other programs:
 * http_test_dispatch behind a TCP listener on the endpoint given as arg,
 * until http_test_server_stop is set. */
static atomic_int http_test_server_stop;

static inline void *
http_test_server_thread(void *arg)
{
    struct evpl_endpoint    *ep       = arg;
    struct evpl             *evpl     = net_loop_create();
    struct evpl_http_agent  *agent    = evpl_http_init(evpl);
    struct evpl_listener    *listener = evpl_listener_create();
    struct evpl_http_server *server   = evpl_http_attach(agent, listener, http_test_dispatch, NULL);

    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, ep), 0);
    while (!atomic_load(&http_test_server_stop)) {
        evpl_continue(evpl);
    }
    evpl_http_server_destroy(agent, server);
    evpl_http_destroy(agent);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return NULL;
}
