/*
 * End to end through generated code: tests/rpc2/e2e.x compiled with
 * `xdrzcc -r` at build time, served and called only through the generated
 * E2E_V1 stubs over one protocol (argv[2]: a stream, or an RDMA message
 * protocol for RPC-over-RDMA framing):
 *   - the implicit NULL procedure (no .x declaration) answered by the
 *     generated dispatcher;
 *   - void argument / void result, void argument / scalar result;
 *   - a struct with a string, fixed and variable opaques, bounded and
 *     unbounded arrays (of scalars and structs), a fixed array, an optional
 *     struct, a discriminated union (every arm), a bool and a hyper, checked
 *     field by field on the server (arguments) and the client (results);
 *   - zcopaque echo of 0 B .. 1 MiB + 5, byte for byte on both sides (over
 *     RDMA framing what fits inline, 32 KiB: libevpl_rpc2 has no read or
 *     write chunks yet, docs/rpc2.md);
 *   - many calls outstanding on one connection (records and payloads mixed);
 *   - a declared procedure left without a handler: PROC_UNAVAIL (3) with a
 *     zero by-value result;
 *   - zcopaque ownership: the server hands the decoded references on into
 *     its reply (ECHO) or releases them (SINK), the client releases the
 *     reply's; evpl_destroy() must report no buffer still referenced.
 */
#include <stdarg.h>
#include <pthread.h>

#include "net_test.h"
#include "e2e_xdr.h"
#include "evpl/evpl_rpc2_ext.h"

static struct evpl    *evpl;
static struct E2E_V1   prog;
static int             completed, failures, server_calls, leak_reports;
static int             rdma;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
log_sink(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
         va_list argp)
{
    char line[512];

    vsnprintf(line, sizeof(line), fmt, argp);
    pthread_mutex_lock(&log_lock);
    if (strstr(line, "still holds references")) {
        leak_reports++;
    }
    pthread_mutex_unlock(&log_lock);
    fprintf(stderr, "[%s %s %s:%d] %s\n", level, module, srcfile, lineno, line);
}

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

/* ---- records: every value a function of the id ---------------------------- */

struct record_store {
    char             name[64];
    uint8_t          blob[200];
    uint32_t         vals[32];
    struct e2e_point pts[40];
    struct e2e_point where;
    char             text[64];
};

static void
make_record(uint32_t id, struct e2e_record *r, struct record_store *s)
{
    memset(r, 0, sizeof(*r));
    r->id       = id;
    r->name.len = id % 65;
    for (uint32_t i = 0; i < r->name.len; i++) {
        s->name[i] = (char) ('a' + (id + i) % 26);
    }
    r->name.str = s->name;
    for (int i = 0; i < 6; i++) {
        r->tag[i] = (uint8_t) (id * 3 + (uint32_t) i);
    }
    r->blob.len = (id * 7) % 201;
    for (uint32_t i = 0; i < r->blob.len; i++) {
        s->blob[i] = pattern(id, i);
    }
    r->blob.data = r->blob.len ? s->blob : NULL;
    r->num_vals  = id % 33;
    for (uint32_t i = 0; i < r->num_vals; i++) {
        s->vals[i] = id * 1000003u + i;
    }
    r->vals    = s->vals;
    r->num_pts = (id * 5) % 41;
    for (uint32_t i = 0; i < r->num_pts; i++) {
        s->pts[i].x = (int32_t) (id + i) * -3;
        s->pts[i].y = (int32_t) (id ^ i);
    }
    r->pts      = s->pts;
    r->fixed[0] = (int32_t) id;
    r->fixed[1] = -(int32_t) id;
    r->fixed[2] = INT32_MIN + (int32_t) id;
    if (id % 2) {
        s->where.x = (int32_t) id * 11;
        s->where.y = (int32_t) id * -13;
        r->where   = &s->where;
    }
    switch (id % 3) {
    case 0:
        r->value.kind     = E2E_TEXT;
        r->value.text.len = (id / 3) % 65;
        for (uint32_t i = 0; i < r->value.text.len; i++) {
            s->text[i] = (char) ('A' + (id * 7 + i) % 26);
        }
        r->value.text.str = s->text;
        break;
    case 1:
        r->value.kind   = E2E_NUMBER;
        r->value.number = -(int64_t) id * 0x100000001ll;
        break;
    default:
        r->value.kind = E2E_NOTHING;
        break;
    }
    r->flag = id % 5 == 0;
    r->big  = 0xfedcba9876543210ull ^ id;
}

static void
check_record(const struct e2e_record *got, uint32_t id)
{
    struct e2e_record   want;
    struct record_store s;

    make_record(id, &want, &s);
    test_assert_eq(got->id, want.id);
    test_assert_eq(got->name.len, want.name.len);
    test_assert(want.name.len == 0 || memcmp(got->name.str, want.name.str, want.name.len) == 0);
    test_assert(memcmp(got->tag, want.tag, 6) == 0);
    test_assert_eq(got->blob.len, want.blob.len);
    test_assert(want.blob.len == 0 || memcmp(got->blob.data, want.blob.data, want.blob.len) == 0);
    test_assert_eq(got->num_vals, want.num_vals);
    for (uint32_t i = 0; i < want.num_vals; i++) {
        test_assert_eq(got->vals[i], want.vals[i]);
    }
    test_assert_eq(got->num_pts, want.num_pts);
    for (uint32_t i = 0; i < want.num_pts; i++) {
        test_assert_eq(got->pts[i].x, want.pts[i].x);
        test_assert_eq(got->pts[i].y, want.pts[i].y);
    }
    for (int i = 0; i < 3; i++) {
        test_assert_eq(got->fixed[i], want.fixed[i]);
    }
    test_assert_eq(got->where != NULL, want.where != NULL);
    if (want.where) {
        test_assert_eq(got->where->x, want.where->x);
        test_assert_eq(got->where->y, want.where->y);
    }
    test_assert_eq(got->value.kind, want.value.kind);
    if (want.value.kind == E2E_TEXT) {
        test_assert_eq(got->value.text.len, want.value.text.len);
        test_assert(want.value.text.len == 0 ||
                    memcmp(got->value.text.str, want.value.text.str, want.value.text.len) == 0);
    } else if (want.value.kind == E2E_NUMBER) {
        test_assert_eq(got->value.number, want.value.number);
    }
    test_assert_eq(got->flag, want.flag);
    test_assert(got->big == want.big);
}

/* ---- payloads ------------------------------------------------------------ */

/* Checks x against pattern(seed), then releases its references if owned. */
static void
check_payload(const xdr_iovecr *x, uint32_t seed, uint32_t size, int release)
{
    uint32_t off = 0;

    test_assert_eq(x->length, size);
    if (size == 0) {
        test_assert_eq(x->niov, 0);
    }
    for (int i = 0; i < x->niov; i++) {
        const uint8_t *p = x->iov[i].data;

        for (uint32_t j = 0; j < x->iov[i].length && off < size; j++, off++) {
            if (p[j] != pattern(seed, off)) {
                test_fail("payload of %u bytes differs at byte %u", size, off);
            }
        }
        if (release) {
            evpl_iovec_release(evpl, &x->iov[i]);
        }
    }
    test_assert_eq(off, size);
}

/* ---- server -------------------------------------------------------------- */

static void
server_record(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
              struct e2e_record *args, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct e2e_record   reply;
    struct record_store s;

    (void) conn;
    (void) cred;
    (void) private_data;
    server_calls++;
    check_record(args, args->id);
    make_record(args->id + 1000, &reply, &s);
    test_assert(prog.send_reply_RECORD(e, NULL, &reply, encoding) == 0);
}

static void
server_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            struct e2e_payload *args, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    server_calls++;
    evpl_rpc2_encoding_take_read_chunk(encoding, NULL, NULL);
    check_payload(&args->data, args->seed, args->data.length, 0);
    /* The references move into the reply. */
    test_assert(prog.send_reply_ECHO(e, NULL, args, encoding) == 0);
}

static void
server_sink(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            struct e2e_payload *args, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    server_calls++;
    evpl_rpc2_encoding_take_read_chunk(encoding, NULL, NULL);
    check_payload(&args->data, args->seed, args->data.length, 1);
    test_assert(prog.send_reply_SINK(e, NULL, encoding) == 0);
}

static void
server_nothing(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
               struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    server_calls++;
    test_assert(prog.send_reply_NOTHING(e, NULL, encoding) == 0);
}

static void
server_count(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
             struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    server_calls++;
    test_assert(prog.send_reply_COUNT(e, NULL, (uint32_t) server_calls, encoding) == 0);
}

/* ---- client -------------------------------------------------------------- */

struct call_check {
    uint32_t id;
    uint32_t size;
    int      done;
};

static void
record_done(struct evpl *e, const struct evpl_rpc2_verf *verf, struct e2e_record *res, int status,
            void *private_data)
{
    struct call_check *chk = private_data;

    (void) e;
    test_assert(verf != NULL);
    test_assert_eq(chk->done, 0);
    chk->done = 1;
    completed++;
    if (status != 0) {
        fprintf(stderr, "record %u: status %d\n", chk->id, status);
        failures++;
        return;
    }
    check_record(res, chk->id + 1000);
}

static void
issue_record(struct evpl_rpc2_conn *conn, struct call_check *chk)
{
    struct e2e_record   arg;
    struct record_store s;

    make_record(chk->id, &arg, &s);
    prog.send_call_RECORD(&prog.rpc2, evpl, conn, NULL, &arg, 0, 0, NULL, 0, 0, record_done, chk);
    /* Everything but zcopaque was copied: the stack storage may go now. */
    memset(&s, 0xee, sizeof(s));
}

static void
echo_done(struct evpl *e, const struct evpl_rpc2_verf *verf, struct e2e_payload *res, int status,
          void *private_data)
{
    struct call_check *chk = private_data;

    (void) e;
    test_assert(verf != NULL);
    test_assert_eq(chk->done, 0);
    chk->done = 1;
    completed++;
    if (status != 0) {
        fprintf(stderr, "echo of %u bytes: status %d\n", chk->size, status);
        failures++;
        return;
    }
    test_assert_eq(res->seed, chk->id);
    /* Library-allocated write chunk or inline: the references are ours. */
    check_payload(&res->data, chk->id, chk->size, 1);
}

static void
void_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *private_data)
{
    struct call_check *chk = private_data;

    (void) e;
    test_assert(verf != NULL);
    test_assert_eq(chk->done, 0);
    chk->done = 1;
    completed++;
    if (status != 0) {
        fprintf(stderr, "void call: status %d\n", status);
        failures++;
    }
}

static void
fill_payload(struct e2e_payload *arg, struct evpl_iovec *iov, int maxiov, uint32_t seed,
             uint32_t size)
{
    uint32_t off = 0;

    arg->seed        = seed;
    arg->data.iov    = iov;
    arg->data.niov   = 0;
    arg->data.length = size;
    if (size == 0) {
        return;
    }
    arg->data.niov = evpl_iovec_alloc(evpl, size, 0, maxiov, 0, iov);
    test_assert(arg->data.niov > 0);
    for (int i = 0; i < arg->data.niov; i++) {
        uint8_t *p = iov[i].data;

        for (uint32_t j = 0; j < iov[i].length; j++) {
            p[j] = pattern(seed, off++);
        }
    }
}

static void
issue_echo(struct evpl_rpc2_conn *conn, struct call_check *chk)
{
    struct evpl_iovec  iov[64];
    struct e2e_payload arg;

    fill_payload(&arg, iov, 64, chk->id, chk->size);
    prog.send_call_ECHO(&prog.rpc2, evpl, conn, NULL, &arg, 0, 0, NULL, 0, 0, echo_done, chk);
}

static void
issue_sink(struct evpl_rpc2_conn *conn, struct call_check *chk)
{
    struct evpl_iovec  iov[64];
    struct e2e_payload arg;

    fill_payload(&arg, iov, 64, chk->id, chk->size);
    prog.send_call_SINK(&prog.rpc2, evpl, conn, NULL, &arg, 0, 0, NULL, 0, 0, void_done, chk);
}

static uint32_t count_seen;
static int      count_status;

static void
count_done(struct evpl *e, const struct evpl_rpc2_verf *verf, uint32_t res, int status,
           void *private_data)
{
    (void) e;
    (void) verf;
    (void) private_data;
    count_status = status;
    count_seen   = res;
    completed++;
}

/* The implicit NULL procedure: the generated layer has no stub for it. */
static void
null_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *private_data)
{
    void_done(e, verf, status, private_data);
}

static void
issue_null(struct evpl_rpc2_conn *conn, struct call_check *chk)
{
    struct evpl_iovec iov;

    test_assert_eq(evpl_iovec_alloc(evpl, prog.rpc2.reserve, 8, 1, 0, &iov), 1);
    test_assert_eq(evpl_rpc2_call(evpl, &prog.rpc2, conn, NULL, 0, &iov, 1, (int) prog.rpc2.reserve,
                                  NULL, 0, NULL, 0, 0, (void *) null_done, chk),
                   0);
}

int
main(int argc, char **argv)
{
    static const uint32_t sizes[] = {
        0, 1, 3, 4, 5, 100, 4095, 4096, 4097, 65535, 65536 + 3, 1000000, 1u << 20, (1u << 20) + 5};
    static struct call_check  big[sizeof(sizes) / sizeof(sizes[0])], sinks[8];
    static struct call_check  recs[300], echoes[300], misc[8];
    struct evpl_rpc2_program *progs[1];
    struct evpl_rpc2_thread  *thread;
    struct evpl_rpc2_server  *server;
    struct evpl_rpc2_conn    *conn;
    struct evpl_endpoint     *ep;
    enum evpl_protocol_id     protocol;
    int                       target, calls = 0;

    evpl_set_log_fn(log_sink, NULL);
    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    rdma     = !evpl_protocol_is_stream(protocol);
    evpl     = net_loop_create();

    E2E_V1_init(&prog);
    test_assert_eq(prog.rpc2.program, 0x20000e2e);
    test_assert_eq(prog.rpc2.version, 1);
    test_assert_eq(prog.rpc2.maxproc, 5);
    prog.recv_call_RECORD  = server_record;
    prog.recv_call_ECHO    = server_echo;
    prog.recv_call_NOTHING = server_nothing;
    prog.recv_call_COUNT   = server_count;
    prog.recv_call_SINK    = server_sink;
    progs[0]               = &prog.rpc2;

    thread = evpl_rpc2_thread_init(evpl, progs, 1, NULL, NULL);
    test_assert(thread != NULL);
    evpl_rpc2_thread_set_max_record(thread, 4u << 20);
    server = evpl_rpc2_server_init(progs, 1);
    test_assert(server != NULL);
    ep = net_endpoint(protocol, "rpc2-e2e");
    test_assert_eq(evpl_rpc2_server_start(server, protocol, ep), 0);
    evpl_rpc2_server_attach(thread, server, NULL);
    conn = evpl_rpc2_client_connect(thread, protocol, ep, NULL, 0, NULL);
    test_assert(conn != NULL);
    test_assert_eq(conn->rdma, rdma);

    /* NULL (implicit), void/void, void/scalar. */
    target = completed + 1;
    issue_null(conn, &misc[0]);
    pump_until(&completed, target, 20);
    test_assert(misc[0].done);
    test_assert_eq(server_calls, 0);
    target = completed + 1;
    prog.send_call_NOTHING(&prog.rpc2, evpl, conn, NULL, 0, 0, NULL, 0, 0, void_done, &misc[1]);
    pump_until(&completed, target, 20);
    test_assert_eq(server_calls, 1);
    target = completed + 1;
    prog.send_call_COUNT(&prog.rpc2, evpl, conn, NULL, 0, 0, NULL, 0, 0, count_done, NULL);
    pump_until(&completed, target, 20);
    test_assert_eq(count_status, 0);
    test_assert_eq(count_seen, 2);
    calls = 2;
    test_assert_eq(failures, 0);

    /* Records one at a time, every union arm and optional state. */
    for (uint32_t i = 0; i < 12; i++) {
        struct call_check chk = {.id = i * 7 + 1};

        target = completed + 1;
        issue_record(conn, &chk);
        pump_until(&completed, target, 20);
        test_assert(chk.done);
        calls++;
    }
    test_assert_eq(failures, 0);

    /* Payloads one at a time, 0 B .. 1 MiB + 5. */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (rdma && sizes[i] > 32768) {
            continue;
        }
        big[i] = (struct call_check){.id = (uint32_t) i + 1, .size = sizes[i]};
        target = completed + 1;
        issue_echo(conn, &big[i]);
        pump_until(&completed, target, 60);
        test_assert(big[i].done);
        calls++;
    }
    test_assert_eq(failures, 0);
    for (size_t i = 0; i < 8; i++) {
        sinks[i] = (struct call_check){.id = 77u + (uint32_t) i, .size = sizes[i * 13 % 14]};
        if (rdma && sinks[i].size > 32768) {
            sinks[i].size = 32768 - (uint32_t) i;
        }
        target = completed + 1;
        issue_sink(conn, &sinks[i]);
        pump_until(&completed, target, 60);
        test_assert(sinks[i].done);
        calls++;
    }
    test_assert_eq(failures, 0);

    /* Many outstanding, records and payloads interleaved. */
    target = completed + 600;
    for (int i = 0; i < 300; i++) {
        recs[i]   = (struct call_check){.id = 5000u + (uint32_t) i};
        echoes[i] = (struct call_check){.id   = 9000u + (uint32_t) i,
                                        .size = (uint32_t) (i * 997) % (rdma ? 20000 : 70000)};
        issue_record(conn, &recs[i]);
        issue_echo(conn, &echoes[i]);
    }
    pump_until(&completed, target, 120);
    test_assert_eq(failures, 0);
    for (int i = 0; i < 300; i++) {
        test_assert(recs[i].done && echoes[i].done);
    }
    calls += 600;
    target = completed + 1;
    prog.send_call_COUNT(&prog.rpc2, evpl, conn, NULL, 0, 0, NULL, 0, 0, count_done, NULL);
    pump_until(&completed, target, 20);
    test_assert_eq(count_status, 0);
    test_assert_eq(count_seen, (uint32_t) calls + 1);

    /* A declared procedure without a handler: PROC_UNAVAIL, zero result. */
    prog.recv_call_COUNT = NULL;
    count_status         = -100;
    count_seen           = 12345;
    target               = completed + 1;
    prog.send_call_COUNT(&prog.rpc2, evpl, conn, NULL, 0, 0, NULL, 0, 0, count_done, NULL);
    pump_until(&completed, target, 20);
    test_assert_eq(count_status, 3);
    test_assert_eq(count_seen, 0);
    prog.recv_call_COUNT = server_count;

    evpl_rpc2_client_disconnect(thread, conn);
    for (int i = 0; i < 20; i++) {
        evpl_continue(evpl);
    }
    evpl_rpc2_server_detach(thread, server);
    evpl_rpc2_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    test_assert_eq(leak_reports, 0);
    return 0;
}
