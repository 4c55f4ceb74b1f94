/*
 * Interoperability with libtirpc, both ways, over TCP:
 *   - a libtirpc client (clnttcp_create) calls our server: NULL with
 *     AUTH_NONE, a 1 MiB opaque echo (libtirpc splits the call record into
 *     many fragments) checked byte for byte, WHOAMI with
 *     authunix_create_default() (our server must see the caller's uid/gid),
 *     repeated (libtirpc then presents the AUTH_SHORT handle our server
 *     hands out), and the PROG_MISMATCH / PROC_UNAVAIL errors as libtirpc
 *     decodes them;
 *   - `rpcinfo -n PORT -t 127.0.0.1 PROG 1` answers (when rpcinfo exists);
 *   - our client calls a libtirpc svc_run server: NULL, echo of 0 B .. 1 MiB,
 *     and AUTH_SYS with 16 gids decoded by libtirpc.
 * Skips (77) if libtirpc was not found at build time (not compiled then).
 */
#include <pthread.h>
#include <rpc/rpc.h>
#include <sys/wait.h>

#include "net_test.h"
#include "echo_prog.h"
#include "evpl/evpl_rpc2_ext.h"

#define BIG (1u << 20)

static uint8_t
pattern(uint32_t i)
{
    return (uint8_t) (i * 29u + (i >> 9));
}

/* ---- our server ------------------------------------------------------------ */

static struct ECHO_V1           sprog;
static struct evpl_rpc2_server *server;
static struct evpl_rpc2_thread *server_rpc2;

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
    struct echo_whoami res = {0xffffffffu, 0xffffffffu, 0, 0};

    (void) conn;
    (void) private_data;
    if (cred->flavor == EVPL_RPC2_AUTH_SYS) {
        res.uid      = cred->authsys.uid;
        res.gid      = cred->authsys.gid;
        res.num_gids = cred->authsys.num_gids;
    }
    test_assert(send_reply_WHOAMI(e, NULL, &res, encoding) == 0);
}

static void *
server_init(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    server_rpc2 = evpl_rpc2_thread_init(evpl, NULL, 0, NULL, NULL);
    /* libtirpc's AUTH_UNIX client adopts AUTH_SHORT verifiers. */
    evpl_rpc2_thread_set_auth_short(server_rpc2, 1);
    evpl_rpc2_server_attach(server_rpc2, server, NULL);
    return NULL;
}

static void
server_shutdown(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    (void) private_data;
    evpl_rpc2_server_detach(server_rpc2, server);
    evpl_rpc2_thread_destroy(server_rpc2);
}

struct whoami_wire {
    u_int uid, gid, ngids, sum;
};

static bool_t
xdr_whoami(XDR *xdrs, struct whoami_wire *w)
{
    return xdr_u_int(xdrs, &w->uid) && xdr_u_int(xdrs, &w->gid) && xdr_u_int(xdrs, &w->ngids) &&
           xdr_u_int(xdrs, &w->sum);
}

struct blob {
    u_int len;
    char *data;
};

static bool_t
xdr_blob(XDR *xdrs, struct blob *b)
{
    return xdr_bytes(xdrs, &b->data, &b->len, 64u << 20);
}

static void
tirpc_client_against_us(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    struct timeval     tv  = {20, 0};
    struct blob        in, out = {0, NULL};
    struct whoami_wire who;
    struct rpc_err     err;
    int                sock = RPC_ANYSOCK;
    CLIENT            *cl;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cl                  = clnttcp_create(&sin, ECHO_PROG, 1, &sock, 0, 0);
    test_assert_msg(cl != NULL, "clnttcp_create: %s", clnt_spcreateerror("tirpc"));

    test_assert_eq(clnt_call(cl, 0, (xdrproc_t) xdr_void, NULL, (xdrproc_t) xdr_void, NULL, tv),
                   RPC_SUCCESS);

    in.len  = BIG;
    in.data = malloc(BIG);
    for (uint32_t i = 0; i < BIG; i++) {
        in.data[i] = (char) pattern(i);
    }
    test_assert_eq(clnt_call(cl, ECHO_ECHO, (xdrproc_t) xdr_blob, (char *) &in,
                             (xdrproc_t) xdr_blob, (char *) &out, tv),
                   RPC_SUCCESS);
    test_assert_eq(out.len, BIG);
    test_assert(memcmp(in.data, out.data, BIG) == 0);
    clnt_freeres(cl, (xdrproc_t) xdr_blob, (char *) &out);

    test_assert_eq(clnt_call(cl, ECHO_WHOAMI, (xdrproc_t) xdr_void, NULL, (xdrproc_t) xdr_whoami,
                             (char *) &who, tv),
                   RPC_SUCCESS);
    test_assert_eq(who.uid, 0xffffffffu); /* AUTH_NONE */

    auth_destroy(cl->cl_auth);
    cl->cl_auth = authunix_create_default();
    test_assert(cl->cl_auth != NULL);
    test_assert_eq(clnt_call(cl, ECHO_WHOAMI, (xdrproc_t) xdr_void, NULL, (xdrproc_t) xdr_whoami,
                             (char *) &who, tv),
                   RPC_SUCCESS);
    test_assert_eq(who.uid, getuid());
    test_assert_eq(who.gid, getgid());
    /* Again (now with the short handle the first reply handed out). */
    for (int i = 0; i < 3; i++) {
        memset(&who, 0, sizeof(who));
        test_assert_eq(clnt_call(cl, ECHO_WHOAMI, (xdrproc_t) xdr_void, NULL,
                                 (xdrproc_t) xdr_whoami, (char *) &who, tv),
                       RPC_SUCCESS);
        test_assert_eq(who.uid, getuid());
        test_assert_eq(who.gid, getgid());
    }

    test_assert_eq(clnt_call(cl, 9, (xdrproc_t) xdr_void, NULL, (xdrproc_t) xdr_void, NULL, tv),
                   RPC_PROCUNAVAIL);
    auth_destroy(cl->cl_auth);
    clnt_destroy(cl);

    sock = RPC_ANYSOCK;
    cl   = clnttcp_create(&sin, ECHO_PROG, 7, &sock, 0, 0);
    test_assert(cl != NULL);
    test_assert_eq(clnt_call(cl, 0, (xdrproc_t) xdr_void, NULL, (xdrproc_t) xdr_void, NULL, tv),
                   RPC_PROGVERSMISMATCH);
    clnt_geterr(cl, &err);
    test_assert_eq(err.re_vers.low, 1);
    test_assert_eq(err.re_vers.high, 1);
    clnt_destroy(cl);
    free(in.data);
}

static void
rpcinfo_against_us(int port)
{
    char cmd[256];
    int  rc;

    struct sockaddr_in pm = {.sin_family = AF_INET, .sin_port = htons(111)};
    int                fd = socket(AF_INET, SOCK_STREAM, 0);

    if (access("/usr/sbin/rpcinfo", X_OK) != 0) {
        fprintf(stderr, "rpcinfo not installed: that check skipped\n");
        return;
    }
    /* libtirpc's rpcinfo asks rpcbind first even with -n. */
    pm.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc                 = connect(fd, (struct sockaddr *) &pm, sizeof(pm));
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "no rpcbind on 127.0.0.1:111: rpcinfo check skipped\n");
        return;
    }
    /* ... and wants the program registered there (a server of ours would
     * register through a portmapper program of its own). */
    test_assert(pmap_set(ECHO_PROG, 1, IPPROTO_TCP, (unsigned short) port));
    snprintf(cmd, sizeof(cmd), "/usr/sbin/rpcinfo -n %d -t 127.0.0.1 %u 1", port, ECHO_PROG);
    rc = system(cmd);
    pmap_unset(ECHO_PROG, 1);
    test_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (%d)", cmd, rc);
}

/* ---- a libtirpc server ----------------------------------------------------- */

static void
tirpc_dispatch(struct svc_req *req, SVCXPRT *xprt)
{
    switch (req->rq_proc) {
    case 0:
        svc_sendreply(xprt, (xdrproc_t) xdr_void, NULL);
        break;
    case ECHO_ECHO: {
        struct blob b = {0, NULL};

        if (!svc_getargs(xprt, (xdrproc_t) xdr_blob, (char *) &b)) {
            svcerr_decode(xprt);
            break;
        }
        svc_sendreply(xprt, (xdrproc_t) xdr_blob, (char *) &b);
        svc_freeargs(xprt, (xdrproc_t) xdr_blob, (char *) &b);
        break;
    }
    case ECHO_WHOAMI: {
        struct whoami_wire w = {0xffffffffu, 0xffffffffu, 0, 0};

        if (req->rq_cred.oa_flavor == AUTH_SYS) {
            struct authunix_parms *p = (struct authunix_parms *) req->rq_clntcred;

            w.uid   = p->aup_uid;
            w.gid   = p->aup_gid;
            w.ngids = p->aup_len;
            for (u_int i = 0; i < p->aup_len; i++) {
                w.sum += p->aup_gids[i];
            }
        }
        svc_sendreply(xprt, (xdrproc_t) xdr_whoami, (char *) &w);
        break;
    }
    default:
        svcerr_noproc(xprt);
    }
}

static void *
tirpc_server_thread(void *arg)
{
    (void) arg;
    svc_run();
    return NULL;
}

static struct evpl       *cevpl;
static int                done;
static struct echo_whoami cwho;

static void
pump(int target)
{
    struct timespec s, n;

    clock_gettime(CLOCK_MONOTONIC, &s);
    while (done < target) {
        evpl_continue(cevpl);
        clock_gettime(CLOCK_MONOTONIC, &n);
        test_assert_msg(n.tv_sec - s.tv_sec < 30, "timed out");
    }
}

static void
null_done(struct evpl *e, const struct evpl_rpc2_verf *v, int status, void *p)
{
    (void) e;
    (void) v;
    (void) p;
    test_assert_eq(status, 0);
    done++;
}

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *v, echo_iovecr *res, int status, void *p)
{
    uint32_t size = (uint32_t) (uintptr_t) p, off = 0;

    (void) v;
    test_assert_eq(status, 0);
    test_assert_eq(res->length, size);
    for (int i = 0; i < res->niov; i++) {
        for (uint32_t j = 0; j < res->iov[i].length && off < size; j++, off++) {
            test_assert_eq(((uint8_t *) res->iov[i].data)[j], pattern(off));
        }
        evpl_iovec_release(e, &res->iov[i]);
    }
    test_assert_eq(off, size);
    done++;
}

static void
whoami_done(struct evpl *e, const struct evpl_rpc2_verf *v, struct echo_whoami *res, int status,
            void *p)
{
    (void) e;
    (void) v;
    (void) p;
    test_assert_eq(status, 0);
    cwho = *res;
    done++;
}

static void
us_against_tirpc_server(void)
{
    struct ECHO_V1            cprog;
    struct evpl_rpc2_program *progs[1] = {&cprog.rpc2};
    struct evpl_rpc2_thread  *rpc2;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    struct sockaddr_in        sin;
    socklen_t                 len = sizeof(sin);
    SVCXPRT                  *xprt;
    pthread_t                 tid;
    static const uint32_t     sizes[] = {0, 1, 5, 4096, 100000, BIG};

    xprt = svctcp_create(RPC_ANYSOCK, 0, 0);
    test_assert(xprt != NULL);
    test_assert(svc_register(xprt, ECHO_PROG, 1, tirpc_dispatch, 0));
    test_assert(getsockname(xprt->xp_sock, (struct sockaddr *) &sin, &len) == 0);
    test_assert(pthread_create(&tid, NULL, tirpc_server_thread, NULL) == 0);

    ECHO_V1_init(&cprog);
    cevpl = net_loop_create();
    rpc2  = evpl_rpc2_thread_init(cevpl, progs, 1, NULL, NULL);
    ep    = evpl_endpoint_create("127.0.0.1", ntohs(sin.sin_port));
    conn  = evpl_rpc2_client_connect(rpc2, EVPL_STREAM_SOCKET_TCP, ep, NULL, 0, NULL);
    test_assert(conn != NULL);

    send_call_void(&cprog.rpc2, cevpl, conn, NULL, ECHO_NULL, (void *) null_done, NULL);
    pump(1);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct evpl_iovec iov[16];
        echo_iovecr       arg = {.iov = iov, .niov = 0, .length = sizes[i]};
        uint32_t          off = 0;

        if (sizes[i]) {
            arg.niov = evpl_iovec_alloc(cevpl, sizes[i], 0, 16, 0, iov);
            for (int k = 0; k < arg.niov; k++) {
                for (uint32_t j = 0; j < iov[k].length; j++) {
                    ((uint8_t *) iov[k].data)[j] = pattern(off++);
                }
            }
        }
        send_call_ECHO(&cprog.rpc2, cevpl, conn, NULL, &arg, echo_done,
                       (void *) (uintptr_t) sizes[i]);
        pump(2 + (int) i);
    }
    {
        uint32_t              gids[16], sum = 0;
        struct evpl_rpc2_cred cred = {.flavor = EVPL_RPC2_AUTH_SYS};

        for (int i = 0; i < 16; i++) {
            gids[i] = 100u + (uint32_t) i;
            sum += gids[i];
        }
        cred.authsys.uid             = 4321;
        cred.authsys.gid             = 8765;
        cred.authsys.num_gids        = 16;
        cred.authsys.gids            = gids;
        cred.authsys.machinename     = "interop";
        cred.authsys.machinename_len = 7;
        int target                   = done + 1;

        send_call_void(&cprog.rpc2, cevpl, conn, &cred, ECHO_WHOAMI, (void *) whoami_done, NULL);
        pump(target);
        test_assert_eq(cwho.uid, 4321);
        test_assert_eq(cwho.gid, 8765);
        test_assert_eq(cwho.num_gids, 16);
        test_assert_eq(cwho.num_gids ? sum : 0, sum);
    }
    evpl_rpc2_thread_destroy(rpc2);
    evpl_endpoint_close(ep);
    evpl_destroy(cevpl);
    /* svc_run never returns; the process exits with the thread in it. */
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1];
    struct evpl_endpoint     *ep;
    struct evpl_thread       *thread;
    int                       port;

    evpl_test_init(argc, argv);
    ECHO_V1_init(&sprog);
    sprog.recv_call_ECHO   = server_echo;
    sprog.recv_call_WHOAMI = server_whoami;
    progs[0]               = &sprog.rpc2;
    server                 = evpl_rpc2_server_init(progs, 1);
    port                   = net_free_port(SOCK_STREAM);
    ep                     = evpl_endpoint_create("127.0.0.1", port);
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    thread = evpl_thread_create(NULL, server_init, server_shutdown, NULL);

    tirpc_client_against_us(port);
    rpcinfo_against_us(port);

    evpl_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);

    us_against_tirpc_server();
    return 0;
}
