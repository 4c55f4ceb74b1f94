/*
 * RPCSEC_GSS (RFC 2203) provider table (contract section 17.5).  The
 * library implements the wire protocol; the provider does the cryptography.
 * Callbacks return 0 or -1; buffers they return are malloc()ed and freed by
 * the library with free().
 */
#pragma once

#include <stddef.h>
#include <evpl/evpl_rpc2.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define EVPL_RPC2_GSS_SVC_NONE      1
#define EVPL_RPC2_GSS_SVC_INTEGRITY 2
#define EVPL_RPC2_GSS_SVC_PRIVACY   3
#define EVPL_RPC2_GSS_PRINCIPAL_MAX 256

struct evpl_rpc2_gss_provider {
    int (*accept)(void *provider_arg, void **gss_ctx, const void *in_token, size_t in_len,
                  void **out_token, size_t *out_len, int *complete, char *principal,
                  size_t principal_sz);
    int (*get_mic)(void *provider_arg, void *gss_ctx, const void *msg, size_t msg_len, void **mic,
                   size_t *mic_len);
    int (*verify_mic)(void *provider_arg, void *gss_ctx, const void *msg, size_t msg_len,
                      const void *mic, size_t mic_len);
    int (*wrap)(void *provider_arg, void *gss_ctx, const void *in, size_t in_len, void **out,
                size_t *out_len);
    int (*unwrap)(void *provider_arg, void *gss_ctx, const void *in, size_t in_len, void **out,
                  size_t *out_len);
    void (*destroy)(void *provider_arg, void *gss_ctx);
};

/*
 * Register the provider on an RPC2 thread before it serves RPCSEC_GSS
 * traffic; NULL disables RPCSEC_GSS (flavor 6 calls are then refused with
 * AUTH_REJECTEDCRED).  The provider and its argument must outlive the thread.
 */
void evpl_rpc2_set_gss_provider(struct evpl_rpc2_thread             *thread,
                                const struct evpl_rpc2_gss_provider *provider, void *provider_arg);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
