/*
 * An rpcgen-generated client (stubs from /usr/include/rpcsvc/mount.x,
 * generated at build time) calls our server, which serves MOUNT version 1
 * through a hand-written program in the generated code's shape: NULL,
 * UMNT (a string argument our dispatcher decodes), UMNTALL, MNT (a union
 * result: status 13, no handle), DUMP and EXPORT (empty linked lists), and
 * EXPORTALL left without a handler (PROC_UNAVAIL as libtirpc reports it).
 * AUTH_NONE first, then authunix_create_default().
 */
#include <rpc/rpc.h>

#include "net_test.h"
#include "echo_prog.h"
#include "mount.h"

static struct evpl_rpc2_program mnt;
static struct evpl_rpc2_server *server;
static struct evpl_rpc2_thread *rpc2;
static char                     last_path[256];
static atomic_int               umnt_calls, last_flavor;

static int
reply_words(struct evpl *evpl, struct evpl_rpc2_encoding *encoding, const uint32_t *w, int n)
{
    xdr_iovec *iov;
    int        len, niov;

    niov = echo_marshal(evpl, encoding->dbuf, encoding->program->reserve, NULL, w, n, &iov, &len);
    if (niov < 0) {
        return 3;
    }
    return evpl_rpc2_send_reply_dispatch(evpl, encoding, NULL, iov, niov, len) ? 3 : 0;
}

static int
mount_dispatch(struct evpl *evpl, struct evpl_rpc2_conn *conn, struct evpl_rpc2_encoding *encoding,
               uint32_t proc, void *program_data, struct evpl_rpc2_cred *cred, xdr_iovec *iov,
               int niov, int length, void *private_data)
{
    static const uint32_t mnt_res[] = {13}; /* fhs_status EACCES, no handle */
    static const uint32_t empty[]   = {0};  /* a NULL list */
    uint32_t              off       = 0, slen;
    uint8_t               b[4];

    (void) conn;
    (void) program_data;
    (void) private_data;
    atomic_store(&last_flavor, (int) cred->flavor);
    switch (proc) {
    case MOUNTPROC_NULL:
    case MOUNTPROC_UMNTALL:
        return length != 0 ? 2 : reply_words(evpl, encoding, NULL, 0);
    case MOUNTPROC_UMNT:
    case MOUNTPROC_MNT:
        /* dirpath: string<MNTPATHLEN> */
        if (echo_read(iov, niov, &off, b, 4)) {
            return 2;
        }
        slen = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
        if (slen >= sizeof(last_path) || 4 + ((slen + 3) & ~3u) != (uint32_t) length ||
            echo_read(iov, niov, &off, last_path, slen)) {
            return 2;
        }
        last_path[slen] = '\0';
        if (proc == MOUNTPROC_MNT) {
            return reply_words(evpl, encoding, mnt_res, 1);
        }
        atomic_fetch_add(&umnt_calls, 1);
        return reply_words(evpl, encoding, NULL, 0);
    case MOUNTPROC_DUMP:
    case MOUNTPROC_EXPORT:
        return length != 0 ? 2 : reply_words(evpl, encoding, empty, 1);
    default:
        return 1;
    }
}

static void *
server_init(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    rpc2 = evpl_rpc2_thread_init(evpl, NULL, 0, NULL, NULL);
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
exercise(CLIENT *cl, int flavor)
{
    dirpath        path = "/export/home";
    fhstatus      *fhs;
    mountlist     *ml;
    exports       *ex;
    struct rpc_err err;

    test_assert(mountproc_null_1(NULL, cl) != NULL);
    test_assert_eq(atomic_load(&last_flavor), flavor);
    test_assert(mountproc_umnt_1(&path, cl) != NULL);
    test_assert(strcmp(last_path, "/export/home") == 0);
    test_assert(mountproc_umntall_1(NULL, cl) != NULL);
    fhs = mountproc_mnt_1(&path, cl);
    test_assert(fhs != NULL);
    test_assert_eq(fhs->fhs_status, 13);
    ml = mountproc_dump_1(NULL, cl);
    test_assert(ml != NULL && *ml == NULL);
    ex = mountproc_export_1(NULL, cl);
    test_assert(ex != NULL && *ex == NULL);
    test_assert(mountproc_exportall_1(NULL, cl) == NULL);
    clnt_geterr(cl, &err);
    test_assert_eq(err.re_status, RPC_PROCUNAVAIL);
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1] = {&mnt};
    struct evpl_endpoint     *ep;
    struct evpl_thread       *thread;
    struct sockaddr_in        sin = {.sin_family = AF_INET};
    int                       port, sock = RPC_ANYSOCK;
    CLIENT                   *cl;
    static const char *procs[] = {"NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT", "EXPORTALL"};

    evpl_test_init(argc, argv);
    mnt.program            = MOUNTPROG;
    mnt.version            = MOUNTVERS;
    mnt.maxproc            = MOUNTPROC_EXPORTALL;
    mnt.reserve            = 256;
    mnt.procs              = procs;
    mnt.recv_call_dispatch = mount_dispatch;
    server                 = evpl_rpc2_server_init(progs, 1);
    port                   = net_free_port(SOCK_STREAM);
    ep                     = evpl_endpoint_create("127.0.0.1", port);
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    thread = evpl_thread_create(NULL, server_init, server_shutdown, NULL);

    sin.sin_port        = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cl                  = clnttcp_create(&sin, MOUNTPROG, MOUNTVERS, &sock, 0, 0);
    test_assert_msg(cl != NULL, "%s", clnt_spcreateerror("clnttcp_create"));
    exercise(cl, EVPL_RPC2_AUTH_NONE);
    auth_destroy(cl->cl_auth);
    cl->cl_auth = authunix_create_default();
    exercise(cl, EVPL_RPC2_AUTH_SYS);
    test_assert_eq(atomic_load(&umnt_calls), 2);
    auth_destroy(cl->cl_auth);
    clnt_destroy(cl);

    evpl_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    return 0;
}
