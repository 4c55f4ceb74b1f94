/*
 * Extensions of libevpl_rpc2 beyond contract section 17 (kept out of the
 * contract headers so that those stay verbatim).
 */
#pragma once

#include <stdint.h>
#include <evpl/evpl_rpc2.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* Default record size limit: a connection sending a larger record is closed. */
#define EVPL_RPC2_DEFAULT_MAX_RECORD (4u * 1024 * 1024)

/*
 * Set the largest RPC record (sum of its fragments, record marks excluded)
 * that connections of this thread accept, server and client side alike;
 * a peer sending more is disconnected.  0 restores the default.  Owning
 * thread; applies to records that start afterwards.
 */
void evpl_rpc2_thread_set_max_record(struct evpl_rpc2_thread *thread, uint32_t max_bytes);

/*
 * Status a client call completes with when no reply came within the
 * connection's call timeout (evpl_rpc2_conn_set_call_timeout).  Generated
 * reply dispatchers pass it through like the other negative codes.
 */
#define EVPL_RPC2_REPLY_TIMEOUT (-5)

/*
 * Give every outstanding and future call on conn timeout_ms milliseconds
 * (from when it was issued) to be answered; a call that is not completes
 * once with EVPL_RPC2_REPLY_TIMEOUT, within about a quarter of the timeout
 * after expiry.  A reply arriving later is an unmatched reply (logged,
 * dropped); the connection stays up.  0 (the default) disables it.  Owning
 * thread.
 */
void evpl_rpc2_conn_set_call_timeout(struct evpl_rpc2_conn *conn, uint64_t timeout_ms);

/*
 * AUTH_SHORT (RFC 5531 appendix A) on the server connections of this
 * thread: when enabled, replies to AUTH_SYS calls carry an AUTH_SHORT
 * verifier with an 8-byte handle, and calls presenting a current handle as
 * their credential reach the program as the AUTH_SYS credential it stands
 * for (cred->flavor EVPL_RPC2_AUTH_SYS).  Stale or unknown handles (and all
 * of them while disabled, the default) are refused with AUTH_REJECTEDCRED,
 * which makes a client resend its full credential.  Owning thread.
 */
void evpl_rpc2_thread_set_auth_short(struct evpl_rpc2_thread *thread, int enable);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
