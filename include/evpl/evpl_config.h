/*
 * Configuration: a global config (process-wide, handed to evpl_init(), which
 * owns it from then on) and thread configs (one loop each, consumed by
 * evpl_create()/evpl_thread_create()).  Setters only record values; nothing
 * takes effect until the object is handed over.  Setters never initialise
 * the library and, unless stated, do not validate their arguments.  Settings
 * for backends that are not built are stored and ignored.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_config.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* Readiness mechanism used by every loop's core wait. */
enum evpl_core_mech {
    EVPL_CORE_MECH_DEFAULT = 0, /* epoll on Linux */
    EVPL_CORE_MECH_EPOLL   = 1,
    EVPL_CORE_MECH_KQUEUE  = 2, /* not on Linux: evpl_init() aborts */
    EVPL_CORE_MECH_SELECT  = 3,
};

/*
 * Extension: how a listener picks the attached loop for a new connection.
 * ROUND_ROBIN (default) cycles in attachment order; LEAST_LOADED picks the
 * binding whose loop currently owns the fewest live connections accepted
 * from that listener (ties: attachment order).  INCOMING_CPU (topology
 * extension, docs/topology.md) picks the loop pinned to the CPU that
 * processed the connection's packets (SO_INCOMING_CPU), else a loop sharing
 * that CPU's last-level cache, else its NUMA node, else the least loaded.
 */
enum evpl_listener_policy {
    EVPL_LISTENER_POLICY_ROUND_ROBIN  = 0,
    EVPL_LISTENER_POLICY_LEAST_LOADED = 1,
    EVPL_LISTENER_POLICY_INCOMING_CPU = 2,
};

/* A new global config holding every default.  Does not initialise. */
struct evpl_global_config *evpl_global_config_init(void);

/* Free a global config that was never handed to evpl_init(). */
void evpl_global_config_release(struct evpl_global_config *config);

/* Core wait mechanism (default EVPL_CORE_MECH_DEFAULT). */
void evpl_global_config_set_core_mech(struct evpl_global_config *config, enum evpl_core_mech mech);

/* --- memory and buffers --- */

/* Size of one allocator buffer; bounds one iovec and one datagram (2 MiB). */
void evpl_global_config_set_buffer_size(struct evpl_global_config *config, uint64_t size);
/* Size of one slab, the unit memory is obtained and registered in (1 GiB). */
void evpl_global_config_set_slab_size(struct evpl_global_config *config, uint64_t size);
/* Back slabs with hugetlb pages, falling back to base pages with a log (0). */
void evpl_global_config_set_huge_pages(struct evpl_global_config *config, int huge_pages);
/*
 * Hugetlb page size (2 MiB).  Validated now: a power of two, larger than the
 * base page and at most 16 GiB, else an error is logged and the previous
 * value kept.
 */
void evpl_global_config_set_huge_page_size(struct evpl_global_config *config, uint64_t size);
/* Most iovecs gathered into one transport operation (128). */
void evpl_global_config_set_max_num_iovec(struct evpl_global_config *config, unsigned int max);
/* Slabs' worth of free buffers kept ready by background producers (0). */
void evpl_global_config_set_preallocate_slabs(struct evpl_global_config *config,
                                              unsigned int               slabs);
/* Number of background producer threads (0: one when slabs > 0). */
void evpl_global_config_set_preallocate_threads(struct evpl_global_config *config,
                                                unsigned int               threads);

/* --- rings and batching --- */

/* Initial per-bind iovec ring capacity, power of two; rings grow (1024). */
void evpl_global_config_set_iovec_ring_size(struct evpl_global_config *config, unsigned int size);
/* Initial per-bind message ring capacity, power of two; grows (1024). */
void evpl_global_config_set_dgram_ring_size(struct evpl_global_config *config, unsigned int size);
/* Reserved; stored, no effect (64). */
void evpl_global_config_set_rdma_request_ring_size(struct evpl_global_config *config,
                                                   unsigned int               size);
/* Largest datagram received; keep <= buffer_size (65536). */
void evpl_global_config_set_max_datagram_size(struct evpl_global_config *config, unsigned int size);
/* Datagrams per recvmmsg/sendmmsg call on UDP (16). */
void evpl_global_config_set_max_datagram_batch(struct evpl_global_config *config,
                                               unsigned int               batch);
/* Listen backlog of stream listeners (16). */
void evpl_global_config_set_max_pending(struct evpl_global_config *config, unsigned int max);
/* Reserved; stored, no effect (16). */
void evpl_global_config_set_max_poll_fd(struct evpl_global_config *config, unsigned int max);
/* Lifetime of a cached inet endpoint resolution, ms (5000). */
void evpl_global_config_set_resolve_timeout_ms(struct evpl_global_config *config,
                                               unsigned int               timeout_ms);
/* Extension: connection steering policy of listeners (ROUND_ROBIN). */
void evpl_global_config_set_listener_policy(struct evpl_global_config *config,
                                            enum evpl_listener_policy  policy);

/* --- TCP connection liveness (extensions) --- */

/*
 * Extension: TCP keepalive on every TCP connection the library makes or
 * accepts (STREAM_SOCKET_TCP, STREAM_SOCKET_TLS, DATAGRAM_TCP_RDMA,
 * STREAM_IO_URING_TCP): after idle_s seconds without traffic the kernel sends
 * a probe every interval_s seconds and declares the peer dead after count
 * unanswered probes.  The bind then ends with DISCONNECTED like any other
 * transport failure.  Default 60 s / 10 s / 6 probes: a vanished host is
 * noticed about two minutes after the connection went quiet (the kernel's
 * own default is over two hours), a one-minute outage or link flap is
 * ridden out, and an idle connection costs one empty segment a minute.
 * idle_s == 0 turns keepalive off (interval_s and count are then ignored).
 * Validated now: otherwise idle_s and interval_s must be 1..32767 and count
 * 1..127, else an error is logged and the previous setting is kept.
 */
void evpl_global_config_set_tcp_keepalive(struct evpl_global_config *config, unsigned int idle_s,
                                          unsigned int interval_s, unsigned int count);

/*
 * Extension: TCP_USER_TIMEOUT (Linux) on the same connections: how long sent
 * data may stay unacknowledged before the connection is dropped (ETIMEDOUT,
 * reported as DISCONNECTED).  This covers what keepalive cannot, a peer that
 * vanishes while data is in flight (the kernel otherwise retransmits for
 * about 15 minutes); it also bounds connection establishment and caps the
 * keepalive probing above.  Default: follows the keepalive setting,
 * idle + interval * count (120000 ms with the defaults), or off when
 * keepalive is off; an explicit value (including one made before or after
 * changing the keepalive setting) takes precedence.  0 leaves the kernel
 * default (no user timeout).  Values above INT_MAX are refused with an error
 * log (previous value kept).  Caveat: Linux applies the timeout to a zero
 * receive window too, so a live peer whose application stops reading (its
 * receive buffers full) for longer than the timeout while we have data for it
 * is disconnected as well; keep the timeout above the longest such stall the
 * application protocol allows, or set 0 to rely on keepalive alone (a peer
 * that vanishes with data in flight is then noticed only after the kernel's
 * retransmissions give up).
 */
void evpl_global_config_set_tcp_user_timeout_ms(struct evpl_global_config *config,
                                                unsigned int               timeout_ms);

/* --- event loop timing --- */

/* Spin window of hybrid polling in ns, for loops created later (1 ms). */
void evpl_global_config_set_spin_ns(struct evpl_global_config *config, uint64_t ns);
/* Clock of evpl_get_hf_monotonic_time(): 0 OS, 1 TSC, 2 auto (2). */
void evpl_global_config_set_hf_time_mode(struct evpl_global_config *config, unsigned int mode);
/* Non-zero: all loop time comes from the virtual clock (0). */
void evpl_global_config_set_virtual_clock(struct evpl_global_config *config, int enabled);

/* --- backends --- */

void evpl_global_config_set_io_uring_enabled(struct evpl_global_config *config, int enabled);
/* Submission queue depth of each per-thread io_uring (8192). */
void evpl_global_config_set_io_uring_entries(struct evpl_global_config *config,
                                             unsigned int               entries);
void evpl_global_config_set_xlio_enabled(struct evpl_global_config *config, int enabled);
void evpl_global_config_set_vfio_enabled(struct evpl_global_config *config, int enabled);
void evpl_global_config_set_libaio_enabled(struct evpl_global_config *config, int enabled);
/* In-flight requests per libaio context (256). */
void evpl_global_config_set_libaio_max_pending(struct evpl_global_config *config,
                                               unsigned int               max_pending);
void evpl_global_config_set_rdmacm_enabled(struct evpl_global_config *config, int enabled);

/* --- RDMA CM tuning (stored; RDMA CM is not built on this platform) --- */

void evpl_global_config_set_rdmacm_tos(struct evpl_global_config *config, uint8_t tos);
void evpl_global_config_set_rdmacm_datagram_size_override(struct evpl_global_config *config,
                                                          unsigned int               size);
void evpl_global_config_set_rdmacm_srq_prefill(struct evpl_global_config *config, int prefill);
void evpl_global_config_set_rdmacm_max_sge(struct evpl_global_config *config, unsigned int max_sge);
void evpl_global_config_set_rdmacm_cq_size(struct evpl_global_config *config, unsigned int size);
void evpl_global_config_set_rdmacm_sq_size(struct evpl_global_config *config, unsigned int size);
void evpl_global_config_set_rdmacm_srq_size(struct evpl_global_config *config, unsigned int size);
void evpl_global_config_set_rdmacm_srq_min(struct evpl_global_config *config, unsigned int min);
void evpl_global_config_set_rdmacm_max_inline(struct evpl_global_config *config,
                                              unsigned int               max_inline);
void evpl_global_config_set_rdmacm_srq_batch(struct evpl_global_config *config, unsigned int batch);
void evpl_global_config_set_rdmacm_retry_count(struct evpl_global_config *config,
                                               unsigned int               retry_count);
void evpl_global_config_set_rdmacm_rnr_retry_count(struct evpl_global_config *config,
                                                   unsigned int               retry_count);

/* --- TLS (strings are copied) --- */

void evpl_global_config_set_tls_cert(struct evpl_global_config *config, const char *cert_file);
void evpl_global_config_set_tls_key(struct evpl_global_config *config, const char *key_file);
void evpl_global_config_set_tls_ca(struct evpl_global_config *config, const char *ca_file);
/* OpenSSL cipher string or TLS 1.3 suite list; NULL restores the default. */
void evpl_global_config_set_tls_cipher_list(struct evpl_global_config *config,
                                            const char                *cipher_list);
/*
 * Peer verification, both directions (default 1: on).  Without tls_cert and
 * tls_key a server presents a self-signed certificate generated in memory,
 * which no CA vouches for: with verification on, clients reject it (the
 * library does not trust it implicitly, not even within one process).  A
 * demo or test using it sets 0 here, explicitly; real deployments configure
 * a certificate, key and CA and keep verification on (docs/tls.md).
 */
void evpl_global_config_set_tls_verify_peer(struct evpl_global_config *config, int verify);
void evpl_global_config_set_tls_ktls_enabled(struct evpl_global_config *config, int enabled);

/* --- protocol modules --- */

void evpl_global_config_set_http_max_header_size(struct evpl_global_config *config,
                                                 unsigned int               size);
void evpl_global_config_set_rpc2_max_message_size(struct evpl_global_config *config,
                                                  unsigned int               size);

/*
 * A new thread config holding the thread defaults of the global config
 * (poll_mode 1, poll_iterations 1000, wait_ms -1, spin_ns from the global
 * config).  Initialises the library implicitly if needed.
 */
struct evpl_thread_config *evpl_thread_config_init(void);

/* Free a thread config never passed to evpl_create()/evpl_thread_create(). */
void evpl_thread_config_release(struct evpl_thread_config *config);

/* Non-zero allows busy-poll mode when a poll is registered (1). */
void evpl_thread_config_set_poll_mode(struct evpl_thread_config *config, int poll_mode);
/* Pure poll passes between two full passes while spinning (1000). */
void evpl_thread_config_set_poll_iterations(struct evpl_thread_config *config, int iterations);
/* Upper bound of one core wait in ms; -1 waits for the next timer (-1). */
void evpl_thread_config_set_wait_ms(struct evpl_thread_config *config, int wait_ms);
/*
 * Extension: pin the loop's thread to the given CPUs when the loop is
 * created (evpl_create() applies it to the calling thread).  ncpus == 0
 * clears the setting (no pinning, the default).  Returns 0, or -1 if a CPU
 * number is negative or beyond the supported range (nothing is changed).
 */
int evpl_thread_config_set_cpu_affinity(struct evpl_thread_config *config, const int *cpus,
                                        int ncpus);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
