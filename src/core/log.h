/*
 * Internal logging macros.  Every library message goes through
 * evpl_log_emit(), which forwards to the installed sink (evpl_set_log_fn) or
 * the default logfmt writer on stderr.
 */
#pragma once

#include <stdarg.h>

#include "evpl/evpl.h"

/* Exported (not in a public header) for the protocol modules built as
 * libraries of their own on top of libevpl (src/rpc2/). */
__attribute__((visibility("default"))) void evpl_log_emit(const char *level, const char *module,
                                                          const char *srcfile, int lineno,
                                                          const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define evpl_log_debug(mod, ...) evpl_log_emit("debug", mod, __FILE__, __LINE__, __VA_ARGS__)
#define evpl_log_info(mod, ...)  evpl_log_emit("info", mod, __FILE__, __LINE__, __VA_ARGS__)
#define evpl_log_error(mod, ...) evpl_log_emit("error", mod, __FILE__, __LINE__, __VA_ARGS__)
#define evpl_log_fatal(mod, ...) evpl_abort(mod, __FILE__, __LINE__, __VA_ARGS__)

/* Abort with a message when an invariant (a programming error) is broken. */
#define evpl_abort_if(cond, mod, ...)                                                              \
    do {                                                                                           \
        if (__builtin_expect(!!(cond), 0)) {                                                       \
            evpl_abort(mod, __FILE__, __LINE__, __VA_ARGS__);                                      \
        }                                                                                          \
    } while (0)

#define evpl_core_debug(...)       evpl_log_debug("core", __VA_ARGS__)
#define evpl_core_info(...)        evpl_log_info("core", __VA_ARGS__)
#define evpl_core_error(...)       evpl_log_error("core", __VA_ARGS__)
#define evpl_core_abort(...)       evpl_log_fatal("core", __VA_ARGS__)
#define evpl_core_abort_if(c, ...) evpl_abort_if(c, "core", __VA_ARGS__)
