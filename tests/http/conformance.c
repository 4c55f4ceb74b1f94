/*
 * The conformance table driver.  argv[2] is "server" or "client", argv[3..]
 * case files.  Each non-comment line is one case: name, input bytes (C
 * escapes: \r \n \t \\ \xHH) and expectations, separated by tabs.
 *
 * server: the bytes are sent over TCP to our server (tests/http/http_test.h
 *   handler) whole and again split at random points (fixed seed), and the
 *   responses are parsed.  Expectations: S=<statuses in order, 100 Continue
 *   not counted> C=open|close [B=<escaped substring of the last body>]
 *   [nobody=<indexes of responses without a body, e.g. to HEAD>].
 * client: our client sends R=<n> requests (M=GET|HEAD) to a raw TCP server
 *   that answers with the bytes (then closes the socket with E=close, the
 *   default, or keeps it open with E=open).  Expectations: T=<per request:
 *   complete|bad|lost> [S=<statuses of completed requests>] [B=<substring of
 *   the first request's body>].
 *
 * Every case runs whole, split at two sets of random points (fixed seed),
 * and, when its input is at most 400 bytes, a byte at a time.
 * Everything runs on one thread: the raw peer uses non-blocking sockets and
 * the loop is pumped with evpl_continue().  A failing case prints its input.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <time.h>

#include "http_test.h"

static struct evpl            *evpl;
static struct evpl_http_agent *agent;
static int                     port;
static int                     failures, ran;
static unsigned int            seed = 12345;
static int                     under_valgrind;

struct tcase {
    char   name[128];
    char  *input;
    size_t input_len;
    char   raw_input[65536];
    int    statuses[64], nstatus;
    int    close;
    char   body[256];
    size_t body_len;
    int    nobody[64];
    int    nreq;
    int    head;
    int    terminals[32], nterm;
    int    open_after;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
pump_ms(int ms)
{
    uint64_t end = now_ms() + (uint64_t) ms;

    do {
        evpl_continue(evpl);
    } while (now_ms() < end);
}

static size_t
unescape(const char *in, char *out)
{
    size_t n = 0;

    while (*in) {
        if (*in == '\\' && in[1]) {
            in++;
            switch (*in) {
            case 'r':
                out[n++] = '\r';
                break;
            case 'n':
                out[n++] = '\n';
                break;
            case 't':
                out[n++] = '\t';
                break;
            case '\\':
                out[n++] = '\\';
                break;
            case 'x': {
                char hex[3] = {in[1], in[2], 0};

                out[n++] = (char) strtol(hex, NULL, 16);
                in += 2;
                break;
            }
            default:
                out[n++] = *in;
                break;
            }
            in++;
        } else {
            out[n++] = *in++;
        }
    }
    return n;
}

static int
parse_list(const char *s, int *out)
{
    int n = 0;

    while (*s && n < 64) {
        if (strncmp(s, "complete", 8) == 0) {
            out[n++] = 1;
            s += 8;
        } else if (strncmp(s, "bad", 3) == 0) {
            out[n++] = 2;
            s += 3;
        } else if (strncmp(s, "lost", 4) == 0) {
            out[n++] = 3;
            s += 4;
        } else {
            out[n++] = (int) strtol(s, (char **) &s, 10);
        }
        if (*s == ',') {
            s++;
        } else {
            break;
        }
    }
    return n;
}

static int
parse_case(char *line, struct tcase *tc)
{
    char *name, *input, *expect, *tok, *save;

    memset(tc, 0, sizeof(*tc));
    /* strsep keeps an empty input column (strtok would merge the tabs). */
    line[strcspn(line, "\n")] = '\0';
    expect                    = line;
    name                      = strsep(&expect, "\t");
    input                     = strsep(&expect, "\t");
    if (!name || !input || !expect || !*name) {
        return -1;
    }
    snprintf(tc->name, sizeof(tc->name), "%s", name);
    snprintf(tc->raw_input, sizeof(tc->raw_input), "%s", input);
    tc->input     = malloc(strlen(input) + 1);
    tc->input_len = unescape(input, tc->input);
    tc->close     = -1;
    tc->nreq      = 1;
    for (int i = 0; i < 32; i++) {
        tc->nobody[i] = 0;
    }
    for (tok = strtok_r(expect, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (strncmp(tok, "S=", 2) == 0) {
            tc->nstatus = parse_list(tok + 2, tc->statuses);
        } else if (strcmp(tok, "C=open") == 0) {
            tc->close = 0;
        } else if (strcmp(tok, "C=close") == 0) {
            tc->close = 1;
        } else if (strncmp(tok, "B=", 2) == 0) {
            tc->body_len = unescape(tok + 2, tc->body);
        } else if (strncmp(tok, "nobody=", 7) == 0) {
            int idx[64], n = parse_list(tok + 7, idx);

            for (int i = 0; i < n; i++) {
                if (idx[i] >= 0 && idx[i] < 64) {
                    tc->nobody[idx[i]] = 1;
                }
            }
        } else if (strncmp(tok, "R=", 2) == 0) {
            tc->nreq = atoi(tok + 2);
        } else if (strcmp(tok, "M=HEAD") == 0) {
            tc->head = 1;
        } else if (strncmp(tok, "T=", 2) == 0) {
            tc->nterm = parse_list(tok + 2, tc->terminals);
        } else if (strcmp(tok, "E=open") == 0) {
            tc->open_after = 1;
        } else {
            fprintf(stderr, "case %s: unknown expectation %s\n", tc->name, tok);
            return -1;
        }
    }
    return 0;
}

/* ---- response parsing (server mode) ----------------------------------- */

struct parsed {
    int    status[64];
    int    n;
    char  *last_body;
    size_t last_len;
};

static const char *
find_crlfcrlf(const char *p, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
            return p + i;
        }
    }
    return NULL;
}

/* Parse whole responses from buf; returns how many bytes were consumed. */
static size_t
parse_responses(const char *buf, size_t len, struct parsed *out, const struct tcase *tc)
{
    size_t off = 0;

    for (;;) {
        const char *p    = buf + off, *end, *h;
        size_t      rest = len - off, hlen, blen = 0;
        int         status, chunked = 0, has_len = 0;
        long long   clen = 0;

        end = find_crlfcrlf(p, rest);
        if (!end || rest < 12) {
            return off;
        }
        hlen   = (size_t) (end - p) + 4;
        status = atoi(p + 9);
        for (h = p; h < end; h++) {
            if (*h == '\n') {
                if (strncasecmp(h + 1, "content-length:", 15) == 0) {
                    clen    = atoll(h + 16);
                    has_len = 1;
                } else if (strncasecmp(h + 1, "transfer-encoding: chunked", 26) == 0) {
                    chunked = 1;
                }
            }
        }
        if (status < 200 || status == 204 || status == 304 || (out->n < 64 && tc->nobody[out->n])) {
            has_len = 1;
            clen    = 0;
            chunked = 0;
        }
        if (chunked) {
            /* Walk the chunks; the decoded body is rebuilt below. */
            size_t q = hlen, dlen = 0;
            char  *dec = malloc(rest + 1);

            for (;;) {
                const char *le = memchr(p + q, '\n', rest - q);
                long        sz;

                if (!le) {
                    free(dec);
                    return off;
                }
                sz = strtol(p + q, NULL, 16);
                q  = (size_t) (le - p) + 1;
                if (sz == 0) {
                    const char *te = find_crlfcrlf(p + q - 2, rest - q + 2);

                    if (!te) {
                        free(dec);
                        return off;
                    }
                    q = (size_t) (te - p) + 4;
                    break;
                }
                if (q + (size_t) sz + 2 > rest) {
                    free(dec);
                    return off;
                }
                memcpy(dec + dlen, p + q, (size_t) sz);
                dlen += (size_t) sz;
                q += (size_t) sz + 2;
            }
            if (status != 100) {
                free(out->last_body);
                out->last_body             = dec;
                out->last_len              = dlen;
                out->status[out->n++ & 63] = status;
            } else {
                free(dec);
            }
            off += q;
            continue;
        }
        if (!has_len) {
            /* Close-delimited: everything to EOF; counted when complete. */
            return off;
        }
        blen = (size_t) clen;
        if (hlen + blen > rest) {
            return off;
        }
        if (status != 100) {
            free(out->last_body);
            out->last_body = malloc(blen + 1);
            memcpy(out->last_body, p + hlen, blen);
            out->last_len              = blen;
            out->status[out->n++ & 63] = status;
        }
        off += hlen + blen;
    }
}

static int
memmem_found(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    return nlen == 0 || (hay && memmem(hay, hlen, needle, nlen) != NULL);
}

static void
send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t) n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            evpl_continue(evpl);
        } else {
            return; /* peer gone: the outcome check tells */
        }
    }
}

/* Split points for variant v: 0 = whole, else up to 4 random cuts. */
static int
make_splits(size_t len, int v, size_t *cuts)
{
    int n = 0;

    if (v == 0 || len < 2) {
        return 0;
    }
    n = 1 + (int) (rand_r(&seed) % 4);
    for (int i = 0; i < n; i++) {
        cuts[i] = 1 + (size_t) rand_r(&seed) % (len - 1);
    }
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (cuts[j] < cuts[i]) {
                size_t t = cuts[i];
                cuts[i]  = cuts[j];
                cuts[j]  = t;
            }
        }
    }
    return n;
}

static void report(const struct tcase *tc, int v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(const struct tcase *tc, int v, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL case %s (variant %d): ", tc->name, v);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  input: %s\n", tc->raw_input);
    failures++;
}

static void
run_server_case(const struct tcase *tc, int v)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    int                fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, eof = 0;
    size_t             cuts[8], prev = 0, blen = 0, consumed = 0;
    int                ncut = make_splits(tc->input_len, v, cuts);
    char              *buf  = malloc(1 << 20);
    struct parsed      pr   = {0};
    uint64_t           deadline, settle = 0;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (v == 3) {
        /* Byte at a time, one loop pass between bytes. */
        for (size_t i = 0; i < tc->input_len; i++) {
            send_all(fd, tc->input + i, 1);
            evpl_continue(evpl);
        }
        ncut = -1;
    }
    for (int i = 0; i <= ncut; i++) {
        size_t end = i < ncut ? cuts[i] : tc->input_len;

        send_all(fd, tc->input + prev, end - prev);
        prev = end;
        pump_ms(1);
    }
    deadline = now_ms() + 3000;
    while (now_ms() < deadline) {
        ssize_t n;

        evpl_continue(evpl);
        n = recv(fd, buf + blen, (1 << 20) - blen - 1, 0);
        if (n > 0) {
            blen += (size_t) n;
            consumed += parse_responses(buf + consumed, blen - consumed, &pr, tc);
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            eof = 1;
            break;
        }
        if (pr.n >= tc->nstatus && tc->close == 0) {
            /* All answers in: the connection must stay open a moment. */
            if (!settle) {
                settle = now_ms() + 30;
            } else if (now_ms() > settle) {
                break;
            }
        }
    }
    if (eof && consumed < blen && find_crlfcrlf(buf + consumed, blen - consumed)) {
        /* A close-delimited response ends with the connection. */
        pr.status[pr.n++ & 63] = atoi(buf + consumed + 9);
        consumed               = blen;
    }
    ran++;
    if (pr.n != tc->nstatus) {
        report(tc, v, "%d responses, expected %d (first status %d)", pr.n, tc->nstatus,
               pr.n ? pr.status[0] : 0);
    } else {
        for (int i = 0; i < pr.n; i++) {
            if (pr.status[i] != tc->statuses[i]) {
                report(tc, v, "response %d: status %d, expected %d", i, pr.status[i],
                       tc->statuses[i]);
                break;
            }
        }
    }
    if (tc->close >= 0 && eof != tc->close) {
        report(tc, v, "connection %s, expected %s", eof ? "closed" : "open",
               tc->close ? "closed" : "open");
    }
    if (consumed != blen) {
        report(tc, v, "%zu bytes after the last whole response", blen - consumed);
    }
    if (!memmem_found(pr.last_body, pr.last_len, tc->body, tc->body_len)) {
        report(tc, v, "last body lacks the expected text (got %.*s)", (int) pr.last_len,
               pr.last_body ? pr.last_body : "");
    }
    free(pr.last_body);
    free(buf);
    close(fd);
    pump_ms(2);
}

/* ---- client mode ------------------------------------------------------- */

struct cres {
    int    terminal; /* 1 complete, 2 bad, 3 lost */
    int    status;
    int    headers;
    char  *body;
    size_t len;
};

static void
client_notify(struct evpl *ev, struct evpl_http_agent *ag, struct evpl_http_request *request,
              enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
              const char *uri, void *notify_data, void *private_data)
{
    struct cres *r = notify_data;

    (void) ag;
    (void) request_type;
    (void) uri;
    (void) private_data;
    test_assert_msg(r->terminal == 0, "notification %d after the terminal one", type);
    switch (type) {
    case EVPL_HTTP_NOTIFY_RESPONSE_HEADERS:
        test_assert(!r->headers);
        r->headers = 1;
        r->status  = evpl_http_request_status(request);
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_DATA:
        test_assert(r->headers);
        http_test_append(ev, request, &r->body, &r->len);
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE:
        test_assert(r->headers);
        http_test_append(ev, request, &r->body, &r->len);
        r->terminal = 1;
        break;
    case EVPL_HTTP_NOTIFY_FAILED:
        r->terminal = evpl_http_request_status(request) == EVPL_HTTP_ERROR_BAD_RESPONSE ? 2 : 3;
        break;
    default:
        break;
    }
}

static void
run_client_case(int lfd, struct evpl_endpoint *ep, const struct tcase *tc, int v)
{
    struct cres            res[32];
    struct evpl_http_conn *conn;
    int                    sfd = -1, heads = 0, done;
    char                   req[65536];
    size_t                 rlen = 0, cuts[8], prev = 0;
    int                    ncut = make_splits(tc->input_len, v, cuts);
    uint64_t               deadline;

    memset(res, 0, sizeof(res));
    conn =
        evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, ep, EVPL_HTTP_VERSION_AUTO, NULL);
    test_assert(conn != NULL);
    for (int i = 0; i < tc->nreq; i++) {
        struct evpl_http_request *r = evpl_http_request_create(
            conn, tc->head ? EVPL_HTTP_REQUEST_TYPE_HEAD : EVPL_HTTP_REQUEST_TYPE_GET, "/c");

        evpl_http_request_dispatch(r, client_notify, &res[i]);
    }
    deadline = now_ms() + 3000;
    while (now_ms() < deadline && heads < tc->nreq) {
        ssize_t n;

        evpl_continue(evpl);
        if (sfd < 0) {
            sfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            continue;
        }
        n = recv(sfd, req + rlen, sizeof(req) - rlen - 1, 0);
        if (n > 0) {
            rlen += (size_t) n;
            req[rlen] = '\0';
            heads     = 0;
            for (char *p = req; (p = strstr(p, "\r\n\r\n")); p += 4) {
                heads++;
            }
        }
    }
    ran++;
    if (heads < tc->nreq) {
        report(tc, v, "the raw server saw %d request heads, expected %d", heads, tc->nreq);
    } else if (!strstr(req, "Host: 127.0.0.1:")) {
        report(tc, v, "the request lacks the Host header");
    }
    if (sfd >= 0 && v == 3) {
        for (size_t i = 0; i < tc->input_len; i++) {
            send_all(sfd, tc->input + i, 1);
            evpl_continue(evpl);
        }
        ncut = -1;
    }
    if (sfd >= 0) {
        for (int i = 0; i <= ncut; i++) {
            size_t end = i < ncut ? cuts[i] : tc->input_len;

            send_all(sfd, tc->input + prev, end - prev);
            prev = end;
            pump_ms(1);
        }
        if (!tc->open_after) {
            close(sfd);
            sfd = -1;
        }
    }
    deadline = now_ms() + 3000;
    do {
        evpl_continue(evpl);
        done = 1;
        for (int i = 0; i < tc->nreq; i++) {
            if (!res[i].terminal) {
                done = 0;
            }
        }
    } while (!done && now_ms() < deadline);
    for (int i = 0; i < tc->nreq && i < tc->nterm; i++) {
        if (res[i].terminal != tc->terminals[i]) {
            report(tc, v, "request %d ended %d, expected %d (1 complete, 2 bad, 3 lost)", i,
                   res[i].terminal, tc->terminals[i]);
        } else if (i < tc->nstatus && res[i].terminal == 1 && res[i].status != tc->statuses[i]) {
            report(tc, v, "request %d: status %d, expected %d", i, res[i].status, tc->statuses[i]);
        }
    }
    if (tc->nterm && res[0].terminal == 1 &&
        !memmem_found(res[0].body, res[0].len, tc->body, tc->body_len)) {
        report(tc, v, "body lacks the expected text (got %.*s)", (int) res[0].len,
               res[0].body ? res[0].body : "");
    }
    evpl_http_client_close(agent, conn);
    /* Every request has had its terminal notification by now. */
    for (int i = 0; i < tc->nreq; i++) {
        if (!res[i].terminal) {
            report(tc, v, "request %d never ended", i);
        }
        free(res[i].body);
    }
    if (sfd >= 0) {
        close(sfd);
    }
    pump_ms(2);
}

int
main(int argc, char **argv)
{
    struct evpl_thread_config *config;
    struct evpl_listener      *listener = NULL;
    struct evpl_http_server   *server   = NULL;
    struct evpl_endpoint      *ep;
    int                        client_mode, lfd = -1, ncases = 0;
    char                       line[70000];

    evpl_test_init(argc, argv);
    /* Refusals log one error line each; the cases check their outcomes. */
    evpl_test_log_expect("refused request");
    evpl_test_log_expect("bad response");
    test_assert(argc >= 4);
    under_valgrind = getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload");
    client_mode    = strcmp(argv[2], "client") == 0;
    config         = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 0);
    evpl  = evpl_create(config);
    agent = evpl_http_init(evpl);

    if (client_mode) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t          sl  = sizeof(sin);
        int                one = 1;

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        lfd                 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        test_assert(bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
        test_assert(listen(lfd, 16) == 0);
        test_assert(getsockname(lfd, (struct sockaddr *) &sin, &sl) == 0);
        port = ntohs(sin.sin_port);
        ep   = evpl_endpoint_create("127.0.0.1", port);
    } else {
        ep       = net_endpoint(EVPL_STREAM_SOCKET_TCP, "http-conf");
        port     = evpl_endpoint_port(ep);
        listener = evpl_listener_create();
        server   = evpl_http_attach(agent, listener, http_test_dispatch, NULL);
        test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, ep), 0);
    }

    for (int f = 3; f < argc; f++) {
        FILE *fp = fopen(argv[f], "r");

        test_assert_msg(fp != NULL, "cannot open %s", argv[f]);
        while (fgets(line, sizeof(line), fp)) {
            struct tcase tc;

            if (line[0] == '#' || line[0] == '\n') {
                continue;
            }
            test_assert_msg(parse_case(line, &tc) == 0, "bad case line in %s: %s", argv[f], line);
            ncases++;
            /* Whole, two random splits, and byte at a time (short inputs). */
            for (int v = 0; v < 4; v++) {
                if (v == 3 && tc.input_len > 400) {
                    continue;
                }
                /* Under valgrind (its preload is in LD_PRELOAD) every run
                 * costs ~20x: the whole input only. */
                if (v >= 1 && under_valgrind) {
                    continue;
                }
#ifdef EVPL_TEST_TSAN
                /* TSan is ~10x slower and this test has one thread: whole
                 * and one random split keep the leg within its time. */
                if (v >= 2) {
                    continue;
                }
#endif
                if (client_mode) {
                    run_client_case(lfd, ep, &tc, v);
                } else {
                    run_server_case(&tc, v);
                }
            }
            free(tc.input);
        }
        fclose(fp);
    }
    fprintf(stderr, "%s: %d cases, %d runs, %d failures\n", argv[2], ncases, ran, failures);

    if (server) {
        evpl_http_server_destroy(agent, server);
    }
    evpl_http_destroy(agent);
    if (listener) {
        evpl_listener_destroy(listener);
    }
    if (lfd >= 0) {
        close(lfd);
    }
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    return failures ? 1 : 0;
}
