/*
 * rpc2-bench: calls per second of our RPC2 client against our RPC2 server
 * and against a libtirpc svc_run server (both in this process, on their own
 * threads, over loopback TCP), for the NULL procedure and an opaque echo,
 * at a given depth (calls outstanding on one connection).  A first cut of
 * the issue's RPC benchmark, until evpl-bench gains an rpc workload; the
 * program is the hand-written stand-in for generated code
 * (tests/rpc2/echo_prog.h).
 *
 *   rpc2-bench [-s ours|tirpc] [-p PAYLOAD] [-d DEPTH] [-t SECONDS]
 *
 * PAYLOAD 0 calls NULL, otherwise ECHO with that many bytes.  Prints one
 * line: server, payload, depth, calls, seconds, calls/s.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "echo_prog.h"

static struct ECHO_V1           prog;
static struct evpl_rpc2_server *server;
static struct evpl_rpc2_thread *server_rpc2;
static struct evpl             *evpl;
static struct evpl_rpc2_conn   *conn;
static uint32_t                 payload;
static long                     completed, issued;
static int                      depth, failed;

static void
server_echo(struct evpl *e, struct evpl_rpc2_conn *c, struct evpl_rpc2_cred *cred, echo_iovecr *arg,
            struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) c;
    (void) cred;
    (void) private_data;
    if (send_reply_ECHO(e, NULL, arg, encoding) != 0) {
        abort();
    }
}

static void *
server_init(struct evpl *e, void *private_data)
{
    (void) private_data;
    server_rpc2 = evpl_rpc2_thread_init(e, NULL, 0, NULL, NULL);
    evpl_rpc2_server_attach(server_rpc2, server, NULL);
    return NULL;
}

static void
server_shutdown(struct evpl *e, void *private_data)
{
    (void) e;
    (void) private_data;
    evpl_rpc2_server_detach(server_rpc2, server);
    evpl_rpc2_thread_destroy(server_rpc2);
}

struct blob {
    u_int len;
    char *data;
};

static bool_t
xdr_blob(XDR *xdrs, struct blob *b)
{
    return xdr_bytes(xdrs, &b->data, &b->len, 1u << 24);
}

static void
tirpc_dispatch(struct svc_req *req, SVCXPRT *xprt)
{
    if (req->rq_proc == 0) {
        svc_sendreply(xprt, (xdrproc_t) xdr_void, NULL);
    } else if (req->rq_proc == ECHO_ECHO) {
        struct blob b = {0, NULL};

        if (!svc_getargs(xprt, (xdrproc_t) xdr_blob, (char *) &b)) {
            svcerr_decode(xprt);
            return;
        }
        svc_sendreply(xprt, (xdrproc_t) xdr_blob, (char *) &b);
        svc_freeargs(xprt, (xdrproc_t) xdr_blob, (char *) &b);
    } else {
        svcerr_noproc(xprt);
    }
}

static void *
tirpc_thread(void *arg)
{
    (void) arg;
    svc_run();
    return NULL;
}

static void issue(void);

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status,
          void *private_data)
{
    (void) verf;
    (void) private_data;
    if (status != 0 || res->length != payload) {
        failed = 1;
    } else {
        evpl_iovecs_release(e, res->iov, res->niov);
    }
    completed++;
}

static void
null_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *private_data)
{
    (void) e;
    (void) verf;
    (void) private_data;
    failed |= status != 0;
    completed++;
}

static void
issue(void)
{
    issued++;
    if (payload == 0) {
        send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) null_done, NULL);
        return;
    }

    struct evpl_iovec iov[8];
    echo_iovecr       arg = {.iov = iov, .length = payload};

    arg.niov = evpl_iovec_alloc(evpl, payload, 0, 8, 0, iov);
    memset(iov[0].data, 0x42, iov[0].length);
    send_call_ECHO(&prog.rpc2, evpl, conn, NULL, &arg, echo_done, NULL);
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    const char               *which    = "ours";
    double                    seconds  = 3, start, end;
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *rpc2;
    struct evpl_endpoint     *ep;
    struct evpl_thread       *thread = NULL;
    int                       port, opt;

    depth = 1;
    while ((opt = getopt(argc, argv, "s:p:d:t:")) != -1) {
        switch (opt) {
        case 's':
            which = optarg;
            break;
        case 'p':
            payload = (uint32_t) strtoul(optarg, NULL, 0);
            break;
        case 'd':
            depth = atoi(optarg);
            break;
        case 't':
            seconds = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-s ours|tirpc] [-p PAYLOAD] [-d DEPTH] [-t SECONDS]\n",
                    argv[0]);
            return 2;
        }
    }
    ECHO_V1_init(&prog);
    prog.recv_call_ECHO = server_echo;
    evpl_init(NULL);

    if (strcmp(which, "tirpc") == 0) {
        struct sockaddr_in sin;
        socklen_t          len  = sizeof(sin);
        SVCXPRT           *xprt = svctcp_create(RPC_ANYSOCK, 0, 0);
        pthread_t          tid;

        if (xprt == NULL || !svc_register(xprt, ECHO_PROG, 1, tirpc_dispatch, 0) ||
            getsockname(xprt->xp_sock, (struct sockaddr *) &sin, &len) != 0) {
            fprintf(stderr, "libtirpc server setup failed\n");
            return 1;
        }
        port = ntohs(sin.sin_port);
        pthread_create(&tid, NULL, tirpc_thread, NULL);
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t          len = sizeof(sin);
        int                fd  = socket(AF_INET, SOCK_STREAM, 0);

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd, (struct sockaddr *) &sin, sizeof(sin));
        getsockname(fd, (struct sockaddr *) &sin, &len);
        port = ntohs(sin.sin_port);
        close(fd);
        server = evpl_rpc2_server_init(progs, 1);
        ep     = evpl_endpoint_create("127.0.0.1", port);
        if (evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep) != 0) {
            return 1;
        }
        thread = evpl_thread_create(NULL, server_init, server_shutdown, NULL);
        evpl_endpoint_close(ep);
    }

    evpl = evpl_create(NULL);
    rpc2 = evpl_rpc2_thread_init(evpl, progs, 1, NULL, NULL);
    ep   = evpl_endpoint_create("127.0.0.1", port);
    conn = evpl_rpc2_client_connect(rpc2, EVPL_STREAM_SOCKET_TCP, ep, NULL, 0, NULL);
    if (conn == NULL) {
        return 1;
    }
    start = now();
    end   = start + seconds;
    while (!failed) {
        while (issued - completed < depth) {
            issue();
        }
        evpl_continue(evpl);
        if ((completed & 255) == 0 && now() >= end) {
            break;
        }
    }
    end = now();
    while (completed < issued && !failed) {
        evpl_continue(evpl);
    }
    printf("server=%s payload=%u depth=%d calls=%ld seconds=%.2f calls_per_s=%.0f%s\n", which,
           payload, depth, completed, end - start, completed / (end - start),
           failed ? " FAILED" : "");
    evpl_rpc2_client_disconnect(rpc2, conn);
    evpl_rpc2_thread_destroy(rpc2);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    if (thread) {
        evpl_thread_destroy(thread);
        evpl_rpc2_server_destroy(server);
    }
    fflush(stdout);
    _exit(failed); /* a libtirpc svc_run thread never returns */
}
