/*
 * The -r program layer of rpc.x, run without libevpl_rpc2: this file
 * provides evpl_rpc2_call() and evpl_rpc2_thread_get_client_dbuf() itself
 * and loops every call straight into the server dispatch, and every reply
 * (through the program's send_reply_dispatch) into the client's reply
 * dispatch.  It checks V_init, argument and result passing for every
 * parameter kind, the implicit NULL procedure, PROC_UNAVAIL and
 * GARBAGE_ARGS returns, status and decode-error callbacks, NULL callbacks,
 * and zcopaque ownership (no reference leaks at evpl_destroy()).
 */
#include <stdarg.h>

#include "test.h"
#include "rpc_xdr.h"

static struct evpl       *evpl;
static struct LOOPBACK_V1 client, server;
static struct LOOPBACK_V2 client2, server2;
static xdr_dbuf          *client_dbuf, *request_dbuf, *reply_dbuf;
static int                leak_reports, reply_override_status, corrupt_reply;
static int                last_dispatch_rc, read_chunk_used, write_chunk_used;
static struct evpl_iovec  moved[8];

static void
log_fn(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
       va_list argp)
{
    char line[512];

    vsnprintf(line, sizeof(line), fmt, argp);
    if (strstr(line, "still holds references")) {
        leak_reports++;
    }
    fprintf(stderr, "[%s %s %s:%d] %s\n", level, module, srcfile, lineno, line);
}

void
dump_output(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void *
evpl_rpc2_thread_get_client_dbuf(struct evpl_rpc2_thread *thread)
{
    (void) thread;
    xdr_dbuf_reset(client_dbuf);
    return client_dbuf;
}

/* Flatten iov[] past the headroom into one fresh iovec (what a transport would deliver). */
static int
deliver(struct evpl_iovec *iov, int niov, int length, int reserve, struct evpl_iovec *out)
{
    int len = length - reserve, at = 0, skip = reserve;

    test_assert(evpl_iovec_alloc(evpl, (unsigned int) (len ? len : 1), 8, 1, 0, out) == 1);
    for (int i = 0; i < niov; i++) {
        int n = (int) iov[i].length;

        if (skip >= n) {
            skip -= n;
            continue;
        }
        memcpy((char *) out->data + at, (char *) iov[i].data + skip, (size_t) (n - skip));
        at += n - skip;
        skip = 0;
    }
    test_assert(at == len);
    out->length = (unsigned int) len;
    evpl_iovecs_release(evpl, iov, niov);
    return len;
}

struct pending {
    struct evpl_rpc2_program *client_program;
    uint32_t                  proc;
    void                     *callback;
    void                     *private_data;
};

static struct pending pending;

static int
send_reply_dispatch(struct evpl *e, struct evpl_rpc2_encoding *encoding,
                    const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov, int length)
{
    struct evpl_iovec           body;
    struct evpl_rpc2_verf       none    = {NULL, 0};
    struct evpl_rpc2_rdma_chunk written = {UINT32_MAX, 0, 0, NULL, 0}, *rc = NULL;
    int len = deliver(iov, niov, length, (int) encoding->program->reserve, &body);

    (void) verf;
    if (corrupt_reply) {
        len = len > 0 ? len - 1 : 1; /* a short reply: the decode must fail */
    }
    if (encoding->write_chunk && encoding->write_chunk->niov) {
        /* the library would RDMA-write these and present them to the client as a
         * read chunk at position UINT32_MAX; here they move across as they are */
        struct evpl_rpc2_rdma_chunk *wc = encoding->write_chunk;

        test_assert(wc->length <= wc->max_length && wc->niov <= 8);
        written.length = wc->length;
        written.niov   = wc->niov;
        written.iov    = moved;
        for (int i = 0; i < wc->niov; i++) {
            evpl_iovec_move(&moved[i], &wc->iov[i]);
        }
        wc->niov = 0;
        rc       = &written;
        write_chunk_used++;
    }
    xdr_dbuf_reset(reply_dbuf);
    test_assert(pending.client_program->recv_reply_dispatch(
                    e, NULL, reply_dbuf, pending.proc, rc, &none, &body, 1, len,
                    reply_override_status, pending.callback, pending.private_data) == 0);
    evpl_iovec_release(evpl, &body);
    return 0;
}

int
evpl_rpc2_call(struct evpl *e, struct evpl_rpc2_program *program, struct evpl_rpc2_conn *conn,
               const struct evpl_rpc2_cred *cred, uint32_t procedure, struct evpl_iovec *req_iov,
               int req_niov, int req_length, struct evpl_rpc2_rdma_chunk *rdma_chunk,
               int max_rdma_write_chunk, struct evpl_iovec *write_chunk_iov, int write_chunk_niov,
               int max_rdma_reply_chunk, void *callback, void *private_data)
{
    struct evpl_iovec           body;
    struct evpl_rpc2_rdma_chunk write_chunk = {0, 0, 0, NULL, 0};
    struct evpl_rpc2_encoding   encoding;
    struct evpl_rpc2_program   *srv        = program == &client.rpc2 ? &server.rpc2 : &server2.rpc2;
    struct evpl_rpc2_rdma_chunk read_chunk = {0, 0, 0, NULL, 0};
    struct evpl_iovec           pulled[8];

    (void) cred;
    (void) write_chunk_iov;
    (void) write_chunk_niov;
    (void) max_rdma_reply_chunk;
    test_assert(conn->rdma || rdma_chunk == NULL); /* not RDMA: no chunk */
    pending = (struct pending){program, procedure, callback, private_data};

    int len = deliver(req_iov, req_niov, req_length, (int) program->reserve, &body);

    memset(&encoding, 0, sizeof(encoding));
    encoding.program     = srv;
    encoding.dbuf        = request_dbuf;
    encoding.write_chunk = &write_chunk;
    if (conn->rdma) {
        write_chunk.max_length = (uint32_t) max_rdma_write_chunk;
    }
    if (rdma_chunk && rdma_chunk->length) {
        /* the library moves the chunk's iovecs into the request and the server
         * pulls the data; the position is relative to the argument already */
        test_assert(rdma_chunk->niov <= 8);
        read_chunk.xdr_position = rdma_chunk->xdr_position;
        read_chunk.length       = rdma_chunk->length;
        read_chunk.niov         = rdma_chunk->niov;
        read_chunk.iov          = pulled;
        for (int i = 0; i < rdma_chunk->niov; i++) {
            evpl_iovec_move(&pulled[i], &rdma_chunk->iov[i]);
        }
        encoding.read_chunk = &read_chunk;
        read_chunk_used++;
    }
    xdr_dbuf_reset(request_dbuf);
    last_dispatch_rc = srv->recv_call_dispatch(e, conn, &encoding, procedure, srv->program_data,
                                               NULL, &body, 1, len, NULL);
    evpl_iovec_release(evpl, &body);
    /* what the handler did not take stays with the request, released when it ends */
    evpl_iovecs_release(evpl, read_chunk.iov, read_chunk.niov);
    return 0;
}

/* ---- server handlers ---- */

static void
on_greet(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
         struct Greeting *args, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    args->id += 1; /* echo, changed so the client sees it went through */
    test_assert(server.send_reply_GREET(e, NULL, args, encoding) == 0);
}

static void
on_noop(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(server.send_reply_NOOP(e, NULL, encoding) == 0);
}

static void
on_ping(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, xdr_bool args,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(server.send_reply_PING(e, NULL, !args, encoding) == 0);
}

static void
on_write(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
         struct Chunk *args, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct ChunkAck ack = {0, 1};
    unsigned char   sum = 0;

    (void) conn;
    (void) cred;
    (void) private_data;
    evpl_rpc2_encoding_take_read_chunk(encoding, NULL, NULL);
    for (int i = 0; i < args->data.niov; i++) {
        for (unsigned int j = 0; j < args->data.iov[i].length; j++) {
            sum += ((unsigned char *) args->data.iov[i].data)[j];
        }
        ack.count += args->data.iov[i].length;
        evpl_iovec_release(e, &args->data.iov[i]); /* the handler owns them (XDR.md 6.2) */
    }
    ack.committed = sum == (unsigned char) (args->offset & 0xff);
    test_assert(server.send_reply_WRITE(e, NULL, &ack, encoding) == 0);
}

static void
on_list(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, uint32_t args,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct item nodes[8];

    (void) conn;
    (void) cred;
    (void) private_data;
    for (uint32_t i = 0; i < args && i < 8; i++) {
        nodes[i].v    = i * 10;
        nodes[i].next = i + 1 < args ? &nodes[i + 1] : NULL;
    }
    test_assert(server.send_reply_LIST(e, NULL, args ? nodes : NULL, encoding) == 0);
}

static void
on_name(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, xdr_string *args,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(server.send_reply_NAME(e, NULL, args, encoding) == 0);
}

static void
on_mood(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, mood args,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(server.send_reply_MOOD(e, NULL, args == CALM ? BUSY : CALM, encoding) == 0);
}

static void
on_pair(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct Greeting g[2] = {{1, {1, "a"}}, {2, {2, "bb"}}};

    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(server.send_reply_PAIR(e, NULL, g, encoding) == 0);
}

static void
on_read(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, uint32_t args,
        struct evpl_rpc2_encoding *encoding, void *private_data)
{
    struct Chunk      reply;
    struct evpl_iovec iov;

    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(evpl_iovec_alloc(e, args, 0, 1, 0, &iov) == 1);
    memset(iov.data, 0x5a, args);
    reply.offset = args;
    xdr_set_ref(&reply, data, &iov, 1, args);
    test_assert(server.send_reply_READ(e, NULL, &reply, encoding) == 0);
}

static void
on_big(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, uint64_t args,
       struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) cred;
    (void) private_data;
    test_assert(server2.send_reply_BIG(e, NULL, args * 2, encoding) == 0);
}

/* ---- client callbacks: each records what it saw ---- */

static int      calls, last_status;
static uint32_t last_u;
static char     last_text[128];

static void
cb_greet(struct evpl *e, const struct evpl_rpc2_verf *verf, struct Greeting *reply, int status,
         void *p)
{
    (void) e;
    test_assert(verf != NULL && p == &calls);
    calls++;
    last_status = status;
    if (status == 0) {
        last_u = reply->id;
        snprintf(last_text, sizeof(last_text), "%.*s", (int) reply->text.len, reply->text.str);
    } else {
        test_assert(reply == NULL);
    }
}

static void
cb_void(struct evpl *e, const struct evpl_rpc2_verf *verf, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
}

static void
cb_bool(struct evpl *e, const struct evpl_rpc2_verf *verf, xdr_bool reply, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = reply;
}

static void
cb_ack(struct evpl *e, const struct evpl_rpc2_verf *verf, struct ChunkAck *reply, int status,
       void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = reply ? reply->count * 2 + reply->committed : 0;
}

static void
cb_list(struct evpl *e, const struct evpl_rpc2_verf *verf, struct item *reply, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = 0;
    for (struct item *i = reply; i; i = i->next) {
        last_u = last_u * 100 + i->v + 1;
    }
}

static void
cb_name(struct evpl *e, const struct evpl_rpc2_verf *verf, xdr_string *reply, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    snprintf(last_text, sizeof(last_text), "%.*s", (int) reply->len, reply->str);
}

static void
cb_mood(struct evpl *e, const struct evpl_rpc2_verf *verf, mood reply, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = (uint32_t) reply;
}

static void
cb_pair(struct evpl *e, const struct evpl_rpc2_verf *verf, struct Greeting *reply, int status,
        void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = reply[0].id * 10 + reply[1].id;
    snprintf(last_text, sizeof(last_text), "%.*s%.*s", (int) reply[0].text.len, reply[0].text.str,
             (int) reply[1].text.len, reply[1].text.str);
}

static void
cb_read(struct evpl *e, const struct evpl_rpc2_verf *verf, struct Chunk *reply, int status, void *p)
{
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = reply->data.length;
    for (int i = 0; i < reply->data.niov; i++) {
        test_assert(((unsigned char *) reply->data.iov[i].data)[0] == 0x5a);
        evpl_iovec_release(e, &reply->data.iov[i]); /* the callback owns them */
    }
}

static void
cb_big(struct evpl *e, const struct evpl_rpc2_verf *verf, uint64_t reply, int status, void *p)
{
    (void) e;
    (void) verf;
    (void) p;
    calls++;
    last_status = status;
    last_u      = (uint32_t) (reply >> 32);
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_conn conn;

    evpl_set_log_fn(log_fn, NULL);
    evpl_init(evpl_test_config(argc, argv));
    evpl         = evpl_create(NULL);
    client_dbuf  = xdr_dbuf_alloc(128 * 1024);
    request_dbuf = xdr_dbuf_alloc(128 * 1024);
    reply_dbuf   = xdr_dbuf_alloc(128 * 1024);
    memset(&conn, 0, sizeof(conn));

    /* V_init (XDR.md 5.2) */
    LOOPBACK_V1_init(&client);
    LOOPBACK_V1_init(&server);
    LOOPBACK_V2_init(&client2);
    LOOPBACK_V2_init(&server2);
    test_assert(client.rpc2.program == 0x20000077 && client.rpc2.version == 1);
    test_assert(client.rpc2.maxproc == 9 && client.rpc2.reserve == 256);
    test_assert(strcmp(client.rpc2.procs[0], "NULL") == 0);
    test_assert(strcmp(client.rpc2.procs[4], "WRITE") == 0);
    test_assert(client.rpc2.program_data == &client);
    test_assert(client.rpc2.recv_call_dispatch && client.rpc2.recv_reply_dispatch);
    test_assert(client.rpc2.send_reply_dispatch == NULL && client.rpc2.metrics == NULL);
    test_assert(client.recv_call_GREET == NULL && client.send_call_GREET &&
                client.send_reply_GREET);
    test_assert(client2.rpc2.version == 2 && client2.rpc2.maxproc == 3 &&
                strcmp(client2.rpc2.procs[0], "NOOP") == 0 && client2.rpc2.procs[1] == NULL);

    server.rpc2.send_reply_dispatch  = send_reply_dispatch;
    server2.rpc2.send_reply_dispatch = send_reply_dispatch;

    /* declared but no handler: PROC_UNAVAIL */
    struct Greeting g = {41, {5, "hello"}};

    client.send_call_GREET(&client.rpc2, evpl, &conn, NULL, &g, 0, 0, NULL, 0, 0, cb_greet, &calls);
    test_assert(last_dispatch_rc == 1 && calls == 0);

    server.recv_call_GREET = on_greet;
    server.recv_call_NOOP  = on_noop;
    server.recv_call_PING  = on_ping;
    server.recv_call_WRITE = on_write;
    server.recv_call_LIST  = on_list;
    server.recv_call_NAME  = on_name;
    server.recv_call_MOOD  = on_mood;
    server.recv_call_PAIR  = on_pair;
    server2.recv_call_BIG  = on_big;
    server.recv_call_READ  = on_read;

    client.send_call_GREET(&client.rpc2, evpl, &conn, NULL, &g, 0, 0, NULL, 0, 0, cb_greet, &calls);
    test_assert(last_dispatch_rc == 0 && calls == 1 && last_status == 0 && last_u == 42 &&
                strcmp(last_text, "hello") == 0);

    client.send_call_NOOP(&client.rpc2, evpl, &conn, NULL, 0, 0, NULL, 0, 0, cb_void, NULL);
    test_assert(calls == 2 && last_status == 0);

    client.send_call_PING(&client.rpc2, evpl, &conn, NULL, 1, 0, 0, NULL, 0, 0, cb_bool, NULL);
    test_assert(calls == 3 && last_u == 0);

    /* zcopaque argument: two iovecs handed over, the handler owns what it decoded */
    struct evpl_iovec data[2];
    struct Chunk      chunk;
    unsigned char     sum = 0;

    test_assert(evpl_iovec_alloc(evpl, 1000, 0, 1, 0, &data[0]) == 1);
    test_assert(evpl_iovec_alloc(evpl, 300, 0, 1, 0, &data[1]) == 1);
    for (int i = 0; i < 1000; i++) {
        ((unsigned char *) data[0].data)[i] = (unsigned char) i;
        sum += (unsigned char) i;
    }
    for (int i = 0; i < 300; i++) {
        ((unsigned char *) data[1].data)[i] = (unsigned char) (i * 3);
        sum += (unsigned char) (i * 3);
    }
    chunk.offset = sum;
    xdr_set_ref(&chunk, data, data, 2, 1300);
    client.send_call_WRITE(&client.rpc2, evpl, &conn, NULL, &chunk, 0, 0, NULL, 0, 0, cb_ack, NULL);
    test_assert(calls == 4 && last_status == 0 && last_u == 1300 * 2 + 1);

    client.send_call_LIST(&client.rpc2, evpl, &conn, NULL, 3, 0, 0, NULL, 0, 0, cb_list, NULL);
    test_assert(calls == 5 && last_u == 1 * 10000 + 11 * 100 + 21);
    client.send_call_LIST(&client.rpc2, evpl, &conn, NULL, 0, 0, 0, NULL, 0, 0, cb_list, NULL);
    test_assert(calls == 6 && last_status == 0 && last_u == 0); /* empty list: NULL */

    xdr_string name = {6, "evpl-x"};

    client.send_call_NAME(&client.rpc2, evpl, &conn, NULL, &name, 0, 0, NULL, 0, 0, cb_name, NULL);
    test_assert(calls == 7 && strcmp(last_text, "evpl-x") == 0);

    client.send_call_MOOD(&client.rpc2, evpl, &conn, NULL, CALM, 0, 0, NULL, 0, 0, cb_mood, NULL);
    test_assert(calls == 8 && last_u == BUSY);

    client.send_call_PAIR(&client.rpc2, evpl, &conn, NULL, 0, 0, NULL, 0, 0, cb_pair, NULL);
    test_assert(calls == 9 && last_u == 12 && strcmp(last_text, "abb") == 0);

    client2.send_call_BIG(&client2.rpc2, evpl, &conn, NULL, 0x100000000ull, 0, 0, NULL, 0, 0,
                          cb_big, NULL);
    test_assert(calls == 10 && last_u == 2);

    /* RDMA: the zcopaque argument goes in a read chunk (only its length word
     * inline), and a READ result within the write chunk's size goes in it */
    conn.rdma = 1;
    test_assert(evpl_iovec_alloc(evpl, 1000, 0, 1, 0, &data[0]) == 1);
    test_assert(evpl_iovec_alloc(evpl, 300, 0, 1, 0, &data[1]) == 1);
    memset(data[0].data, 1, 1000);
    memset(data[1].data, 2, 300);
    chunk.offset = (1000 + 600) & 0xff;
    xdr_set_ref(&chunk, data, data, 2, 1300);
    client.send_call_WRITE(&client.rpc2, evpl, &conn, NULL, &chunk, 1, 0, NULL, 0, 0, cb_ack, NULL);
    test_assert(read_chunk_used == 1 && calls == 11 && last_u == 1300 * 2 + 1);
    client.send_call_READ(&client.rpc2, evpl, &conn, NULL, 5000, 0, 8192, NULL, 0, 0, cb_read,
                          NULL);
    test_assert(write_chunk_used == 1 && calls == 12 && last_u == 5000);
    client.send_call_READ(&client.rpc2, evpl, &conn, NULL, 9000, 0, 8192, NULL, 0, 0, cb_read,
                          NULL); /* longer than the write chunk: inline */
    test_assert(write_chunk_used == 1 && calls == 13 && last_u == 9000);
    conn.rdma = 0;
    client.send_call_READ(&client.rpc2, evpl, &conn, NULL, 77, 0, 8192, NULL, 0, 0, cb_read, NULL);
    test_assert(write_chunk_used == 1 && calls == 14 && last_u == 77);
    calls = 10;

    /* a NULL callback is tolerated */
    client.send_call_NOOP(&client.rpc2, evpl, &conn, NULL, 0, 0, NULL, 0, 0, NULL, NULL);
    test_assert(calls == 10 && last_dispatch_rc == 0);

    /* a non-zero status completes without decoding, with a NULL result */
    reply_override_status = 4;
    client.send_call_GREET(&client.rpc2, evpl, &conn, NULL, &g, 0, 0, NULL, 0, 0, cb_greet, &calls);
    test_assert(calls == 11 && last_status == 4);
    reply_override_status = 0;

    /* an undecodable reply: DECODE_ERROR, exactly once */
    corrupt_reply = 1;
    client.send_call_GREET(&client.rpc2, evpl, &conn, NULL, &g, 0, 0, NULL, 0, 0, cb_greet, &calls);
    test_assert(calls == 12 && last_status == EVPL_RPC2_REPLY_DECODE_ERROR);
    client.send_call_NOOP(&client.rpc2, evpl, &conn, NULL, 0, 0, NULL, 0, 0, cb_void, NULL);
    test_assert(calls == 13 &&
                last_status == EVPL_RPC2_REPLY_DECODE_ERROR); /* void needs 0 bytes */
    corrupt_reply = 0;

    /* server dispatch return codes, called directly */
    struct evpl_rpc2_rdma_chunk wc = {0, 0, 0, NULL, 0};
    struct evpl_rpc2_encoding   enc;
    struct evpl_iovec           arg;
    static const unsigned char  bad_bool[4]  = {0, 0, 0, 2};
    static const unsigned char  good_bool[8] = {0, 0, 0, 1, 0, 0, 0, 0};
    static const unsigned char  too_long[12] = {0, 0, 0, 1, 0, 0, 0, 70, 0, 0, 0, 0};
    static const unsigned char  bad_mood[4]  = {0, 0, 0, 9};

    memset(&enc, 0, sizeof(enc));
    enc.program     = &server.rpc2;
    enc.dbuf        = request_dbuf;
    enc.write_chunk = &wc;
    /* the empty NULL reply is handed to the client as if it answered NOOP (void) */
    pending = (struct pending){&client.rpc2, 2, (void *) cb_void, NULL};
    test_assert(evpl_iovec_alloc(evpl, 64, 8, 1, 0, &arg) == 1);

#define DISPATCH(proc, bytes, n)                                                                   \
    (memcpy(arg.data, bytes, n), xdr_dbuf_reset(request_dbuf),                                     \
     server.rpc2.recv_call_dispatch(evpl, &conn, &enc, proc, &server, NULL, &arg, 1, n, NULL))

    test_assert(DISPATCH(0, "", 0) == 0 && calls == 14 && last_status == 0); /* implicit NULL */
    test_assert(DISPATCH(99, "", 0) == 1);                                   /* not declared */
    test_assert(DISPATCH(3, bad_bool, 4) == 2);                              /* bool 2 */
    test_assert(DISPATCH(3, good_bool, 8) == 2);                             /* len != length */
    test_assert(DISPATCH(3, good_bool, 3) == 2);                             /* short */
    test_assert(DISPATCH(2, good_bool, 4) == 2);                             /* void with bytes */
    test_assert(DISPATCH(1, too_long, 12) == 2);                             /* string over bound */
    test_assert(DISPATCH(7, bad_mood, 4) == 2);                              /* enum domain */
    test_assert(calls == 14);
    evpl_iovec_release(evpl, &arg);

    /*
     * Replies to undeclared procedures (the implicit NULL, an unknown
     * number): the callback still runs exactly once, as a void result.
     */
    {
        struct evpl_rpc2_verf none   = {NULL, 0};
        int                   before = calls;

        test_assert(client.rpc2.recv_reply_dispatch(evpl, &conn, reply_dbuf, 0, NULL, &none, NULL,
                                                    0, 0, 0, (void *) cb_void, &calls) == 0);
        test_assert(calls == before + 1 && last_status == 0);
        test_assert(client.rpc2.recv_reply_dispatch(evpl, &conn, reply_dbuf, 42, NULL, &none, NULL,
                                                    0, 0, 3, (void *) cb_void, &calls) == 0);
        test_assert(calls == before + 2 && last_status == 3);
        test_assert(client.rpc2.recv_reply_dispatch(evpl, &conn, reply_dbuf, 0, NULL, &none, NULL,
                                                    0, 4, 0, (void *) cb_void, &calls) == 0);
        test_assert(calls == before + 3 && last_status == EVPL_RPC2_REPLY_DECODE_ERROR);
        test_assert(client.rpc2.recv_reply_dispatch(evpl, &conn, reply_dbuf, 0, NULL, &none, NULL,
                                                    0, 0, 0, NULL, NULL) == 0);
        test_assert(calls == before + 3);
    }

    xdr_dbuf_free(client_dbuf);
    xdr_dbuf_free(request_dbuf);
    xdr_dbuf_free(reply_dbuf);
    evpl_destroy(evpl);
    test_assert(leak_reports == 0);
    printf("rpc loopback: %d callbacks\n", calls);
    return 0;
}
