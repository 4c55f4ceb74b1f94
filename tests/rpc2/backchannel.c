/*
 * Programs served on a client connection (the backchannel,
 * server_programs of evpl_rpc2_client_connect): the client calls ECHO; the
 * server's handler, before answering, calls the client's callback program
 * over the same connection with the same payload, and answers the original
 * call with what the callback returned.  The client's callback handler gets
 * the connection's server_private_data.  Protocol from argv[2].
 */
#include "net_test.h"
#include "echo_prog.h"

#define CB_PROG 0x20000100u

static struct evpl   *evpl;
static struct ECHO_V1 fore, cb;
static int            cb_calls, done, client_tag;

static void
cb_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status,
        void *private_data)
{
    struct evpl_rpc2_encoding *encoding = private_data;

    (void) verf;
    test_assert_eq(status, 0);
    test_assert(send_reply_ECHO(e, NULL, res, encoding) == 0);
}

/* Server: answer ECHO only after a round trip through the client. */
static void
fore_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
          echo_iovecr *arg, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) cred;
    (void) private_data;
    send_call_ECHO(&cb.rpc2, e, conn, NULL, arg, cb_done, encoding);
}

/* Client: the callback program's handler. */
static void
cb_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, echo_iovecr *arg,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    test_assert(private_data == &client_tag);
    test_assert(conn->server_private_data == &client_tag);
    cb_calls++;
    test_assert(send_reply_ECHO(e, NULL, arg, encoding) == 0);
}

static void
fore_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status,
          void *private_data)
{
    uint32_t off = 0;

    (void) verf;
    (void) private_data;
    test_assert_eq(status, 0);
    test_assert_eq(res->length, 5000);
    for (int i = 0; i < res->niov; i++) {
        for (uint32_t j = 0; j < res->iov[i].length; j++, off++) {
            test_assert_eq(((uint8_t *) res->iov[i].data)[j], (uint8_t) (off * 3));
        }
        evpl_iovec_release(e, &res->iov[i]);
    }
    done++;
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *fore_progs[1] = {&fore.rpc2}, *cb_progs[1] = {&cb.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    enum evpl_protocol_id     protocol;

    evpl_test_init(argc, argv);
    evpl_test_log_expect("evpl_rpc2_client_connect: bad arguments");
    protocol = net_protocol(argc, argv);
    evpl     = net_loop_create();
    ECHO_V1_init(&fore);
    ECHO_V1_init(&cb);
    cb.rpc2.program     = CB_PROG;
    fore.recv_call_ECHO = fore_echo;
    cb.recv_call_ECHO   = cb_echo;

    thread = evpl_rpc2_thread_init(evpl, fore_progs, 1, NULL, NULL);
    server = evpl_rpc2_server_init(fore_progs, 1);
    ep     = net_endpoint(protocol, "rpc2-backchannel");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);
    conn = evpl_rpc2_client_connect(thread, protocol, ep, cb_progs, 1, &client_tag);
    test_assert(conn != NULL);
    test_assert(cb.rpc2.send_reply_dispatch != NULL);
    /* More than four backchannel programs is refused. */
    {
        struct evpl_rpc2_program *five[5] = {&cb.rpc2, &cb.rpc2, &cb.rpc2, &cb.rpc2, &cb.rpc2};

        test_assert(evpl_rpc2_client_connect(thread, protocol, ep, five, 5, NULL) == NULL);
    }

    for (int i = 0; i < 20; i++) {
        struct evpl_iovec iov[2];
        echo_iovecr       arg = {.iov = iov, .length = 5000};
        uint32_t          off = 0;

        arg.niov = evpl_iovec_alloc(evpl, 5000, 0, 2, 0, iov);
        for (int k = 0; k < arg.niov; k++) {
            for (uint32_t j = 0; j < iov[k].length; j++, off++) {
                ((uint8_t *) iov[k].data)[j] = (uint8_t) (off * 3);
            }
        }
        send_call_ECHO(&fore.rpc2, evpl, conn, NULL, &arg, fore_done, NULL);
    }
    for (int i = 0; done < 20; i++) {
        test_assert_msg(i < 200000, "timed out at %d", done);
        evpl_continue(evpl);
    }
    test_assert_eq(cb_calls, 20);

    evpl_rpc2_client_disconnect(thread, conn);
    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
