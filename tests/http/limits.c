/*
 * The server's defences (extensions in evpl_http.h): an idle connection is
 * closed after the idle timeout; a client dribbling its header section a
 * byte at a time gets 408 and a close after the header timeout; with a
 * connection limit of 2, a third connection is closed without a response
 * while the first two keep working.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "http_test.h"

static struct evpl *evpl;
static int          port;

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int
raw_connect(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/*
 * Pump the loop for up to ms, collecting what fd receives into buf;
 * returns 1 once fd saw end of stream, 0 otherwise.
 */
static int
drain(int fd, char *buf, size_t size, int ms)
{
    uint64_t end = now_ms() + (uint64_t) ms;
    size_t   len = strlen(buf);

    while (now_ms() < end) {
        ssize_t n;

        evpl_continue(evpl);
        n = recv(fd, buf + len, size - len - 1, 0);
        if (n > 0) {
            len += (size_t) n;
            buf[len] = '\0';
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            return 1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct evpl_thread_config *config;
    struct evpl_listener      *listener;
    struct evpl_http_agent    *agent;
    struct evpl_http_server   *server;
    struct evpl_endpoint      *ep;
    char                       buf[4096];
    int                        fd, fd2, fd3;
    uint64_t                   start;
    const char                *dribble = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: abcdefghij\r\n";

    evpl_test_init(argc, argv);
    /* Refusals log one error line each; the cases check their outcomes. */
    evpl_test_log_expect("refused connection");
    evpl_test_log_expect("refused request");
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 1);
    evpl     = evpl_create(config);
    agent    = evpl_http_init(evpl);
    ep       = net_endpoint(EVPL_STREAM_SOCKET_TCP, "http-limits");
    port     = evpl_endpoint_port(ep);
    listener = evpl_listener_create();
    server   = evpl_http_attach(agent, listener, http_test_dispatch, NULL);
    evpl_http_server_set_idle_timeout_ms(server, 300);
    evpl_http_server_set_header_timeout_ms(server, 400);
    evpl_http_server_set_max_connections(server, 2);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, ep), 0);

    /* Idle: closed after about 300 ms, not before 250. */
    fd     = raw_connect();
    start  = now_ms();
    buf[0] = '\0';
    test_assert(drain(fd, buf, sizeof(buf), 3000));
    test_assert_msg(now_ms() - start >= 250, "closed after %llu ms",
                    (unsigned long long) (now_ms() - start));
    test_assert_eq(strlen(buf), 0);
    close(fd);

    /* Slowloris: a byte every 50 ms keeps the idle timer quiet, not the header one. */
    fd     = raw_connect();
    start  = now_ms();
    buf[0] = '\0';
    for (size_t i = 0; i < strlen(dribble); i++) {
        send(fd, dribble + i, 1, MSG_NOSIGNAL);
        if (drain(fd, buf, sizeof(buf), 50)) {
            break;
        }
    }
    test_assert(drain(fd, buf, sizeof(buf), 3000));
    test_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "got: %s", buf);
    test_assert(now_ms() - start >= 350);
    close(fd);
    evpl_http_server_set_idle_timeout_ms(server, 0);
    evpl_http_server_set_header_timeout_ms(server, 0);

    /* Connection limit 2. */
    fd     = raw_connect();
    fd2    = raw_connect();
    buf[0] = '\0';
    send(fd, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 32, 0);
    test_assert(!drain(fd, buf, sizeof(buf), 200));
    test_assert(strstr(buf, "hello") != NULL);
    fd3    = raw_connect();
    buf[0] = '\0';
    send(fd3, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 32, MSG_NOSIGNAL);
    test_assert(drain(fd3, buf, sizeof(buf), 3000));
    test_assert_eq(strlen(buf), 0);
    buf[0] = '\0';
    send(fd2, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 32, 0);
    test_assert(!drain(fd2, buf, sizeof(buf), 200));
    test_assert(strstr(buf, "hello") != NULL);
    close(fd);
    close(fd2);
    close(fd3);

    evpl_http_server_destroy(agent, server);
    evpl_http_destroy(agent);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    return 0;
}
