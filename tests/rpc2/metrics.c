/*
 * RPC2 metrics in evpl_metrics_scrape(): after 10 echo calls and 2 calls of
 * a procedure without a handler (PROC_UNAVAIL), the scrape carries, for the
 * server and the client role, the call and error counts per procedure, a
 * latency histogram whose count equals the calls, and in-flight gauges that
 * are back to 0.  While 3 calls are held by the server, the gauges read 3.
 */
#include "net_test.h"
#include "echo_prog.h"

static struct evpl               *evpl;
static struct ECHO_V1             prog;
static int                        completed, nheld;
static struct evpl_rpc2_encoding *held[4];
static char                       scrape[1 << 16];

static void
server_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            echo_iovecr *arg, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(send_reply_ECHO(e, NULL, arg, encoding) == 0);
}

static void
server_hold(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) e;
    (void) conn;
    (void) cred;
    (void) private_data;
    held[nheld++] = encoding;
}

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status,
          void *private_data)
{
    (void) verf;
    (void) private_data;
    test_assert_eq(status, 0);
    evpl_iovecs_release(e, res->iov, res->niov);
    completed++;
}

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *private_data)
{
    (void) e;
    (void) verf;
    *(int *) private_data = status;
    completed++;
}

static void
pump_until(int *counter, int target)
{
    for (int i = 0; *counter < target; i++) {
        test_assert_msg(i < 100000, "timed out");
        evpl_continue(evpl);
    }
}

static void
expect(const char *needle)
{
    test_assert_msg(strstr(scrape, needle) != NULL, "scrape lacks: %s\n%s", needle, scrape);
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    int                       st[2];
    char                      line[256];

    evpl_test_init(argc, argv);
    evpl = net_loop_create();
    ECHO_V1_init(&prog);
    prog.recv_call_ECHO = server_echo;
    thread              = evpl_rpc2_thread_init(evpl, progs, 1, NULL, NULL);
    server              = evpl_rpc2_server_init(progs, 1);
    ep                  = net_endpoint(EVPL_STREAM_SOCKET_TCP, "rpc2-metrics");
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);
    conn = evpl_rpc2_client_connect(thread, EVPL_STREAM_SOCKET_TCP, ep, NULL, 0, NULL);

    for (int i = 0; i < 10; i++) {
        struct evpl_iovec iov[1];
        echo_iovecr       arg = {.iov = iov, .niov = 1, .length = 100};

        test_assert_eq(evpl_iovec_alloc(evpl, 100, 0, 1, 0, iov), 1);
        memset(iov[0].data, i, 100);
        send_call_ECHO(&prog.rpc2, evpl, conn, NULL, &arg, echo_done, NULL);
    }
    for (int i = 0; i < 2; i++) {
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_HOLD, (void *) void_done, &st[i]);
    }
    pump_until(&completed, 12);
    test_assert_eq(st[0], 3);
    test_assert_eq(st[1], 3);

    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    for (int role = 0; role < 2; role++) {
        const char *r = role ? "client" : "server";

        expect("# TYPE evpl_rpc2_calls_total counter");
        snprintf(line, sizeof(line),
                 "evpl_rpc2_calls_total{role=\"%s\",thread=\"0\",program=\"%u\",version=\"1\","
                 "procedure=\"ECHO\"} 10\n",
                 r, ECHO_PROG);
        expect(line);
        snprintf(line, sizeof(line),
                 "evpl_rpc2_errors_total{role=\"%s\",thread=\"0\",program=\"%u\",version=\"1\","
                 "procedure=\"ECHO\"} 0\n",
                 r, ECHO_PROG);
        expect(line);
        snprintf(line, sizeof(line),
                 "evpl_rpc2_errors_total{role=\"%s\",thread=\"0\",program=\"%u\",version=\"1\","
                 "procedure=\"HOLD\"} 2\n",
                 r, ECHO_PROG);
        expect(line);
        snprintf(line, sizeof(line),
                 "evpl_rpc2_latency_nanoseconds_count{role=\"%s\",thread=\"0\",program=\"%u\","
                 "version=\"1\",procedure=\"ECHO\"} 10\n",
                 r, ECHO_PROG);
        expect(line);
        snprintf(line, sizeof(line), "evpl_rpc2_queue_depth{role=\"%s\",thread=\"0\"} 0\n", r);
        expect(line);
    }

    /* Held calls are in flight on both sides. */
    prog.recv_call_HOLD = server_hold;
    for (int i = 0; i < 3; i++) {
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_HOLD, (void *) void_done, &st[0]);
    }
    pump_until(&nheld, 3);
    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    expect("evpl_rpc2_queue_depth{role=\"server\",thread=\"0\"} 3\n");
    expect("evpl_rpc2_queue_depth{role=\"client\",thread=\"0\"} 3\n");
    for (int i = 0; i < 3; i++) {
        test_assert(send_reply_void(evpl, NULL, held[i]) == 0);
    }
    pump_until(&completed, 15);

    evpl_rpc2_client_disconnect(thread, conn);
    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    /* The thread's samples are gone with it. */
    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) >= 0);
    test_assert(strstr(scrape, "evpl_rpc2_calls_total{") == NULL);
    evpl_destroy(evpl);
    return 0;
}
