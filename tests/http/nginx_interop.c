/*
 * Our client against nginx (skipped when nginx is missing): the test writes
 * a configuration for a free port and a document root, starts nginx in the
 * foreground as a child, then pipelines on one kept-alive connection: GET of
 * a small and a 1 MiB file (Content-Length, contents compared), a 100 KB
 * POST, and a gzip-encoded GET that nginx answers chunked; then reuses the
 * connection.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/wait.h>

#include "http_test.h"

struct res {
    int    done, status;
    char  *body;
    size_t len;
    char   te[32];
};

static atomic_int ndone;

static void
notify(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
       enum evpl_http_notify_type type, enum evpl_http_request_type request_type, const char *uri,
       void *notify_data, void *private_data)
{
    struct res *r = notify_data;
    const char *te;

    (void) agent;
    (void) request_type;
    (void) uri;
    (void) private_data;
    switch (type) {
    case EVPL_HTTP_NOTIFY_RESPONSE_HEADERS:
        r->status = evpl_http_request_status(request);
        te        = evpl_http_response_header(request, "Transfer-Encoding");
        snprintf(r->te, sizeof(r->te), "%s", te ? te : "");
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_DATA:
        http_test_append(evpl, request, &r->body, &r->len);
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE:
        http_test_append(evpl, request, &r->body, &r->len);
        r->done = 1;
        atomic_fetch_add(&ndone, 1);
        break;
    case EVPL_HTTP_NOTIFY_FAILED:
        test_fail("request failed: %d", evpl_http_request_status(request));
    default:
        break;
    }
}

static void
write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");

    test_assert(f != NULL);
    test_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static struct evpl_http_request *
get(struct evpl_http_conn *conn, const char *url, struct res *r, const char *accept)
{
    struct evpl_http_request *req = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, url);

    if (accept) {
        evpl_http_request_add_header(req, "Accept-Encoding", accept);
    }
    evpl_http_request_dispatch(req, notify, r);
    return req;
}

/* Run the loop until n responses are complete, or 30 s have passed (a
 * bound on a stuck run, far above the few milliseconds this takes; a count
 * of passes is not a bound, since a spinning loop makes them fast). */
static void
wait_done(struct evpl *evpl, int n)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (atomic_load(&ndone) < n && now.tv_sec - start.tv_sec < 30);
}

int
main(int argc, char **argv)
{
    char                      dir[64], path[512], conf[4096];
    int                       port;
    pid_t                     pid;
    struct evpl              *evpl;
    struct evpl_http_agent   *agent;
    struct evpl_endpoint     *ep;
    struct evpl_http_conn    *conn;
    struct evpl_http_request *req;
    struct res                r[8];
    size_t                    big_len = 1 << 20, post_len = 100000;
    char                     *big = malloc(big_len), *post = malloc(post_len);
    char                      text[4096];

    evpl_test_init(argc, argv);
    if (system("test -x /usr/sbin/nginx") != 0) {
        test_skip("nginx is not installed");
    }
    port = net_free_port(SOCK_STREAM);
    snprintf(dir, sizeof(dir), "/tmp/evpl-http-nginx-%d", (int) getpid());
    snprintf(path, sizeof(path), "mkdir -p %s/www %s/tmp", dir, dir);
    test_assert_eq(system(path), 0);
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (char) ('A' + i % 23);
    }
    memset(post, 'p', post_len);
    for (size_t i = 0; i + 1 < sizeof(text); i++) {
        text[i] = (char) ('a' + i % 26);
    }
    snprintf(path, sizeof(path), "%s/www/small.txt", dir);
    write_file(path, "small file\n", 11);
    snprintf(path, sizeof(path), "%s/www/big.bin", dir);
    write_file(path, big, big_len);
    snprintf(path, sizeof(path), "%s/www/text.txt", dir);
    write_file(path, text, sizeof(text) - 1);
    snprintf(conf, sizeof(conf),
             "daemon off; master_process off; worker_processes 1; pid %s/nginx.pid;\n"
             "error_log %s/error.log;\n"
             "events { worker_connections 64; }\n"
             "http { access_log off; client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
             "  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
             "  keepalive_requests 1000; gzip on; gzip_types text/plain; gzip_min_length 0;\n"
             "  types { text/plain txt; application/octet-stream bin; }\n"
             "  server { listen 127.0.0.1:%d; root %s/www;\n"
             "    location = /post { client_max_body_size 10m; return 200 \"posted\"; } } }\n",
             dir, dir, dir, dir, dir, dir, dir, port, dir);
    snprintf(path, sizeof(path), "%s/nginx.conf", dir);
    write_file(path, conf, strlen(conf));

    pid = fork();
    if (pid == 0) {
        /* nginx dies with the test, so that a failed assertion cannot leave
         * it holding ctest's output pipe (a timeout instead of a failure). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/usr/sbin/nginx", "nginx", "-c", path, "-p", dir, (char *) NULL);
        _exit(127);
    }
    /* Wait until nginx listens. */
    for (int i = 0; i < 100; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
        int                fd  = socket(AF_INET, SOCK_STREAM, 0);

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0) {
            close(fd);
            break;
        }
        close(fd);
        usleep(50000);
    }

    evpl  = net_loop_create();
    agent = evpl_http_init(evpl);
    ep    = evpl_endpoint_create("127.0.0.1", port);
    conn =
        evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, ep, EVPL_HTTP_VERSION_AUTO, NULL);
    memset(r, 0, sizeof(r));
    get(conn, "/small.txt", &r[0], NULL);
    get(conn, "/big.bin", &r[1], NULL);
    req = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_POST, "/post");
    evpl_http_client_set_request_length(req, post_len);
    evpl_http_request_dispatch(req, notify, &r[2]);
    http_test_send(evpl, req, post, post_len);
    evpl_http_request_add_datav(req, NULL, 0);
    get(conn, "/text.txt", &r[3], "gzip");
    get(conn, "/missing", &r[4], NULL);
    wait_done(evpl, 5);
    test_assert_eq(atomic_load(&ndone), 5);
    test_assert(r[0].status == 200 && r[0].len == 11 && memcmp(r[0].body, "small file\n", 11) == 0);
    test_assert(r[1].status == 200 && r[1].len == big_len && memcmp(r[1].body, big, big_len) == 0);
    test_assert(r[2].status == 200 && r[2].len == 6 && memcmp(r[2].body, "posted", 6) == 0);
    test_assert_msg(r[3].status == 200 && strcasecmp(r[3].te, "chunked") == 0 && r[3].len > 0 &&
                        r[3].len < sizeof(text),
                    "gzip response: status %d, TE '%s', %zu bytes", r[3].status, r[3].te, r[3].len);
    test_assert_eq(r[4].status, 404);

    /* The connection is reused. */
    get(conn, "/small.txt", &r[5], NULL);
    wait_done(evpl, 6);
    test_assert(r[5].done && r[5].status == 200);

    evpl_http_client_close(agent, conn);
    evpl_http_destroy(agent);
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    test_assert_eq(system(path), 0);
    for (int i = 0; i < 8; i++) {
        free(r[i].body);
    }
    free(big);
    free(post);
    return 0;
}
