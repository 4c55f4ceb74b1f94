/*
 * AUTH_SHORT (extension, evpl_rpc2_thread_set_auth_short): raw calls over
 * TCP to a server thread with it enabled.  An AUTH_SYS call is answered with
 * an AUTH_SHORT verifier whose body is the short_hand_verf of RFC 1831 (the
 * opaque_auth {AUTH_SHORT, 8-byte handle} to use as the credential from
 * then on); a call presenting that
 * handle reaches the program as the original AUTH_SYS credential (and gets
 * the same handle back); a stale generation, an unknown slot or a body that
 * is not 8 bytes is refused with AUTH_REJECTEDCRED; with the feature off
 * AUTH_SYS replies carry no verifier body and handles are refused.
 */
#include <poll.h>

#include "net_test.h"
#include "echo_prog.h"
#include "evpl/evpl_rpc2_ext.h"

static struct ECHO_V1           prog;
static struct evpl_rpc2_server *server;
static struct evpl_rpc2_thread *rpc2;

static void
server_whoami(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
              struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct echo_whoami res = {0xffffffffu, 0, 0, 0};

    (void) conn;
    (void) private_data;
    if (cred->flavor == EVPL_RPC2_AUTH_SYS) {
        test_assert_eq(cred->authsys.machinename_len, 4);
        test_assert(memcmp(cred->authsys.machinename, "host", 4) == 0);
        res.uid      = cred->authsys.uid;
        res.gid      = cred->authsys.gid;
        res.num_gids = cred->authsys.num_gids;
        for (uint32_t i = 0; i < cred->authsys.num_gids; i++) {
            res.gid_sum += cred->authsys.gids[i];
        }
    }
    test_assert(send_reply_WHOAMI(e, NULL, &res, encoding) == 0);
}

static void *
server_init(struct evpl *evpl, void *private_data)
{
    rpc2 = evpl_rpc2_thread_init(evpl, NULL, 0, NULL, NULL);
    evpl_rpc2_thread_set_auth_short(rpc2, private_data != NULL);
    evpl_rpc2_server_attach(rpc2, server, NULL);
    return NULL;
}

static void
server_shutdown(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    (void) private_data;
    evpl_rpc2_server_detach(rpc2, server);
    evpl_rpc2_thread_destroy(rpc2);
}

static void
put_words(int fd, const uint32_t *w, int n)
{
    uint8_t buf[256];

    echo_put_u32(buf, 0x80000000u | (uint32_t) (4 * n));
    for (int i = 0; i < n; i++) {
        echo_put_u32(buf + 4 + 4 * i, w[i]);
    }
    test_assert(send(fd, buf, 4 + 4 * (size_t) n, MSG_NOSIGNAL) == 4 + 4 * n);
}

/* Read one single-fragment reply into w[]; returns the number of words. */
static int
get_words(int fd, uint32_t *w, int max)
{
    uint8_t  buf[1024];
    uint32_t len;

    test_assert(recv(fd, buf, 4, MSG_WAITALL) == 4);
    len = ((uint32_t) buf[0] << 24 | (uint32_t) buf[1] << 16 | (uint32_t) buf[2] << 8 | buf[3]) &
          0x7fffffffu;
    test_assert(len % 4 == 0 && len / 4 <= (uint32_t) max && len <= sizeof(buf));
    test_assert(recv(fd, buf, len, MSG_WAITALL) == (ssize_t) len);
    for (uint32_t i = 0; i < len / 4; i++) {
        w[i] = (uint32_t) buf[4 * i] << 24 | (uint32_t) buf[4 * i + 1] << 16 |
               (uint32_t) buf[4 * i + 2] << 8 | buf[4 * i + 3];
    }
    return (int) (len / 4);
}

static int
connect_to(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    return fd;
}

/* A WHOAMI call with AUTH_SYS {uid 100, gid 200, gids 10 20, "host"}. */
static void
call_sys(int fd, uint32_t xid)
{
    uint32_t w[] = {xid, 0,           2,   ECHO_PROG, 1, ECHO_WHOAMI, 1,  32, 0,
                    4,   0x686f7374u, 100, 200,       2, 10,          20, 0,  0};

    put_words(fd, w, (int) (sizeof(w) / sizeof(w[0])));
}

static void
call_short(int fd, uint32_t xid, uint32_t body_len, uint32_t h0, uint32_t h1)
{
    uint32_t w[] = {xid, 0, 2, ECHO_PROG, 1, ECHO_WHOAMI, 2, body_len, h0, h1, 0, 0};

    if (body_len == 4) {
        uint32_t v[] = {xid, 0, 2, ECHO_PROG, 1, ECHO_WHOAMI, 2, 4, h0, 0, 0};

        put_words(fd, v, (int) (sizeof(v) / sizeof(v[0])));
        return;
    }
    put_words(fd, w, (int) (sizeof(w) / sizeof(w[0])));
}

static void
run(int enabled)
{
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_endpoint     *ep;
    struct evpl_thread       *thread;
    int                       port, fd, n;
    uint32_t                  w[64], h0, h1;

    server = evpl_rpc2_server_init(progs, 1);
    port   = net_free_port(SOCK_STREAM);
    ep     = evpl_endpoint_create("127.0.0.1", port);
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    thread = evpl_thread_create(NULL, server_init, server_shutdown, enabled ? &prog : NULL);
    fd     = connect_to(port);

    call_sys(fd, 1);
    n = get_words(fd, w, 64);
    if (!enabled) {
        /* xid REPLY ACCEPTED verf(NONE, 0) SUCCESS uid gid ngids sum */
        test_assert_eq(n, 10);
        test_assert_eq(w[3], EVPL_RPC2_AUTH_NONE);
        test_assert_eq(w[4], 0);
        test_assert_eq(w[6], 100);
        call_short(fd, 2, 8, 0, 1);
        n = get_words(fd, w, 64);
        test_assert_eq(n, 5);
        test_assert_eq(w[2], 1); /* MSG_DENIED */
        test_assert_eq(w[4], 2); /* AUTH_REJECTEDCRED */
    } else {
        /* xid REPLY ACCEPTED verf(SHORT, 16, {SHORT, 8, h0 h1}) SUCCESS
         * uid gid ngids sum: the verifier carries the new credential. */
        test_assert_eq(n, 14);
        test_assert_eq(w[0], 1);
        test_assert_eq(w[3], EVPL_RPC2_AUTH_SHORT);
        test_assert_eq(w[4], 16);
        test_assert_eq(w[5], EVPL_RPC2_AUTH_SHORT);
        test_assert_eq(w[6], 8);
        h0 = w[7];
        h1 = w[8];
        test_assert_eq(w[9], 0);
        test_assert_eq(w[10], 100);
        test_assert_eq(w[13], 30);

        call_short(fd, 2, 8, h0, h1);
        n = get_words(fd, w, 64);
        test_assert_eq(n, 14);
        test_assert_eq(w[0], 2);
        test_assert_eq(w[3], EVPL_RPC2_AUTH_SHORT);
        test_assert_eq(w[7], h0);
        test_assert_eq(w[8], h1);
        test_assert_eq(w[10], 100);
        test_assert_eq(w[11], 200);
        test_assert_eq(w[12], 2);
        test_assert_eq(w[13], 30);

        /* The same AUTH_SYS credential again: the same handle. */
        call_sys(fd, 3);
        n = get_words(fd, w, 64);
        test_assert_eq(w[7], h0);
        test_assert_eq(w[8], h1);

        uint32_t bad[][3] = {{8, h0, h1 + 1}, {8, 999999, h1}, {4, h0, 0}};

        for (int i = 0; i < 3; i++) {
            call_short(fd, 10 + (uint32_t) i, bad[i][0], bad[i][1], bad[i][2]);
            n = get_words(fd, w, 64);
            test_assert_eq(n, 5);
            test_assert_eq(w[0], 10 + (uint32_t) i);
            test_assert_eq(w[2], 1); /* MSG_DENIED */
            test_assert_eq(w[3], 1); /* AUTH_ERROR */
            test_assert_eq(w[4], 2); /* AUTH_REJECTEDCRED */
        }
    }
    close(fd);
    evpl_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
}

int
main(int argc, char **argv)
{
    evpl_test_init(argc, argv);
    ECHO_V1_init(&prog);
    prog.recv_call_WHOAMI = server_whoami;
    run(0);
    run(1);
    return 0;
}
