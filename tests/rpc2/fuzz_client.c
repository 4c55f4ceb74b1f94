/*
 * libFuzzer harness for the client reply path: for each input our RPC2
 * client connects over STREAM_INPROC to a raw server, issues four calls
 * with xids 1..4 (NULL, NULL, ECHO, WHOAMI; conn->next_xid is set so that
 * inputs can name them), the raw server sends the input bytes as they are,
 * and the client disconnects.  Every call must complete exactly once
 * (abort otherwise).  Built with -DEVPL_BUILD_FUZZ=ON and clang.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "echo_prog.h"

static struct evpl             *evpl;
static struct evpl_endpoint    *ep;
static struct ECHO_V1           prog;
static struct evpl_rpc2_thread *rpc2;
static struct evpl_bind        *server_bind;
static int                      times[4], client_down;

static void
quiet_log(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
          va_list argp)
{
    (void) level;
    (void) module;
    (void) srcfile;
    (void) lineno;
    (void) fmt;
    (void) argp;
}

static void
raw_notify(struct evpl *e, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        char buf[4096];

        while (evpl_recv(e, bind, buf, sizeof(buf), 0) > 0) {
        }
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED && bind == server_bind) {
        server_bind = NULL;
    }
}

static void
raw_attach(struct evpl *e, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
           evpl_segment_callback_t *segment_callback, void **conn_private_data, void *private_data)
{
    (void) e;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    *notify_callback = raw_notify;
    server_bind      = bind;
}

static void
notify(struct evpl_rpc2_thread *t, struct evpl_rpc2_conn *c, struct evpl_rpc2_notify *n, void *p)
{
    (void) t;
    (void) c;
    (void) p;
    if (n->notify_type == EVPL_RPC2_NOTIFY_DISCONNECTED) {
        client_down = 1;
    }
}

static void
done(int i)
{
    if (times[i]++ != 0) {
        abort(); /* completed twice */
    }
}

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *p)
{
    (void) e;
    (void) status;
    if (verf == NULL) {
        abort();
    }
    done((int) (intptr_t) p);
}

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *verf, echo_iovecr *res, int status, void *p)
{
    if (verf == NULL) {
        abort();
    }
    if (status == 0) {
        evpl_iovecs_release(e, res->iov, res->niov);
    }
    done((int) (intptr_t) p);
}

static void
whoami_done(struct evpl *e, const struct evpl_rpc2_verf *verf, struct echo_whoami *res, int status,
            void *p)
{
    (void) e;
    (void) res;
    (void) status;
    if (verf == NULL) {
        abort();
    }
    done((int) (intptr_t) p);
}

static void
setup(void)
{
    static struct evpl_rpc2_program *progs[1];
    struct evpl_thread_config       *config;
    struct evpl_listener            *listener;

    evpl_set_log_fn(quiet_log, NULL);
    evpl_init(NULL);
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 1);
    evpl = evpl_create(config);
    ECHO_V1_init(&prog);
    progs[0] = &prog.rpc2;
    rpc2     = evpl_rpc2_thread_init(evpl, progs, 1, notify, NULL);
    ep       = evpl_endpoint_create_inproc("rpc2-fuzz-client");
    listener = evpl_listener_create();
    if (evpl_listen(listener, EVPL_STREAM_INPROC, ep) != 0) {
        abort();
    }
    evpl_listener_attach(evpl, listener, raw_attach, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evpl_rpc2_conn *conn;
    struct evpl_iovec      iov[1];
    echo_iovecr            arg = {.iov = iov, .niov = 1, .length = 8};

    if (evpl == NULL) {
        setup();
    }
    memset(times, 0, sizeof(times));
    client_down = 0;
    conn        = evpl_rpc2_client_connect(rpc2, EVPL_STREAM_INPROC, ep, NULL, 0, NULL);
    if (conn == NULL) {
        abort();
    }
    conn->next_xid = 1;
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, (void *) 0);
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) void_done, (void *) 1);
    if (evpl_iovec_alloc(evpl, 8, 0, 1, 0, iov) != 1) {
        abort();
    }
    memset(iov[0].data, 7, 8);
    send_call_ECHO(&prog.rpc2, evpl, conn, NULL, &arg, echo_done, (void *) 2);
    send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_WHOAMI, (void *) whoami_done, (void *) 3);
    for (int i = 0; server_bind == NULL; i++) {
        if (i > 100000) {
            abort();
        }
        evpl_continue(evpl);
    }
    if (size > 0) {
        evpl_send(evpl, server_bind, data, (unsigned int) size);
    }
    for (int i = 0; i < 4; i++) {
        evpl_continue(evpl);
    }
    if (!client_down) { /* the client may have closed on bad input already */
        evpl_rpc2_client_disconnect(rpc2, conn);
    }
    for (int i = 0; !client_down || server_bind != NULL; i++) {
        if (i > 100000) {
            abort();
        }
        evpl_continue(evpl);
    }
    for (int i = 0; i < 4; i++) {
        if (times[i] != 1) {
            abort(); /* a call never completed */
        }
    }
    return 0;
}
