/*
 * Global and thread config objects: every setter can be applied to a config
 * that is then released without initialising the library; TLS strings are
 * copied and replaced; huge page sizes are validated immediately (errors go
 * through the log sink, the previous value is kept); the CPU affinity
 * extension validates its arguments; settings reach the library (slab size,
 * datagram clamp of Appendix A.11, thread defaults after implicit init).
 */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int             n_error, n_info, n_other;
static char            last_error[1024];

static void
sink(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
     va_list argp)
{
    char msg[1024];

    (void) module;
    (void) srcfile;
    (void) lineno;
    vsnprintf(msg, sizeof(msg), fmt, argp);

    pthread_mutex_lock(&log_lock);
    if (strcmp(level, "error") == 0) {
        n_error++;
        snprintf(last_error, sizeof(last_error), "%s", msg);
    } else if (strcmp(level, "info") == 0) {
        n_info++;
    } else if (strcmp(level, "debug") != 0) {
        n_other++;
        fprintf(stderr, "%s: %s\n", level, msg);
    }
    pthread_mutex_unlock(&log_lock);
}

static void
reset_counts(void)
{
    n_error = n_info = n_other = 0;
    last_error[0]              = '\0';
}

static void
set_everything(struct evpl_global_config *c)
{
    evpl_global_config_set_core_mech(c, EVPL_CORE_MECH_SELECT);
    evpl_global_config_set_buffer_size(c, 1 << 20);
    evpl_global_config_set_slab_size(c, 64 << 20);
    evpl_global_config_set_huge_pages(c, 0);
    evpl_global_config_set_huge_page_size(c, 2 << 20);
    evpl_global_config_set_max_num_iovec(c, 64);
    evpl_global_config_set_preallocate_slabs(c, 0);
    evpl_global_config_set_preallocate_threads(c, 0);
    evpl_global_config_set_iovec_ring_size(c, 256);
    evpl_global_config_set_dgram_ring_size(c, 256);
    evpl_global_config_set_rdma_request_ring_size(c, 32);
    evpl_global_config_set_max_datagram_size(c, 9000);
    evpl_global_config_set_max_datagram_batch(c, 8);
    evpl_global_config_set_max_pending(c, 128);
    evpl_global_config_set_max_poll_fd(c, 8);
    evpl_global_config_set_resolve_timeout_ms(c, 1000);
    evpl_global_config_set_listener_policy(c, EVPL_LISTENER_POLICY_LEAST_LOADED);
    evpl_global_config_set_tcp_keepalive(c, 30, 5, 4);
    evpl_global_config_set_tcp_user_timeout_ms(c, 50000);
    evpl_global_config_set_spin_ns(c, 5000);
    evpl_global_config_set_hf_time_mode(c, 0);
    evpl_global_config_set_virtual_clock(c, 0);
    evpl_global_config_set_io_uring_enabled(c, 0);
    evpl_global_config_set_io_uring_entries(c, 256);
    evpl_global_config_set_xlio_enabled(c, 0);
    evpl_global_config_set_vfio_enabled(c, 0);
    evpl_global_config_set_libaio_enabled(c, 0);
    evpl_global_config_set_libaio_max_pending(c, 64);
    evpl_global_config_set_rdmacm_enabled(c, 0);
    evpl_global_config_set_rdmacm_tos(c, 4);
    evpl_global_config_set_rdmacm_datagram_size_override(c, 4096);
    evpl_global_config_set_rdmacm_srq_prefill(c, 1);
    evpl_global_config_set_rdmacm_max_sge(c, 16);
    evpl_global_config_set_rdmacm_cq_size(c, 1024);
    evpl_global_config_set_rdmacm_sq_size(c, 128);
    evpl_global_config_set_rdmacm_srq_size(c, 1024);
    evpl_global_config_set_rdmacm_srq_min(c, 128);
    evpl_global_config_set_rdmacm_max_inline(c, 128);
    evpl_global_config_set_rdmacm_srq_batch(c, 8);
    evpl_global_config_set_rdmacm_retry_count(c, 7);
    evpl_global_config_set_rdmacm_rnr_retry_count(c, 7);
    /* Strings are copied: set twice (the first copy must be freed), from
     * buffers that change afterwards. */
    {
        char path[64];

        strcpy(path, "/tmp/cert.pem");
        evpl_global_config_set_tls_cert(c, path);
        evpl_global_config_set_tls_cert(c, path);
        strcpy(path, "/tmp/key.pem");
        evpl_global_config_set_tls_key(c, path);
        strcpy(path, "/tmp/ca.pem");
        evpl_global_config_set_tls_ca(c, path);
        memset(path, 0, sizeof(path));
    }
    evpl_global_config_set_tls_cipher_list(c, "ECDHE-RSA-AES128-GCM-SHA256");
    evpl_global_config_set_tls_cipher_list(c, NULL);
    evpl_global_config_set_tls_cipher_list(c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
    evpl_global_config_set_tls_verify_peer(c, 0);
    evpl_global_config_set_tls_ktls_enabled(c, 0);
    evpl_global_config_set_http_max_header_size(c, 16384);
    evpl_global_config_set_rpc2_max_message_size(c, 0);
    evpl_global_config_set_rpc2_max_message_size(c, 1 << 20);
}

static void
check_huge_page_sizes(void)
{
    struct evpl_global_config *c         = evpl_global_config_init();
    static const uint64_t      invalid[] = {
             0, 1, 3, 1000, 4096 /* the base page itself */, 3ull << 20, 32ull << 30, 1ull << 63,
    };

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        reset_counts();
        evpl_global_config_set_huge_page_size(c, invalid[i]);
        test_assert_msg(n_error == 1, "huge page size %llu: %d errors logged, expected 1",
                        (unsigned long long) invalid[i], n_error);
        /* The message says what is kept (2 MiB, the default). */
        test_assert_msg(strstr(last_error, "2097152") != NULL, "error '%s' lacks kept value",
                        last_error);
    }

    reset_counts();
    evpl_global_config_set_huge_page_size(c, 2ull << 20);
    evpl_global_config_set_huge_page_size(c, 1ull << 30);
    evpl_global_config_set_huge_page_size(c, 16ull << 30); /* limit; maybe no pool: info */
    test_assert_eq(n_error, 0);

    /* The last valid value is what later errors report as kept. */
    reset_counts();
    evpl_global_config_set_huge_page_size(c, 12345);
    test_assert_eq(n_error, 1);
    test_assert_msg(strstr(last_error, "17179869184") != NULL, "kept value not reported: %s",
                    last_error);

    evpl_global_config_release(c);
}

static void
check_affinity(void)
{
    struct evpl_thread_config *t;
    int                        ok[]  = {0, 1, 1, 1023};
    int                        neg[] = {0, -1};
    int                        big[] = {1024};

    /* Thread configs need the initialised library; this child initialises
     * implicitly here. */
    t = evpl_thread_config_init();
    test_assert(t != NULL);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(t, ok, 4), 0);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(t, NULL, 0), 0);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(t, neg, 2), -1);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(t, big, 1), -1);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(t, ok, -1), -1);
    test_assert_eq(evpl_thread_config_set_cpu_affinity(t, NULL, 2), -1);
    evpl_thread_config_set_poll_mode(t, 0);
    evpl_thread_config_set_poll_iterations(t, 10);
    evpl_thread_config_set_wait_ms(t, 5);
    evpl_thread_config_release(t);
    evpl_thread_config_release(NULL);
}

static void
configs_without_init(void *arg)
{
    struct evpl_global_config *c;

    (void) arg;
    evpl_test_log_observe(sink);

    c = evpl_global_config_init();
    test_assert(c != NULL);
    set_everything(c);
    evpl_global_config_release(c);
    evpl_global_config_release(evpl_global_config_init());
    evpl_global_config_release(NULL);
    test_assert_eq(n_other, 0);

    check_huge_page_sizes();

    /* None of that initialised the library: an explicit init still works. */
    c = evpl_global_config_init();
    set_everything(c);
    evpl_init(c);
    test_assert_eq(evpl_get_slab_size(), 64 << 20);
}

static void
datagram_clamp(void *arg)
{
    struct evpl_global_config *c = evpl_global_config_init();

    (void) arg;
    evpl_test_log_observe(sink);
    evpl_global_config_set_buffer_size(c, 16384);
    evpl_global_config_set_slab_size(c, 16 << 20);
    evpl_global_config_set_max_datagram_size(c, 65536);
    reset_counts();
    evpl_init(c);
    test_assert_msg(n_error == 1 && strstr(last_error, "max_datagram_size"),
                    "clamping max_datagram_size was not reported (%d errors, last '%s')", n_error,
                    last_error);
}

static void
thread_config_implicit(void *arg)
{
    (void) arg;
    check_affinity();
    /* The library is initialised now (A.9): protocol queries work and the
     * slab size is the default. */
    test_assert_eq(evpl_get_slab_size(), 1ull << 30);
}

int
main(int argc, char **argv)
{
    struct child_result res;

    (void) argc;
    (void) argv;

    run_in_child(configs_without_init, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "config setters");

    run_in_child(datagram_clamp, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "max_datagram_size > buffer_size");

    run_in_child(thread_config_implicit, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "thread config before evpl_init");

    return 0;
}
