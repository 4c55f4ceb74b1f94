/*
 * libevpl_http internals, shared by the three layers of the module:
 *   wire.c  llhttp glue (parsing received bytes into requests/responses) and
 *           serialisation of start lines, header blocks and chunk framing;
 *   conn.c  connection state: the ordered request queue, output ordering
 *           (pipelined responses leave in request order), failure and
 *           deferred freeing;
 *   http.c  the public API of include/evpl/evpl_http.h.
 * Nothing here looks at the protocol id of a bind.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <llhttp.h>

#include "evpl/evpl.h"
#include "evpl/evpl_http.h"
#include "core/log.h"

#define evpl_http_debug(...) evpl_log_debug("http", __VA_ARGS__)
#define evpl_http_info(...)  evpl_log_info("http", __VA_ARGS__)
#define evpl_http_error(...) evpl_log_error("http", __VA_ARGS__)
#define evpl_http_abort(...) evpl_log_fatal("http", __VA_ARGS__)
#define evpl_http_abort_if(cond, ...)                                                              \
    do {                                                                                           \
        if (__builtin_expect(!!(cond), 0)) {                                                       \
            evpl_http_abort(__VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)

/* Requests parsed ahead of the one being answered before the connection is refused. */
#define HTTP_MAX_PIPELINE 64

/*
 * Flow control: inbound body bytes buffered for the application (not yet
 * taken with evpl_http_request_get_datav) above which the connection stops
 * reading; bytes are taken from the bind at most HTTP_READ_CHUNK at a time.
 */
/* Request latency histogram: buckets of 10 us .. 10 s (then +Inf). */
#define HTTP_LAT_BUCKETS  7
#define HTTP_MAX_BUFFERED (1u << 20)
#define HTTP_READ_CHUNK   (64u << 10)

/*
 * A list of header (or trailer) fields stored as "name\0value\0" pairs in
 * one growing buffer; len counts stored bytes, count whole pairs.
 */
struct http_fields {
    char        *buf;
    unsigned int len;
    unsigned int cap;
    unsigned int count;
};

enum http_framing {
    HTTP_FRAMING_NONE,    /* no body */
    HTTP_FRAMING_LENGTH,  /* Content-Length */
    HTTP_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
    HTTP_FRAMING_CLOSE,   /* unframed, ended by closing (chunked to 1.0) */
};

struct evpl_http_request {
    struct evpl_http_conn      *conn;
    struct evpl_http_request   *next; /* conn queue, arrival/dispatch order */
    enum evpl_http_request_type type;
    char                        method[32];
    char                       *url;
    unsigned int                url_len;
    int                         version_minor; /* inbound (server) message version */
    int                         status;

    struct http_fields in_hdr;  /* server: request headers; client: response headers */
    struct http_fields in_trl;  /* received trailers */
    struct http_fields out_hdr; /* outbound headers */
    struct http_fields out_trl; /* outbound trailers */

    /* Inbound body: references into receive buffers, oldest first. */
    struct evpl_iovec *in_iov;
    int                in_head, in_count, in_cap;
    uint64_t           in_avail;

    /* Outbound message: pending iovecs (owned) not yet handed to the bind. */
    struct evpl_iovec *out_iov;
    int                out_count, out_cap;
    enum http_framing  out_framing;
    uint64_t           out_length;     /* declared Content-Length */
    uint64_t           out_body;       /* body bytes added so far */
    unsigned int       hdrs_built : 1; /* header block queued */
    unsigned int       body_ended : 1; /* end of body queued */
    unsigned int       no_body : 1;    /* body suppressed (HEAD, 1xx, 204, 304) */
    unsigned int       out_done : 1;   /* everything handed to the bind */
    unsigned int       in_done : 1;    /* inbound message complete */
    unsigned int       dispatched : 1; /* server: dispatch ran; client: dispatched */
    unsigned int       terminal : 1;   /* terminal notification delivered */
    unsigned int       interim : 1;    /* client: parsing a 1xx response */
    unsigned int       sent_100 : 1;   /* server: 100 Continue sent or not needed */
    unsigned int       want_pending : 1;
    unsigned int       keepalive : 1; /* connection stays open after this exchange */
    unsigned int       trailers : 1;  /* parser is in the trailer section */

    uint64_t                    start_ns; /* for the latency histogram */
    evpl_http_notify_callback_t notify_cb;
    void                       *notify_data;
    struct evpl_http_request   *dead_next; /* freed when the conn is not busy */
};

struct evpl_http_conn {
    struct evpl_http_agent   *agent;
    struct evpl_http_server  *server; /* NULL on client connections */
    struct evpl_http_conn    *next, *prev;
    struct evpl_bind         *bind;
    llhttp_t                  parser;
    struct evpl_http_request *head, *tail; /* queue */
    struct evpl_http_request *parsing;     /* request whose message is being parsed */
    struct evpl_http_request *dead;        /* terminal, to free */
    const struct evpl_iovec  *cur_iov;     /* receive iovec being parsed */
    char                      hist[64];    /* last bytes parsed before cur_iov */
    size_t                    hist_len;
    const char               *refuse_reason;
    int                       refuse_status;
    int                       nqueued;
    int                       busy; /* nesting depth of callbacks */
    unsigned int              is_client : 1;
    unsigned int              closing : 1;     /* no more requests parsed / sent */
    unsigned int              down : 1;        /* DISCONNECTED seen */
    unsigned int              user_closed : 1; /* client: evpl_http_client_close called */
    unsigned int              freeing : 1;
    unsigned int              field_open : 1; /* header field name being received */
    unsigned int              value_open : 1;
    unsigned int              stop_read : 1; /* parser paused or failed: read no more */
    unsigned int              in_pump : 1;
    void                     *private_data;
    uint64_t                  last_ms;           /* last bind event */
    struct evpl_deferral      resume;            /* reading again after flow control */
    int                       reading;           /* inside conn_read */
    int                       throttled;         /* stopped reading: body not taken */
    uint64_t                  header_start_ms;   /* server: when the current request began */
    char                      private_host[300]; /* client: Host header value */
};

struct evpl_http_server {
    struct evpl_http_agent       *agent;
    struct evpl_listener_binding *binding;
    evpl_http_dispatch_callback_t dispatch;
    void                         *private_data;
    unsigned int                  max_conns;
    unsigned int                  nconns;
    uint64_t                      idle_ms;   /* 0: none */
    uint64_t                      header_ms; /* 0: none */
};

struct evpl_http_agent {
    struct evpl           *evpl;
    struct evpl_http_conn *conns; /* every live connection, both sides */
    unsigned int           max_header_size;
    struct evpl_timer      sweep; /* idle and header timeouts of server connections */
    int                    sweep_armed;
    /* Metrics (scraped from any thread: relaxed atomics). */
    unsigned int id;
    atomic_ulong completed[2]; /* [is_client] */
    atomic_ulong failed[2];
    atomic_ulong refused;
    atomic_ulong lat_count[2][HTTP_LAT_BUCKETS];
    atomic_ulong lat_sum[2];
};

#define HTTP_DEFAULT_IDLE_MS   75000
#define HTTP_DEFAULT_HEADER_MS 30000
#define HTTP_SWEEP_US          50000

/* wire.c */
void http_wire_init(llhttp_t *parser, int is_client);
int  http_wire_feed(struct evpl_http_conn *conn, const struct evpl_iovec *iov);
int  http_wire_finish(struct evpl_http_conn *conn);
int  http_fields_add(struct http_fields *f, const char *name, unsigned int nlen, const char *value,
                     unsigned int vlen, unsigned int limit);
const char *http_fields_get(const struct http_fields *f, const char *name);
void        http_fields_iterate(const struct http_fields *f, evpl_http_request_header_cb_t cb,
                                void *private_data);
void        http_fields_free(struct http_fields *f);
int         http_token_valid(const char *s);
int         http_value_valid(const char *s);
const char *http_method_token(enum evpl_http_request_type type);
enum evpl_http_request_type http_method_type(const char *token);
int          http_wire_response_head(struct evpl_http_request *req, char *buf, int size, int close);
int          http_wire_request_head(struct evpl_http_request *req, char *buf, int size);
int          http_wire_trailer_block(struct evpl_http_request *req, char *buf, int size);
unsigned int http_header_limit(const struct evpl_http_agent *agent);

/* conn.c */
uint64_t               http_now_ms(void);
uint64_t               http_now_ns(void);
void                   http_metrics_attach(struct evpl_http_agent *agent);
void                   http_metrics_detach(struct evpl_http_agent *agent);
void                   http_agent_sweep(struct evpl *evpl, struct evpl_timer *timer);
struct evpl_http_conn *http_conn_create(struct evpl_http_agent  *agent,
                                        struct evpl_http_server *server, int is_client);
void http_conn_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
                      void *private_data);
void http_conn_enqueue(struct evpl_http_conn *conn, struct evpl_http_request *req);
void http_conn_pump(struct evpl_http_conn *conn);
void http_conn_refuse(struct evpl_http_conn *conn, int status, const char *reason);
void http_conn_fail_all(struct evpl_http_conn *conn, int first_status);
void http_conn_maybe_free(struct evpl_http_conn *conn);
void http_request_check_done(struct evpl_http_request *req);
void http_request_notify(struct evpl_http_request *req, enum evpl_http_notify_type type);
void http_request_out_push(struct evpl_http_request *req, const void *data, unsigned int len);
void http_request_out_pushv(struct evpl_http_request *req, struct evpl_iovec *iov, int niov);
void http_request_in_push(struct evpl_http_request *req, const struct evpl_iovec *src,
                          unsigned int offset, unsigned int len);
struct evpl_http_request *http_request_alloc(struct evpl_http_conn *conn);
void                      http_request_free(struct evpl_http_request *req);
void http_conn_dispatch(struct evpl_http_conn *conn, struct evpl_http_request *req);
void http_conn_enter(struct evpl_http_conn *conn);
void http_conn_leave(struct evpl_http_conn *conn);
void http_request_out_push_front(struct evpl_http_request *req, const void *data, unsigned int len);
void http_request_fail(struct evpl_http_request *req, int status);
void http_conn_free(struct evpl_http_conn *conn);
void http_conn_body_taken(struct evpl_http_conn *conn);
