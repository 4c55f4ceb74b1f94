/*
 * The wire layer: llhttp (strict mode) turns received bytes into request or
 * response events, and the serialisers below write start lines, header
 * blocks and trailers.  Body bytes are never copied: on_body hands the
 * connection layer a segment of the receive iovec being parsed.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_internal.h"

static llhttp_settings_t http_settings_server, http_settings_client;
static int               http_settings_ready;

unsigned int
http_header_limit(const struct evpl_http_agent *agent)
{
    return agent->max_header_size;
}

/* ---- header field storage -------------------------------------------- */

static int
fields_append(struct http_fields *f, const char *data, unsigned int len)
{
    if (f->len + len + 1 > f->cap) {
        unsigned int cap = f->cap ? f->cap : 256;
        char        *buf;

        while (cap < f->len + len + 1) {
            cap *= 2;
        }
        buf = realloc(f->buf, cap);
        if (!buf) {
            return -1;
        }
        f->buf = buf;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, data, len);
    f->len += len;
    return 0;
}

int
http_fields_add(struct http_fields *f, const char *name, unsigned int nlen, const char *value,
                unsigned int vlen, unsigned int limit)
{
    /* name ": " value CRLF is what the pair costs on the wire. */
    if (f->len + nlen + vlen + 4 > limit) {
        return -1;
    }
    if (fields_append(f, name, nlen) || fields_append(f, "", 1) || fields_append(f, value, vlen) ||
        fields_append(f, "", 1)) {
        return -1;
    }
    f->count++;
    return 0;
}

const char *
http_fields_get(const struct http_fields *f, const char *name)
{
    unsigned int off = 0;

    while (off < f->len) {
        const char *n = f->buf + off;
        const char *v = n + strlen(n) + 1;

        if (v >= f->buf + f->len) {
            break; /* a name still being received */
        }
        if (strcasecmp(n, name) == 0) {
            return v;
        }
        off = (unsigned int) (v - f->buf) + (unsigned int) strlen(v) + 1;
    }
    return NULL;
}

void
http_fields_iterate(const struct http_fields *f, evpl_http_request_header_cb_t cb,
                    void *private_data)
{
    unsigned int off = 0, i;

    for (i = 0; i < f->count; i++) {
        const char *n = f->buf + off;
        const char *v = n + strlen(n) + 1;

        cb(n, v, private_data);
        off = (unsigned int) (v - f->buf) + (unsigned int) strlen(v) + 1;
    }
}

void
http_fields_free(struct http_fields *f)
{
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

/* RFC 9110 5.6.2 tchar. */
static int
http_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int
http_token_valid(const char *s)
{
    if (!s || !*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!http_tchar((unsigned char) *s)) {
            return 0;
        }
    }
    return 1;
}

int
http_value_valid(const char *s)
{
    if (!s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') {
            return 0;
        }
    }
    return 1;
}

static const char *const http_method_tokens[] = {
    [EVPL_HTTP_REQUEST_TYPE_UNKNOWN] = "GET", [EVPL_HTTP_REQUEST_TYPE_GET] = "GET",
    [EVPL_HTTP_REQUEST_TYPE_HEAD] = "HEAD",   [EVPL_HTTP_REQUEST_TYPE_POST] = "POST",
    [EVPL_HTTP_REQUEST_TYPE_PUT] = "PUT",     [EVPL_HTTP_REQUEST_TYPE_DELETE] = "DELETE",
};

const char *
http_method_token(enum evpl_http_request_type type)
{
    if ((unsigned int) type > EVPL_HTTP_REQUEST_TYPE_DELETE) {
        return NULL;
    }
    return http_method_tokens[type];
}

enum evpl_http_request_type
http_method_type(const char *token)
{
    for (int t = EVPL_HTTP_REQUEST_TYPE_GET; t <= EVPL_HTTP_REQUEST_TYPE_DELETE; t++) {
        if (strcmp(token, http_method_tokens[t]) == 0) {
            return (enum evpl_http_request_type) t;
        }
    }
    return EVPL_HTTP_REQUEST_TYPE_UNKNOWN;
}

/* ---- parser callbacks --------------------------------------------------- */

static inline struct evpl_http_conn *
conn_of(llhttp_t *p)
{
    return p->data;
}

static int
refuse(struct evpl_http_conn *conn, int status, const char *reason)
{
    if (!conn->refuse_status) {
        conn->refuse_status = status;
        conn->refuse_reason = reason;
    }
    return HPE_USER;
}

/* Bytes of the header section received so far, against the limit. */
static int
over_limit(struct evpl_http_conn *conn, struct evpl_http_request *req, size_t add)
{
    size_t used = strlen(req->method) + req->url_len + req->in_hdr.len + req->in_trl.len + add;

    return used > http_header_limit(conn->agent);
}

static int
on_message_begin(llhttp_t *p)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req;

    conn->field_open = conn->value_open = 0;
    if (conn->is_client) {
        for (req = conn->head; req; req = req->next) {
            if (!req->in_done && !req->terminal) {
                break;
            }
        }
        if (!req) {
            return refuse(conn, EVPL_HTTP_ERROR_BAD_RESPONSE, "response without a request");
        }
        http_fields_free(&req->in_hdr);
        http_fields_free(&req->in_trl);
        req->trailers = 0;
        conn->parsing = req;
        return 0;
    }
    if (conn->closing) {
        return refuse(conn, -1, "data after the last request");
    }
    if (conn->nqueued >= HTTP_MAX_PIPELINE) {
        return refuse(conn, 503, "too many pipelined requests");
    }
    req = http_request_alloc(conn);
    http_conn_enqueue(conn, req);
    conn->parsing         = req;
    conn->header_start_ms = http_now_ms();
    return 0;
}

static int
on_method(llhttp_t *p, const char *at, size_t len)
{
    struct evpl_http_request *req = conn_of(p)->parsing;
    size_t                    cur = strlen(req->method);

    if (cur + len >= sizeof(req->method)) {
        return refuse(conn_of(p), 400, "method token too long");
    }
    memcpy(req->method + cur, at, len);
    req->method[cur + len] = '\0';
    return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req  = conn->parsing;
    char                     *url;

    if (over_limit(conn, req, len)) {
        return refuse(conn, 414, "request target over http_max_header_size");
    }
    url = realloc(req->url, req->url_len + len + 1);
    if (!url) {
        return refuse(conn, 500, "out of memory");
    }
    memcpy(url + req->url_len, at, len);
    req->url_len += (unsigned int) len;
    url[req->url_len] = '\0';
    req->url          = url;
    return 0;
}

static struct http_fields *
cur_fields(struct evpl_http_request *req)
{
    return req->trailers ? &req->in_trl : &req->in_hdr;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req  = conn->parsing;

    if (over_limit(conn, req, len + 4)) {
        return refuse(conn, 431, "header section over http_max_header_size");
    }
    conn->field_open = 1;
    return fields_append(cur_fields(req), at, (unsigned int) len) ? refuse(conn, 500, "no memory")
                                                                  : 0;
}

static int
on_header_field_complete(llhttp_t *p)
{
    struct evpl_http_conn *conn = conn_of(p);

    conn->field_open = 0;
    conn->value_open = 1;
    return fields_append(cur_fields(conn->parsing), "", 1) ? refuse(conn, 500, "no memory") : 0;
}

/* The byte k positions before at on the wire (k >= 1), or -1 if unknown. */
static int
byte_before(const struct evpl_http_conn *conn, const char *at, size_t k)
{
    const char *data = conn->cur_iov->data;
    size_t      in   = (size_t) (at - data);

    if (k <= in) {
        return (unsigned char) at[-(ptrdiff_t) k];
    }
    k -= in;
    if (k > conn->hist_len) {
        return -1;
    }
    return (unsigned char) conn->hist[conn->hist_len - k];
}

static int
preceded_by_newline(const struct evpl_http_conn *conn, const char *at)
{
    for (size_t k = 1; k < 64; k++) {
        int c = byte_before(conn, at, k);

        if (c != ' ' && c != '\t') {
            return c == '\n';
        }
    }
    return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req  = conn->parsing;

    if (over_limit(conn, req, len + 2)) {
        return refuse(conn, 431, "header section over http_max_header_size");
    }
    /*
     * llhttp accepts obsolete line folding and hands the continuation over
     * as another piece of the same value.  A value piece whose preceding
     * bytes on the wire, whitespace skipped, end a line is a fold: refused
     * (RFC 9112 5.2 allows that).  The bytes before the current receive
     * iovec come from a short history of what was parsed before it.
     */
    if (memchr(at, '\r', len) || memchr(at, '\n', len) ||
        (len > 0 && preceded_by_newline(conn, at))) {
        return refuse(conn, 400, "obsolete line folding");
    }
    return fields_append(cur_fields(req), at, (unsigned int) len) ? refuse(conn, 500, "no memory")
                                                                  : 0;
}

static int
on_header_value_complete(llhttp_t *p)
{
    struct evpl_http_conn *conn = conn_of(p);
    struct http_fields    *f    = cur_fields(conn->parsing);
    const char            *name;
    const char            *value;
    unsigned int           start;

    conn->value_open = 0;
    /* Trailing whitespace is not part of a field value (RFC 9110 5.5). */
    while (f->len && (f->buf[f->len - 1] == ' ' || f->buf[f->len - 1] == '\t')) {
        f->len--;
    }
    if (fields_append(f, "", 1)) {
        return refuse(conn, 500, "no memory");
    }
    f->count++;
    /* Find the pair just completed: value is the last string, name before it. */
    start = f->len - 1;
    while (start > 0 && f->buf[start - 1] != '\0') {
        start--;
    }
    value = f->buf + start;
    start = start ? start - 1 : 0;
    while (start > 0 && f->buf[start - 1] != '\0') {
        start--;
    }
    name = f->buf + start;
    if (!conn->is_client && strcasecmp(name, "Content-Length") == 0 && conn->parsing->trailers) {
        return refuse(conn, 400, "Content-Length in trailers");
    }
    (void) value;
    return 0;
}

static int
host_count(const struct http_fields *f)
{
    unsigned int off = 0;
    int          n   = 0;

    for (unsigned int i = 0; i < f->count; i++) {
        const char *name  = f->buf + off;
        const char *value = name + strlen(name) + 1;

        n += strcasecmp(name, "Host") == 0;
        off = (unsigned int) (value - f->buf) + (unsigned int) strlen(value) + 1;
    }
    return n;
}

static int
expects_body(llhttp_t *p)
{
    return (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
}

static int
on_headers_complete(llhttp_t *p)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req  = conn->parsing;
    const char               *v;

    req->trailers  = 1; /* any further fields are trailers */
    req->keepalive = llhttp_should_keep_alive(p) ? 1 : 0;

    if (conn->is_client) {
        int status = p->status_code;

        if (status == 101) {
            return refuse(conn, EVPL_HTTP_ERROR_BAD_RESPONSE, "unrequested protocol switch");
        }
        if (status >= 100 && status < 200) {
            req->interim = 1;
            return 1; /* interim responses never have a body */
        }
        req->status = status;
        http_request_notify(req, EVPL_HTTP_NOTIFY_RESPONSE_HEADERS);
        if (conn->closing && conn->refuse_status) {
            return HPE_USER;
        }
        /* No body after HEAD, 204 or 304, whatever the framing headers say. */
        return (req->type == EVPL_HTTP_REQUEST_TYPE_HEAD || status == 204 || status == 304) ? 1 : 0;
    }

    if (p->http_major != 1) {
        return refuse(conn, 505, "HTTP version not supported");
    }
    req->version_minor = p->http_minor;
    if (p->http_minor == 0 && http_fields_get(&req->in_hdr, "Transfer-Encoding")) {
        return refuse(conn, 400, "Transfer-Encoding on HTTP/1.0");
    }
    /* RFC 9112 3.2: exactly one Host in an HTTP/1.1 request. */
    if (p->http_minor >= 1 && host_count(&req->in_hdr) != 1) {
        return refuse(conn, 400, "missing or repeated Host");
    }
    req->type = http_method_type(req->method);
    if (!req->keepalive) {
        conn->closing = 1;
    }
    v             = http_fields_get(&req->in_hdr, "Expect");
    req->sent_100 = 1;
    if (v && strcasecmp(v, "100-continue") == 0 && p->http_minor >= 1 && expects_body(p)) {
        req->sent_100 = 0;
    }
    http_conn_dispatch(conn, req);
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req  = conn->parsing;

    if (!req || req->interim) {
        return 0;
    }
    http_request_in_push(req, conn->cur_iov,
                         (unsigned int) (at - (const char *) conn->cur_iov->data),
                         (unsigned int) len);
    http_request_notify(req, EVPL_HTTP_NOTIFY_RECEIVE_DATA);
    return conn->refuse_status ? HPE_USER : 0;
}

static int
on_message_complete(llhttp_t *p)
{
    struct evpl_http_conn    *conn = conn_of(p);
    struct evpl_http_request *req  = conn->parsing;

    if (!req) {
        return 0;
    }
    if (req->interim) {
        /* An interim 1xx response: skipped, the final one follows. */
        req->interim = 0;
        return 0;
    }
    conn->parsing = NULL;
    req->in_done  = 1;
    if (!req->keepalive) {
        conn->closing = 1;
    }
    if (!conn->is_client) {
        http_request_notify(req, EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE);
    }
    http_request_check_done(req);
    /* Stop at the end of a message that closes the connection. */
    return conn->closing ? HPE_PAUSED : 0;
}

void
http_wire_init(llhttp_t *parser, int is_client)
{
    if (!http_settings_ready) {
        llhttp_settings_t *s[2] = {&http_settings_server, &http_settings_client};

        for (int i = 0; i < 2; i++) {
            llhttp_settings_init(s[i]);
            s[i]->on_message_begin         = on_message_begin;
            s[i]->on_url                   = on_url;
            s[i]->on_method                = on_method;
            s[i]->on_header_field          = on_header_field;
            s[i]->on_header_field_complete = on_header_field_complete;
            s[i]->on_header_value          = on_header_value;
            s[i]->on_header_value_complete = on_header_value_complete;
            s[i]->on_headers_complete      = on_headers_complete;
            s[i]->on_body                  = on_body;
            s[i]->on_message_complete      = on_message_complete;
        }
        http_settings_ready = 1;
    }
    llhttp_init(parser, is_client ? HTTP_RESPONSE : HTTP_REQUEST,
                is_client ? &http_settings_client : &http_settings_server);
}

/*
 * Parse one receive iovec.  Returns 0 when all of it was consumed, 1 when
 * the connection stops reading after a closing message, or -1 after a parse
 * error (conn->refuse_status and conn->refuse_reason say what).
 */
int
http_wire_feed(struct evpl_http_conn *conn, const struct evpl_iovec *iov)
{
    llhttp_errno_t err;

    conn->cur_iov = iov;
    err           = llhttp_execute(&conn->parser, iov->data, iov->length);
    conn->cur_iov = NULL;
    /* Keep the last bytes parsed, for looking behind the next iovec. */
    if (iov->length >= sizeof(conn->hist)) {
        memcpy(conn->hist, (const char *) iov->data + iov->length - sizeof(conn->hist),
               sizeof(conn->hist));
        conn->hist_len = sizeof(conn->hist);
    } else {
        size_t keep = sizeof(conn->hist) - iov->length;

        if (keep > conn->hist_len) {
            keep = conn->hist_len;
        }
        memmove(conn->hist, conn->hist + conn->hist_len - keep, keep);
        memcpy(conn->hist + keep, iov->data, iov->length);
        conn->hist_len = keep + iov->length;
    }
    if (err == HPE_OK) {
        return 0;
    }
    if (err == HPE_PAUSED && !conn->refuse_status) {
        return 1; /* closing message complete: the rest is not read */
    }
    if (!conn->refuse_status) {
        conn->refuse_status = conn->is_client ? EVPL_HTTP_ERROR_BAD_RESPONSE : 400;
        conn->refuse_reason = llhttp_get_error_reason(&conn->parser);
        if (!conn->refuse_reason) {
            conn->refuse_reason = llhttp_errno_name(err);
        }
    }
    return -1;
}

/* End of stream: completes a close-delimited response.  0, or -1 if cut. */
int
http_wire_finish(struct evpl_http_conn *conn)
{
    if (llhttp_get_errno(&conn->parser) != HPE_OK) {
        return conn->parsing ? -1 : 0;
    }
    return llhttp_finish(&conn->parser) == HPE_OK ? 0 : -1;
}

/* ---- serialisation ------------------------------------------------------ */

static const char *
reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* The Date header value (RFC 9110 5.6.7), formatted once per second. */
static const char *
http_date(void)
{
    static __thread time_t cached;
    static __thread char   buf[40];
    time_t                 now = time(NULL);
    struct tm              tm;

    if (now != cached) {
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return buf;
}

struct block {
    char *buf;
    int   size, len, overflow;
};

static void block_printf(struct block *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
block_printf(struct block *b, const char *fmt, ...)
{
    va_list ap;
    int     n;

    if (b->overflow) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(b->buf + b->len, (size_t) (b->size - b->len), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= b->size - b->len) {
        b->overflow = 1;
        return;
    }
    b->len += n;
}

static void
block_field(const char *name, const char *value, void *private_data)
{
    block_printf(private_data, "%s: %s\r\n", name, value);
}

/*
 * Status line and header block of a server response; close says the
 * connection ends after it.  Returns the length, or -1 if it does not fit.
 */
int
http_wire_response_head(struct evpl_http_request *req, char *buf, int size, int close)
{
    struct block b  = {buf, size, 0, 0};
    int          st = req->status;

    block_printf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", st, reason_phrase(st), http_date());
    switch (req->out_framing) {
    case HTTP_FRAMING_LENGTH:
        if (st >= 200 && st != 204 && st != 304) {
            block_printf(&b, "Content-Length: %" PRIu64 "\r\n", req->out_length);
        }
        break;
    case HTTP_FRAMING_CHUNKED:
        if (st >= 200 && st != 204 && st != 304) {
            block_printf(&b, "Transfer-Encoding: chunked\r\n");
        }
        break;
    case HTTP_FRAMING_CLOSE:
        break;
    case HTTP_FRAMING_NONE:
        if (st >= 200 && st != 204 && st != 304 && req->type != EVPL_HTTP_REQUEST_TYPE_HEAD) {
            block_printf(&b, "Content-Length: 0\r\n");
        }
        break;
    }
    if (close) {
        block_printf(&b, "Connection: close\r\n");
    } else if (req->version_minor == 0) {
        block_printf(&b, "Connection: keep-alive\r\n");
    }
    http_fields_iterate(&req->out_hdr, block_field, &b);
    block_printf(&b, "\r\n");
    return b.overflow ? -1 : b.len;
}

/* Request line and header block of a client request. */
int
http_wire_request_head(struct evpl_http_request *req, char *buf, int size)
{
    struct block b = {buf, size, 0, 0};

    block_printf(&b, "%s %s HTTP/1.1\r\n", req->method, req->url);
    if (!http_fields_get(&req->out_hdr, "Host")) {
        block_printf(&b, "Host: %s\r\n", req->conn->private_host);
    }
    switch (req->out_framing) {
    case HTTP_FRAMING_LENGTH:
        block_printf(&b, "Content-Length: %" PRIu64 "\r\n", req->out_length);
        break;
    case HTTP_FRAMING_CHUNKED:
        block_printf(&b, "Transfer-Encoding: chunked\r\n");
        break;
    default:
        if (req->type == EVPL_HTTP_REQUEST_TYPE_POST || req->type == EVPL_HTTP_REQUEST_TYPE_PUT) {
            block_printf(&b, "Content-Length: 0\r\n");
        }
        break;
    }
    http_fields_iterate(&req->out_hdr, block_field, &b);
    block_printf(&b, "\r\n");
    return b.overflow ? -1 : b.len;
}

/* The last chunk, the trailer section and the final CRLF. */
int
http_wire_trailer_block(struct evpl_http_request *req, char *buf, int size)
{
    struct block b = {buf, size, 0, 0};

    block_printf(&b, "0\r\n");
    http_fields_iterate(&req->out_trl, block_field, &b);
    block_printf(&b, "\r\n");
    return b.overflow ? -1 : b.len;
}
