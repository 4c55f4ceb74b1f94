/*
 * RPC-over-RDMA (RFC 8166) header conformance of the server, over a raw
 * DATAGRAM_INPROC (argv[2]: or DATAGRAM_TCP_RDMA) connection: each case
 * sends one message and expects one reply message (or none, or the
 * connection closed):
 *   - a NULL call as RDMA_MSG with empty chunk lists: RDMA_MSG reply with
 *     credits granted and the RPC reply inline;
 *   - version 2: RDMA_ERROR ERR_VERS 1..1;
 *   - a read list, a write list, a reply chunk, RDMA_NOMSG, an unknown
 *     procedure: RDMA_ERROR ERR_CHUNK;
 *   - a header cut inside the chunk lists: RDMA_ERROR ERR_CHUNK;
 *   - a message shorter than the fixed header: the connection closes;
 *   - after each error the connection still answers a NULL call.
 */
#include "net_test.h"
#include "echo_prog.h"

static struct evpl *evpl;
static uint32_t     reply[64];
static int          nreply, got_reply, down;

static void
raw_notify(struct evpl *e, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        uint8_t  buf[256];
        uint32_t off = 0;

        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            uint32_t l = notify->recv_msg.iovec[i].length;

            if (off + l <= sizeof(buf)) {
                memcpy(buf + off, notify->recv_msg.iovec[i].data, l);
            }
            off += l;
        }
        evpl_iovecs_release(e, notify->recv_msg.iovec, (int) notify->recv_msg.niov);
        test_assert(off <= sizeof(buf) && off % 4 == 0);
        nreply = (int) (off / 4);
        for (int i = 0; i < nreply; i++) {
            reply[i] = (uint32_t) buf[4 * i] << 24 | (uint32_t) buf[4 * i + 1] << 16 |
                       (uint32_t) buf[4 * i + 2] << 8 | buf[4 * i + 3];
        }
        got_reply++;
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        down = 1;
    }
}

static void
send_words(struct evpl_bind *bind, const uint32_t *w, int n)
{
    uint8_t buf[256];

    for (int i = 0; i < n; i++) {
        echo_put_u32(buf + 4 * i, w[i]);
    }
    evpl_send(evpl, bind, buf, (unsigned int) (4 * n));
}

static void
wait_reply(int want)
{
    for (int i = 0; got_reply < want; i++) {
        test_assert_msg(i < 100000, "no reply");
        evpl_continue(evpl);
    }
}

static int calls;

/* A NULL call with xid, wrapped in RDMA_MSG; checks the reply. */
static void
null_call(struct evpl_bind *bind, uint32_t xid)
{
    uint32_t w[] = {xid, 1, 32, 0, 0, 0, 0, xid, 0, 2, ECHO_PROG, 1, 0, 0, 0, 0, 0};

    send_words(bind, w, 17);
    wait_reply(++calls);
    /* rdma_xid vers credits RDMA_MSG 0 0 0 | xid REPLY ACCEPTED 0 0 SUCCESS */
    test_assert_eq(nreply, 13);
    test_assert_eq(reply[0], xid);
    test_assert_eq(reply[1], 1);
    test_assert(reply[2] > 0);
    test_assert_eq(reply[3], 0);
    test_assert_eq(reply[7], xid);
    test_assert_eq(reply[8], 1);
    test_assert_eq(reply[12], 0);
}

static void
expect_error(struct evpl_bind *bind, const uint32_t *w, int n, uint32_t err)
{
    send_words(bind, w, n);
    wait_reply(++calls);
    test_assert_eq(reply[0], w[0]);
    test_assert_eq(reply[3], 4); /* RDMA_ERROR */
    test_assert_eq(reply[4], err);
    if (err == 1) {
        test_assert_eq(nreply, 7);
        test_assert_eq(reply[5], 1);
        test_assert_eq(reply[6], 1);
    }
    null_call(bind, w[0] + 1000);
}

int
main(int argc, char **argv)
{
    struct ECHO_V1            prog;
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_endpoint     *ep;
    struct evpl_bind         *bind;
    enum evpl_protocol_id     protocol;

    evpl_test_init(argc, argv);
    /* Malformed RPC-over-RDMA headers: one logged error each (the table
     * checks the outcome); leak reports still fail. */
    evpl_test_log_expect_errors();
    protocol = net_protocol(argc, argv);
    evpl     = net_loop_create();
    ECHO_V1_init(&prog);
    thread = evpl_rpc2_thread_init(evpl, NULL, 0, NULL, NULL);
    server = evpl_rpc2_server_init(progs, 1);
    ep     = net_endpoint(protocol, "rpc2-rdma-conf");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);
    bind = evpl_connect(evpl, protocol, NULL, ep, raw_notify, NULL, NULL);
    test_assert(bind != NULL);

    null_call(bind, 1);
    {
        uint32_t vers2[]      = {10, 2, 32, 0, 0, 0, 0};
        uint32_t read_list[]  = {20, 1, 32, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        uint32_t write_list[] = {30, 1, 32, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
        uint32_t reply_ch[]   = {40, 1, 32, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
        uint32_t nomsg[]      = {50, 1, 32, 1, 0, 0, 0};
        uint32_t unknown[]    = {60, 1, 32, 9, 0, 0, 0};
        uint32_t cut[]        = {70, 1, 32, 0, 0};

        expect_error(bind, vers2, 7, 1);
        expect_error(bind, read_list, 14, 2);
        expect_error(bind, write_list, 14, 2);
        expect_error(bind, reply_ch, 13, 2);
        expect_error(bind, nomsg, 7, 2);
        expect_error(bind, unknown, 7, 2);
        expect_error(bind, cut, 5, 2);
    }
    {
        uint32_t short_hdr[] = {80, 1, 32};

        send_words(bind, short_hdr, 3);
        for (int i = 0; !down; i++) {
            test_assert_msg(i < 100000, "connection not closed");
            evpl_continue(evpl);
        }
        test_assert_eq(got_reply, calls);
    }
    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
