/*
 * libFuzzer harness, server direction: the input's bytes (after the first,
 * which seeds the split points) are sent to our HTTP server over a real
 * STREAM_INPROC connection in pieces, the loop runs, and the connection is
 * closed.  The server (tests/http/http_test.h's handler) must never crash,
 * leak or misbehave under ASan/UBSan, whatever arrives.
 */
#include <stdarg.h>
#include <stdint.h>

#include "http_test.h"

static struct evpl            *evpl;
static struct evpl_http_agent *agent;
static struct evpl_endpoint   *ep;
static struct evpl_listener   *listener;
static int                     down;

static void
raw_notify(struct evpl *ev, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[4096];

    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        while (evpl_recv(ev, bind, buf, sizeof(buf), 0) > 0) {
        }
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        down = 1;
    }
}

/* Refusals are expected by the thousand: keep the fuzzer's output readable. */
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
    struct evpl_thread_config *config;

    evpl_set_log_fn(quiet_log, NULL);
    struct evpl_global_config *gconfig = evpl_global_config_init();

    evpl_global_config_set_http_max_header_size(gconfig, 2048);
    evpl_init(gconfig);
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 0); /* never sleep: the harness drives the loop */
    evpl     = evpl_create(config);
    agent    = evpl_http_init(evpl);
    ep       = evpl_endpoint_create_inproc("http-fuzz-server");
    listener = evpl_listener_create();
    evpl_http_attach(agent, listener, http_test_dispatch, NULL);
    if (evpl_listen(listener, EVPL_STREAM_INPROC, ep) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evpl_bind *bind;
    unsigned int      seed;
    size_t            off = 1;

    if (!evpl) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    seed = data[0];
    down = 0;
    bind = evpl_connect(evpl, EVPL_STREAM_INPROC, NULL, ep, raw_notify, NULL, NULL);
    while (off < size) {
        size_t piece = 1 + (size_t) rand_r(&seed) % 64;

        if (piece > size - off) {
            piece = size - off;
        }
        evpl_send(evpl, bind, data + off, (unsigned int) piece);
        off += piece;
        evpl_continue(evpl);
    }
    for (int i = 0; i < 8; i++) {
        evpl_continue(evpl);
        http_test_release_slow(evpl);
    }
    evpl_close(evpl, bind);
    for (int i = 0; i < 1000 && !down; i++) {
        evpl_continue(evpl);
    }
    for (int i = 0; i < 4; i++) {
        evpl_continue(evpl);
    }
    return 0;
}
