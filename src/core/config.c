/*
 * Global and thread configuration objects: defaults, setters, copies.
 *
 * Setters only record values (API §3); the single exception is
 * evpl_global_config_set_huge_page_size(), which validates immediately.  No
 * function here initialises the library except evpl_thread_config_init(),
 * which needs the initialised global config's thread defaults (fix A.9).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/shared.h"

#define EVPL_DEFAULT_RPC2_MAX_MESSAGE_SIZE (4u * 1024 * 1024)
#define EVPL_MAX_HUGE_PAGE_SIZE            (16ull * 1024 * 1024 * 1024)

/*
 * TCP liveness defaults (see evpl_global_config_set_tcp_keepalive()): an idle
 * connection is probed after a minute; ten-second probes, six of them, ride
 * out a minute of loss or a link flap before the peer is declared dead.
 */
#define EVPL_DEFAULT_TCP_KEEPALIVE_IDLE_S     60
#define EVPL_DEFAULT_TCP_KEEPALIVE_INTERVAL_S 10
#define EVPL_DEFAULT_TCP_KEEPALIVE_COUNT      6
/* The kernel's limits (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT). */
#define EVPL_MAX_TCP_KEEPALIVE_SECONDS 32767
#define EVPL_MAX_TCP_KEEPALIVE_COUNT   127

/* Setters are caller-facing: a NULL object is a programming error. */
#define config_check(config) evpl_core_abort_if((config) == NULL, "%s: config is NULL", __func__)

void
evpl_thread_config_defaults(struct evpl_thread_config *config)
{
    memset(config, 0, sizeof(*config));
    config->poll_mode       = 1;
    config->poll_iterations = 1000;
    config->wait_ms         = -1;
    config->spin_ns         = 1000000;
    config->ncpus           = 0;
}

struct evpl_global_config *
evpl_global_config_init(void)
{
    struct evpl_global_config *config = calloc(1, sizeof(*config));

    if (config == NULL) {
        evpl_core_error("out of memory allocating a global config");
        return NULL;
    }

    evpl_thread_config_defaults(&config->thread_default);

    config->core_mech       = EVPL_CORE_MECH_DEFAULT;
    config->listener_policy = EVPL_LISTENER_POLICY_ROUND_ROBIN;

    config->buffer_size         = 2 * 1024 * 1024;
    config->slab_size           = 1024 * 1024 * 1024;
    config->huge_pages          = 0;
    config->huge_page_size      = 2 * 1024 * 1024;
    config->max_num_iovec       = 128;
    config->preallocate_slabs   = 0;
    config->preallocate_threads = 0;

    config->iovec_ring_size        = 1024;
    config->dgram_ring_size        = 1024;
    config->rdma_request_ring_size = 64;
    config->max_datagram_size      = 65536;
    config->max_datagram_batch     = 16;
    config->max_pending            = 16;
    config->max_poll_fd            = 16;
    config->resolve_timeout_ms     = 5000;

    config->tcp_keepalive_idle_s     = EVPL_DEFAULT_TCP_KEEPALIVE_IDLE_S;
    config->tcp_keepalive_interval_s = EVPL_DEFAULT_TCP_KEEPALIVE_INTERVAL_S;
    config->tcp_keepalive_count      = EVPL_DEFAULT_TCP_KEEPALIVE_COUNT;
    config->tcp_user_timeout_ms      = 0;
    config->tcp_user_timeout_set     = 0; /* follow the keepalive settings */

    config->hf_time_mode  = 2;
    config->virtual_clock = 0;

    config->io_uring_enabled   = 1;
    config->io_uring_entries   = 8192;
    config->xlio_enabled       = 1;
    config->vfio_enabled       = 1;
    config->libaio_enabled     = 1;
    config->libaio_max_pending = 256;
    config->rdmacm_enabled     = 1;

    config->rdmacm_tos                    = 0;
    config->rdmacm_datagram_size_override = 0;
    config->rdmacm_srq_prefill            = 0;
    config->rdmacm_max_sge                = 31;
    config->rdmacm_cq_size                = 8192;
    config->rdmacm_sq_size                = 256;
    config->rdmacm_srq_size               = 8192;
    config->rdmacm_srq_min                = 256;
    config->rdmacm_max_inline             = 250;
    config->rdmacm_srq_batch              = 16;
    config->rdmacm_retry_count            = 4;
    config->rdmacm_rnr_retry_count        = 4;

    config->tls_cert         = NULL;
    config->tls_key          = NULL;
    config->tls_ca           = NULL;
    config->tls_cipher_list  = NULL;
    config->tls_verify_peer  = 1;
    config->tls_ktls_enabled = 1;

    config->http_max_header_size  = 8192;
    config->rpc2_max_message_size = EVPL_DEFAULT_RPC2_MAX_MESSAGE_SIZE;

    return config;
}

void
evpl_global_config_free(struct evpl_global_config *config)
{
    if (config == NULL) {
        return;
    }
    free(config->tls_cert);
    free(config->tls_key);
    free(config->tls_ca);
    free(config->tls_cipher_list);
    free(config);
}

void
evpl_global_config_release(struct evpl_global_config *config)
{
    const struct evpl_shared *shared = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE);

    /* Releasing the config the library owns would leave it dangling. */
    evpl_core_abort_if(shared != NULL && shared->config == config && config != NULL,
                       "evpl_global_config_release: config was handed to evpl_init()");
    evpl_global_config_free(config);
}

/* Generates the plain "record one value" setters. */
#define EVPL_GLOBAL_SETTER(name, type, field)                                                      \
    void evpl_global_config_set_##name(struct evpl_global_config *config, type v)                  \
    {                                                                                              \
        config_check(config);                                                                      \
        config->field = v;                                                                         \
    }

EVPL_GLOBAL_SETTER(core_mech, enum evpl_core_mech, core_mech)
EVPL_GLOBAL_SETTER(listener_policy, enum evpl_listener_policy, listener_policy)

EVPL_GLOBAL_SETTER(buffer_size, uint64_t, buffer_size)
EVPL_GLOBAL_SETTER(slab_size, uint64_t, slab_size)
EVPL_GLOBAL_SETTER(huge_pages, int, huge_pages)
EVPL_GLOBAL_SETTER(max_num_iovec, unsigned int, max_num_iovec)
EVPL_GLOBAL_SETTER(preallocate_slabs, unsigned int, preallocate_slabs)
EVPL_GLOBAL_SETTER(preallocate_threads, unsigned int, preallocate_threads)

EVPL_GLOBAL_SETTER(iovec_ring_size, unsigned int, iovec_ring_size)
EVPL_GLOBAL_SETTER(dgram_ring_size, unsigned int, dgram_ring_size)
EVPL_GLOBAL_SETTER(rdma_request_ring_size, unsigned int, rdma_request_ring_size)
EVPL_GLOBAL_SETTER(max_datagram_size, unsigned int, max_datagram_size)
EVPL_GLOBAL_SETTER(max_datagram_batch, unsigned int, max_datagram_batch)
EVPL_GLOBAL_SETTER(max_pending, unsigned int, max_pending)
EVPL_GLOBAL_SETTER(max_poll_fd, unsigned int, max_poll_fd)
EVPL_GLOBAL_SETTER(resolve_timeout_ms, unsigned int, resolve_timeout_ms)

/* spin_ns lives in the thread defaults: it applies to loops created later. */
EVPL_GLOBAL_SETTER(spin_ns, uint64_t, thread_default.spin_ns)
EVPL_GLOBAL_SETTER(hf_time_mode, unsigned int, hf_time_mode)
EVPL_GLOBAL_SETTER(virtual_clock, int, virtual_clock)

EVPL_GLOBAL_SETTER(io_uring_enabled, int, io_uring_enabled)
EVPL_GLOBAL_SETTER(io_uring_entries, unsigned int, io_uring_entries)
EVPL_GLOBAL_SETTER(xlio_enabled, int, xlio_enabled)
EVPL_GLOBAL_SETTER(vfio_enabled, int, vfio_enabled)
EVPL_GLOBAL_SETTER(libaio_enabled, int, libaio_enabled)
EVPL_GLOBAL_SETTER(libaio_max_pending, unsigned int, libaio_max_pending)
EVPL_GLOBAL_SETTER(rdmacm_enabled, int, rdmacm_enabled)

EVPL_GLOBAL_SETTER(rdmacm_tos, uint8_t, rdmacm_tos)
EVPL_GLOBAL_SETTER(rdmacm_datagram_size_override, unsigned int, rdmacm_datagram_size_override)
EVPL_GLOBAL_SETTER(rdmacm_srq_prefill, int, rdmacm_srq_prefill)
EVPL_GLOBAL_SETTER(rdmacm_max_sge, unsigned int, rdmacm_max_sge)
EVPL_GLOBAL_SETTER(rdmacm_cq_size, unsigned int, rdmacm_cq_size)
EVPL_GLOBAL_SETTER(rdmacm_sq_size, unsigned int, rdmacm_sq_size)
EVPL_GLOBAL_SETTER(rdmacm_srq_size, unsigned int, rdmacm_srq_size)
EVPL_GLOBAL_SETTER(rdmacm_srq_min, unsigned int, rdmacm_srq_min)
EVPL_GLOBAL_SETTER(rdmacm_max_inline, unsigned int, rdmacm_max_inline)
EVPL_GLOBAL_SETTER(rdmacm_srq_batch, unsigned int, rdmacm_srq_batch)
EVPL_GLOBAL_SETTER(rdmacm_retry_count, unsigned int, rdmacm_retry_count)
EVPL_GLOBAL_SETTER(rdmacm_rnr_retry_count, unsigned int, rdmacm_rnr_retry_count)

EVPL_GLOBAL_SETTER(tls_verify_peer, int, tls_verify_peer)
EVPL_GLOBAL_SETTER(tls_ktls_enabled, int, tls_ktls_enabled)

EVPL_GLOBAL_SETTER(http_max_header_size, unsigned int, http_max_header_size)

/* Exported (not in a public header) for libevpl_http (src/http/): the
 * initialised global config's http_max_header_size. */
__attribute__((visibility("default"))) unsigned int evpl_config_http_max_header_size(void);

unsigned int
evpl_config_http_max_header_size(void)
{
    return evpl_config()->http_max_header_size;
}

void
evpl_global_config_set_rpc2_max_message_size(struct evpl_global_config *config, unsigned int size)
{
    config_check(config);
    /* 0 restores the default (API §3.2). */
    config->rpc2_max_message_size = size ? size : EVPL_DEFAULT_RPC2_MAX_MESSAGE_SIZE;
}

void
evpl_global_config_set_huge_page_size(struct evpl_global_config *config, uint64_t size)
{
    long     base = sysconf(_SC_PAGESIZE);
    char     path[128];
    uint64_t base_size;

    config_check(config);

    base_size = base > 0 ? (uint64_t) base : 4096;

    /* Validated now, unlike the other setters: a bad size would otherwise
     * only surface as an mmap failure deep inside slab creation. */
    if (size == 0 || (size & (size - 1)) != 0 || size <= base_size ||
        size > EVPL_MAX_HUGE_PAGE_SIZE) {
        evpl_core_error("invalid huge page size %llu: must be a power of two larger than the "
                        "base page size (%llu) and at most 16 GiB; keeping %llu",
                        (unsigned long long) size, (unsigned long long) base_size,
                        (unsigned long long) config->huge_page_size);
        return;
    }

    snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB",
             (unsigned long long) (size / 1024));
    if (access(path, F_OK) != 0) {
        evpl_core_info("huge page size %llu has no hugetlb pool on this kernel; slabs will "
                       "fall back to base pages",
                       (unsigned long long) size);
    }

    config->huge_page_size = size;
}

void
evpl_global_config_set_tcp_keepalive(struct evpl_global_config *config, unsigned int idle_s,
                                     unsigned int interval_s, unsigned int count)
{
    config_check(config);

    if (idle_s == 0) {
        config->tcp_keepalive_idle_s = 0; /* off; interval and count are kept */
        return;
    }
    /* Validated now: out-of-range values would only surface as a silently
     * failing setsockopt() on every connection. */
    if (idle_s > EVPL_MAX_TCP_KEEPALIVE_SECONDS || interval_s == 0 ||
        interval_s > EVPL_MAX_TCP_KEEPALIVE_SECONDS || count == 0 ||
        count > EVPL_MAX_TCP_KEEPALIVE_COUNT) {
        evpl_core_error("invalid TCP keepalive idle %u s, interval %u s, count %u: need idle and "
                        "interval 1..%d s and count 1..%d (idle 0 disables); keeping the "
                        "previous setting",
                        idle_s, interval_s, count, EVPL_MAX_TCP_KEEPALIVE_SECONDS,
                        EVPL_MAX_TCP_KEEPALIVE_COUNT);
        return;
    }
    config->tcp_keepalive_idle_s     = idle_s;
    config->tcp_keepalive_interval_s = interval_s;
    config->tcp_keepalive_count      = count;
}

void
evpl_global_config_set_tcp_user_timeout_ms(struct evpl_global_config *config,
                                           unsigned int               timeout_ms)
{
    config_check(config);

    if (timeout_ms > INT_MAX) {
        evpl_core_error("invalid TCP user timeout %u ms: at most %d; keeping the previous setting",
                        timeout_ms, INT_MAX);
        return;
    }
    config->tcp_user_timeout_ms  = timeout_ms;
    config->tcp_user_timeout_set = 1;
}

unsigned int
evpl_config_tcp_user_timeout_ms(const struct evpl_global_config *config)
{
    uint64_t ms;

    if (config->tcp_user_timeout_set) {
        return config->tcp_user_timeout_ms;
    }
    if (config->tcp_keepalive_idle_s == 0) {
        return 0;
    }
    /* The moment keepalive itself would give up: the two agree, so an idle
     * and a busy connection to a dead peer end after the same time. */
    ms = ((uint64_t) config->tcp_keepalive_idle_s +
          (uint64_t) config->tcp_keepalive_interval_s * config->tcp_keepalive_count) *
         1000;
    return ms > INT_MAX ? INT_MAX : (unsigned int) ms;
}

/* Replace an owned string with a copy of value (NULL clears it). */
static void
config_set_string(char **field, const char *value, const char *what)
{
    char *copy = NULL;

    if (value != NULL) {
        copy = strdup(value);
        evpl_core_abort_if(copy == NULL, "out of memory copying %s", what);
    }
    free(*field);
    *field = copy;
}

void
evpl_global_config_set_tls_cert(struct evpl_global_config *config, const char *cert_file)
{
    config_check(config);
    evpl_core_abort_if(cert_file == NULL, "evpl_global_config_set_tls_cert: cert_file is NULL");
    config_set_string(&config->tls_cert, cert_file, "tls_cert");
}

void
evpl_global_config_set_tls_key(struct evpl_global_config *config, const char *key_file)
{
    config_check(config);
    evpl_core_abort_if(key_file == NULL, "evpl_global_config_set_tls_key: key_file is NULL");
    config_set_string(&config->tls_key, key_file, "tls_key");
}

void
evpl_global_config_set_tls_ca(struct evpl_global_config *config, const char *ca_file)
{
    config_check(config);
    evpl_core_abort_if(ca_file == NULL, "evpl_global_config_set_tls_ca: ca_file is NULL");
    config_set_string(&config->tls_ca, ca_file, "tls_ca");
}

void
evpl_global_config_set_tls_cipher_list(struct evpl_global_config *config, const char *cipher_list)
{
    config_check(config);
    /* NULL is allowed and restores the default cipher selection. */
    config_set_string(&config->tls_cipher_list, cipher_list, "tls_cipher_list");
}

/* --- thread config --- */

struct evpl_thread_config *
evpl_thread_config_init(void)
{
    /* The thread defaults live in the initialised global config, so this
     * initialises the library implicitly (the original crashed, A.9). */
    const struct evpl_global_config *global = evpl_config();

    return evpl_thread_config_dup(&global->thread_default);
}

struct evpl_thread_config *
evpl_thread_config_dup(const struct evpl_thread_config *src)
{
    struct evpl_thread_config *config = malloc(sizeof(*config));

    evpl_core_abort_if(config == NULL, "out of memory allocating a thread config");
    memcpy(config, src, sizeof(*config));
    return config;
}

void
evpl_thread_config_release(struct evpl_thread_config *config)
{
    free(config);
}

void
evpl_thread_config_set_poll_mode(struct evpl_thread_config *config, int poll_mode)
{
    config_check(config);
    config->poll_mode = poll_mode;
}

void
evpl_thread_config_set_poll_iterations(struct evpl_thread_config *config, int iterations)
{
    config_check(config);
    config->poll_iterations = iterations;
}

void
evpl_thread_config_set_wait_ms(struct evpl_thread_config *config, int wait_ms)
{
    config_check(config);
    config->wait_ms = wait_ms;
}

int
evpl_thread_config_set_cpu_affinity(struct evpl_thread_config *config, const int *cpus, int ncpus)
{
    uint64_t mask[EVPL_MAX_AFFINITY_CPUS / 64];
    int      list[64];
    int      i, distinct = 0;

    config_check(config);

    if (ncpus < 0 || (ncpus > 0 && cpus == NULL)) {
        return -1;
    }

    /* Validate everything before touching the config: on error nothing
     * changes. */
    memset(mask, 0, sizeof(mask));
    for (i = 0; i < ncpus; i++) {
        int cpu = cpus[i];

        if (cpu < 0 || cpu >= EVPL_MAX_AFFINITY_CPUS) {
            return -1;
        }
        if (mask[cpu / 64] & (1ull << (cpu % 64))) {
            continue; /* duplicate */
        }
        mask[cpu / 64] |= 1ull << (cpu % 64);
        if (distinct < 64) {
            list[distinct] = cpu;
        }
        distinct++;
    }

    memcpy(config->cpu_mask, mask, sizeof(mask));
    memset(config->cpus, 0, sizeof(config->cpus));
    memcpy(config->cpus, list, sizeof(int) * (size_t) (distinct < 64 ? distinct : 64));
    config->ncpus = distinct;
    return 0;
}
