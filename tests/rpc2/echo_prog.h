/*
 * A hand-written stand-in for what `xdrzcc -r` generates (XDR.md section 5)
 * for this program:
 *
 *   program ECHO_PROG {
 *       version ECHO_V1 {
 *           void      NULL(void)      = 0;   (implicit: answered by dispatch)
 *           zcopaque  ECHO(zcopaque)  = 1;
 *           whoami    WHOAMI(void)    = 2;   (uid, gid, num_gids, sum of gids)
 *           void      HOLD(void)      = 3;   (the handler may reply late or never)
 *       } = 1;
 *   } = 0x20000099;
 *
 * It follows the generated code's rules: arguments are decoded from the
 * request iovecs with zcopaque payloads as new references, replies are
 * marshalled behind `reserve` bytes of headroom and sent through
 * evpl_rpc2_send_reply_dispatch(), calls through evpl_rpc2_call(), and the
 * reply dispatcher invokes the typed callback exactly once.  Used until the
 * generator is merged.
 */
#pragma once

/* Generated code is compiled with -Wno-unused-function (XDR.md 1.2). */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <string.h>

#include "xdr_iovec.h"
#include "evpl/evpl_rpc2.h"
#include "evpl/evpl_rpc2_program.h"

#define ECHO_PROG   0x20000099u
#define ECHO_NULL   0
#define ECHO_ECHO   1
#define ECHO_WHOAMI 2
#define ECHO_HOLD   3
#define ECHO_NIOV   1024

#ifndef XDR_DBUF_DEFINED
#define XDR_DBUF_DEFINED 1
struct xdr_dbuf {
    void *buffer;
    int   size;
    int   used;
};
#endif

typedef struct {
    xdr_iovec *iov;
    int        niov;
    uint32_t   length;
} echo_iovecr;

struct echo_whoami {
    uint32_t uid, gid, num_gids, gid_sum;
};

struct ECHO_V1;

typedef void (*echo_cb_t)(struct evpl *evpl, const struct evpl_rpc2_verf *verf, echo_iovecr *res,
                          int status, void *private_data);
typedef void (*echo_void_cb_t)(struct evpl *evpl, const struct evpl_rpc2_verf *verf, int status,
                               void *private_data);
typedef void (*echo_whoami_cb_t)(struct evpl *evpl, const struct evpl_rpc2_verf *verf,
                                 struct echo_whoami *res, int status, void *private_data);

struct ECHO_V1 {
    struct evpl_rpc2_program rpc2;
    void (*recv_call_ECHO)(struct evpl *evpl, struct evpl_rpc2_conn *conn,
                           struct evpl_rpc2_cred *cred, echo_iovecr *arg,
                           struct evpl_rpc2_encoding *encoding, void *private_data);
    void (*recv_call_WHOAMI)(struct evpl *evpl, struct evpl_rpc2_conn *conn,
                             struct evpl_rpc2_cred *cred, struct evpl_rpc2_encoding *encoding,
                             void *private_data);
    void (*recv_call_HOLD)(struct evpl *evpl, struct evpl_rpc2_conn *conn,
                           struct evpl_rpc2_cred *cred, struct evpl_rpc2_encoding *encoding,
                           void *private_data);
};

static void *
echo_dbuf_alloc(struct xdr_dbuf *dbuf, size_t bytes)
{
    size_t used = ((size_t) dbuf->used + 7) & ~(size_t) 7;

    if (used + bytes > (size_t) dbuf->size) {
        return NULL;
    }
    dbuf->used = (int) (used + bytes);
    return (char *) dbuf->buffer + used;
}

/* Copy n bytes at offset *off of iov[] into dst (a scalar decode). */
static int
echo_read(const xdr_iovec *iov, int niov, uint32_t *off, void *dst, uint32_t n)
{
    uint32_t pos = 0, done = 0;

    for (int i = 0; i < niov && done < n; i++) {
        uint32_t len = iov[i].length;

        if (*off + done < pos + len) {
            uint32_t at   = *off + done - pos;
            uint32_t take = len - at < n - done ? len - at : n - done;

            memcpy((char *) dst + done, (char *) iov[i].data + at, take);
            done += take;
        }
        pos += len;
    }
    if (done < n) {
        return -1;
    }
    *off += n;
    return 0;
}

/* Decode a zcopaque at *off: new references narrowed to the payload. */
static int
echo_decode_zcopaque(struct evpl_rpc2_encoding *enc, struct xdr_dbuf *dbuf, xdr_iovec *iov,
                     int niov, uint32_t total, uint32_t *off, echo_iovecr *out)
{
    uint8_t  b[4];
    uint32_t len, pos = 0;

    (void) enc;
    if (echo_read(iov, niov, off, b, 4)) {
        return -1;
    }
    len = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
    if ((uint64_t) *off + ((len + 3ull) & ~3ull) > total) {
        return -1;
    }
    out->length = len;
    out->niov   = 0;
    out->iov    = NULL;
    if (len == 0) {
        return 0;
    }
    out->iov = echo_dbuf_alloc(dbuf, (size_t) niov * sizeof(xdr_iovec));
    if (out->iov == NULL) {
        return -1;
    }
    for (int i = 0; i < niov; i++) {
        uint32_t ilen = iov[i].length;
        uint32_t lo   = *off > pos ? *off : pos;
        uint32_t hi   = *off + len < pos + ilen ? *off + len : pos + ilen;

        if (lo < hi) {
            evpl_iovec_clone_segment(&out->iov[out->niov++], &iov[i], lo - pos, hi - lo);
        }
        pos += ilen;
    }
    *off += (len + 3) & ~3u;
    return 0;
}

static void
echo_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

/*
 * Marshal reserve bytes of headroom, optionally a zcopaque (moved in) and/or
 * nwords scalars, into out[] (array from dbuf).  Returns niov or -1.
 */
static int
echo_marshal(struct evpl *evpl, struct xdr_dbuf *dbuf, uint32_t reserve, echo_iovecr *zc,
             const uint32_t *words, int nwords, xdr_iovec **out_iov, int *out_len)
{
    static const uint8_t zeros[4] = {0};
    xdr_iovec           *out      = echo_dbuf_alloc(dbuf, ECHO_NIOV * sizeof(xdr_iovec));
    int                  n        = 0, len;
    uint32_t             head     = reserve + 4 * (uint32_t) nwords + (zc ? 4 : 0);
    uint32_t             pad      = zc ? ((zc->length + 3) & ~3u) - zc->length : 0;

    if (out == NULL || (zc && zc->niov + 3 > ECHO_NIOV)) {
        return -1;
    }
    if (evpl_iovec_alloc(evpl, head + 4, 8, 1, 0, &out[0]) != 1) {
        return -1;
    }
    out[0].length = head;
    for (int i = 0; i < nwords; i++) {
        echo_put_u32((uint8_t *) out[0].data + reserve + 4 * i, words[i]);
    }
    n   = 1;
    len = (int) head;
    if (zc) {
        uint32_t left = zc->length;

        echo_put_u32((uint8_t *) out[0].data + head - 4, zc->length);
        for (int i = 0; i < zc->niov; i++) {
            if (left == 0) {
                evpl_iovec_release(evpl, &zc->iov[i]);
                continue;
            }
            evpl_iovec_move(&out[n], &zc->iov[i]);
            if (out[n].length > left) {
                out[n].length = left;
            }
            left -= out[n].length;
            n++;
        }
        len += (int) zc->length;
        if (pad) {
            if (evpl_iovec_alloc(evpl, 4, 0, 1, 0, &out[n]) != 1) {
                return -1;
            }
            memcpy(out[n].data, zeros, 4);
            out[n].length = pad;
            len += (int) pad;
            n++;
        }
    }
    *out_iov = out;
    *out_len = len;
    return n;
}

static int
send_reply_ECHO(struct evpl *evpl, const struct evpl_rpc2_verf *verf, echo_iovecr *res,
                struct evpl_rpc2_encoding *encoding)
{
    xdr_iovec *iov;
    int        len, n;

    n = echo_marshal(evpl, encoding->dbuf, encoding->program->reserve, res, NULL, 0, &iov, &len);
    if (n < 0) {
        return -1;
    }
    return evpl_rpc2_send_reply_dispatch(evpl, encoding, verf, iov, n, len);
}

static int
send_reply_void(struct evpl *evpl, const struct evpl_rpc2_verf *verf,
                struct evpl_rpc2_encoding *encoding)
{
    xdr_iovec *iov;
    int        len, n;

    n = echo_marshal(evpl, encoding->dbuf, encoding->program->reserve, NULL, NULL, 0, &iov, &len);
    if (n < 0) {
        return -1;
    }
    return evpl_rpc2_send_reply_dispatch(evpl, encoding, verf, iov, n, len);
}

static int
send_reply_WHOAMI(struct evpl *evpl, const struct evpl_rpc2_verf *verf, struct echo_whoami *res,
                  struct evpl_rpc2_encoding *encoding)
{
    uint32_t   w[4] = {res->uid, res->gid, res->num_gids, res->gid_sum};
    xdr_iovec *iov;
    int        len, n;

    n = echo_marshal(evpl, encoding->dbuf, encoding->program->reserve, NULL, w, 4, &iov, &len);
    if (n < 0) {
        return -1;
    }
    return evpl_rpc2_send_reply_dispatch(evpl, encoding, verf, iov, n, len);
}

static int
echo_recv_call_dispatch(struct evpl *evpl, struct evpl_rpc2_conn *conn,
                        struct evpl_rpc2_encoding *encoding, uint32_t proc, void *program_data,
                        struct evpl_rpc2_cred *cred, xdr_iovec *iov, int niov, int length,
                        void *private_data)
{
    struct ECHO_V1 *prog = program_data;

    switch (proc) {
    case ECHO_NULL:
        if (length != 0) {
            return 2;
        }
        return send_reply_void(evpl, NULL, encoding) ? 3 : 0;
    case ECHO_ECHO: {
        echo_iovecr *arg = echo_dbuf_alloc(encoding->dbuf, sizeof(*arg));
        uint32_t     off = 0;

        if (prog->recv_call_ECHO == NULL) {
            return 1;
        }
        if (arg == NULL) {
            return 3;
        }
        memset(arg, 0, sizeof(*arg));
        if (echo_decode_zcopaque(encoding, encoding->dbuf, iov, niov, (uint32_t) length, &off,
                                 arg) ||
            off != (uint32_t) length) {
            if (arg->niov > 0 && off != (uint32_t) length) {
                evpl_iovecs_release(evpl, arg->iov, arg->niov);
            }
            return 2;
        }
        prog->recv_call_ECHO(evpl, conn, cred, arg, encoding, private_data);
        return 0;
    }
    case ECHO_WHOAMI:
        if (prog->recv_call_WHOAMI == NULL) {
            return 1;
        }
        if (length != 0) {
            return 2;
        }
        prog->recv_call_WHOAMI(evpl, conn, cred, encoding, private_data);
        return 0;
    case ECHO_HOLD:
        if (prog->recv_call_HOLD == NULL) {
            return 1;
        }
        if (length != 0) {
            return 2;
        }
        prog->recv_call_HOLD(evpl, conn, cred, encoding, private_data);
        return 0;
    default:
        return 1;
    }
}

static int
echo_recv_reply_dispatch(struct evpl *evpl, struct evpl_rpc2_conn *conn, struct xdr_dbuf *dbuf,
                         uint32_t proc, struct evpl_rpc2_rdma_chunk *read_chunk,
                         const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov, int length,
                         int status, void *callback_fn, void *callback_private_data)
{
    (void) conn;
    (void) read_chunk;
    if (callback_fn == NULL) {
        return 0;
    }
    switch (proc) {
    case ECHO_ECHO: {
        echo_cb_t   cb = (echo_cb_t) callback_fn;
        echo_iovecr res;
        uint32_t    off = 0;

        if (status) {
            cb(evpl, verf, NULL, status, callback_private_data);
        } else if (echo_decode_zcopaque(NULL, dbuf, iov, niov, (uint32_t) length, &off, &res) ||
                   off != (uint32_t) length) {
            cb(evpl, verf, NULL, EVPL_RPC2_REPLY_DECODE_ERROR, callback_private_data);
        } else {
            cb(evpl, verf, &res, 0, callback_private_data);
        }
        return 0;
    }
    case ECHO_WHOAMI: {
        echo_whoami_cb_t   cb = (echo_whoami_cb_t) callback_fn;
        struct echo_whoami res;
        uint32_t           off = 0, w[4];
        uint8_t            b[16];

        if (status) {
            cb(evpl, verf, NULL, status, callback_private_data);
        } else if (length != 16 || echo_read(iov, niov, &off, b, 16)) {
            cb(evpl, verf, NULL, EVPL_RPC2_REPLY_DECODE_ERROR, callback_private_data);
        } else {
            for (int i = 0; i < 4; i++) {
                w[i] = (uint32_t) b[4 * i] << 24 | (uint32_t) b[4 * i + 1] << 16 |
                       (uint32_t) b[4 * i + 2] << 8 | b[4 * i + 3];
            }
            res = (struct echo_whoami){w[0], w[1], w[2], w[3]};
            cb(evpl, verf, &res, 0, callback_private_data);
        }
        return 0;
    }
    default: {
        echo_void_cb_t cb = (echo_void_cb_t) callback_fn;

        cb(evpl, verf, status == 0 && length != 0 ? EVPL_RPC2_REPLY_DECODE_ERROR : status,
           callback_private_data);
        return 0;
    }
    }
}

/* send_call_ECHO: arg's references pass to the call. */
static void
send_call_ECHO(struct evpl_rpc2_program *program, struct evpl *evpl, struct evpl_rpc2_conn *conn,
               const struct evpl_rpc2_cred *cred, echo_iovecr *arg, echo_cb_t callback,
               void *private_data)
{
    struct xdr_dbuf *dbuf = evpl_rpc2_thread_get_client_dbuf(conn->thread);
    xdr_iovec       *iov;
    int              len, n;

    n = echo_marshal(evpl, dbuf, program->reserve, arg, NULL, 0, &iov, &len);
    if (n < 0) {
        return;
    }
    evpl_rpc2_call(evpl, program, conn, cred, ECHO_ECHO, iov, n, len, NULL, 0, NULL, 0, 0,
                   (void *) callback, private_data);
}

/* A call without arguments (NULL, WHOAMI, HOLD). */
static void
send_call_void(struct evpl_rpc2_program *program, struct evpl *evpl, struct evpl_rpc2_conn *conn,
               const struct evpl_rpc2_cred *cred, uint32_t proc, void *callback, void *private_data)
{
    struct xdr_dbuf *dbuf = evpl_rpc2_thread_get_client_dbuf(conn->thread);
    xdr_iovec       *iov;
    int              len, n;

    n = echo_marshal(evpl, dbuf, program->reserve, NULL, NULL, 0, &iov, &len);
    if (n < 0) {
        return;
    }
    evpl_rpc2_call(evpl, program, conn, cred, proc, iov, n, len, NULL, 0, NULL, 0, 0, callback,
                   private_data);
}

static const char *echo_procs[] = {"NULL", "ECHO", "WHOAMI", "HOLD"};

static void
ECHO_V1_init(struct ECHO_V1 *prog)
{
    memset(prog, 0, sizeof(*prog));
    prog->rpc2.program             = ECHO_PROG;
    prog->rpc2.version             = 1;
    prog->rpc2.maxproc             = 3;
    prog->rpc2.reserve             = 256;
    prog->rpc2.procs               = echo_procs;
    prog->rpc2.program_data        = prog;
    prog->rpc2.recv_call_dispatch  = echo_recv_call_dispatch;
    prog->rpc2.recv_reply_dispatch = echo_recv_reply_dispatch;
}
