/*
 * Connections opened and closed in rounds of 100 concurrent ones, each
 * making one NULL call first, against one server on the same loop: every
 * call succeeds, the server sees as many ACCEPTED and DISCONNECTED, and
 * nothing leaks (the ASan leg checks).  Protocol from argv[2], rounds from
 * argv[3] (default 100: 10,000 connections; the TCP case runs 10, since
 * the listener thread's accept path takes a few ms per connection).
 */
#include "net_test.h"
#include "echo_prog.h"

#define BATCH 100

static int accepted, server_gone, client_gone, replies;

static void
notify(struct evpl_rpc2_thread *t, struct evpl_rpc2_conn *c, struct evpl_rpc2_notify *n, void *p)
{
    (void) t;
    if (n->notify_type == EVPL_RPC2_NOTIFY_ACCEPTED) {
        accepted++;
    } else if (n->notify_type == EVPL_RPC2_NOTIFY_DISCONNECTED) {
        if (c->server_binding || p == &accepted) {
            server_gone++;
        } else {
            client_gone++;
        }
    }
}

static void
null_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    test_assert_eq(status, 0);
    replies++;
}

int
main(int argc, char **argv)
{
    struct ECHO_V1            prog;
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conns[BATCH];
    struct evpl_endpoint     *ep;
    struct evpl              *evpl;
    enum evpl_protocol_id     protocol;
    int                       rounds = argc > 3 ? atoi(argv[3]) : 100;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    {
        /* Short waits: each round waits on accepts from the listener thread. */
        struct evpl_thread_config *config = evpl_thread_config_init();

        evpl_thread_config_set_wait_ms(config, 1);
        evpl = evpl_create(config);
    }
    ECHO_V1_init(&prog);
    thread = evpl_rpc2_thread_init(evpl, progs, 1, notify, NULL);
    server = evpl_rpc2_server_init(progs, 1);
    ep     = net_endpoint(protocol, "rpc2-many");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    evpl_rpc2_server_attach(thread, server, &accepted);

    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < BATCH; i++) {
            conns[i] = evpl_rpc2_client_connect(thread, protocol, ep, NULL, 0, NULL);
            test_assert(conns[i] != NULL);
            send_call_void(&prog.rpc2, evpl, conns[i], NULL, ECHO_NULL, (void *) null_done, NULL);
        }
        for (int spins = 0; replies < (r + 1) * BATCH; spins++) {
            test_assert_msg(spins < 1000000, "round %d: %d replies", r, replies);
            evpl_continue(evpl);
        }
        for (int i = 0; i < BATCH; i++) {
            evpl_rpc2_client_disconnect(thread, conns[i]);
        }
        for (int spins = 0; client_gone < (r + 1) * BATCH || server_gone < (r + 1) * BATCH;
             spins++) {
            test_assert_msg(spins < 1000000, "round %d: %d/%d down", r, client_gone, server_gone);
            evpl_continue(evpl);
        }
    }
    test_assert_eq(accepted, rounds * BATCH);
    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
