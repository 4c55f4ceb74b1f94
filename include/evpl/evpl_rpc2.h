/*
 * ONC RPC version 2 (RFC 5531) on top of libevpl: contract section 17.1-17.2.
 * Linked as libevpl_rpc2.  Program-specific marshalling is generated code
 * (xdrzcc -r) that fills struct evpl_rpc2_program (evpl_rpc2_program.h).
 *
 * Threading: an evpl_rpc2_thread belongs to one loop; every function taking
 * a thread or a conn runs on that loop's thread.  A server may be attached
 * to any number of threads.
 */
#pragma once

#include <stdint.h>
#include <evpl/evpl.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct xdr_dbuf;                 /* opaque: XDR scratch allocator */
struct evpl_rpc2_thread;         /* opaque: RPC2 state of one loop */
struct evpl_rpc2_server;         /* opaque: a set of served programs + listener */
struct evpl_rpc2_request;        /* opaque */
struct evpl_rpc2_call;           /* opaque */
struct evpl_rpc2_gss_context;    /* opaque */
struct evpl_rpc2_server_binding; /* opaque (referenced by evpl_rpc2_conn) */

/* An opaque verifier body (AUTH_SHORT: the short handle the server hands out). */
struct evpl_rpc2_verf {
    const void *data;
    uint32_t    len;
};

#define EVPL_RPC2_AUTH_SYS_MAX_GIDS 16
#define EVPL_RPC2_AUTH_NONE         0
#define EVPL_RPC2_AUTH_SYS          1
#define EVPL_RPC2_AUTH_SHORT        2
#define EVPL_RPC2_AUTH_RPCSEC_GSS   6

/*
 * The parsed credential of a call.  flavor is an EVPL_RPC2_AUTH_* value.
 * authsys.gids points at storage owned by the request (server side) or at
 * the caller's array (client side); machinename is counted, not terminated.
 */
struct evpl_rpc2_cred {
    uint32_t flavor;
    struct {
        uint32_t    uid;
        uint32_t    gid;
        uint32_t    num_gids;
        uint32_t   *gids;
        const char *machinename;
        int         machinename_len;
    } authsys;
    struct {
        const char *principal;
        uint32_t    service;
        void       *gss_ctx;
    } gss;
};

#define EVPL_RPC2_NOTIFY_ACCEPTED     1
#define EVPL_RPC2_NOTIFY_CONNECTED    2
#define EVPL_RPC2_NOTIFY_DISCONNECTED 3

struct evpl_rpc2_notify {
    unsigned int notify_type;
};

/*
 * One RPC connection.  Applications and generated code read protocol, rdma,
 * bind, private_data and server_private_data; the rest is library-managed.
 */
struct evpl_rpc2_conn {
    enum evpl_protocol_id            protocol;
    int                              rdma;
    struct evpl_rpc2_thread         *thread;
    struct evpl_rpc2_server_binding *server_binding;
    struct evpl_bind                *bind;
    struct evpl_rpc2_request        *pending_calls;
    uint32_t                         next_xid;
    void                            *private_data;
    struct evpl_rpc2_conn           *prev;
    struct evpl_rpc2_conn           *next;
    void                            *server_private_data;
    int                              num_server_programs;
    struct evpl_rpc2_program        *server_programs[4];
    struct evpl_iovec               *reasm_iov;
    int                              reasm_niov;
    int                              reasm_cap;
    uint32_t                         reasm_length;
};

/*
 * ACCEPTED: a server connection was accepted (private_data is the server
 * attachment's); CONNECTED: a client connection came up; DISCONNECTED: a
 * connection went down (outstanding client calls were first completed with
 * EVPL_RPC2_REPLY_CONN_LOST; conn is freed after the callback).
 */
typedef void (*evpl_rpc2_notify_callback_t)(struct evpl_rpc2_thread *thread,
                                            struct evpl_rpc2_conn   *conn,
                                            struct evpl_rpc2_notify *notify, void *private_data);

/*
 * Create the RPC2 context of loop evpl.  programs (array copied) are the
 * programs this thread calls as a client; notify_callback may be NULL.
 */
struct evpl_rpc2_thread *evpl_rpc2_thread_init(struct evpl               *evpl,
                                               struct evpl_rpc2_program **programs, int nprograms,
                                               evpl_rpc2_notify_callback_t notify_callback,
                                               void                       *private_data);

/* Close every connection of the thread (pumping the loop until down) and free it. */
void evpl_rpc2_thread_destroy(struct evpl_rpc2_thread *thread);

/* The thread's client-side XDR scratch buffer, reset, for marshalling call arguments. */
void *evpl_rpc2_thread_get_client_dbuf(struct evpl_rpc2_thread *thread);

/*
 * A server for programs (array copied; each program's send_reply_dispatch is
 * installed by the library) with its own listener.  NULL on bad arguments.
 */
struct evpl_rpc2_server *evpl_rpc2_server_init(struct evpl_rpc2_program **programs, int nprograms);

/* Listen on endpoint with protocol (an enum evpl_protocol_id); 0 or -1 as evpl_listen(). */
int evpl_rpc2_server_start(struct evpl_rpc2_server *server, int protocol,
                           struct evpl_endpoint *endpoint);

/*
 * Make thread's loop receive (or stop receiving) the server's connections;
 * private_data becomes each accepted conn's server_private_data.  Detaching
 * a server that is not attached aborts.
 */
void evpl_rpc2_server_attach(struct evpl_rpc2_thread *thread, struct evpl_rpc2_server *server,
                             void *private_data);
void evpl_rpc2_server_detach(struct evpl_rpc2_thread *thread, struct evpl_rpc2_server *server);

/* Stop listening (destroys the listener); free the server (stopping it first if needed). */
void evpl_rpc2_server_stop(struct evpl_rpc2_server *server);
void evpl_rpc2_server_destroy(struct evpl_rpc2_server *server);

/*
 * Connect to an RPC server (NULL as evpl_connect() would).  server_programs
 * (at most 4) are programs this end serves on the same connection
 * (backchannel).
 */
struct evpl_rpc2_conn *evpl_rpc2_client_connect(struct evpl_rpc2_thread *thread, int protocol,
                                                struct evpl_endpoint      *endpoint,
                                                struct evpl_rpc2_program **server_programs,
                                                int num_server_programs, void *server_private_data);

/* Close the connection (DISCONNECTED follows). */
void evpl_rpc2_client_disconnect(struct evpl_rpc2_thread *thread, struct evpl_rpc2_conn *conn);

/* Address rendering as evpl_bind_get_*_address(); per-connection application pointer. */
void  evpl_rpc2_conn_get_local_address(struct evpl_rpc2_conn *conn, char *str, int len);
void  evpl_rpc2_conn_get_remote_address(struct evpl_rpc2_conn *conn, char *str, int len);
void  evpl_rpc2_conn_set_private_data(struct evpl_rpc2_conn *conn, void *private_data);
void *evpl_rpc2_conn_get_private_data(struct evpl_rpc2_conn *conn);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
