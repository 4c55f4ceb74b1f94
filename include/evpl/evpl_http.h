/*
 * HTTP/1.0 and HTTP/1.1 server and client on top of libevpl (contract
 * section 16), linked as libevpl_http (pkg-config evpl_http, CMake target
 * evpl::evpl_http).  Not included by <evpl/evpl.h>: include
 * <evpl/evpl_http.h> explicitly.
 *
 * HTTP runs over any connected stream protocol the build offers (TCP, UNIX,
 * TLS, io_uring TCP, STREAM_INPROC).  Every call is made on the owning
 * thread of the agent's loop.  HTTP/2 is not implemented: version HTTP2 and
 * ALPN "h2" are not offered (docs/http.md).
 *
 * Ownership: a request belongs to the library; the application may use it
 * from dispatch (server) or create (client) until its terminal notification
 * (RESPONSE_COMPLETE on a server, RECEIVE_COMPLETE on a client, FAILED on
 * either) returns, after which it is freed.  Exactly one terminal
 * notification is delivered per request.
 */
#pragma once

#include <evpl/evpl.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_http_agent;   /* opaque: HTTP state of one loop */
struct evpl_http_request; /* opaque: one request/response exchange */
struct evpl_http_server;  /* opaque: one loop's server attachment to a listener */
struct evpl_http_conn;    /* opaque: one client connection */

/*
 * RECEIVE_DATA      more inbound body bytes are available.
 * RECEIVE_COMPLETE  the inbound message (body and trailers) is complete
 *                   (client: the request's terminal notification).
 * WANT_DATA         the outbound body may be extended.
 * RESPONSE_COMPLETE the outbound message was handed to the transport
 *                   (server: the request's terminal notification).
 * RESPONSE_HEADERS  client only: status and response headers available,
 *                   always before any RECEIVE_DATA.
 * FAILED            the exchange ended without completing; the reason is in
 *                   evpl_http_request_status() (EVPL_HTTP_ERROR_*).
 */
enum evpl_http_notify_type {
    EVPL_HTTP_NOTIFY_RECEIVE_DATA,      /* 0 */
    EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE,  /* 1 */
    EVPL_HTTP_NOTIFY_WANT_DATA,         /* 2 */
    EVPL_HTTP_NOTIFY_RESPONSE_COMPLETE, /* 3 */
    EVPL_HTTP_NOTIFY_RESPONSE_HEADERS,  /* 4 */
    EVPL_HTTP_NOTIFY_FAILED,            /* 5 */
};

#define EVPL_HTTP_ERROR_CONN_LOST    (-1)
#define EVPL_HTTP_ERROR_BAD_RESPONSE (-2)

enum evpl_http_version {
    EVPL_HTTP_VERSION_AUTO,  /* 0 */
    EVPL_HTTP_VERSION_HTTP1, /* 1 */
    EVPL_HTTP_VERSION_HTTP2, /* 2 */
};

enum evpl_http_protocol {
    EVPL_HTTP_PROTOCOL_HTTP1, /* 0 */
    EVPL_HTTP_PROTOCOL_HTTP2, /* 1 */
};

enum evpl_http_request_type {
    EVPL_HTTP_REQUEST_TYPE_UNKNOWN, /* 0 */
    EVPL_HTTP_REQUEST_TYPE_GET,     /* 1 */
    EVPL_HTTP_REQUEST_TYPE_HEAD,    /* 2 */
    EVPL_HTTP_REQUEST_TYPE_POST,    /* 3 */
    EVPL_HTTP_REQUEST_TYPE_PUT,     /* 4 */
    EVPL_HTTP_REQUEST_TYPE_DELETE,  /* 5 */
};

typedef void (*evpl_http_notify_callback_t)(struct evpl *evpl, struct evpl_http_agent *agent,
                                            struct evpl_http_request   *request,
                                            enum evpl_http_notify_type  notify_type,
                                            enum evpl_http_request_type request_type,
                                            const char *uri, void *notify_data, void *private_data);

typedef void (*evpl_http_dispatch_callback_t)(struct evpl *evpl, struct evpl_http_agent *agent,
                                              struct evpl_http_request    *request,
                                              evpl_http_notify_callback_t *notify_callback,
                                              void **notify_data, void *private_data);

typedef void (*evpl_http_request_header_cb_t)(const char *name, const char *value,
                                              void *private_data);

/* ---- agent and server ---------------------------------------------------- */

/*
 * Create the HTTP agent of loop evpl (one per loop).  Reads the global
 * http_max_header_size (floored to 512).  Never returns NULL.
 */
struct evpl_http_agent *evpl_http_init(struct evpl *evpl);

/*
 * Close every connection of the agent, pumping the loop until each is down
 * (pending requests receive FAILED), and free it.  Destroy the agent's
 * servers first; client connections not yet closed are released too.
 */
void evpl_http_destroy(struct evpl_http_agent *agent);

/*
 * Attach this loop to listener and serve HTTP/1.x on the connections it
 * receives.  dispatch_callback runs once per request, after its headers,
 * and must set *notify_callback and *notify_data.
 */
struct evpl_http_server *evpl_http_attach(struct evpl_http_agent       *agent,
                                          struct evpl_listener         *listener,
                                          evpl_http_dispatch_callback_t dispatch_callback,
                                          void                         *private_data);

/*
 * Detach from the listener, close the server's open connections (their
 * requests receive FAILED) and free the server.
 */
void evpl_http_server_destroy(struct evpl_http_agent *agent, struct evpl_http_server *server);

/*
 * Extension (not in the contract): the most connections this server keeps
 * open at once; connections accepted beyond it are closed at once without a
 * response.  0 means no limit (the default).
 */
void evpl_http_server_set_max_connections(struct evpl_http_server *server, unsigned int max);

/*
 * Extension: close a connection that has had no request in progress and no
 * traffic for ms milliseconds (default 75,000; 0: never).  Checked every
 * 50 ms.
 */
void evpl_http_server_set_idle_timeout_ms(struct evpl_http_server *server, uint64_t ms);

/*
 * Extension: a request whose header section is not complete ms milliseconds
 * after its first byte is answered 408 and the connection closed, however
 * steadily bytes arrive (slowloris).  Default 30,000; 0: never.
 */
void evpl_http_server_set_header_timeout_ms(struct evpl_http_server *server, uint64_t ms);

/* ---- request inspection -------------------------------------------------- */

enum evpl_http_protocol     evpl_http_request_protocol(struct evpl_http_request *request);
enum evpl_http_request_type evpl_http_request_type(struct evpl_http_request *request);

/* The method's upper-case token as received or sent ("GET", "PATCH", ...). */
const char *evpl_http_request_type_to_string(struct evpl_http_request *request);

/* Request target; its length is stored in *len when len is not NULL. */
const char *evpl_http_request_url(struct evpl_http_request *request, int *len);

/*
 * Value of a received header (server: request header; client: the request's
 * own outbound header), name matched case-insensitively, or NULL.  iterate
 * calls callback for every such header in order; pointers are valid only
 * during the call.
 */
const char *evpl_http_request_header(struct evpl_http_request *request, const char *name);
void        evpl_http_request_header_iterate(struct evpl_http_request     *request,
                                             evpl_http_request_header_cb_t callback, void *private_data);

/* Received trailer fields; complete once RECEIVE_COMPLETE has fired. */
const char *evpl_http_request_trailer(struct evpl_http_request *request, const char *name);
void        evpl_http_request_trailer_iterate(struct evpl_http_request     *request,
                                              evpl_http_request_header_cb_t callback, void *private_data);

/*
 * Client: the response status (100..599) once RESPONSE_HEADERS fired, or a
 * negative EVPL_HTTP_ERROR_* on a FAILED request; 0 before.  Server: the
 * status passed to evpl_http_server_dispatch_default(), 0 before.
 */
int evpl_http_request_status(struct evpl_http_request *request);

/* Client: response header lookup and iteration (as the request_header calls). */
const char *evpl_http_response_header(struct evpl_http_request *request, const char *name);
void        evpl_http_response_header_iterate(struct evpl_http_request     *request,
                                              evpl_http_request_header_cb_t callback, void *private_data);

/* ---- bodies and outbound headers ----------------------------------------- */

/* Inbound body bytes buffered and not yet taken. */
uint64_t evpl_http_request_get_data_avail(struct evpl_http_request *request);

/*
 * Take exactly length buffered body bytes (at most what is available) into
 * iov[] as owned references (the caller releases them): references into the
 * receive buffers, not copies.  Returns the number of iovecs filled; iov must
 * have room for as many iovecs as the body arrived in (at most 64 per call:
 * fewer bytes are taken when more would be needed -- call again).
 */
int evpl_http_request_get_datav(struct evpl *evpl, struct evpl_http_request *request,
                                struct evpl_iovec *iov, int length);

/*
 * Append outbound body data, taking ownership of the iovecs' references;
 * niov == 0 ends the body.  Adding after the end aborts.
 */
void evpl_http_request_add_datav(struct evpl_http_request *request, struct evpl_iovec *iov,
                                 int niov);

/*
 * Add an outbound header (response headers on a server, request headers on a
 * client) before the headers are sent.  Returns 0, or -1 without adding it if
 * the block would exceed http_max_header_size, the name is not an RFC 9110
 * token, the value contains CR, LF or NUL, or the headers were already sent.
 */
int evpl_http_request_add_header(struct evpl_http_request *request, const char *name,
                                 const char *value);

/*
 * Stage an outbound trailer field, before the end of the body.  Same
 * refusals as headers, plus -1 once the message is finished.  Sent only on
 * chunked messages.
 */
int evpl_http_request_add_trailer(struct evpl_http_request *request, const char *name,
                                  const char *value);

/*
 * Server: declare a Content-Length response or a chunked one, then send the
 * status line and headers with status (outside 100..599 is sent as 500).
 * Bodies are suppressed where HTTP forbids them (HEAD, 1xx, 204, 304); a
 * chunked response to an HTTP/1.0 client is sent unframed and ended by
 * closing the connection.
 */
void evpl_http_server_set_response_length(struct evpl_http_request *request,
                                          uint64_t                  content_length);
void evpl_http_server_set_response_chunked(struct evpl_http_request *request);
void evpl_http_server_dispatch_default(struct evpl_http_request *request, int status);

/* ---- client -------------------------------------------------------------- */

/*
 * Open a client connection (AUTO and HTTP1: HTTP/1.1; HTTP2 is refused with
 * NULL).  The caller owns the handle until evpl_http_client_close().
 */
struct evpl_http_conn *evpl_http_client_connect(struct evpl_http_agent *agent,
                                                enum evpl_protocol_id   protocol_id,
                                                struct evpl_endpoint   *endpoint,
                                                enum evpl_http_version version, void *private_data);

/*
 * Release the connection; valid after the peer has gone.  Requests still
 * outstanding receive FAILED (CONN_LOST) before this returns.
 */
void evpl_http_client_close(struct evpl_http_agent *agent, struct evpl_http_conn *conn);

/* Create a request; NULL if the request line alone exceeds the header limit. */
struct evpl_http_request *evpl_http_request_create(struct evpl_http_conn      *conn,
                                                   enum evpl_http_request_type method,
                                                   const char                 *url);

/* Declare the request body framing (none: no body). */
void evpl_http_client_set_request_length(struct evpl_http_request *request,
                                         uint64_t                  content_length);
void evpl_http_client_set_request_chunked(struct evpl_http_request *request);

/*
 * Send the request (pipelined behind earlier ones) and route its
 * notifications to notify_callback; on a retired connection the request
 * receives FAILED before this returns.
 */
void evpl_http_request_dispatch(struct evpl_http_request   *request,
                                evpl_http_notify_callback_t notify_callback, void *notify_data);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
