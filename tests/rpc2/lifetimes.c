/*
 * Teardown with calls in flight: the client has calls outstanding that the
 * server holds and never answers; the RPC2 thread (client and server
 * connections alike) is destroyed directly.  Every client call completes
 * exactly once with EVPL_RPC2_REPLY_CONN_LOST, both connections report
 * DISCONNECTED, the held requests are freed with the thread, and under ASan
 * nothing leaks.  Protocol from argv[2].
 */
#include "net_test.h"
#include "echo_prog.h"

static int nheld, status[8], times[8], disconnected;

static void
server_hold(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) e;
    (void) conn;
    (void) cred;
    (void) encoding;
    (void) private_data;
    nheld++;
}

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int st, void *p)
{
    int i = (int) (intptr_t) p;

    (void) e;
    (void) verf;
    status[i] = st;
    times[i]++;
}

static void
notify(struct evpl_rpc2_thread *t, struct evpl_rpc2_conn *c, struct evpl_rpc2_notify *n, void *p)
{
    (void) t;
    (void) c;
    (void) p;
    disconnected += n->notify_type == EVPL_RPC2_NOTIFY_DISCONNECTED;
}

int
main(int argc, char **argv)
{
    struct ECHO_V1            prog;
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    struct evpl              *evpl;
    enum evpl_protocol_id     protocol;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    evpl     = net_loop_create();
    ECHO_V1_init(&prog);
    prog.recv_call_HOLD = server_hold;
    thread              = evpl_rpc2_thread_init(evpl, progs, 1, notify, NULL);
    server              = evpl_rpc2_server_init(progs, 1);
    ep                  = net_endpoint(protocol, "rpc2-lifetimes");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);
    conn = evpl_rpc2_client_connect(thread, protocol, ep, NULL, 0, NULL);
    for (int i = 0; i < 8; i++) {
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_HOLD, (void *) void_done,
                       (void *) (intptr_t) i);
    }
    for (int i = 0; nheld < 8; i++) {
        test_assert_msg(i < 100000, "held %d", nheld);
        evpl_continue(evpl);
    }

    /* Stop listening first (server destroyed with calls in flight), then
     * the thread with everything still open. */
    evpl_rpc2_server_stop(server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    test_assert_eq(disconnected, 2);
    for (int i = 0; i < 8; i++) {
        test_assert_eq(times[i], 1);
        test_assert_eq(status[i], EVPL_RPC2_REPLY_CONN_LOST);
    }
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
