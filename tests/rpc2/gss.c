/*
 * RPCSEC_GSS framing (RFC 2203) with a provider written here (a keyed
 * 64-bit checksum as MIC, XOR plus checksum as wrap: no KDC), driven by a
 * raw client over TCP that computes the same checksums:
 *   - two-leg context creation over procedure 0 (CONTINUE_NEEDED, then
 *     COMPLETE with the window's MIC as verifier);
 *   - data calls with the none, integrity and privacy services: the
 *     handler sees the principal and service, the reply verifier is the MIC
 *     of the sequence number, results come back checksummed or wrapped;
 *   - a replayed sequence number and one below the window are dropped
 *     without a reply; a bad call verifier is AUTH_BADVERF; a bad integrity
 *     checksum is GARBAGE_ARGS; an unknown handle is RPCSEC_GSS_CREDPROBLEM;
 *   - DESTROY ends the context (the provider's destroy runs) and its handle
 *     is refused afterwards.
 */
#include "net_test.h"
#include "echo_prog.h"
#include "evpl/evpl_rpc2_gss.h"

#define KEY 0x5eed1234abcd9876ull

static atomic_int destroyed, handled;

static uint64_t
checksum(const void *msg, size_t len)
{
    const uint8_t *p = msg;
    uint64_t       h = 1469598103934665603ull ^ KEY;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

static void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (56 - 8 * i));
    }
}

static int
p_accept(void *arg, void **ctx, const void *in, size_t in_len, void **out, size_t *out_len,
         int *complete, char *principal, size_t principal_sz)
{
    (void) arg;
    if (*ctx == NULL) {
        if (in_len != 5 || memcmp(in, "HELLO", 5) != 0) {
            return -1;
        }
        *ctx      = malloc(16);
        *out      = strdup("CHALLENGE");
        *out_len  = 9;
        *complete = 0;
        return 0;
    }
    if (in_len != 8 || memcmp(in, "RESPONSE", 8) != 0) {
        return -1;
    }
    *out      = strdup("OK");
    *out_len  = 2;
    *complete = 1;
    snprintf(principal, principal_sz, "alice@TEST");
    return 0;
}

static int
p_get_mic(void *arg, void *ctx, const void *msg, size_t len, void **mic, size_t *mic_len)
{
    (void) arg;
    (void) ctx;
    *mic = malloc(8);
    put64(*mic, checksum(msg, len));
    *mic_len = 8;
    return 0;
}

static int
p_verify_mic(void *arg, void *ctx, const void *msg, size_t len, const void *mic, size_t mic_len)
{
    uint8_t want[8];

    (void) arg;
    (void) ctx;
    put64(want, checksum(msg, len));
    return mic_len == 8 && memcmp(mic, want, 8) == 0 ? 0 : -1;
}

static int
p_wrap(void *arg, void *ctx, const void *in, size_t in_len, void **out, size_t *out_len)
{
    uint8_t *o = malloc(in_len + 8);

    (void) arg;
    (void) ctx;
    for (size_t i = 0; i < in_len; i++) {
        o[i] = ((const uint8_t *) in)[i] ^ 0x5a;
    }
    put64(o + in_len, checksum(in, in_len));
    *out     = o;
    *out_len = in_len + 8;
    return 0;
}

static int
p_unwrap(void *arg, void *ctx, const void *in, size_t in_len, void **out, size_t *out_len)
{
    uint8_t *o, want[8];

    (void) arg;
    (void) ctx;
    if (in_len < 8) {
        return -1;
    }
    o = malloc(in_len - 8 + 1);
    for (size_t i = 0; i < in_len - 8; i++) {
        o[i] = ((const uint8_t *) in)[i] ^ 0x5a;
    }
    put64(want, checksum(o, in_len - 8));
    if (memcmp(want, (const uint8_t *) in + in_len - 8, 8) != 0) {
        free(o);
        return -1;
    }
    *out     = o;
    *out_len = in_len - 8;
    return 0;
}

static void
p_destroy(void *arg, void *ctx)
{
    (void) arg;
    free(ctx);
    atomic_fetch_add(&destroyed, 1);
}

static const struct evpl_rpc2_gss_provider provider = {p_accept, p_get_mic, p_verify_mic,
                                                       p_wrap,   p_unwrap,  p_destroy};

/* ---- server ------------------------------------------------------------------ */

static struct ECHO_V1           prog;
static struct evpl_rpc2_server *server;
static struct evpl_rpc2_thread *rpc2;
static atomic_uint              last_service;

static void
server_echo(struct evpl *e, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred,
            echo_iovecr *arg, struct evpl_rpc2_encoding *encoding, void *private_data)
{
    (void) conn;
    (void) private_data;
    test_assert_eq(cred->flavor, EVPL_RPC2_AUTH_RPCSEC_GSS);
    test_assert(strcmp(cred->gss.principal, "alice@TEST") == 0);
    test_assert(cred->gss.gss_ctx != NULL);
    atomic_store(&last_service, cred->gss.service);
    atomic_fetch_add(&handled, 1);
    test_assert(send_reply_ECHO(e, NULL, arg, encoding) == 0);
}

static void *
server_init(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    rpc2 = evpl_rpc2_thread_init(evpl, NULL, 0, NULL, NULL);
    evpl_rpc2_set_gss_provider(rpc2, &provider, NULL);
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

/* ---- raw client ---------------------------------------------------------------- */

struct msg {
    uint8_t b[4096];
    size_t  n;
};

static void
w32(struct msg *m, uint32_t v)
{
    echo_put_u32(m->b + m->n, v);
    m->n += 4;
}

static void
wopaque(struct msg *m, const void *p, uint32_t len)
{
    w32(m, len);
    if (len) {
        memcpy(m->b + m->n, p, len);
    }
    memset(m->b + m->n + len, 0, ((len + 3) & ~3u) - len);
    m->n += (len + 3) & ~3u;
}

static uint32_t
r32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int     fd;
static uint8_t handle[8];

/*
 * Send a call: cred {1, gss_proc, seq, service, handle<hlen>}, verifier
 * RPCSEC_GSS with the MIC of the header (or AUTH_NONE for INIT), then args.
 * corrupt_verf flips a verifier byte.
 */
static void
send_call(uint32_t xid, uint32_t proc, uint32_t gss_proc, uint32_t seq, uint32_t service,
          const uint8_t *h, uint32_t hlen, const struct msg *args, int corrupt_verf)
{
    struct msg m    = {.n = 4};
    size_t     cred = 0;

    w32(&m, xid);
    w32(&m, 0);
    w32(&m, 2);
    w32(&m, ECHO_PROG);
    w32(&m, 1);
    w32(&m, proc);
    w32(&m, EVPL_RPC2_AUTH_RPCSEC_GSS);
    w32(&m, 20 + ((hlen + 3) & ~3u));
    w32(&m, 1);
    w32(&m, gss_proc);
    w32(&m, seq);
    w32(&m, service);
    wopaque(&m, h, hlen);
    cred = m.n;
    if (gss_proc == 1 || gss_proc == 2) {
        w32(&m, EVPL_RPC2_AUTH_NONE);
        w32(&m, 0);
    } else {
        uint8_t mic[8];

        put64(mic, checksum(m.b + 4, cred - 4));
        mic[0] ^= corrupt_verf ? 1 : 0;
        w32(&m, EVPL_RPC2_AUTH_RPCSEC_GSS);
        wopaque(&m, mic, 8);
    }
    memcpy(m.b + m.n, args->b, args->n);
    m.n += args->n;
    echo_put_u32(m.b, 0x80000000u | (uint32_t) (m.n - 4));
    test_assert(send(fd, m.b, m.n, MSG_NOSIGNAL) == (ssize_t) m.n);
}

/* Read one reply record into r (without the record mark). */
static void
recv_reply(struct msg *r)
{
    uint8_t mark[4];

    test_assert(recv(fd, mark, 4, MSG_WAITALL) == 4);
    r->n = r32(mark) & 0x7fffffffu;
    test_assert(r->n <= sizeof(r->b));
    test_assert(recv(fd, r->b, r->n, MSG_WAITALL) == (ssize_t) r->n);
}

/* Accepted reply: check xid and verifier (MIC of v when gss), return the offset of accept_stat. */
static size_t
check_accepted(const struct msg *r, uint32_t xid, int gss, uint32_t v)
{
    uint32_t vlen;

    test_assert_eq(r32(r->b), xid);
    test_assert_eq(r32(r->b + 4), 1);
    test_assert_eq(r32(r->b + 8), 0);
    vlen = r32(r->b + 16);
    if (gss) {
        uint8_t b[4], mic[8];

        test_assert_eq(r32(r->b + 12), EVPL_RPC2_AUTH_RPCSEC_GSS);
        test_assert_eq(vlen, 8);
        echo_put_u32(b, v);
        put64(mic, checksum(b, 4));
        test_assert(memcmp(r->b + 20, mic, 8) == 0);
    }
    return 20 + ((vlen + 3) & ~3u);
}

static void
echo_args(struct msg *a, const char *s)
{
    a->n = 0;
    wopaque(a, s, (uint32_t) strlen(s));
}

static void
expect_denied(uint32_t xid, uint32_t auth_stat)
{
    struct msg r;

    recv_reply(&r);
    test_assert_eq(r.n, 20);
    test_assert_eq(r32(r.b), xid);
    test_assert_eq(r32(r.b + 8), 1);  /* MSG_DENIED */
    test_assert_eq(r32(r.b + 12), 1); /* AUTH_ERROR */
    test_assert_eq(r32(r.b + 16), auth_stat);
}

int
main(int argc, char **argv)
{
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_endpoint     *ep;
    struct evpl_thread       *thread;
    struct sockaddr_in        sin = {.sin_family = AF_INET};
    struct msg                a, r;
    size_t                    o;
    int                       port;

    evpl_test_init(argc, argv);
    ECHO_V1_init(&prog);
    prog.recv_call_ECHO = server_echo;
    server              = evpl_rpc2_server_init(progs, 1);
    port                = net_free_port(SOCK_STREAM);
    ep                  = evpl_endpoint_create("127.0.0.1", port);
    test_assert_eq(evpl_rpc2_server_start(server, EVPL_STREAM_SOCKET_TCP, ep), 0);
    thread = evpl_thread_create(NULL, server_init, server_shutdown, NULL);

    sin.sin_port        = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd                  = socket(AF_INET, SOCK_STREAM, 0);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);

    /* INIT: CONTINUE_NEEDED with a handle and the provider's token. */
    a.n = 0;
    wopaque(&a, "HELLO", 5);
    send_call(1, 0, 1, 0, 1, NULL, 0, &a, 0);
    recv_reply(&r);
    o = check_accepted(&r, 1, 0, 0);
    test_assert_eq(r32(r.b + o), 0);     /* SUCCESS */
    test_assert_eq(r32(r.b + o + 4), 8); /* handle<> */
    memcpy(handle, r.b + o + 8, 8);
    test_assert_eq(r32(r.b + o + 16), 1); /* GSS_S_CONTINUE_NEEDED */
    test_assert_eq(r32(r.b + o + 24), 128);
    test_assert_eq(r32(r.b + o + 28), 9);
    test_assert(memcmp(r.b + o + 32, "CHALLENGE", 9) == 0);

    /* CONTINUE_INIT: COMPLETE, verifier = MIC(window). */
    a.n = 0;
    wopaque(&a, "RESPONSE", 8);
    send_call(2, 0, 2, 0, 1, handle, 8, &a, 0);
    recv_reply(&r);
    o = check_accepted(&r, 2, 1, 128);
    test_assert_eq(r32(r.b + o + 16), 0); /* GSS_S_COMPLETE */
    test_assert(memcmp(r.b + o + 8, handle, 8) == 0);

    /* DATA, service none. */
    echo_args(&a, "abc");
    send_call(3, ECHO_ECHO, 0, 1, 1, handle, 8, &a, 0);
    recv_reply(&r);
    o = check_accepted(&r, 3, 1, 1);
    test_assert_eq(r32(r.b + o), 0);
    test_assert_eq(r32(r.b + o + 4), 3);
    test_assert(memcmp(r.b + o + 8, "abc", 3) == 0);
    test_assert_eq(atomic_load(&last_service), 1);

    /* DATA, integrity: databody_integ = seq + args, checksum = MIC(body). */
    {
        struct msg body = {.n = 0}, args;
        uint8_t    mic[8];

        w32(&body, 2);
        wopaque(&body, "integrity!", 10);
        put64(mic, checksum(body.b, body.n));
        args.n = 0;
        wopaque(&args, body.b, (uint32_t) body.n);
        wopaque(&args, mic, 8);
        send_call(4, ECHO_ECHO, 0, 2, 2, handle, 8, &args, 0);
        recv_reply(&r);
        o = check_accepted(&r, 4, 1, 2);
        test_assert_eq(r32(r.b + o), 0);
        uint32_t blen = r32(r.b + o + 4);

        test_assert_eq(blen, 4 + 4 + 12);
        test_assert_eq(r32(r.b + o + 8), 2); /* seq inside */
        test_assert_eq(r32(r.b + o + 12), 10);
        test_assert(memcmp(r.b + o + 16, "integrity!", 10) == 0);
        put64(mic, checksum(r.b + o + 8, blen));
        test_assert_eq(r32(r.b + o + 8 + blen), 8);
        test_assert(memcmp(r.b + o + 12 + blen, mic, 8) == 0);
        test_assert_eq(atomic_load(&last_service), 2);

        /* The same with a broken checksum: GARBAGE_ARGS. */
        args.b[args.n - 1] ^= 1;
        send_call(5, ECHO_ECHO, 0, 3, 2, handle, 8, &args, 0);
        recv_reply(&r);
        o = check_accepted(&r, 5, 0, 0);
        test_assert_eq(r32(r.b + o), 4);
    }

    /* DATA, privacy: databody_priv = wrap(seq + args). */
    {
        struct msg plain = {.n = 0}, args = {.n = 0};
        void      *wrapped, *back;
        size_t     wlen, blen;

        w32(&plain, 4);
        wopaque(&plain, "secret", 6);
        test_assert(p_wrap(NULL, NULL, plain.b, plain.n, &wrapped, &wlen) == 0);
        wopaque(&args, wrapped, (uint32_t) wlen);
        free(wrapped);
        send_call(6, ECHO_ECHO, 0, 4, 3, handle, 8, &args, 0);
        recv_reply(&r);
        o = check_accepted(&r, 6, 1, 4);
        test_assert_eq(r32(r.b + o), 0);
        test_assert(p_unwrap(NULL, NULL, r.b + o + 8, r32(r.b + o + 4), &back, &blen) == 0);
        test_assert_eq(blen, 4 + 4 + 8);
        test_assert_eq(r32(back), 4);
        test_assert_eq(r32((uint8_t *) back + 4), 6);
        test_assert(memcmp((uint8_t *) back + 8, "secret", 6) == 0);
        free(back);
        test_assert_eq(atomic_load(&last_service), 3);
    }

    /* Replay of seq 1, then seq 300, then seq 100 (below the window): the
     * first and last are dropped, so the next reply is xid 8's. */
    echo_args(&a, "replay");
    send_call(7, ECHO_ECHO, 0, 1, 1, handle, 8, &a, 0);
    send_call(8, ECHO_ECHO, 0, 300, 1, handle, 8, &a, 0);
    send_call(9, ECHO_ECHO, 0, 100, 1, handle, 8, &a, 0);
    send_call(10, ECHO_ECHO, 0, 299, 1, handle, 8, &a, 0);
    recv_reply(&r);
    check_accepted(&r, 8, 1, 300);
    recv_reply(&r);
    check_accepted(&r, 10, 1, 299);
    test_assert_eq(atomic_load(&handled), 5); /* 3, 4, 6, 8, 10 */

    /* A bad call verifier; an unknown handle. */
    send_call(11, ECHO_ECHO, 0, 301, 1, handle, 8, &a, 1);
    expect_denied(11, 3); /* AUTH_BADVERF */
    {
        uint8_t other[8] = {0, 0, 0, 63, 0, 0, 0, 9};

        send_call(12, ECHO_ECHO, 0, 302, 1, other, 8, &a, 0);
        expect_denied(12, 13); /* RPCSEC_GSS_CREDPROBLEM */
    }

    /* DESTROY, then the handle is gone. */
    a.n = 0;
    send_call(13, 0, 3, 303, 1, handle, 8, &a, 0);
    recv_reply(&r);
    o = check_accepted(&r, 13, 1, 303);
    test_assert_eq(r32(r.b + o), 0);
    echo_args(&a, "after");
    send_call(14, ECHO_ECHO, 0, 304, 1, handle, 8, &a, 0);
    expect_denied(14, 13);
    test_assert_eq(atomic_load(&destroyed), 1);

    close(fd);
    evpl_thread_destroy(thread);
    evpl_rpc2_server_destroy(server);
    evpl_endpoint_close(ep);
    return 0;
}
