/*
 * Our RPC2 client against our RPC2 server over one protocol (argv[2]: a
 * stream, or an RDMA message protocol for RPC-over-RDMA inline), both on
 * one loop:
 *   - opaque echo of 0 B .. 16 MiB payloads (up to 32 KiB over RDMA, which
 *     is inline only), checked byte for byte (the record limit raised to
 *     17 MiB through the extension);
 *   - 1,000 calls outstanding on one connection, replies matched by xid;
 *   - AUTH_NONE and AUTH_SYS (16 gids, machine name) reach the handler;
 *   - PROG_MISMATCH, PROG_UNAVAIL, PROC_UNAVAIL seen by the client;
 *   - calls the server holds complete exactly once with
 *     EVPL_RPC2_REPLY_CONN_LOST when the client disconnects, and replies
 *     sent after the connection is gone are dropped without a leak.
 */
#include "net_test.h"
#include "echo_prog.h"
#include "evpl/evpl_rpc2_ext.h"

static struct evpl               *evpl;
static struct ECHO_V1             prog;
static int                        completed, failures, connected, accepted, disconnected;
static struct evpl_rpc2_encoding *held[16];
static int                        nheld;

static uint8_t
pattern(uint32_t seed, uint32_t i)
{
    return (uint8_t) (i * 131u + seed * 7u + (i >> 11));
}

static void
pump_until(int *counter, int target, int timeout_s)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (*counter < target) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > timeout_s) {
            test_fail("timed out waiting (%d of %d)", *counter, target);
        }
    }
}

static void
notify(struct evpl_rpc2_thread *thread, struct evpl_rpc2_conn *conn, struct evpl_rpc2_notify *n,
       void *private_data)
{
    (void) thread;
    (void) conn;
    (void) private_data;
    switch (n->notify_type) {
    case EVPL_RPC2_NOTIFY_CONNECTED:
        connected++;
        break;
    case EVPL_RPC2_NOTIFY_ACCEPTED:
        accepted++;
        break;
    case EVPL_RPC2_NOTIFY_DISCONNECTED:
        disconnected++;
        break;
    }
}

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
server_whoami(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
              struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct echo_whoami res = {0};

    (void) conn;
    (void) private_data;
    test_assert(cred != NULL);
    if (cred->flavor == EVPL_RPC2_AUTH_SYS) {
        test_assert_eq(cred->authsys.machinename_len, 9);
        test_assert(memcmp(cred->authsys.machinename, "rpc2-test", 9) == 0);
        res.uid      = cred->authsys.uid;
        res.gid      = cred->authsys.gid;
        res.num_gids = cred->authsys.num_gids;
        for (uint32_t i = 0; i < cred->authsys.num_gids; i++) {
            res.gid_sum += cred->authsys.gids[i];
        }
    } else {
        test_assert_eq(cred->flavor, EVPL_RPC2_AUTH_NONE);
        res.uid = 0xffffffffu;
    }
    test_assert(send_reply_WHOAMI(e, NULL, &res, encoding) == 0);
}

static void
server_hold(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) e;
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(nheld < 16);
    held[nheld++] = encoding;
}

struct echo_check {
    uint32_t size;
    uint32_t seed;
    int      done;
};

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status,
          void *private_data)
{
    struct echo_check *chk = private_data;
    uint32_t           off = 0;

    test_assert(verf != NULL);
    test_assert_eq(chk->done, 0);
    chk->done = 1;
    completed++;
    if (status != 0) {
        fprintf(stderr, "echo of %u bytes: status %d\n", chk->size, status);
        failures++;
        return;
    }
    test_assert_eq(res->length, chk->size);
    for (int i = 0; i < res->niov; i++) {
        const uint8_t *p = res->iov[i].data;

        for (uint32_t j = 0; j < res->iov[i].length && off < chk->size; j++, off++) {
            if (p[j] != pattern(chk->seed, off)) {
                test_fail("echo of %u bytes differs at byte %u", chk->size, off);
            }
        }
        evpl_iovec_release(e, &res->iov[i]);
    }
    test_assert_eq(off, chk->size);
}

static void
issue_echo(struct evpl_rpc2_conn *conn, struct echo_check *chk)
{
    struct evpl_iovec iov[64];
    echo_iovecr       arg = {.iov = iov, .niov = 0, .length = chk->size};
    uint32_t          off = 0;

    if (chk->size) {
        arg.niov = evpl_iovec_alloc(evpl, chk->size, 0, 64, 0, iov);
        test_assert(arg.niov > 0);
        for (int i = 0; i < arg.niov; i++) {
            uint8_t *p = iov[i].data;

            for (uint32_t j = 0; j < iov[i].length; j++) {
                p[j] = pattern(chk->seed, off++);
            }
        }
    }
    send_call_ECHO(&prog.rpc2, evpl, conn, NULL, &arg, echo_done, chk);
}

static int status_seen;

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *private_data)
{
    int *out = private_data;

    (void) e;
    test_assert(verf != NULL);
    *out = status;
    completed++;
}

static struct echo_whoami who;

static void
whoami_done(struct evpl *e, const struct evpl_rpc2_verf *verf, struct echo_whoami *res, int status,
            void *private_data)
{
    (void) e;
    (void) verf;
    (void) private_data;
    test_assert_eq(status, 0);
    who = *res;
    completed++;
}

int
main(int argc, char **argv)
{
    static const uint32_t     sizes[] = {0,
                                         1,
                                         3,
                                         4,
                                         5,
                                         100,
                                         4095,
                                         4096,
                                         4097,
                                         65535,
                                         65536 + 3,
                                         1000000,
                                         (1u << 20) + 1,
                                         4u << 20,
                                         (4u << 20) + 5,
                                         16u << 20};
    static struct echo_check  checks[1000], big[sizeof(sizes) / sizeof(sizes[0])];
    struct evpl_rpc2_program *progs[1];
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    enum evpl_protocol_id     protocol;
    int                       target;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    evpl     = net_loop_create();

    ECHO_V1_init(&prog);
    prog.recv_call_ECHO   = server_echo;
    prog.recv_call_WHOAMI = server_whoami;
    prog.recv_call_HOLD   = server_hold;
    progs[0]              = &prog.rpc2;

    thread = evpl_rpc2_thread_init(evpl, progs, 1, notify, NULL);
    test_assert(thread != NULL);
    evpl_rpc2_thread_set_max_record(thread, (17u << 20));
    server = evpl_rpc2_server_init(progs, 1);
    test_assert(server != NULL);
    test_assert(prog.rpc2.send_reply_dispatch != NULL);
    ep = net_endpoint(protocol, "rpc2-echo");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);

    conn = evpl_rpc2_client_connect(thread, protocol, ep, NULL, 0, NULL);
    test_assert(conn != NULL);
    /* RPC-over-RDMA framing exactly on the RDMA message protocols. */
    test_assert_eq(conn->rdma, !evpl_protocol_is_stream(protocol));

    /* One at a time, every size (RPC-over-RDMA: what fits inline). */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (!evpl_protocol_is_stream(protocol) && sizes[i] > 32768) {
            continue;
        }
        big[i] = (struct echo_check){.size = sizes[i], .seed = (uint32_t) i};
        target = completed + 1;
        issue_echo(conn, &big[i]);
        pump_until(&completed, target, 60);
    }
    test_assert_eq(failures, 0);
    test_assert_eq(connected, 1);
    test_assert_eq(accepted, 1);

    /* Many outstanding on one connection. */
    target = completed + 1000;
    for (int i = 0; i < 1000; i++) {
        checks[i] = (struct echo_check){.size = (uint32_t) (i * 37) % 3000, .seed = 1000u + i};
        issue_echo(conn, &checks[i]);
    }
    pump_until(&completed, target, 60);
    test_assert_eq(failures, 0);
    for (int i = 0; i < 1000; i++) {
        test_assert_eq(checks[i].done, 1);
    }

    /* Credentials. */
    target = completed + 1;
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_WHOAMI, (void *) whoami_done, NULL);
    pump_until(&completed, target, 20);
    test_assert_eq(who.uid, 0xffffffffu);
    {
        uint32_t              gids[16], sum = 0;
        struct evpl_rpc2_cred cred = {.flavor = EVPL_RPC2_AUTH_SYS};

        for (int i = 0; i < 16; i++) {
            gids[i] = 5000u + (uint32_t) i * 3;
            sum += gids[i];
        }
        cred.authsys.uid             = 1234;
        cred.authsys.gid             = 567;
        cred.authsys.num_gids        = 16;
        cred.authsys.gids            = gids;
        cred.authsys.machinename     = "rpc2-test";
        cred.authsys.machinename_len = 9;
        target                       = completed + 1;
        send_call_void(&prog.rpc2, evpl, conn, &cred, ECHO_WHOAMI, (void *) whoami_done, NULL);
        pump_until(&completed, target, 20);
        test_assert_eq(who.uid, 1234);
        test_assert_eq(who.gid, 567);
        test_assert_eq(who.num_gids, 16);
        test_assert_eq(who.gid_sum, sum);
    }

    /* Errors the server answers itself. */
    {
        struct ECHO_V1 v2 = prog, other = prog;

        v2.rpc2.version    = 2;
        other.rpc2.program = 0x20000098u;
        target             = completed + 1;
        send_call_void(&v2.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, &status_seen);
        pump_until(&completed, target, 20);
        test_assert_eq(status_seen, 2); /* PROG_MISMATCH */
        target = completed + 1;
        send_call_void(&other.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, &status_seen);
        pump_until(&completed, target, 20);
        test_assert_eq(status_seen, 1); /* PROG_UNAVAIL */
        target = completed + 1;
        send_call_void(&prog.rpc2, evpl, conn, NULL, 9, (void *) void_done, &status_seen);
        pump_until(&completed, target, 20);
        test_assert_eq(status_seen, 3); /* PROC_UNAVAIL */
        target = completed + 1;
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, &status_seen);
        pump_until(&completed, target, 20);
        test_assert_eq(status_seen, 0);
    }

    /* Held calls end with CONN_LOST when the client goes away. */
    {
        static int lost[10];

        for (int i = 0; i < 10; i++) {
            lost[i] = 99;
            send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_HOLD, (void *) void_done, &lost[i]);
        }
        int held_target = 10;

        pump_until(&nheld, held_target, 20);
        target = completed + 10;
        evpl_rpc2_client_disconnect(thread, conn);
        pump_until(&completed, target, 20);
        for (int i = 0; i < 10; i++) {
            test_assert_eq(lost[i], EVPL_RPC2_REPLY_CONN_LOST);
        }
        pump_until(&disconnected, 2, 20);
        /* The server side is gone too: late replies are dropped. */
        for (int i = 0; i < nheld; i++) {
            test_assert(send_reply_void(evpl, NULL, held[i]) == 0);
        }
        for (int i = 0; i < 5; i++) {
            evpl_continue(evpl);
        }
        test_assert_eq(completed, target);
    }

    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    return 0;
}
