/*
 * Python peers (tests/http/interop.py: http.client, raw-socket pipelining,
 * dribbling, malformed input) against our server on its own thread.  Skips
 * without python3.
 */
#include "http_test.h"

static atomic_int stop;

static void *
server_thread(void *arg)
{
    struct evpl_endpoint    *ep       = arg;
    struct evpl             *evpl     = net_loop_create();
    struct evpl_http_agent  *agent    = evpl_http_init(evpl);
    struct evpl_listener    *listener = evpl_listener_create();
    struct evpl_http_server *server   = evpl_http_attach(agent, listener, http_test_dispatch, NULL);

    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, ep), 0);
    while (!atomic_load(&stop)) {
        evpl_continue(evpl);
    }
    evpl_http_server_destroy(agent, server);
    evpl_http_destroy(agent);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_endpoint *ep;
    pthread_t             thread;
    char                  cmd[512];
    int                   rc;

    evpl_test_init(argc, argv);
    /* Refusals log one error line each; the cases check their outcomes. */
    evpl_test_log_expect("refused request");
    if (argc < 3 || system("python3 -c 'import http.client' >/dev/null 2>&1") != 0) {
        test_skip("python3 is not available");
    }
    ep = net_endpoint(EVPL_STREAM_SOCKET_TCP, "http-py");
    pthread_create(&thread, NULL, server_thread, ep);
    usleep(200000);
    snprintf(cmd, sizeof(cmd), "python3 %s %d", argv[2], evpl_endpoint_port(ep));
    rc = system(cmd);
    atomic_store(&stop, 1);
    pthread_join(thread, NULL);
    evpl_endpoint_close(ep);
    test_assert_msg(rc == 0, "%s failed (%d)", cmd, rc);
    return 0;
}
