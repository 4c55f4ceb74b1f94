/*
 * Python peers (tests/http/interop.py: http.client, raw-socket pipelining,
 * dribbling, malformed input) against our server on its own thread.  Skips
 * without python3.
 */
#include "http_test.h"

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
    pthread_create(&thread, NULL, http_test_server_thread, ep);
    usleep(200000);
    snprintf(cmd, sizeof(cmd), "python3 %s %d", argv[2], evpl_endpoint_port(ep));
    rc = system(cmd);
    atomic_store(&http_test_server_stop, 1);
    pthread_join(thread, NULL);
    evpl_endpoint_close(ep);
    test_assert_msg(rc == 0, "%s failed (%d)", cmd, rc);
    return 0;
}
