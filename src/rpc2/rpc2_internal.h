/*
 * Internal state of libevpl_rpc2, shared by its layers:
 *   record.c   RFC 5531 record marking: fragments -> records, no payload copy
 *   message.c  RPC call/reply header and credential encode/decode
 *   conn.c     RPC2 threads and connections (notify, teardown)
 *   server.c   servers, call dispatch, replies
 *   client.c   calls, the outstanding-call table, reply matching
 *   dbuf.c     XDR scratch buffers (struct xdr_dbuf)
 *   gss.c      RPCSEC_GSS provider registration
 *   auth_short.c  AUTH_SHORT handles (opt-in)
 *   rdma.c     RPC-over-RDMA v1 framing on RDMA message binds
 *   metrics.c  calls, errors, latency and in-flight calls for the scrape
 */
#pragma once

#include <stdint.h>
#include <string.h>

#include "xdr_iovec.h"
#include "evpl/evpl_rpc2.h"
#include "evpl/evpl_rpc2_program.h"
#include "evpl/evpl_rpc2_gss.h"
#include "evpl/evpl_rpc2_ext.h"
#include "core/log.h"

#define evpl_rpc2_debug(...)          evpl_log_debug("rpc2", __VA_ARGS__)
#define evpl_rpc2_error(...)          evpl_log_error("rpc2", __VA_ARGS__)
#define evpl_rpc2_abort_if(cond, ...) evpl_abort_if(cond, "rpc2", __VA_ARGS__)

/* The XDR scratch allocator; layout fixed by XDR.md 3.1. */
#ifndef XDR_DBUF_DEFINED
#define XDR_DBUF_DEFINED 1
struct xdr_dbuf {
    void *buffer;
    int   size;
    int   used;
};
#endif

#define RPC2_DBUF_SIZE          (128 * 1024)
#define RPC2_DEFAULT_MAX_RECORD (4u * 1024 * 1024)
/* Fragments are handed up from the bind in pieces of at most this many bytes,
 * so a large fragment never needs more iovecs than a received message may
 * carry (and is never linearised by the bind layer). */
#define RPC2_PIECE_MAX     (256u * 1024)
#define RPC2_MAX_AUTH_BODY 400
#define RPC2_CALL_HASH     256

/* RFC 5531 constants. */
#define RPC2_MSG_CALL          0
#define RPC2_MSG_REPLY         1
#define RPC2_MSG_ACCEPTED      0
#define RPC2_MSG_DENIED        1
#define RPC2_SUCCESS           0
#define RPC2_PROG_UNAVAIL      1
#define RPC2_PROG_MISMATCH     2
#define RPC2_PROC_UNAVAIL      3
#define RPC2_GARBAGE_ARGS      4
#define RPC2_SYSTEM_ERR        5
#define RPC2_RPC_MISMATCH      0
#define RPC2_AUTH_ERROR        1
#define RPC2_AUTH_OK           0
#define RPC2_AUTH_BADCRED      1
#define RPC2_AUTH_REJECTEDCRED 2
#define RPC2_AUTH_BADVERF      3
#define RPC2_AUTH_REJECTEDVERF 4
#define RPC2_AUTH_TOOWEAK      5

/* ---- message.c --------------------------------------------------------- */

/* A read cursor over an iovec array (the bytes of one record). */
struct rpc2_cursor {
    const struct evpl_iovec *iov;
    int                      niov;
    int                      index;  /* current iovec */
    uint32_t                 offset; /* within iov[index] */
    uint32_t                 left;   /* bytes left in the record */
};

void rpc2_cursor_init(struct rpc2_cursor *c, const struct evpl_iovec *iov, int niov,
                      uint32_t length);
int  rpc2_cursor_u32(struct rpc2_cursor *c, uint32_t *v);
int  rpc2_cursor_bytes(struct rpc2_cursor *c, void *dst, uint32_t len);
int  rpc2_cursor_skip(struct rpc2_cursor *c, uint32_t len);

/* A parsed call header (RFC 5531 call_body up to and excluding the arguments). */
struct rpc2_call_header {
    uint32_t              xid;
    uint32_t              rpcvers;
    uint32_t              prog;
    uint32_t              vers;
    uint32_t              proc;
    struct evpl_rpc2_cred cred;
    uint32_t              gids[EVPL_RPC2_AUTH_SYS_MAX_GIDS];
    char                  machinename[256];
    uint32_t              verf_flavor;
    uint8_t               short_handle[8]; /* AUTH_SHORT credential body */
    /* RPCSEC_GSS: the raw credential and verifier bodies, and how many bytes
     * the header takes from the xid through the credential (what the call
     * verifier signs). */
    uint32_t header_len;
    uint32_t gss_cred_len;
    uint32_t verf_len;
    uint8_t  gss_cred[RPC2_MAX_AUTH_BODY];
    uint8_t  verf_body[RPC2_MAX_AUTH_BODY];
};

/*
 * Decode a call body after xid and msg_type.  Returns 0, or the reason the
 * call is refused: -1 truncated fixed fields (close), or an RFC 5531 auth_stat
 * (> 0) for a bad credential or verifier.
 */
int rpc2_decode_call(struct rpc2_cursor *c, struct rpc2_call_header *h);

/* Bytes the call header (after the record mark) takes with cred. */
uint32_t rpc2_call_header_size(const struct evpl_rpc2_cred *cred);
/* Write a call header into dst (exactly rpc2_call_header_size() bytes). */
void rpc2_encode_call(uint8_t *dst, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc,
                      const struct evpl_rpc2_cred *cred);

/* Write a u32 big-endian. */
static inline uint8_t *
rpc2_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
    return p + 4;
}

static inline uint32_t
rpc2_get_u32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* ---- connections and threads ------------------------------------------ */

struct rpc2_request;
struct rpc2_call;
struct rpc2_gss_context;
struct rpc2_gss_table;

/* ---- metrics.c ----------------------------------------------------------- */

#define RPC2_LAT_BUCKETS 24

struct rpc2_proc_stats {
    uint64_t calls, errors, lat_sum;
    uint64_t lat[RPC2_LAT_BUCKETS];
};

struct rpc2_prog_stats {
    struct evpl_rpc2_program *program;
    uint32_t                  prognum, version, nprocs;
    int                       client;
    const char              **procnames;
    struct rpc2_prog_stats   *next;
    struct rpc2_proc_stats    procs[];
};

struct rpc2_conn {
    struct evpl_rpc2_conn pub;
    /* Record marking state (record.c). */
    uint32_t frag_left;    /* bytes of the current fragment not yet handed up */
    int      at_header;    /* the next piece starts with a record mark */
    int      piece_header; /* the piece in flight starts with a record mark */
    int      piece_last;   /* the piece in flight ends the record */
    int      last_frag;    /* the current fragment is the last of its record */
    int      closing;
    int      connected;
    /* Outstanding client calls by xid (client.c). */
    struct rpc2_call *calls[RPC2_CALL_HASH];
    int               ncalls;
    /* Server requests not yet replied to (server.c). */
    struct rpc2_request     *requests;
    struct evpl_rpc2_server *server; /* server conns: whose programs are served */
    /* Per-call timeout (client.c; extension). */
    uint64_t          call_timeout_ns;
    struct evpl_timer timeout_timer;
};

static inline struct rpc2_conn *
rpc2_conn_of(struct evpl_rpc2_conn *conn)
{
    return container_of(conn, struct rpc2_conn, pub);
}

struct evpl_rpc2_server_binding {
    struct evpl_rpc2_thread         *thread;
    struct evpl_rpc2_server         *server;
    struct evpl_listener_binding    *listener_binding;
    void                            *private_data;
    struct evpl_rpc2_server_binding *next;
};

struct evpl_rpc2_server {
    struct evpl_rpc2_program **programs;
    int                        nprograms;
    struct evpl_listener      *listener;
};

struct rpc2_request {
    struct evpl_rpc2_encoding   encoding;
    struct xdr_dbuf             dbuf;
    struct evpl_rpc2_thread    *thread;
    struct rpc2_conn           *conn; /* NULL once the connection is gone */
    struct evpl_iovec          *iov;  /* the record: references owned here */
    int                         niov;
    int                         cap;
    struct rpc2_call_header     hdr;
    struct evpl_rpc2_rdma_chunk read_chunk;
    struct evpl_rpc2_rdma_chunk write_chunk;
    struct rpc2_request        *prev, *next; /* conn's list, or the free list */
    struct rpc2_proc_stats     *stats;       /* NULL until the program is known */
    int                         has_short;   /* reply with this AUTH_SHORT handle */
    int                         orphan;      /* on thread->orphans */
    struct rpc2_gss_context    *gss;         /* RPCSEC_GSS data call: its context */
    uint32_t                    gss_seq, gss_service;
    uint8_t                     short_handle[8];
    uint64_t                    start_ns;
};

struct rpc2_call {
    uint32_t                  xid;
    uint32_t                  proc;
    struct evpl_rpc2_program *program;
    void                     *callback;
    void                     *private_data;
    struct rpc2_call         *next;
    struct rpc2_proc_stats   *stats;
    uint64_t                  start_ns;
};

struct evpl_rpc2_thread {
    struct evpl                         *evpl;
    struct evpl_rpc2_program           **programs;
    int                                  nprograms;
    evpl_rpc2_notify_callback_t          notify_callback;
    void                                *private_data;
    struct rpc2_conn                    *conns;
    struct evpl_rpc2_server_binding     *bindings;
    struct rpc2_request                 *free_requests;
    struct rpc2_request                 *orphans; /* owed a reply, connection gone */
    struct rpc2_call                    *free_calls;
    struct xdr_dbuf                      client_dbuf;
    struct xdr_dbuf                      reply_dbuf;
    uint32_t                             max_record;
    const struct evpl_rpc2_gss_provider *gss_provider;
    void                                *gss_provider_arg;
    unsigned int                         metrics_id;
    uint64_t                             inflight_server, inflight_client;
    struct rpc2_prog_stats              *prog_stats;
    struct rpc2_short_table             *auth_short; /* NULL: AUTH_SHORT off */
    struct rpc2_gss_table               *gss;        /* contexts, allocated on first use */
};

/* conn.c */
struct rpc2_conn *rpc2_conn_create(struct evpl_rpc2_thread *thread, struct evpl_bind *bind);
void rpc2_conn_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
                      void *private_data);
void rpc2_conn_close(struct rpc2_conn *conn);

/* record.c */
int  rpc2_record_segment(struct evpl *evpl, struct evpl_bind *bind, void *private_data);
void rpc2_record_recv(struct evpl *evpl, struct rpc2_conn *conn, struct evpl_iovec *iov, int niov,
                      uint32_t length);
void rpc2_record_reset(struct evpl *evpl, struct rpc2_conn *conn);
void rpc2_record_append(struct evpl *evpl, struct rpc2_conn *conn, struct evpl_iovec *iov, int niov,
                        uint32_t skip, uint32_t length);
void rpc2_record_dispatch(struct evpl *evpl, struct rpc2_conn *conn);

/* rdma.c: RPC-over-RDMA version 1 (RFC 8166), inline messages only. */
#define RPC2_RDMA_HDR_LEN 28
#define RPC2_RDMA_CREDITS 128
uint32_t rpc2_rdma_prefix(uint8_t *p, const uint8_t *rpc_hdr);
void     rpc2_rdma_recv(struct evpl *evpl, struct rpc2_conn *conn, struct evpl_iovec *iov, int niov,
                        uint32_t length);
/* Send iov[0..niov) (length bytes, the first skip of them headroom) behind the
 * header hdr (hdr_len bytes) as one record; takes the references. */
void rpc2_record_send(struct evpl *evpl, struct rpc2_conn *conn, const uint8_t *hdr,
                      uint32_t hdr_len, struct evpl_iovec *iov, int niov, uint32_t length,
                      uint32_t skip);

/* server.c: a whole call record (msg_type CALL); takes the record's iovecs. */
void rpc2_server_recv_call(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_cursor *cur,
                           uint32_t xid);
void rpc2_server_conn_gone(struct rpc2_conn *conn);
void rpc2_request_orphans_free(struct evpl_rpc2_thread *thread);
void rpc2_request_pool_free(struct evpl_rpc2_thread *thread);
int  rpc2_send_reply_dispatch(struct evpl *evpl, struct evpl_rpc2_encoding *encoding,
                              const struct evpl_rpc2_verf *verf, xdr_iovec *iov, int niov,
                              int length);

/* client.c: a whole reply record. */
void rpc2_client_recv_reply(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_cursor *cur,
                            uint32_t xid);
void rpc2_client_conn_lost(struct evpl *evpl, struct rpc2_conn *conn);
void rpc2_client_conn_stop_timeout(struct rpc2_conn *conn);
/* Complete the call xid (if outstanding) with status (RDMA_ERROR). */
void rpc2_client_fail(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid, int status);
void rpc2_call_pool_free(struct evpl_rpc2_thread *thread);

/* dbuf.c */
void rpc2_dbuf_init(struct xdr_dbuf *dbuf, int size);
void rpc2_dbuf_destroy(struct xdr_dbuf *dbuf);

/* metrics.c */
void rpc2_metrics_thread_init(struct evpl_rpc2_thread *thread);
void rpc2_metrics_thread_destroy(struct evpl_rpc2_thread *thread);
/* The stats slot of (program, proc, role); NULL for proc > maxproc. */
struct rpc2_proc_stats *rpc2_metrics_proc(struct evpl_rpc2_thread  *thread,
                                          struct evpl_rpc2_program *program, uint32_t proc,
                                          int client);
void     rpc2_metrics_record(struct rpc2_proc_stats *s, int error, uint64_t latency_ns);
void     rpc2_metrics_inflight(struct evpl_rpc2_thread *thread, int client, int delta);
uint64_t rpc2_now_ns(struct evpl_rpc2_thread *thread);

/* auth_short.c */
struct rpc2_short_table;
void rpc2_auth_short_free(struct evpl_rpc2_thread *thread);
/* The 8-byte handle standing for an AUTH_SYS credential (issuing one if needed). */
void rpc2_auth_short_issue(struct evpl_rpc2_thread *thread, const struct evpl_rpc2_cred *cred,
                           uint8_t handle[8]);
/* Replace an AUTH_SHORT credential by the AUTH_SYS one it stands for; -1 if stale. */
int rpc2_auth_short_resolve(struct evpl_rpc2_thread *thread, struct rpc2_call_header *h);

/* gss.c */
struct rpc2_gss_table;
struct rpc2_gss_context;
/*
 * An RPCSEC_GSS call (cred.flavor 6) on the server.  Returns 0 when the call
 * is to be dispatched (data call: verified, sequence accepted, arguments
 * unwrapped into req->iov and *cur re-pointed at them, cred.gss filled),
 * > 0 an auth_stat to refuse it with, or -1 when the GSS layer finished the
 * request itself (control procedure answered, or a replay dropped).
 */
int rpc2_gss_server_call(struct evpl *evpl, struct rpc2_conn *conn, struct rpc2_request *req,
                         struct rpc2_cursor *cur);
/* The reply of a data call: its verifier body (MIC of the sequence number)
 * into verf[0..*vlen), and for integrity/privacy the results replaced by
 * their wrapped form.  Returns 0 or -1 (nothing can be sent). */
int  rpc2_gss_server_reply(struct evpl *evpl, struct rpc2_request *req, uint8_t *verf,
                           uint32_t *vlen, struct evpl_iovec **iov, int *niov, int *length,
                           struct evpl_iovec *repl);
void rpc2_gss_free(struct evpl_rpc2_thread *thread);

/* server.c, for gss.c */
void rpc2_request_done(struct evpl *evpl, struct rpc2_request *req);
/* An accepted reply built from bytes: verifier, accept_stat, results. */
void rpc2_server_reply_raw(struct evpl *evpl, struct rpc2_conn *conn, uint32_t xid,
                           uint32_t verf_flavor, const uint8_t *verf, uint32_t vlen, uint32_t stat,
                           const uint8_t *results, uint32_t rlen);
