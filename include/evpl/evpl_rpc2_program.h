/*
 * The RPC2 program layer (contract section 17.3-17.4): what generated code
 * (xdrzcc -r) fills and calls.  xdr_iovec must be defined by the includer
 * before this header; with the library's XDR support it is
 * `typedef struct evpl_iovec xdr_iovec;` (src/rpc2/xdr_iovec.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <evpl/evpl_rpc2.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct prometheus_histogram_series;

#define EVPL_RPC2                    1
#define EVPL_RPC2_REPLY_DECODE_ERROR (-1)
#define EVPL_RPC2_REPLY_DENIED       (-2)
#define EVPL_RPC2_REPLY_CONN_LOST    (-3)
#define EVPL_RPC2_REPLY_RDMA_ERROR   (-4)
#ifndef container_of
#define container_of(ptr, type, member) ((type *) ((char *) (ptr) -offsetof(type, member)))
#endif

struct evpl_rpc2_rdma_chunk {
    uint32_t           xdr_position;
    uint32_t           length;
    uint32_t           max_length;
    struct evpl_iovec *iov;
    int                niov;
};

struct evpl_rpc2_rdma_segment {
    uint32_t handle;
    uint32_t length;
    uint64_t offset;
};

struct evpl_rpc2_rdma_segment_list {
    struct evpl_rpc2_rdma_segment segments[16];
    int                           num_segments;
};

/* Receives the fully encoded reply; iov is valid only during the call. */
typedef void (*evpl_rpc2_reply_capture_cb_t)(const struct evpl_iovec *iov, int niov,
                                             int total_length, void *private_data);

/*
 * Per request: the program, the scratch allocator, the RDMA read chunk
 * (client data pulled by the server) and write chunk (reply data pushed),
 * the xid, and an optional reply-capture hook.
 */
struct evpl_rpc2_encoding {
    struct evpl_rpc2_program    *program;
    struct xdr_dbuf             *dbuf;
    struct evpl_rpc2_rdma_chunk *read_chunk;
    struct evpl_rpc2_rdma_chunk *write_chunk;
    uint32_t                     xid;
    evpl_rpc2_reply_capture_cb_t reply_capture_cb;
    void                        *reply_capture_private;
};

/*
 * One program version.  reserve: bytes of headroom in front of every
 * payload for the RPC/transport header.  recv_call_dispatch returns 0
 * (handler called, it owes one reply), 1 (PROC_UNAVAIL), 2 (GARBAGE_ARGS)
 * or other (SYSTEM_ERR); recv_reply_dispatch must return 0 and invoke the
 * callback exactly once; send_reply_dispatch is installed by the library.
 */
struct evpl_rpc2_program {
    uint32_t                             program;
    uint32_t                             version;
    uint32_t                             maxproc;
    uint32_t                             reserve;
    struct prometheus_histogram_series **metrics;
    const char                         **procs;
    void                                *program_data;
    int (*recv_call_dispatch)(struct evpl *evpl, struct evpl_rpc2_conn *conn,
                              struct evpl_rpc2_encoding *encoding, uint32_t proc,
                              void *program_data, struct evpl_rpc2_cred *cred, xdr_iovec *iov,
                              int niov, int length, void *private_data);
    int (*recv_reply_dispatch)(struct evpl *evpl, struct evpl_rpc2_conn *conn,
                               struct xdr_dbuf *dbuf, uint32_t proc,
                               struct evpl_rpc2_rdma_chunk *read_chunk,
                               const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov,
                               int length, int status, void *callback_fn,
                               void *callback_private_data);
    int (*send_reply_dispatch)(struct evpl *evpl, struct evpl_rpc2_encoding *encoding,
                               const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov,
                               int length);
};

/*
 * Issue a call (new xid) with the marshalled arguments in req_iov, which
 * must start with program->reserve bytes of headroom (req_length includes
 * it); ownership of the iovecs passes to the library.  cred NULL is
 * AUTH_NONE.  The RDMA parameters are inert on stream transports.
 * callback is invoked through recv_reply_dispatch with private_data.
 * Returns 0.
 */
int evpl_rpc2_call(struct evpl *evpl, struct evpl_rpc2_program *program,
                   struct evpl_rpc2_conn *conn, const struct evpl_rpc2_cred *cred,
                   uint32_t procedure, struct evpl_iovec *req_iov, int req_niov, int req_length,
                   struct evpl_rpc2_rdma_chunk *rdma_chunk, int max_rdma_write_chunk,
                   struct evpl_iovec *write_chunk_iov, int write_chunk_niov,
                   int max_rdma_reply_chunk, void *callback, void *private_data);

/* Hand the read chunk's iovecs to the caller (who must release them); niov becomes 0. */
static inline void
evpl_rpc2_encoding_take_read_chunk(struct evpl_rpc2_encoding *encoding, struct evpl_iovec **iov_out,
                                   int *niov_out)
{
    struct evpl_rpc2_rdma_chunk *chunk = encoding->read_chunk;

    if (iov_out) {
        *iov_out = chunk ? chunk->iov : NULL;
    }
    if (niov_out) {
        *niov_out = chunk ? chunk->niov : 0;
    }
    if (chunk) {
        chunk->niov = 0;
    }
}

/* Hand the write chunk's iovecs to the caller (who must release them); niov becomes 0. */
static inline void
evpl_rpc2_encoding_take_write_chunk(struct evpl_rpc2_encoding *encoding,
                                    struct evpl_iovec **iov_out, int *niov_out)
{
    struct evpl_rpc2_rdma_chunk *chunk = encoding->write_chunk;

    if (iov_out) {
        *iov_out = chunk ? chunk->iov : NULL;
    }
    if (niov_out) {
        *niov_out = chunk ? chunk->niov : 0;
    }
    if (chunk) {
        chunk->niov = 0;
    }
}

/* Forward an encoded reply to encoding->program->send_reply_dispatch. */
static inline int
evpl_rpc2_send_reply_dispatch(struct evpl *evpl, struct evpl_rpc2_encoding *encoding,
                              const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov,
                              int length)
{
    return encoding->program->send_reply_dispatch(evpl, encoding, verf, iov, niov, length);
}

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
