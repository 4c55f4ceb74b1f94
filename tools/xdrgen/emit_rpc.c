/*
 * The RPC2 program layer (-r, XDR.md section 5): per version V the struct V
 * with its typed members, V_init, the server dispatch, the client calls,
 * the replies and the client reply dispatch.  Every static is prefixed with
 * its version so that two versions may reuse procedure names.
 *
 * Parameter passing (XDR.md 5.1): structs and unions (and T[N] results) by
 * pointer, string by xdr_string pointer, scalars and enums by value.  A
 * linked-list struct travels in list form and may be NULL.
 */
#include <stdarg.h>
#include <string.h>

#include "xdrgen.h"

static void
out(FILE *f, int ind, const char *fmt, ...)
{
    va_list ap;

    fprintf(f, "%*s", ind * 4, "");
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

static int
is_void(const struct typeref *t)
{
    return t->base == B_VOID;
}

static int
is_aggregate(const struct typeref *t)
{
    return t->base == B_NAMED && t->def->kind != DEF_ENUM;
}

static int
is_list(const struct typeref *t)
{
    return is_aggregate(t) && def_is_list(t->def);
}

/* C parameter type of an argument or result */
static void
param_type(char *buf, size_t n, const struct typeref *t)
{
    switch (t->base) {
    case B_INT32:
        snprintf(buf, n, "int32_t");
        break;
    case B_UINT32:
        snprintf(buf, n, "uint32_t");
        break;
    case B_INT64:
        snprintf(buf, n, "int64_t");
        break;
    case B_UINT64:
        snprintf(buf, n, "uint64_t");
        break;
    case B_FLOAT:
        snprintf(buf, n, "float");
        break;
    case B_DOUBLE:
        snprintf(buf, n, "double");
        break;
    case B_BOOL:
        snprintf(buf, n, "xdr_bool");
        break;
    case B_STRING:
        snprintf(buf, n, "xdr_string *");
        break;
    case B_NAMED:
        if (t->def->kind == DEF_ENUM) {
            snprintf(buf, n, "%s", t->def->name);
        } else {
            snprintf(buf, n, "struct %s *", t->def->name);
        }
        break;
    default:
        buf[0] = '\0';
    }
}

/* "TYPE name, " or "" for void */
static void
param(char *buf, size_t n, const struct typeref *t, const char *name)
{
    char ty[300];

    if (is_void(t)) {
        buf[0] = '\0';
        return;
    }
    param_type(ty, sizeof(ty), t);
    snprintf(buf, n, "%s%s%s, ", ty, ty[strlen(ty) - 1] == '*' ? "" : " ", name);
}

static void
callback_type(char *buf, size_t n, const struct proc *p, const char *name)
{
    char res[400];

    param(res, sizeof(res), &p->res, "reply");
    snprintf(buf, n,
             "void (*%s)(struct evpl *evpl, const struct evpl_rpc2_verf *verf, %sint status, "
             "void *callback_private_data)",
             name, res);
}

static void
send_call_params(char *buf, size_t n, const struct proc *p)
{
    char arg[400], cb[800];

    param(arg, sizeof(arg), &p->arg, "args");
    callback_type(cb, sizeof(cb), p, "callback");
    snprintf(buf, n,
             "(struct evpl_rpc2_program *program, struct evpl *evpl, struct evpl_rpc2_conn *conn, "
             "const struct evpl_rpc2_cred *cred, %sint ddp, int max_rdma_write_chunk, struct "
             "evpl_iovec *write_chunk_iov, int write_chunk_niov, int max_rdma_reply_chunk, %s, "
             "void *callback_private_data)",
             arg, cb);
}

static void
send_reply_params(char *buf, size_t n, const struct proc *p)
{
    char res[400];

    param(res, sizeof(res), &p->res, "reply");
    snprintf(buf, n,
             "(struct evpl *evpl, const struct evpl_rpc2_verf *verf, %sstruct evpl_rpc2_encoding "
             "*encoding)",
             res);
}

static void
recv_call_params(char *buf, size_t n, const struct proc *p)
{
    char arg[400];

    param(arg, sizeof(arg), &p->arg, "args");
    snprintf(buf, n,
             "(struct evpl *evpl, struct evpl_rpc2_conn *conn, struct evpl_rpc2_cred *cred, "
             "%sstruct evpl_rpc2_encoding *encoding, void *private_data)",
             arg);
}

void
emit_rpc_header(FILE *f, struct spec *spec)
{
    char buf[2048];

    fprintf(f, "#include \"evpl/evpl_rpc2_program.h\"\n\n");
    for (int i = 0; i < spec->ndefs; i++) {
        struct def *d = spec->defs[i];

        for (int v = 0; d->kind == DEF_PROGRAM && v < d->nversions; v++) {
            struct version *ver = d->versions[v];

            fprintf(f, "struct %s {\n", ver->name);
            out(f, 1, "struct evpl_rpc2_program rpc2;");
            for (int k = 0; k < ver->nprocs; k++) {
                struct proc *p = ver->procs[k];
                char         res[400];

                send_call_params(buf, sizeof(buf), p);
                out(f, 1, "void (*send_call_%s)%s;", p->name, buf);
                send_reply_params(buf, sizeof(buf), p);
                out(f, 1, "int (*send_reply_%s)%s;", p->name, buf);
                recv_call_params(buf, sizeof(buf), p);
                out(f, 1, "void (*recv_call_%s)%s;", p->name, buf);
                param(res, sizeof(res), &p->res, "reply");
                out(f, 1,
                    "void (*recv_reply_%s)(struct evpl *evpl, const struct evpl_rpc2_verf *verf, "
                    "%sint status, void *callback_private_data);",
                    p->name, res);
            }
            fprintf(f, "};\n\nvoid %s_init(struct %s *prog);\n\n", ver->name, ver->name);
        }
    }
}

/* ---- source ------------------------------------------------------------------- */

/* decode a value of type t into lvalue x (a pointer target or a local) */
static void
dec_value(FILE *f, int ind, const struct typeref *t, const char *x)
{
    const char *fn = NULL;

    switch (t->base) {
    case B_INT32:
        fn = "xdr_dec_i32(&d, &";
        break;
    case B_UINT32:
        fn = "xdr_dec_u32(&d, &";
        break;
    case B_INT64:
        fn = "xdr_dec_i64(&d, &";
        break;
    case B_UINT64:
        fn = "xdr_dec_u64(&d, &";
        break;
    case B_FLOAT:
        fn = "xdr_dec_float(&d, &";
        break;
    case B_DOUBLE:
        fn = "xdr_dec_double(&d, &";
        break;
    case B_BOOL:
        fn = "xdr_dec_bool(&d, &";
        break;
    case B_STRING:
        out(f, ind, "rc_ = xdr_dec_string(&d, %s, UINT64_MAX);", x);
        return;
    case B_NAMED:
        if (t->def->kind == DEF_ENUM) {
            out(f, ind, "rc_ = xdr__enum_dec_%s(&d, &%s);", t->def->name, x);
        } else if (t->deco == D_FIXED) {
            out(f, ind, "for (uint32_t i_ = 0; rc_ == 0 && i_ < (uint32_t) (%s); i_++) {", t->size);
            out(f, ind + 1, "rc_ = xdr__dec_%s(&d, &%s[i_]);", t->def->name, x);
            out(f, ind, "}");
        } else {
            out(f, ind, "rc_ = xdr__dec_%s(&d, %s);", t->def->name, x);
        }
        return;
    default:
        return;
    }
    out(f, ind, "rc_ = %s%s);", fn, x);
}

/* encode value x (by value for scalars, a pointer otherwise) */
static void
enc_value(FILE *f, int ind, const struct typeref *t, const char *x)
{
    switch (t->base) {
    case B_INT32:
    case B_UINT32:
        out(f, ind, "xdr_enc_u32(&e, (uint32_t) %s);", x);
        break;
    case B_INT64:
    case B_UINT64:
        out(f, ind, "xdr_enc_u64(&e, (uint64_t) %s);", x);
        break;
    case B_FLOAT:
        out(f, ind, "xdr_enc_float(&e, %s);", x);
        break;
    case B_DOUBLE:
        out(f, ind, "xdr_enc_double(&e, %s);", x);
        break;
    case B_BOOL:
        out(f, ind, "xdr_enc_u32(&e, %s ? 1 : 0);", x);
        break;
    case B_STRING:
        out(f, ind, "xdr_enc_string(&e, %s);", x);
        break;
    case B_NAMED:
        if (t->def->kind == DEF_ENUM) {
            out(f, ind, "xdr_enc_u32(&e, (uint32_t) %s);", x);
        } else if (def_is_list(t->def)) {
            out(f, ind, "xdr__list_enc_%s(&e, %s);", t->def->name, x);
        } else if (t->deco == D_FIXED) {
            out(f, ind, "for (uint32_t i_ = 0; i_ < (uint32_t) (%s); i_++) {", t->size);
            out(f, ind + 1, "xdr__enc_%s(&e, &%s[i_]);", t->def->name, x);
            out(f, ind, "}");
        } else {
            out(f, ind, "xdr__enc_%s(&e, %s);", t->def->name, x);
        }
        break;
    default:
        break;
    }
}

/* Declares and decodes a value of t into the local `name`: a pointer into
 * dbuf for aggregates and strings, a plain local for scalars.  Leaves rc_. */
static void
dec_into_local(FILE *f, int ind, const struct typeref *t, const char *name, const char *dbuf,
               const char *alloc_fail)
{
    char ty[300];

    param_type(ty, sizeof(ty), t);
    if (is_list(t)) {
        out(f, ind, "struct %s *%s = NULL;", t->def->name, name);
        out(f, ind, "rc_ = xdr__list_dec_%s(&d, &%s);", t->def->name, name);
        return;
    }
    if (is_aggregate(t) || t->base == B_STRING) {
        const char *count = t->deco == D_FIXED ? t->size : "1";

        out(f, ind, "%s%s = xdr_dbuf_alloc_space(sizeof(*%s) * (size_t) (%s), %s);", ty, name, name,
            count, dbuf);
        out(f, ind, "if (unlikely(!%s)) {", name);
        out(f, ind + 1, "%s", alloc_fail);
        if (strncmp(alloc_fail, "return", 6) == 0) {
            out(f, ind, "}");
            dec_value(f, ind, t, name);
        } else {
            /* Nothing to decode into: the failure stands. */
            out(f, ind, "} else {");
            dec_value(f, ind + 1, t, name);
            out(f, ind, "}");
        }
        return;
    }
    out(f, ind, "%s %s;", ty, name);
    out(f, ind, "memset(&%s, 0, sizeof(%s));", name, name);
    dec_value(f, ind, t, name);
}

static void
emit_version(FILE *f, struct def *prog, struct version *ver, const struct options *opt)
{
    const char   *V = ver->name;
    char          buf[2048];
    int           has_null = 0;
    unsigned long maxproc  = 0;

    (void) opt;
    for (int k = 0; k < ver->nprocs; k++) {
        has_null |= ver->procs[k]->num == 0;
        if (ver->procs[k]->num > maxproc) {
            maxproc = ver->procs[k]->num;
        }
    }

    /* a reply: marshal into a fresh scratch and hand it to the library */
    out(f, 0,
        "static XDR_UNUSED int\nxdr__%s__reply_begin(struct evpl *evpl, struct evpl_rpc2_encoding "
        "*encoding,",
        V);
    out(f, 0, "    struct xdr_enc *e, xdr_iovec *scratch, xdr_iovec **iov, int *niov)\n{");
    out(f, 1,
        "*iov = xdr_dbuf_alloc_space(sizeof(xdr_iovec) * XDRZCC_RPC2_MAX_IOV, encoding->dbuf);");
    out(f, 1, "if (unlikely(!*iov)) {");
    out(f, 2, "return -1;");
    out(f, 1, "}");
    out(f, 1, "if (unlikely(evpl_iovec_reserve(evpl, XDRZCC_RPC2_SCRATCH, 8, 1, scratch) != 1)) {");
    out(f, 2, "return -1;");
    out(f, 1, "}");
    out(f, 1, "*niov = XDRZCC_RPC2_MAX_IOV;");
    out(f, 1,
        "xdr_enc_begin(e, scratch, *iov, niov, encoding->write_chunk, (int) "
        "encoding->program->reserve);");
    out(f, 1, "return 0;");
    out(f, 0, "}\n");
    out(f, 0,
        "static XDR_UNUSED int\nxdr__%s__reply_end(struct evpl *evpl, const struct evpl_rpc2_verf "
        "*verf,",
        V);
    out(f, 0, "    struct evpl_rpc2_encoding *encoding, struct xdr_enc *e, xdr_iovec *scratch,");
    out(f, 0, "    xdr_iovec *iov, int *niov)\n{");
    out(f, 1, "int len = xdr_enc_end(e, 0, niov);");
    out(f, 1, "evpl_iovec_commit(evpl, 8, scratch, 1);");
    out(f, 1, "evpl_iovec_release(evpl, scratch);");
    out(f, 1, "if (unlikely(len < 0)) {");
    out(f, 2, "return -1;");
    out(f, 1, "}");
    out(f, 1, "return evpl_rpc2_send_reply_dispatch(evpl, encoding, verf, iov, *niov, len);");
    out(f, 0, "}\n");

    for (int k = 0; k < ver->nprocs; k++) {
        struct proc *p = ver->procs[k];
        char         res[400], arg[400];

        param(res, sizeof(res), &p->res, "reply");
        param(arg, sizeof(arg), &p->arg, "args");

        /* send_reply_P */
        send_reply_params(buf, sizeof(buf), p);
        out(f, 0, "static XDR_UNUSED int\nxdr__%s__send_reply_%s%s\n{", V, p->name, buf);
        out(f, 1, "struct xdr_enc e;");
        out(f, 1, "xdr_iovec scratch, *iov;");
        out(f, 1, "int niov;");
        out(f, 1,
            "if (unlikely(xdr__%s__reply_begin(evpl, encoding, &e, &scratch, &iov, &niov))) {", V);
        if (is_aggregate(&p->res)) {
            /* nothing is sent, but zcopaque references handed over are still taken */
            out(f, 2, "static char none_[8];");
            out(f, 2, "xdr_iovec empty_;");
            out(f, 2, "xdr_iovec_set_data(&empty_, none_);");
            out(f, 2, "xdr_iovec_set_len(&empty_, 0);");
            out(f, 2, "niov = 0;");
            out(f, 2, "xdr_enc_begin(&e, &empty_, NULL, &niov, NULL, 0);");
            enc_value(f, 2, &p->res, "reply");
        }
        out(f, 2, "return -1;");
        out(f, 1, "}");
        enc_value(f, 1, &p->res, "reply");
        out(f, 1, "return xdr__%s__reply_end(evpl, verf, encoding, &e, &scratch, iov, &niov);", V);
        out(f, 0, "}\n");

        /* send_call_P */
        send_call_params(buf, sizeof(buf), p);
        out(f, 0, "static XDR_UNUSED void\nxdr__%s__send_call_%s%s\n{", V, p->name, buf);
        out(f, 1, "xdr_dbuf *dbuf = (xdr_dbuf *) evpl_rpc2_thread_get_client_dbuf(conn->thread);");
        out(f, 1, "struct evpl_rpc2_rdma_chunk chunk;");
        out(f, 1, "struct xdr_enc e;");
        out(f, 1, "xdr_iovec scratch;");
        out(f, 1, "int niov = XDRZCC_RPC2_MAX_IOV, len;");
        out(f, 1,
            "xdr_iovec *iov = xdr_dbuf_alloc_space(sizeof(xdr_iovec) * XDRZCC_RPC2_MAX_IOV, "
            "dbuf);");
        out(f, 1, "memset(&chunk, 0, sizeof(chunk));");
        out(f, 1, "chunk.max_length = UINT32_MAX;");
        out(f, 1,
            "if (unlikely(!iov || evpl_iovec_reserve(evpl, XDRZCC_RPC2_SCRATCH, 8, 1, &scratch) != "
            "1)) {");
        if (p->arg.base == B_NAMED && is_aggregate(&p->arg)) {
            out(f, 2, "/* the zcopaque references handed over must still be dropped */");
            out(f, 2, "static char none_[8];");
            out(f, 2, "xdr_iovec empty_;");
            out(f, 2, "xdr_iovec_set_data(&empty_, none_);");
            out(f, 2, "xdr_iovec_set_len(&empty_, 0);");
            out(f, 2, "niov = 0;");
            out(f, 2, "xdr_enc_begin(&e, &empty_, NULL, &niov, NULL, 0);");
            enc_value(f, 2, &p->arg, "args");
        }
        out(f, 2, "dump_output(\"xdrzcc: send_call_%s: out of scratch space, call not sent\");",
            p->name);
        out(f, 2, "return;");
        out(f, 1, "}");
        out(f, 1, "xdr_enc_begin(&e, &scratch, iov, &niov, (conn->rdma && ddp) ? &chunk : NULL,");
        out(f, 1, "              (int) program->reserve);");
        enc_value(f, 1, &p->arg, "args");
        out(f, 1, "len = xdr_enc_end(&e, 0, &niov);");
        out(f, 1, "evpl_iovec_commit(evpl, 8, &scratch, 1);");
        out(f, 1, "evpl_iovec_release(evpl, &scratch);");
        out(f, 1, "if (unlikely(len < 0)) {");
        out(f, 2, "dump_output(\"xdrzcc: send_call_%s: marshalling failed, call not sent\");",
            p->name);
        out(f, 2, "return;");
        out(f, 1, "}");
        out(f, 1,
            "evpl_rpc2_call(evpl, program, conn, cred, %lu, iov, niov, len, (conn->rdma && ddp) ? "
            "&chunk : NULL,",
            p->num);
        out(f, 1, "               max_rdma_write_chunk, write_chunk_iov, write_chunk_niov,");
        out(f, 1,
            "               max_rdma_reply_chunk, (void *) callback, callback_private_data);");
        out(f, 0, "}\n");
    }

    /* implicit NULL procedure: an empty successful reply */
    out(f, 0,
        "static XDR_UNUSED int\nxdr__%s__null_reply(struct evpl *evpl, struct evpl_rpc2_encoding "
        "*encoding)\n{",
        V);
    out(f, 1, "struct xdr_enc e;");
    out(f, 1, "xdr_iovec scratch, *iov;");
    out(f, 1, "int niov;");
    out(f, 1, "if (unlikely(xdr__%s__reply_begin(evpl, encoding, &e, &scratch, &iov, &niov))) {",
        V);
    out(f, 2, "return -1;");
    out(f, 1, "}");
    out(f, 1, "return xdr__%s__reply_end(evpl, NULL, encoding, &e, &scratch, iov, &niov);", V);
    out(f, 0, "}\n");

    /* server dispatch */
    out(f, 0,
        "static XDR_UNUSED int\nxdr__%s__recv_call_dispatch(struct evpl *evpl, struct "
        "evpl_rpc2_conn *conn,",
        V);
    out(f, 0, "    struct evpl_rpc2_encoding *encoding, uint32_t proc, void *program_data,");
    out(f, 0,
        "    struct evpl_rpc2_cred *cred, xdr_iovec *iov, int niov, int length, void "
        "*private_data)\n{");
    out(f, 1, "struct %s *prog = (struct %s *) program_data;", V, V);
    out(f, 1, "struct xdr_dec d;");
    out(f, 1, "int rc_ = 0;");
    out(f, 1, "(void) rc_;");
    out(f, 1, "(void) d;");
    out(f, 1, "(void) prog;");
    out(f, 1, "(void) conn;");
    out(f, 1, "(void) cred;");
    out(f, 1, "(void) iov;");
    out(f, 1, "(void) niov;");
    out(f, 1, "(void) length;");
    out(f, 1, "(void) private_data;");
    out(f, 1, "switch (proc) {");
    if (!has_null) {
        out(f, 1, "case 0:");
        out(f, 2, "return xdr__%s__null_reply(evpl, encoding) ? 3 : 0;", V);
    }
    for (int k = 0; k < ver->nprocs; k++) {
        struct proc *p = ver->procs[k];

        out(f, 1, "case %lu: {", p->num);
        out(f, 2, "if (!prog->recv_call_%s) {", p->name);
        out(f, 3, "return 1;");
        out(f, 2, "}");
        if (is_void(&p->arg)) {
            out(f, 2, "if (length != 0) {");
            out(f, 3, "return 2;");
            out(f, 2, "}");
            out(f, 2, "prog->recv_call_%s(evpl, conn, cred, encoding, private_data);", p->name);
        } else {
            out(f, 2, "xdr_dec_begin(&d, iov, niov, encoding->read_chunk, encoding->dbuf);");
            dec_into_local(f, 2, &p->arg, "args", "encoding->dbuf", "return 3;");
            out(f, 2, "if (rc_ == 0 && d.pos != (uint64_t) length) {");
            out(f, 3, "rc_ = -1;");
            out(f, 2, "}");
            out(f, 2, "if (xdr_dec_end(&d, rc_) < 0) {");
            out(f, 3, "return 2;");
            out(f, 2, "}");
            out(f, 2, "prog->recv_call_%s(evpl, conn, cred, args, encoding, private_data);",
                p->name);
        }
        out(f, 2, "return 0;");
        out(f, 1, "}");
    }
    out(f, 1, "default:");
    out(f, 2, "return 1;");
    out(f, 1, "}");
    out(f, 0, "}\n");

    /* client reply dispatch */
    out(f, 0,
        "static XDR_UNUSED int\nxdr__%s__recv_reply_dispatch(struct evpl *evpl, struct "
        "evpl_rpc2_conn *conn,",
        V);
    out(f, 0, "    struct xdr_dbuf *dbuf, uint32_t proc, struct evpl_rpc2_rdma_chunk *read_chunk,");
    out(f, 0,
        "    const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov, int length, int status,");
    out(f, 0, "    void *callback_fn, void *callback_private_data)\n{");
    out(f, 1, "struct xdr_dec d;");
    out(f, 1, "int rc_ = 0;");
    out(f, 1, "(void) conn;");
    out(f, 1, "(void) dbuf;");
    out(f, 1, "(void) read_chunk;");
    out(f, 1, "(void) iov;");
    out(f, 1, "(void) niov;");
    out(f, 1, "(void) length;");
    out(f, 1, "(void) status;");
    out(f, 1, "(void) verf;");
    out(f, 1, "(void) callback_fn;");
    out(f, 1, "(void) callback_private_data;");
    out(f, 1, "(void) rc_;");
    out(f, 1, "(void) d;");
    out(f, 1, "switch (proc) {");
    for (int k = 0; k < ver->nprocs; k++) {
        struct proc *p = ver->procs[k];
        char         cb[800];
        int          v    = is_void(&p->res);
        const char  *zero = is_aggregate(&p->res) || p->res.base == B_STRING ? "NULL, " : "0, ";

        callback_type(cb, sizeof(cb), p, "cb");
        out(f, 1, "case %lu: {", p->num);
        out(f, 2, "%s = (%s) callback_fn;", cb, "void *" /* placeholder */);
        out(f, 2, "if (status != 0) {");
        out(f, 3, "if (cb) {");
        out(f, 4, "cb(evpl, verf, %sstatus, callback_private_data);", v ? "" : zero);
        out(f, 3, "}");
        out(f, 3, "return 0;");
        out(f, 2, "}");
        if (v) {
            out(f, 2, "if (cb) {");
            out(f, 3,
                "cb(evpl, verf, length == 0 ? 0 : EVPL_RPC2_REPLY_DECODE_ERROR, "
                "callback_private_data);");
            out(f, 2, "}");
            out(f, 2, "return 0;");
            out(f, 1, "}");
            continue;
        }
        out(f, 2, "xdr_dec_begin(&d, iov, niov, read_chunk, dbuf);");
        out(f, 2, "{");
        dec_into_local(f, 3, &p->res, "reply", "dbuf", "rc_ = -1;");
        out(f, 3, "if (rc_ == 0 && d.pos != (uint64_t) length) {");
        out(f, 4, "rc_ = -1;");
        out(f, 3, "}");
        out(f, 3, "if (xdr_dec_end(&d, rc_) < 0) {");
        out(f, 4, "if (cb) {");
        out(f, 5, "cb(evpl, verf, %sEVPL_RPC2_REPLY_DECODE_ERROR, callback_private_data);", zero);
        out(f, 4, "}");
        out(f, 4, "return 0;");
        out(f, 3, "}");
        out(f, 3, "if (cb) {");
        out(f, 4, "cb(evpl, verf, reply, 0, callback_private_data);");
        out(f, 3, "}");
        out(f, 2, "}");
        out(f, 2, "return 0;");
        out(f, 1, "}");
    }
    /*
     * An undeclared procedure (the implicit NULL procedure, or a number the
     * program does not declare): the callback still runs exactly once
     * (XDR.md 5.6), with the only shape the layer can assume, a void result.
     */
    out(f, 1, "default: {");
    out(f, 2,
        "void (*cb)(struct evpl *evpl, const struct evpl_rpc2_verf *verf, int status, "
        "void *callback_private_data) = (void *) callback_fn;");
    out(f, 2, "if (cb) {");
    out(f, 3,
        "cb(evpl, verf, status != 0 ? status : length == 0 ? 0 : "
        "EVPL_RPC2_REPLY_DECODE_ERROR, callback_private_data);");
    out(f, 2, "}");
    out(f, 2, "return 0;");
    out(f, 1, "}");
    out(f, 1, "}");
    out(f, 0, "}\n");

    /* V_init */
    out(f, 0, "void\n%s_init(struct %s *prog)\n{", V, V);
    out(f, 1, "static const char *procs[%lu] = {", maxproc + 1);
    if (!has_null) {
        out(f, 2, "[0] = \"NULL\",");
    }
    for (int k = 0; k < ver->nprocs; k++) {
        out(f, 2, "[%lu] = \"%s\",", ver->procs[k]->num, ver->procs[k]->name);
    }
    out(f, 1, "};");
    out(f, 1, "memset(prog, 0, sizeof(*prog));");
    out(f, 1, "prog->rpc2.program = %s;", prog->number);
    out(f, 1, "prog->rpc2.version = %s;", ver->number);
    out(f, 1, "prog->rpc2.maxproc = %lu;", maxproc);
    out(f, 1, "prog->rpc2.reserve = 256;");
    out(f, 1, "prog->rpc2.procs = procs;");
    out(f, 1, "prog->rpc2.program_data = prog;");
    out(f, 1, "prog->rpc2.recv_call_dispatch = xdr__%s__recv_call_dispatch;", V);
    out(f, 1, "prog->rpc2.recv_reply_dispatch = xdr__%s__recv_reply_dispatch;", V);
    for (int k = 0; k < ver->nprocs; k++) {
        out(f, 1, "prog->send_call_%s = xdr__%s__send_call_%s;", ver->procs[k]->name, V,
            ver->procs[k]->name);
        out(f, 1, "prog->send_reply_%s = xdr__%s__send_reply_%s;", ver->procs[k]->name, V,
            ver->procs[k]->name);
    }
    out(f, 0, "}\n");
}

void
emit_rpc_source(FILE *f, struct spec *spec, const struct options *opt)
{
    out(f, 0, "/* ---- RPC2 program layer (xdrzcc -r) ---- */");
    out(f, 0, "#define XDRZCC_RPC2_SCRATCH (128 * 1024)");
    out(f, 0, "#define XDRZCC_RPC2_MAX_IOV 260\n");
    for (int i = 0; i < spec->ndefs; i++) {
        struct def *d = spec->defs[i];

        for (int v = 0; d->kind == DEF_PROGRAM && v < d->nversions; v++) {
            emit_version(f, d, d->versions[v], opt);
        }
    }
}
