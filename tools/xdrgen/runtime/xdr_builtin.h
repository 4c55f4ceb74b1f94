/* ---- xdrzcc runtime: types, dbuf and helper macros (docs/xdr.md) ---- */
#ifndef XDRZCC_XDR_BUILTIN_H
#define XDRZCC_XDR_BUILTIN_H

#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stddef.h>

#ifndef WARN_UNUSED_RESULT
#define WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#endif
#ifndef FORCE_INLINE
#define FORCE_INLINE inline __attribute__((always_inline))
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

struct evpl_rpc2_rdma_chunk;

#define XDR_MAX_DBUF 4096

#define xdr_stringize_(x) #x
#define xdr_stringize(x)  xdr_stringize_(x)

#if defined(XDR_CUSTOM_IOVEC)
#include xdr_stringize(XDR_CUSTOM_IOVEC)
#elif defined(XDRZCC_EVPL_IOVEC)
/* -r output without XDR_CUSTOM_IOVEC: the same definitions as src/rpc2/xdr_iovec.h */
#include <evpl/evpl.h>
typedef struct evpl_iovec xdr_iovec;
#define xdr_iovec_data(iov)             ((iov)->data)
#define xdr_iovec_len(iov)              ((iov)->length)
#define xdr_iovec_set_data(iov, ptr)    ((iov)->data = (void *) (ptr))
#define xdr_iovec_set_len(iov, len)     ((iov)->length = (len))
#define xdr_iovec_copy_private(out, in) evpl_iovec_clone((out), (in))
#define xdr_iovec_move_private(out, in) evpl_iovec_move((out), (in))
#define xdr_iovec_release_private(iov)  evpl_iovec_release_internal(NULL, (iov))
#else
typedef struct {
    void    *iov_base;
    uint32_t iov_len;
} xdr_iovec;
#define xdr_iovec_data(iov)             ((iov)->iov_base)
#define xdr_iovec_len(iov)              ((iov)->iov_len)
#define xdr_iovec_set_data(iov, ptr)    ((iov)->iov_base = (void *) (ptr))
#define xdr_iovec_set_len(iov, len)     ((iov)->iov_len = (len))
#define xdr_iovec_copy_private(out, in) (*(out) = *(in))
#define xdr_iovec_move_private(out, in) (*(out) = *(in))
#endif
#ifndef xdr_iovec_release_private
#define xdr_iovec_release_private(iov) ((void) (iov))
#endif

typedef uint32_t xdr_bool;

typedef struct {
    uint32_t len;
    char    *str;
} xdr_string;

typedef struct {
    uint32_t len;
    void    *data;
} xdr_opaque;

typedef struct {
    xdr_iovec *iov;
    int        niov;
    uint32_t   length;
} xdr_iovecr;

#ifndef XDR_DBUF_DEFINED
#define XDR_DBUF_DEFINED
struct xdr_dbuf {
    void *buffer;
    int   size;
    int   used;
};
typedef struct xdr_dbuf xdr_dbuf;
#endif

static inline void
xdr_dbuf_init(xdr_dbuf *dbuf, int bytes)
{
    dbuf->buffer = malloc(bytes > 0 ? (size_t) bytes : 1);
    dbuf->size   = dbuf->buffer ? bytes : 0;
    dbuf->used   = 0;
}

static inline void
xdr_dbuf_destroy(xdr_dbuf *dbuf)
{
    free(dbuf->buffer);
    dbuf->buffer = NULL;
    dbuf->size   = 0;
    dbuf->used   = 0;
}

static inline xdr_dbuf *
xdr_dbuf_alloc(int bytes)
{
    xdr_dbuf *dbuf = (xdr_dbuf *) malloc(sizeof(*dbuf));

    if (!dbuf) {
        return NULL;
    }
    xdr_dbuf_init(dbuf, bytes);
    if (!dbuf->buffer) {
        free(dbuf);
        return NULL;
    }
    return dbuf;
}

static inline void
xdr_dbuf_free(xdr_dbuf *dbuf)
{
    if (dbuf) {
        xdr_dbuf_destroy(dbuf);
        free(dbuf);
    }
}

static inline void
xdr_dbuf_reset(xdr_dbuf *dbuf)
{
    dbuf->used = 0;
}

/* Bump allocation, 8-byte aligned; NULL (nothing changed) when it does not fit. */
static inline void *
xdr_dbuf_alloc_space(size_t bytes, xdr_dbuf *dbuf)
{
    size_t used = (size_t) dbuf->used, size = (size_t) dbuf->size;

    if (dbuf->used < 0 || used > size || bytes > size - used) {
        return NULL;
    }
    void *p = (char *) dbuf->buffer + used;

    used += bytes;
    used       = (used + 7) & ~(size_t) 7;
    dbuf->used = (int) (used > size ? size : used);
    return p;
}

static inline int
xdr_dbuf_alloc_opaque(xdr_opaque *o, uint32_t len, xdr_dbuf *dbuf)
{
    o->data = xdr_dbuf_alloc_space(len, dbuf);
    o->len  = o->data ? len : 0;
    return o->data ? 0 : -1;
}

static inline int
xdr_dbuf_opaque_copy(xdr_opaque *o, const void *src, uint32_t len, xdr_dbuf *dbuf)
{
    if (xdr_dbuf_alloc_opaque(o, len, dbuf)) {
        return -1;
    }
    if (len) {
        memcpy(o->data, src, len);
    }
    return 0;
}

/* Copies len bytes and adds a NUL that len does not count. */
static inline int
xdr_dbuf_alloc_string(xdr_string *s, const char *src, uint32_t len, xdr_dbuf *dbuf)
{
    s->str = (char *) xdr_dbuf_alloc_space((size_t) len + 1, dbuf);
    if (!s->str) {
        s->len = 0;
        return -1;
    }
    if (len) {
        memcpy(s->str, src, len);
    }
    s->str[len] = '\0';
    s->len      = len;
    return 0;
}

#define xdr_dbuf_alloc_array(structp, member, count, dbuf)                                         \
    ((structp)->num_##member = (count),                                                            \
     (structp)->member       = xdr_dbuf_alloc_space(                                               \
               sizeof(*(structp)->member) * (size_t) (structp)->num_##member, (dbuf)),             \
     (structp)->member ? 0 : -1)

#define xdr_set_str_static(structp, member, strp, length)                                          \
    {                                                                                              \
        (structp)->member.len = (length);                                                          \
        (structp)->member.str = (char *) (strp);                                                   \
    }

#define xdr_set_ref(structp, member, iovp, niovs, len)                                             \
    {                                                                                              \
        (structp)->member.iov    = (iovp);                                                         \
        (structp)->member.niov   = (niovs);                                                        \
        (structp)->member.length = (len);                                                          \
    }

void dump_output(const char *format, ...);

#endif /* XDRZCC_XDR_BUILTIN_H */
