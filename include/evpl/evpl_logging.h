/*
 * Logging.  The library writes one logfmt line per message to stderr unless a
 * sink is installed with evpl_set_log_fn().
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_logging.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/*
 * A log sink.  level is "debug", "info", "error" or "fatal"; module names the
 * subsystem ("core", "socket", ...); fmt/argp are printf-style and argp must
 * not be kept after returning.  May be called concurrently from any thread.
 */
typedef void (*evpl_log_fn)(const char *level, const char *module, const char *srcfile, int lineno,
                            const char *fmt, va_list argp);
/* Called right before the process is terminated by a fatal error. */
typedef void (*evpl_flush_fn)(void);

/*
 * Replace the process-wide log sink (log_fn must not be NULL; flush_fn may
 * be).  Thread-safe; never initialises the library; call it before
 * evpl_init() to capture initialisation messages.
 */
void evpl_set_log_fn(evpl_log_fn log_fn, evpl_flush_fn flush_fn);

/*
 * Report a fatal message (level "fatal", module mod) through the sink, call
 * the flush hook, and abort() the process.
 */
__attribute__((noreturn, format(printf, 4, 5))) void
evpl_abort(const char *mod, const char *srcfile, int lineno, const char *fmt, ...);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
