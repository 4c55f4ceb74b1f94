/*
 * The real layouts of the opaque configuration objects.  Defaults live in
 * config.c (evpl_global_config_init / evpl_thread_config_defaults).
 */
#pragma once

#include <stdint.h>
#include "evpl/evpl.h"

#define EVPL_MAX_AFFINITY_CPUS 1024

/*
 * CPU affinity (evpl_thread_config_set_cpu_affinity): cpu_mask is the
 * authoritative set (bit n = CPU n, n < EVPL_MAX_AFFINITY_CPUS); ncpus is the
 * number of distinct CPUs in it (0: no pinning) and cpus[] lists the first 64
 * of them in the order they were given, for logging.
 */
struct evpl_thread_config {
    int      poll_mode;       /* 1 */
    int      poll_iterations; /* 1000 */
    int      wait_ms;         /* -1 */
    uint64_t spin_ns;         /* 1 ms */
    int      ncpus;           /* 0: no pinning */
    int      cpus[64];        /* first 64 CPUs of the affinity set */
    uint64_t cpu_mask[EVPL_MAX_AFFINITY_CPUS / 64];
    char     thread_name[16]; /* "" keeps the thread's name (set by placed pools) */
};

struct evpl_global_config {
    struct evpl_thread_config thread_default;

    enum evpl_core_mech       core_mech;
    enum evpl_listener_policy listener_policy;

    uint64_t     buffer_size;
    uint64_t     slab_size;
    int          huge_pages;
    uint64_t     huge_page_size;
    unsigned int max_num_iovec;
    unsigned int preallocate_slabs;
    unsigned int preallocate_threads;

    unsigned int iovec_ring_size;
    unsigned int dgram_ring_size;
    unsigned int rdma_request_ring_size;
    unsigned int max_datagram_size;
    unsigned int max_datagram_batch;
    unsigned int max_pending;
    unsigned int max_poll_fd;
    unsigned int resolve_timeout_ms;

    /* TCP liveness (evpl_socket_tcp_setup): keepalive off when idle is 0; the
     * user timeout follows the keepalive settings until set explicitly. */
    unsigned int tcp_keepalive_idle_s;
    unsigned int tcp_keepalive_interval_s;
    unsigned int tcp_keepalive_count;
    unsigned int tcp_user_timeout_ms;
    int          tcp_user_timeout_set;

    unsigned int hf_time_mode;
    int          virtual_clock;

    int          io_uring_enabled;
    unsigned int io_uring_entries;
    int          xlio_enabled;
    int          vfio_enabled;
    int          libaio_enabled;
    unsigned int libaio_max_pending;
    int          rdmacm_enabled;

    uint8_t      rdmacm_tos;
    unsigned int rdmacm_datagram_size_override;
    int          rdmacm_srq_prefill;
    unsigned int rdmacm_max_sge;
    unsigned int rdmacm_cq_size;
    unsigned int rdmacm_sq_size;
    unsigned int rdmacm_srq_size;
    unsigned int rdmacm_srq_min;
    unsigned int rdmacm_max_inline;
    unsigned int rdmacm_srq_batch;
    unsigned int rdmacm_retry_count;
    unsigned int rdmacm_rnr_retry_count;

    char *tls_cert;
    char *tls_key;
    char *tls_ca;
    char *tls_cipher_list;
    int   tls_verify_peer;
    int   tls_ktls_enabled;

    unsigned int http_max_header_size;
    unsigned int rpc2_max_message_size;
};

/* The built-in thread defaults (poll_mode 1, poll_iterations 1000,
 * wait_ms -1, spin_ns 1 ms, no CPU pinning). */
void evpl_thread_config_defaults(struct evpl_thread_config *config);

/*
 * A heap copy of src that the caller owns (released with
 * evpl_thread_config_release() or consumed by evpl_create()).  Thread pools
 * use it to give each worker its own config.  Aborts on allocation failure.
 */
struct evpl_thread_config *evpl_thread_config_dup(const struct evpl_thread_config *src);

/*
 * The TCP_USER_TIMEOUT to apply, in ms (0: leave the kernel default): the
 * explicit setting, else idle + interval * count of an enabled keepalive.
 */
unsigned int evpl_config_tcp_user_timeout_ms(const struct evpl_global_config *config);

/* Free a global config and the strings it owns (NULL is ignored).  Used by
 * evpl_global_config_release() and by the exit handler. */
void evpl_global_config_free(struct evpl_global_config *config);
