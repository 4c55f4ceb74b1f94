/*
 * libFuzzer harness for the server path: each input is sent as raw bytes
 * over a fresh STREAM_INPROC connection to an RPC2 server (the echo program
 * of echo_prog.h, AUTH_SHORT on) on the same loop, the loop runs a few
 * passes, then the connection is closed and the loop pumped until it is
 * down.  Exercises
 * record marking and reassembly, the record limit (lowered to 64 KiB),
 * call header and credential decoding, AUTH_SHORT, RPCSEC_GSS (with a
 * provider the fuzzer can satisfy), dispatch and argument decoding.  Built with
 * -DEVPL_BUILD_FUZZ=ON and clang: build-fuzz/tests/rpc2/rpc2_fuzz_server -max_total_time=60
 * CORPUS_DIR
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "echo_prog.h"
#include "evpl/evpl_rpc2_ext.h"
#include "evpl/evpl_rpc2_gss.h"

static struct evpl          *evpl;
static struct evpl_endpoint *ep;
static struct ECHO_V1        prog;
static int                   down;

static void
server_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            echo_iovecr *arg, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    if (send_reply_ECHO(e, NULL, arg, encoding) != 0) {
        abort();
    }
}

static void
server_whoami(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
              struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct echo_whoami res = {cred->authsys.uid, cred->authsys.gid, cred->authsys.num_gids, 0};

    (void) conn;
    (void) private_data;
    if (send_reply_WHOAMI(e, NULL, &res, encoding) != 0) {
        abort();
    }
}

static void
raw_notify(struct evpl *e, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        char buf[4096];

        while (evpl_recv(e, bind, buf, sizeof(buf), 0) > 0) {
        }
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        down = 1;
    }
}

/* A provider the fuzzer can satisfy: every context completes at once, the
 * MIC of anything is "MIC!MIC!", wrap is the identity. */
static int
f_accept(void *arg, void **ctx, const void *in, size_t in_len, void **out, size_t *out_len,
         int *complete, char *principal, size_t principal_sz)
{
    (void) arg;
    (void) in;
    (void) in_len;
    if (*ctx == NULL) {
        *ctx = malloc(1);
    }
    *out      = NULL;
    *out_len  = 0;
    *complete = 1;
    snprintf(principal, principal_sz, "fuzz");
    return 0;
}

static int
f_get_mic(void *arg, void *ctx, const void *msg, size_t len, void **mic, size_t *mic_len)
{
    (void) arg;
    (void) ctx;
    (void) msg;
    (void) len;
    *mic = malloc(8);
    memcpy(*mic, "MIC!MIC!", 8);
    *mic_len = 8;
    return 0;
}

static int
f_verify_mic(void *arg, void *ctx, const void *msg, size_t len, const void *mic, size_t mic_len)
{
    (void) arg;
    (void) ctx;
    (void) msg;
    (void) len;
    return mic_len == 8 && memcmp(mic, "MIC!MIC!", 8) == 0 ? 0 : -1;
}

static int
f_wrap(void *arg, void *ctx, const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void) arg;
    (void) ctx;
    *out = malloc(in_len + 1);
    memcpy(*out, in, in_len);
    *out_len = in_len;
    return 0;
}

static void
f_destroy(void *arg, void *ctx)
{
    (void) arg;
    free(ctx);
}

static const struct evpl_rpc2_gss_provider fuzz_provider = {f_accept, f_get_mic, f_verify_mic,
                                                            f_wrap,   f_wrap,    f_destroy};

/* Malformed input is expected to be logged; keep the fuzzer's output readable. */
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
setup(void)
{
    static struct evpl_rpc2_program *progs[1];
    struct evpl_rpc2_thread         *thread;
    struct evpl_rpc2_server         *server;

    evpl_set_log_fn(quiet_log, NULL);
    evpl_init(NULL);
    {
        struct evpl_thread_config *config = evpl_thread_config_init();

        evpl_thread_config_set_wait_ms(config, 1);
        evpl = evpl_create(config);
    }
    ECHO_V1_init(&prog);
    prog.recv_call_ECHO   = server_echo;
    prog.recv_call_WHOAMI = server_whoami;
    progs[0]              = &prog.rpc2;
    thread                = evpl_rpc2_thread_init(evpl, progs, 1, NULL, NULL);
    evpl_rpc2_thread_set_max_record(thread, 64 * 1024);
    evpl_rpc2_thread_set_auth_short(thread, 1);
    evpl_rpc2_set_gss_provider(thread, &fuzz_provider, NULL);
    server = evpl_rpc2_server_init(progs, 1);
    ep     = evpl_endpoint_create_inproc("rpc2-fuzz");
    if (evpl_rpc2_server_start(server, EVPL_STREAM_INPROC, ep) != 0) {
        abort();
    }
    evpl_rpc2_server_attach(thread, server, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evpl_bind *bind;

    if (evpl == NULL) {
        setup();
    }
    down = 0;
    bind = evpl_connect(evpl, EVPL_STREAM_INPROC, NULL, ep, raw_notify, NULL, NULL);
    if (bind == NULL) {
        abort();
    }
    if (size > 0) {
        evpl_send(evpl, bind, data, (unsigned int) size);
    }
    /* Let the server take and answer what it can, then close: an in-process
     * evpl_finish() would wait for the server to consume a partial record,
     * which it never does. */
    for (int i = 0; i < 4; i++) {
        evpl_continue(evpl);
    }
    evpl_close(evpl, bind);
    for (int i = 0; !down; i++) {
        if (i > 100000) {
            abort(); /* the connection never went down */
        }
        evpl_continue(evpl);
    }
    return 0;
}
