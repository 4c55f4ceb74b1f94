#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "test.h"

const char *
evpl_test_mech_name(int argc, char **argv)
{
    return argc > 1 ? argv[1] : "default";
}

struct evpl_global_config *
evpl_test_config(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_global_config_init();
    const char                *mech   = evpl_test_mech_name(argc, argv);

    if (strcmp(mech, "epoll") == 0) {
        evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_EPOLL);
    } else if (strcmp(mech, "select") == 0) {
        evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_SELECT);
    } else if (strcmp(mech, "default") != 0) {
        test_fail("unknown mechanism '%s'", mech);
    }
    return config;
}

void
evpl_test_init(int argc, char **argv)
{
    evpl_init(evpl_test_config(argc, argv));
}

/*
 * The harness log sink.  It is installed before main() in every test
 * program, so a library error or a leak report at evpl_destroy() fails the
 * test even when the test never looks at the log: a test that passes with
 * errors in its log would hide a broken library.  Tests declare the errors
 * they provoke (evpl_test_log_expect) and may watch every line
 * (evpl_test_log_observe).
 */

#define TEST_LOG_MAX_EXPECT 32
#define TEST_LOG_LEAK       "still holds references"

static pthread_mutex_t test_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char            test_log_expected[TEST_LOG_MAX_EXPECT][128];
static int             test_log_nexpected;
static int             test_log_any_error; /* every error line but leaks expected */
static int             test_log_unexpected;
static int             test_log_leaks;
static char            test_log_first[4][1100]; /* the first unexpected lines */
static evpl_log_fn     test_log_observer;

static int
test_log_is_expected(const char *line)
{
    int leak = strstr(line, TEST_LOG_LEAK) != NULL;

    if (test_log_any_error && !leak) {
        return 1;
    }
    for (int i = 0; i < test_log_nexpected; i++) {
        if (strstr(line, test_log_expected[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

static void
test_log_sink(const char *level, const char *module, const char *srcfile, int lineno,
              const char *fmt, va_list argp)
{
    char        line[1024];
    va_list     copy;
    evpl_log_fn observer;
    int         error = strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0;

    va_copy(copy, argp);
    vsnprintf(line, sizeof(line), fmt, argp);

    pthread_mutex_lock(&test_log_lock);
    observer = test_log_observer;
    if (strstr(line, TEST_LOG_LEAK) != NULL) {
        test_log_leaks++;
    }
    if (error && !test_log_is_expected(line)) {
        if (test_log_unexpected < 4) {
            snprintf(test_log_first[test_log_unexpected], sizeof(test_log_first[0]), "%s %s: %s",
                     level, module ? module : "?", line);
        }
        test_log_unexpected++;
    }
    pthread_mutex_unlock(&test_log_lock);

    if (strcmp(level, "debug") != 0 || getenv("EVPL_LOG_LEVEL") != NULL) {
        fprintf(stderr, "evpl-test level=%s module=%s file=%s:%d message=\"%s\"\n", level,
                module ? module : "?", srcfile ? srcfile : "?", lineno, line);
    }
    if (observer != NULL) {
        observer(level, module, srcfile, lineno, fmt, copy);
    }
    va_end(copy);
}

/* A test that would pass turns into a failure when its log held an
 * unexpected error; failures and skips keep their own status. */
static void
test_log_check_at_exit(int status, void *arg)
{
    (void) arg;
    if (status != 0) {
        return;
    }
    pthread_mutex_lock(&test_log_lock);
    int unexpected = test_log_unexpected;
    pthread_mutex_unlock(&test_log_lock);
    if (unexpected > 0) {
        fprintf(stderr,
                "FAIL: %d unexpected error line(s) in the library's log (leak reports count); "
                "declare provoked errors with evpl_test_log_expect().  First ones:\n",
                unexpected);
        for (int i = 0; i < unexpected && i < 4; i++) {
            fprintf(stderr, "  %s\n", test_log_first[i]);
        }
        fflush(NULL);
        _exit(1);
    }
}

__attribute__((constructor)) static void
test_log_install(void)
{
    if (&evpl_test_default_log_sink != NULL && evpl_test_default_log_sink) {
        return;
    }
    evpl_set_log_fn(test_log_sink, NULL);
    on_exit(test_log_check_at_exit, NULL);
}

void
evpl_test_log_expect(const char *substring)
{
    pthread_mutex_lock(&test_log_lock);
    if (test_log_nexpected == TEST_LOG_MAX_EXPECT) {
        pthread_mutex_unlock(&test_log_lock);
        test_fail("too many expected log patterns");
    }
    snprintf(test_log_expected[test_log_nexpected++], sizeof(test_log_expected[0]), "%s",
             substring);
    pthread_mutex_unlock(&test_log_lock);
}

void
evpl_test_log_expect_errors(void)
{
    pthread_mutex_lock(&test_log_lock);
    test_log_any_error = 1;
    pthread_mutex_unlock(&test_log_lock);
}

void
evpl_test_log_observe(evpl_log_fn fn)
{
    pthread_mutex_lock(&test_log_lock);
    test_log_observer = fn;
    pthread_mutex_unlock(&test_log_lock);
}

int
evpl_test_log_unexpected(void)
{
    pthread_mutex_lock(&test_log_lock);
    int n = test_log_unexpected;
    pthread_mutex_unlock(&test_log_lock);
    return n;
}

int
evpl_test_log_leaks(void)
{
    pthread_mutex_lock(&test_log_lock);
    int n = test_log_leaks;
    pthread_mutex_unlock(&test_log_lock);
    return n;
}

/*
 * What must be available on CI and on any Debian 12 machine with the
 * README's packages (scripts/install-deps.sh): a test that needs one of
 * these fails instead of skipping when it is missing, so that a broken
 * detection (io_uring, TLS, ...) cannot turn tests into green skips.
 * RDMA-CM and XLIO need hardware and are not listed.  EVPL_TEST_NOT_REQUIRED
 * (comma-separated names) excuses some on a machine that knowingly lacks
 * them.  core/required_capabilities.c checks every entry.
 */
const char *const evpl_test_required_protocols[] = {
    "DATAGRAM_SOCKET_UDP", "STREAM_SOCKET_TCP", "STREAM_SOCKET_UNIX",
    "STREAM_IO_URING_TCP", "STREAM_SOCKET_TLS", "DATAGRAM_TCP_RDMA",
    "STREAM_INPROC",       "DATAGRAM_INPROC",   NULL};
const char *const evpl_test_required_block[] = {"IO_URING", "LIBAIO", NULL};
const char *const evpl_test_required_tools[] = {"openssl", "pkg-config", "promtool", "unshare",
                                                NULL};

static int
test_listed(const char *const *list, const char *name)
{
    for (int i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
evpl_test_required(const char *name)
{
    const char *excused = getenv("EVPL_TEST_NOT_REQUIRED");

    if (excused != NULL) {
        size_t len = strlen(name);

        for (const char *p = excused; (p = strstr(p, name)) != NULL; p += len) {
            if ((p == excused || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) {
                return 0;
            }
        }
    }
    return test_listed(evpl_test_required_protocols, name) ||
           test_listed(evpl_test_required_block, name) ||
           test_listed(evpl_test_required_tools, name);
}

void
evpl_test_unavailable(const char *name, const char *why)
{
    if (evpl_test_required(name)) {
        test_fail("%s is required on this machine (tests/common/test.c) but %s", name, why);
    }
    test_skip("%s %s", name, why);
}

static void
test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        test_fail("cannot write '%s' to %s", text, path);
    }
}

void
evpl_test_unshare(int flags)
{
    char  map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();

    /* A user namespace makes the other namespaces available without root,
     * as unshare -r does for the netns tests; this user is root inside. */
    if (unshare(CLONE_NEWUSER | flags) != 0) {
        evpl_test_unavailable("unshare", "(a user namespace) failed");
    }
    test_write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof(map), "0 %u 1", (unsigned int) uid);
    test_write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof(map), "0 %u 1", (unsigned int) gid);
    test_write_file("/proc/self/gid_map", map);
}
