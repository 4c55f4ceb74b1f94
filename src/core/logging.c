/*
 * Logging: the process-wide sink, the default logfmt writer and evpl_abort.
 *
 * The sink can be replaced at any time from any thread while other threads
 * log, so the two hooks are plain pointers accessed atomically; a message
 * racing with a replacement goes to either the old or the new sink.
 *
 * The default sink writes each message as one write(2) to stderr so that
 * lines from concurrent threads never interleave, and never uses stdio
 * buffers (fatal messages must reach the terminal before abort()).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "evpl/evpl.h"
#include "core/log.h"

static evpl_log_fn   log_fn_installed;   /* NULL: default sink */
static evpl_flush_fn flush_fn_installed; /* NULL: none */

/* Lowest level the default sink prints: 0 debug, 1 info (default).
 * -1 until EVPL_LOG_LEVEL has been read. */
static int default_sink_min_level = -1;

void
evpl_set_log_fn(evpl_log_fn log_fn, evpl_flush_fn flush_fn)
{
    evpl_core_abort_if(log_fn == NULL, "evpl_set_log_fn: log_fn must not be NULL");

    /* Flush hook first: a fatal message delivered to the new sink should
     * find the new flush hook. */
    __atomic_store_n(&flush_fn_installed, flush_fn, __ATOMIC_RELEASE);
    __atomic_store_n(&log_fn_installed, log_fn, __ATOMIC_RELEASE);
}

static int
level_rank(const char *level)
{
    if (strcmp(level, "debug") == 0) {
        return 0;
    }
    if (strcmp(level, "info") == 0) {
        return 1;
    }
    if (strcmp(level, "error") == 0) {
        return 2;
    }
    return 3; /* fatal and anything unknown: always printed */
}

static int
default_min_level(void)
{
    int level = __atomic_load_n(&default_sink_min_level, __ATOMIC_RELAXED);

    if (level < 0) {
        const char *env = getenv("EVPL_LOG_LEVEL");

        /* Debug output is opt-in; EVPL_LOG_LEVEL=error silences info too. */
        level = env ? level_rank(env) : 1;
        if (level > 2) {
            level = 1;
        }
        __atomic_store_n(&default_sink_min_level, level, __ATOMIC_RELAXED);
    }
    return level;
}

/* Library call sites pass absolute __FILE__ paths; print them relative to
 * the source tree ("src/core/init.c") so lines stay short. */
static const char *
short_path(const char *path)
{
    static const char *const roots[] = {"/src/", "/include/", "/tests/", "/tools/"};
    const char              *best    = NULL;

    if (path == NULL) {
        return "?";
    }
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        const char *p = path, *hit;

        while ((hit = strstr(p, roots[i])) != NULL) {
            if (best == NULL || hit > best) {
                best = hit;
            }
            p = hit + 1;
        }
    }
    return best ? best + 1 : path;
}

/* Append src to out[*len..cap) with logfmt quoting; always leaves room for
 * what the caller appends afterwards by stopping at cap. */
static void
append_escaped(char *out, size_t *len, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t            n     = *len;

    for (; *src && n + 4 < cap; src++) {
        unsigned char c = (unsigned char) *src;

        switch (c) {
        case '"':
        case '\\':
            out[n++] = '\\';
            out[n++] = (char) c;
            break;
        case '\n':
            out[n++] = '\\';
            out[n++] = 'n';
            break;
        case '\t':
            out[n++] = '\\';
            out[n++] = 't';
            break;
        case '\r':
            out[n++] = '\\';
            out[n++] = 'r';
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                out[n++] = '\\';
                out[n++] = 'x';
                out[n++] = hex[c >> 4];
                out[n++] = hex[c & 0xf];
            } else {
                out[n++] = (char) c;
            }
        }
    }
    *len = n;
}

static void
default_sink(const char *level, const char *module, const char *srcfile, int lineno,
             const char *fmt, va_list argp)
{
    char            message[2048];
    char            line[4096 + 512];
    size_t          len = 0;
    struct timespec now;
    struct tm       tm;
    int             n;

    if (level_rank(level) < default_min_level()) {
        return;
    }

    n = vsnprintf(message, sizeof(message), fmt, argp);
    if (n < 0) {
        snprintf(message, sizeof(message), "(unformattable message: %s)", fmt);
    } else if ((size_t) n >= sizeof(message)) {
        memcpy(message + sizeof(message) - 4, "...", 4); /* mark the truncation */
    }

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);

    n   = snprintf(line, sizeof(line), "time=%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ message=\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   now.tv_nsec);
    len = (size_t) n;

    append_escaped(line, &len, sizeof(line) - 256, message);

    n = snprintf(line + len, sizeof(line) - len,
                 "\" process=%ld thread=%ld level=%s module=%s file=\"%s:%d\"\n", (long) getpid(),
                 (long) syscall(SYS_gettid), level, module ? module : "?", short_path(srcfile),
                 lineno);
    if (n < 0 || (size_t) n >= sizeof(line) - len) {
        /* Only an absurdly long module/file name gets here: end the line. */
        len           = sizeof(line) - 1;
        line[len - 1] = '\n';
    } else {
        len += (size_t) n;
    }

    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            break; /* nowhere left to report it */
        }
        off += (size_t) w;
    }
}

static void
log_dispatch(const char *level, const char *module, const char *srcfile, int lineno,
             const char *fmt, va_list argp)
{
    evpl_log_fn fn = __atomic_load_n(&log_fn_installed, __ATOMIC_ACQUIRE);

    if (fn != NULL) {
        fn(level, module, srcfile, lineno, fmt, argp);
    } else {
        default_sink(level, module, srcfile, lineno, fmt, argp);
    }
}

void
evpl_log_emit(const char *level, const char *module, const char *srcfile, int lineno,
              const char *fmt, ...)
{
    va_list argp;

    va_start(argp, fmt);
    log_dispatch(level, module, srcfile, lineno, fmt, argp);
    va_end(argp);
}

void
evpl_abort(const char *mod, const char *srcfile, int lineno, const char *fmt, ...)
{
    evpl_flush_fn flush;
    va_list       argp;

    va_start(argp, fmt);
    log_dispatch("fatal", mod, srcfile, lineno, fmt, argp);
    va_end(argp);

    flush = __atomic_load_n(&flush_fn_installed, __ATOMIC_ACQUIRE);
    if (flush != NULL) {
        flush();
    }
    abort();
}
