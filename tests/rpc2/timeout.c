/*
 * Per-call timeout (extension, evpl_rpc2_ext.h): with a 1 s timeout on the
 * connection, calls the server holds complete exactly once with
 * EVPL_RPC2_REPLY_TIMEOUT, never before the timeout, a call answered at once
 * completes while they are still outstanding, the late replies are dropped as
 * unmatched, and the connection keeps working.
 */
#include "net_test.h"
#include "echo_prog.h"
#include "evpl/evpl_rpc2_ext.h"

static struct evpl               *evpl;
static struct ECHO_V1             prog;
static int                        completed, nheld;
static int                        status[8], times[8];
static struct evpl_rpc2_encoding *held[8];

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
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int st, void *private_data)
{
    int i = (int) (intptr_t) private_data;

    (void) e;
    test_assert(verf != NULL);
    status[i] = st;
    times[i]++;
    completed++;
}

#define TIMEOUT_MS 1000

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
pump_until(int *counter, int target)
{
    uint64_t start = now_ms();

    while (*counter < target) {
        test_assert_msg(now_ms() - start < 5000, "timed out");
        evpl_continue(evpl);
    }
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    uint64_t                  start, took;

    evpl_test_init(argc, argv);
    evpl = net_loop_create();
    ECHO_V1_init(&prog);
    prog.recv_call_HOLD = server_hold;
    thread              = evpl_rpc2_thread_init(evpl, progs, 1, NULL, NULL);
    server              = evpl_rpc2_server_init(progs, 1);
    ep                  = net_endpoint(EVPL_STREAM_SOCKET_TCP, "rpc2-timeout");
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);
    conn = evpl_rpc2_client_connect(thread, EVPL_STREAM_SOCKET_TCP, ep, NULL, 0, NULL);
    evpl_rpc2_conn_set_call_timeout(conn, TIMEOUT_MS);

    start = now_ms();
    for (int i = 0; i < 3; i++) {
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_HOLD, (void *) void_done,
                       (void *) (intptr_t) i);
    }
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, (void *) 3);
    pump_until(&completed, 1);
    test_assert_eq(times[3], 1);
    test_assert_eq(status[3], 0);
    /* Ordering, not speed: the held calls are still outstanding when the
     * NULL call's reply arrives (one local round trip against a 1 s
     * timeout, also under valgrind). */
    for (int i = 0; i < 3; i++) {
        test_assert_eq(times[i], 0);
    }

    pump_until(&completed, 4);
    took = now_ms() - start;
    /* Never early; how late is bounded only by pump_until's 5 s limit. */
    test_assert_msg(took >= TIMEOUT_MS, "timeouts after %llu ms", (unsigned long long) took);
    for (int i = 0; i < 3; i++) {
        test_assert_eq(times[i], 1);
        test_assert_eq(status[i], EVPL_RPC2_REPLY_TIMEOUT);
    }

    /* Late replies: unmatched, dropped; the connection still answers. */
    pump_until(&nheld, 3);
    for (int i = 0; i < 3; i++) {
        test_assert(send_reply_void(evpl, NULL, held[i]) == 0);
    }
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, (void *) 4);
    pump_until(&completed, 5);
    test_assert_eq(status[4], 0);
    for (int i = 0; i < 3; i++) {
        test_assert_eq(times[i], 1);
    }

    /* Disabled again: a held call waits until the disconnect. */
    evpl_rpc2_conn_set_call_timeout(conn, 0);
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_HOLD, (void *) void_done, (void *) 5);
    start = now_ms();
    while (now_ms() - start < 300) {
        evpl_continue(evpl);
    }
    test_assert_eq(times[5], 0);
    evpl_rpc2_conn_set_call_timeout(conn, 100000);
    evpl_rpc2_client_disconnect(thread, conn);
    pump_until(&completed, 6);
    test_assert_eq(status[5], EVPL_RPC2_REPLY_CONN_LOST);
    /* The handler still owes its reply; it is dropped (no connection). */
    pump_until(&nheld, 4);
    test_assert(send_reply_void(evpl, NULL, held[3]) == 0);

    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
