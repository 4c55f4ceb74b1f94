/*
 * rpcgen + libtirpc half of rpc2_gen_interop (see gen_interop.c): the
 * server procedures behind rpcgen -m's mountprog_1 dispatcher, and an
 * rpcgen -l client.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <rpc/rpc.h>

#include "test.h"
#include "mount.h"
#include "gen_interop.h"

void mountprog_1(struct svc_req *rqstp, SVCXPRT *transp);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char            last_umnt[MNTPATHLEN + 1];
static int             umnt_calls;
static char            dummy;

void *
mountproc_null_1_svc(void *arg, struct svc_req *req)
{
    (void) arg;
    (void) req;
    return &dummy;
}

fhstatus *
mountproc_mnt_1_svc(dirpath *path, struct svc_req *req)
{
    static fhstatus res;

    (void) req;
    memset(&res, 0, sizeof(res));
    if (strcmp(*path, "/export/ok") == 0) {
        res.fhs_status = 0;
        for (int i = 0; i < FHSIZE; i++) {
            res.fhstatus_u.fhs_fhandle[i] = (char) (i * 7 + 1);
        }
    } else {
        res.fhs_status = 13;
    }
    return &res;
}

mountlist *
mountproc_dump_1_svc(void *arg, struct svc_req *req)
{
    static struct mountbody b[3];
    static char             host[3][16], dir[3][16];
    static mountlist        head;

    (void) arg;
    (void) req;
    for (int i = 0; i < 3; i++) {
        snprintf(host[i], sizeof(host[i]), "host%d", i);
        snprintf(dir[i], sizeof(dir[i]), "/dir/%d", i * 11);
        b[i].ml_hostname  = host[i];
        b[i].ml_directory = dir[i];
        b[i].ml_next      = i < 2 ? &b[i + 1] : NULL;
    }
    head = &b[0];
    return &head;
}

void *
mountproc_umnt_1_svc(dirpath *path, struct svc_req *req)
{
    (void) req;
    pthread_mutex_lock(&lock);
    snprintf(last_umnt, sizeof(last_umnt), "%s", *path);
    umnt_calls++;
    pthread_mutex_unlock(&lock);
    return &dummy;
}

void *
mountproc_umntall_1_svc(void *arg, struct svc_req *req)
{
    (void) arg;
    (void) req;
    return &dummy;
}

exports *
mountproc_export_1_svc(void *arg, struct svc_req *req)
{
    static struct groupnode  g[2];
    static struct exportnode e[2];
    static exports           head;

    (void) arg;
    (void) req;
    g[0].gr_name   = "ga";
    g[0].gr_next   = &g[1];
    g[1].gr_name   = "gb";
    g[1].gr_next   = NULL;
    e[0].ex_dir    = "/e0";
    e[0].ex_groups = &g[0];
    e[0].ex_next   = &e[1];
    e[1].ex_dir    = "/e1";
    e[1].ex_groups = NULL;
    e[1].ex_next   = NULL;
    head           = &e[0];
    return &head;
}

exports *
mountproc_exportall_1_svc(void *arg, struct svc_req *req)
{
    static exports none;

    (void) arg;
    (void) req;
    none = NULL;
    return &none;
}

int
mountprog_1_freeresult(SVCXPRT *transp, xdrproc_t xdr_result, caddr_t result)
{
    (void) transp;
    (void) xdr_result;
    (void) result;
    return 1;
}

static void *
server_thread(void *arg)
{
    (void) arg;
    svc_run();
    return NULL;
}

int
tirpc_mount_server_start(void)
{
    SVCXPRT  *xprt = svctcp_create(RPC_ANYSOCK, 0, 0);
    pthread_t tid;

    test_assert(xprt != NULL);
    test_assert(svc_register(xprt, MOUNTPROG, MOUNTVERS, mountprog_1, 0));
    test_assert(pthread_create(&tid, NULL, server_thread, NULL) == 0);
    pthread_detach(tid);
    return xprt->xp_port;
}

int
tirpc_mount_umnt_calls(char *buf, int n)
{
    int calls;

    pthread_mutex_lock(&lock);
    snprintf(buf, (size_t) n, "%s", last_umnt);
    calls = umnt_calls;
    pthread_mutex_unlock(&lock);
    return calls;
}

void
tirpc_mount_client_run(int port)
{
    struct sockaddr_in sin  = {.sin_family = AF_INET};
    int                sock = RPC_ANYSOCK;
    CLIENT            *cl;
    dirpath            ok = "/export/ok", bad = "/export/no", um = "/export/gone";
    fhstatus          *fh;
    exports            none = NULL;
    struct timeval     tv   = {10, 0};

    sin.sin_port        = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cl                  = clnttcp_create(&sin, MOUNTPROG, MOUNTVERS, &sock, 0, 0);
    test_assert_msg(cl != NULL, "%s", clnt_spcreateerror("clnttcp_create"));
    test_assert(mountproc_null_1(NULL, cl) != NULL);
    fh = mountproc_mnt_1(&ok, cl);
    test_assert(fh != NULL);
    test_assert_eq(fh->fhs_status, 0);
    for (int i = 0; i < FHSIZE; i++) {
        test_assert_eq((uint8_t) fh->fhstatus_u.fhs_fhandle[i], (uint8_t) (255 - i));
    }
    fh = mountproc_mnt_1(&bad, cl);
    test_assert(fh != NULL);
    test_assert_eq(fh->fhs_status, 2);
    test_assert(mountproc_umnt_1(&um, cl) != NULL);
    test_assert(mountproc_umntall_1(NULL, cl) != NULL);
    /* Left without a handler on our side. */
    test_assert_eq(clnt_call(cl, MOUNTPROC_EXPORTALL, (xdrproc_t) xdr_void, NULL,
                             (xdrproc_t) xdr_exports, (caddr_t) &none, tv),
                   RPC_PROCUNAVAIL);
    clnt_destroy(cl);
}
