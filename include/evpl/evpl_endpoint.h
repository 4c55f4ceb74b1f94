/*
 * Endpoints (process-wide names for a place to listen on, connect to or send
 * to) and addresses (resolved socket addresses handed out in RECV_MSG).
 * Included through <evpl/evpl.h> only.
 *
 * Three kinds of endpoint exist and every protocol accepts exactly one:
 *   inet   -- a host name or an IPv4/IPv6 literal plus a port;
 *   local  -- an AF_UNIX stream socket name: "/absolute/path" or "@abstract";
 *   inproc -- a name in a registry private to the current process.
 *
 * Endpoints are thread-safe: one endpoint may be used by several loops at
 * once.  Endpoints still open at process exit are closed by the library's exit
 * handler, so closing them is optional.
 *
 * Inet resolution policy: an inet endpoint is resolved lazily, on the first
 * operation that needs its address, in the calling thread.  The result is
 * cached in the endpoint and reused until it is older than
 * resolve_timeout_ms (evpl_global_config_set_resolve_timeout_ms, 5000 ms), so
 * a name is looked up at most once per window per endpoint however many
 * connects or sends use it; IP literals are parsed once and never expire.
 * When a name has IPv4 addresses one of them is picked at random; IPv6
 * addresses are used only when the name has no IPv4 address.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_endpoint.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_endpoint; /* opaque, thread-safe */
struct evpl_address;  /* opaque, reference-counted by the library */

/*
 * Create an endpoint from a string.  A leading '/' or '@' makes a local
 * endpoint (as evpl_endpoint_create_local(address); port ignored); a leading
 * "inproc://" makes an in-process endpoint for the rest of the string (as
 * evpl_endpoint_create_inproc(); port ignored); anything else is an inet
 * endpoint holding the host string and port (the string is not checked here:
 * a name that cannot be resolved makes the operation using it fail).  Use
 * "0.0.0.0" (or "::") to listen on all interfaces.  Returns NULL when a
 * local/inproc form is malformed or address is NULL.  Thread-safe; initialises the library
 * implicitly. The caller owns the endpoint (evpl_endpoint_close()).
 */
struct evpl_endpoint *evpl_endpoint_create(const char *address, int port);

/*
 * Create a local (AF_UNIX) endpoint.  path is an absolute filesystem path of
 * 2 to 107 bytes ("/x"), or "@name" with a name of 1 to 107 bytes (Linux
 * abstract namespace; encoded as a leading NUL byte followed by the name, no
 * trailing NUL).  Relative paths, bare names, "@", "/", over-long names and
 * NULL return NULL; names are never truncated.  Thread-safe; initialises the
 * library implicitly.
 */
struct evpl_endpoint *evpl_endpoint_create_local(const char *path);

/*
 * Create an in-process endpoint for a bare name (no "inproc://" prefix) of 1
 * to 107 bytes; NULL, "" and longer names return NULL.  Names are scoped to
 * the current process.  Thread-safe; initialises the library implicitly.
 */
struct evpl_endpoint *evpl_endpoint_create_inproc(const char *name);

/*
 * Destroy an endpoint and its cached resolution.  It must not be in use by an
 * operation in progress on another thread; binds and listeners created from
 * it are unaffected (they hold their own copies of the address).
 */
void evpl_endpoint_close(struct evpl_endpoint *endpoint);

/* 1 if the endpoint is of the local (AF_UNIX) kind, else 0. */
int evpl_endpoint_is_local(const struct evpl_endpoint *ep);

/* 1 if the endpoint is of the in-process kind, else 0 (inproc is not local). */
int evpl_endpoint_is_inproc(const struct evpl_endpoint *ep);

/*
 * The stored name: the host string as given (inet), the path or "@name" as
 * given (local), or "inproc://<name>" (inproc, so it can be fed back to
 * evpl_endpoint_create()).  Valid until the endpoint is closed.
 */
const char *evpl_endpoint_address(const struct evpl_endpoint *ep);

/* The port of an inet endpoint; 0 for local and inproc endpoints. */
int evpl_endpoint_port(const struct evpl_endpoint *ep);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
