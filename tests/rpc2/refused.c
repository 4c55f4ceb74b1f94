/*
 * A client connection that never comes up (nothing listens): calls issued
 * before the failure complete exactly once with EVPL_RPC2_REPLY_CONN_LOST,
 * the application sees DISCONNECTED (never CONNECTED), and a call with an
 * invalid credential or without headroom is refused at once (-1, callback
 * never run, references released).
 */
#include "net_test.h"
#include "echo_prog.h"

static int status[4], times[4], connected, disconnected;

static void
notify(struct evpl_rpc2_thread *t, struct evpl_rpc2_conn *c, struct evpl_rpc2_notify *n, void *p)
{
    (void) t;
    (void) c;
    (void) p;
    connected += n->notify_type == EVPL_RPC2_NOTIFY_CONNECTED;
    disconnected += n->notify_type == EVPL_RPC2_NOTIFY_DISCONNECTED;
}

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int st, void *private_data)
{
    int i = (int) (intptr_t) private_data;

    (void) e;
    (void) verf;
    status[i] = st;
    times[i]++;
}

int
main(int argc, char **argv)
{
    struct ECHO_V1            prog;
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    struct evpl              *evpl;
    struct evpl_iovec         iov;
    uint32_t                  gids[17] = {0};
    struct evpl_rpc2_cred     bad      = {.flavor = EVPL_RPC2_AUTH_SYS};

    evpl_test_init(argc, argv);
    evpl_test_log_expect("not sent");
    evpl = net_loop_create();
    ECHO_V1_init(&prog);
    thread = evpl_rpc2_thread_init(evpl, progs, 1, notify, NULL);
    ep     = evpl_endpoint_create("127.0.0.1", net_free_port(SOCK_STREAM));
    conn   = evpl_rpc2_client_connect(thread, EVPL_STREAM_SOCKET_TCP, ep, NULL, 0, NULL);
    test_assert(conn != NULL);
    for (int i = 0; i < 3; i++) {
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done,
                       (void *) (intptr_t) i);
    }

    /* 17 gids: refused without a callback. */
    bad.authsys.num_gids = 17;
    bad.authsys.gids     = gids;
    test_assert_eq(evpl_iovec_alloc(evpl, 256, 0, 1, 0, &iov), 1);
    test_assert_eq(evpl_rpc2_call(evpl, &prog.rpc2, conn, &bad, 0, &iov, 1, 256, NULL, 0, NULL, 0,
                                  0, (void *) void_done, (void *) 3),
                   -1);
    /* Shorter than the headroom. */
    test_assert_eq(evpl_iovec_alloc(evpl, 16, 0, 1, 0, &iov), 1);
    test_assert_eq(evpl_rpc2_call(evpl, &prog.rpc2, conn, NULL, 0, &iov, 1, 16, NULL, 0, NULL, 0, 0,
                                  (void *) void_done, (void *) 3),
                   -1);

    for (int i = 0; !disconnected; i++) {
        test_assert_msg(i < 100000, "no DISCONNECTED");
        evpl_continue(evpl);
    }
    test_assert_eq(connected, 0);
    for (int i = 0; i < 3; i++) {
        test_assert_eq(times[i], 1);
        test_assert_eq(status[i], EVPL_RPC2_REPLY_CONN_LOST);
    }
    test_assert_eq(times[3], 0);
    evpl_rpc2_thread_destroy(thread);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
