/*
 * Interoperability through generated code: /usr/include/rpcsvc/mount.x
 * compiled with `xdrzcc -r` (after cpp, as rpcgen does) on our side,
 * with rpcgen + libtirpc on the other, over TCP:
 *   - our generated client calls a libtirpc svc_run server (rpcgen -m
 *     dispatcher, procedures in gen_interop_tirpc.c): NULL, MNT (union
 *     with a fixed opaque handle, both arms), UMNT (string argument checked
 *     on the libtirpc side), UMNTALL;
 *   - an rpcgen client calls our generated server: the same procedures with
 *     other values, EXPORTALL left without a handler (RPC_PROCUNAVAIL).
 * Not covered: DUMP, EXPORT and EXPORTALL results.  mount.x declares them
 * with pointer typedefs (mountlist, exports); XDR.md 2.4/2.5 treat a
 * `T *` result as `T` and `ml_next`/`ex_next` as plain optional data (the
 * original generator's behaviour, kept for compatibility), so the generated
 * layer sends the first node without the leading presence word rpcgen
 * expects.  Programs use list structs with `next*` members instead.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "net_test.h"
#include "mount_pp_xdr.h"
#include "gen_interop.h"

static struct evpl     *evpl;
static struct MOUNTVERS prog;
static int              completed;
static char             server_umnt[64];
static atomic_int       client_done;

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

static int
str_is(const xdr_string *s, const char *want)
{
    return s->len == strlen(want) && memcmp(s->str, want, s->len) == 0;
}

/* ---- our generated server -------------------------------------------------- */

static void
srv_null(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
         struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(prog.send_reply_MOUNTPROC_NULL(e, NULL, encoding) == 0);
}

static void
srv_mnt(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, xdr_string *path,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct fhstatus res;

    (void) conn;
    (void) cred;
    (void) private_data;
    memset(&res, 0, sizeof(res));
    if (str_is(path, "/export/ok")) {
        for (int i = 0; i < FHSIZE; i++) {
            res.fhs_fhandle[i] = (uint8_t) (255 - i);
        }
    } else {
        res.fhs_status = 2;
    }
    test_assert(prog.send_reply_MOUNTPROC_MNT(e, NULL, &res, encoding) == 0);
}

static void
srv_umnt(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, xdr_string *path,
         struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(path->len < sizeof(server_umnt));
    memcpy(server_umnt, path->str, path->len);
    server_umnt[path->len] = '\0';
    test_assert(prog.send_reply_MOUNTPROC_UMNT(e, NULL, encoding) == 0);
}

static void
srv_umntall(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(prog.send_reply_MOUNTPROC_UMNTALL(e, NULL, encoding) == 0);
}

static void *
tirpc_client_thread(void *arg)
{
    tirpc_mount_client_run(*(int *) arg);
    atomic_store(&client_done, 1);
    return NULL;
}

/* ---- our generated client ---------------------------------------------------- */

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *private_data)
{
    (void) e;
    (void) verf;
    (void) private_data;
    test_assert_eq(status, 0);
    completed++;
}

static int mnt_expect;

static void
mnt_done(struct evpl *e, const struct evpl_rpc2_verf *verf, struct fhstatus *res, int status,
         void *private_data)
{
    (void) e;
    (void) verf;
    (void) private_data;
    test_assert_eq(status, 0);
    test_assert_eq(res->fhs_status, (uint32_t) mnt_expect);
    if (mnt_expect == 0) {
        for (int i = 0; i < FHSIZE; i++) {
            test_assert_eq(res->fhs_fhandle[i], (uint8_t) (i * 7 + 1));
        }
    }
    completed++;
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1];
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep, *tep;
    pthread_t                 tid;
    int                       port, tport, target;
    char                      seen[64];
    xdr_string ok = {10, "/export/ok"}, bad = {10, "/export/no"}, gone = {10, "/from/evpl"};

    evpl_test_init(argc, argv);
    evpl = net_loop_create();

    MOUNTVERS_init(&prog);
    test_assert_eq(prog.rpc2.program, 100005);
    prog.recv_call_MOUNTPROC_NULL    = srv_null;
    prog.recv_call_MOUNTPROC_MNT     = srv_mnt;
    prog.recv_call_MOUNTPROC_UMNT    = srv_umnt;
    prog.recv_call_MOUNTPROC_UMNTALL = srv_umntall;
    progs[0]                         = &prog.rpc2;

    thread = evpl_rpc2_thread_init(evpl, progs, 1, NULL, NULL);
    server = evpl_rpc2_server_init(progs, 1);
    port   = net_free_port(SOCK_STREAM);
    ep     = evpl_endpoint_create("127.0.0.1", port);
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);

    /* rpcgen client -> our generated server, on its own thread. */
    test_assert(pthread_create(&tid, NULL, tirpc_client_thread, &port) == 0);
    {
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        while (!atomic_load(&client_done)) {
            evpl_continue(evpl);
            clock_gettime(CLOCK_MONOTONIC, &now);
            test_assert_msg(now.tv_sec - start.tv_sec < 30, "rpcgen client timed out");
        }
    }
    pthread_join(tid, NULL);
    test_assert(strcmp(server_umnt, "/export/gone") == 0);

    /* Our generated client -> libtirpc svc_run server. */
    tport = tirpc_mount_server_start();
    tep   = evpl_endpoint_create("127.0.0.1", tport);
    conn  = evpl_rpc2_client_connect(thread, EVPL_STREAM_SOCKET_TCP, tep, NULL, 0, NULL);
    test_assert(conn != NULL);
    target = completed + 1;
    prog.send_call_MOUNTPROC_NULL(&prog.rpc2, evpl, conn, NULL, 0, 0, NULL, 0, 0, void_done, NULL);
    pump_until(&completed, target, 20);
    mnt_expect = 0;
    target     = completed + 1;
    prog.send_call_MOUNTPROC_MNT(&prog.rpc2, evpl, conn, NULL, &ok, 0, 0, NULL, 0, 0, mnt_done,
                                 NULL);
    pump_until(&completed, target, 20);
    mnt_expect = 13;
    target     = completed + 1;
    prog.send_call_MOUNTPROC_MNT(&prog.rpc2, evpl, conn, NULL, &bad, 0, 0, NULL, 0, 0, mnt_done,
                                 NULL);
    pump_until(&completed, target, 20);
    target = completed + 1;
    prog.send_call_MOUNTPROC_UMNT(&prog.rpc2, evpl, conn, NULL, &gone, 0, 0, NULL, 0, 0, void_done,
                                  NULL);
    pump_until(&completed, target, 20);
    test_assert_eq(tirpc_mount_umnt_calls(seen, sizeof(seen)), 1);
    test_assert(strcmp(seen, "/from/evpl") == 0);
    target = completed + 1;
    prog.send_call_MOUNTPROC_UMNTALL(&prog.rpc2, evpl, conn, NULL, 0, 0, NULL, 0, 0, void_done,
                                     NULL);
    pump_until(&completed, target, 20);
    evpl_rpc2_client_disconnect(thread, conn);
    for (int i = 0; i < 10; i++) {
        evpl_continue(evpl);
    }
    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_endpoint_close(tep);
    evpl_destroy(evpl);
    /* svc_run never returns; the process exits with its thread in it. */
    return 0;
}
