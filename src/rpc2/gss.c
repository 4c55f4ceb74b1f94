/*
 * RPCSEC_GSS (RFC 2203) provider registration.  The wire protocol (context
 * creation over procedure 0, the sequence window, integrity and privacy) is
 * not implemented yet: flavor 6 calls are refused with AUTH_REJECTEDCRED
 * whether or not a provider is set (server.c).
 */
#include "rpc2_internal.h"

void
evpl_rpc2_set_gss_provider(struct evpl_rpc2_thread             *thread,
                           const struct evpl_rpc2_gss_provider *provider, void *provider_arg)
{
    thread->gss_provider     = provider;
    thread->gss_provider_arg = provider ? provider_arg : NULL;
}
