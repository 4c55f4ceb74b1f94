/*
 * Interoperability with curl (skipped when curl is missing): our server on
 * its own thread, curl run through the shell for GET, HEAD, HTTP/1.0,
 * several URLs on one connection (reused: no new connect after the first),
 * an 8 MiB --data-binary upload echoed back and compared, the same upload
 * chunked, and Expect: 100-continue.
 */
#include "http_test.h"

static int  port;
static char dir[128];

/* Run a shell command; its stdout (first 4 KiB) into out. */
static int run(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
run(char *out, size_t size, const char *fmt, ...)
{
    char    cmd[2048];
    va_list ap;
    FILE   *p;
    size_t  n;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    test_assert(p != NULL);
    n      = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    if (rc != 0) {
        fprintf(stderr, "command failed (%d): %s\noutput: %s\n", rc, cmd, out);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    struct evpl_endpoint *ep;
    pthread_t             thread;
    char                  out[4096];

    evpl_test_init(argc, argv);
    if (system("curl --version >/dev/null 2>&1") != 0) {
        test_skip("curl is not installed");
    }
    ep   = net_endpoint(EVPL_STREAM_SOCKET_TCP, "http-curl");
    port = evpl_endpoint_port(ep);
    snprintf(dir, sizeof(dir), "/tmp/evpl-http-curl-%d", (int) getpid());
    pthread_create(&thread, NULL, http_test_server_thread, ep);
    usleep(200000);

#define URL "http://127.0.0.1:%d"
    test_assert_eq(
        run(out, sizeof(out), "curl -sS --retry 5 --retry-connrefused " URL "/hello", port), 0);
    test_assert(strcmp(out, "hello") == 0);

    test_assert_eq(run(out, sizeof(out), "curl -sS -I " URL "/hello | tr -d '\\r'", port), 0);
    test_assert(strstr(out, "HTTP/1.1 200") && strcasestr(out, "content-length: 5") &&
                strcasestr(out, "date: "));

    test_assert_eq(run(out, sizeof(out), "curl -sS --http1.0 -i " URL "/hello | tr -d '\\r'", port),
                   0);
    test_assert(strstr(out, "200 OK") && strstr(out, "\n\nhello") &&
                strcasestr(out, "connection: close"));

    test_assert_eq(run(out, sizeof(out),
                       "curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%%{num_connects},' " URL
                       "/hello " URL "/x " URL "/chunked",
                       port, port, port),
                   0);
    test_assert_msg(strcmp(out, "1,0,0,") == 0, "connects per transfer: %s", out);

    test_assert_eq(run(out, sizeof(out), "curl -sS " URL "/chunked", port), 0);
    test_assert(strcmp(out, "abcdef") == 0);

    test_assert_eq(run(out, sizeof(out),
                       "mkdir -p %s && head -c 8388608 /dev/urandom > %s/in && "
                       "curl -sS --data-binary @%s/in -o %s/out " URL "/echo && cmp %s/in %s/out",
                       dir, dir, dir, dir, port, dir, dir),
                   0);
    test_assert_eq(
        run(out, sizeof(out),
            "curl -sS -H 'Transfer-Encoding: chunked' --data-binary @%s/in -o %s/out2 " URL
            "/echo && cmp %s/in %s/out2",
            dir, dir, port, dir, dir),
        0);
    test_assert_eq(run(out, sizeof(out),
                       "curl -sS -v -H 'Expect: 100-continue' --data-binary @%s/in -o %s/out3 " URL
                       "/echo 2>&1 | tr -d '\\r' | grep -c '< HTTP/1.1 100 Continue'; "
                       "cmp %s/in %s/out3",
                       dir, dir, port, dir, dir),
                   0);
    test_assert_msg(atoi(out) == 1, "100 Continue seen %s times", out);

    run(out, sizeof(out), "rm -rf %s", dir);
    atomic_store(&http_test_server_stop, 1);
    pthread_join(thread, NULL);
    evpl_endpoint_close(ep);
    return 0;
}
