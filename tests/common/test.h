/*
 * Shared helpers for test programs.  Every test is its own process: exit 0
 * passes, 1 fails, 77 skips.  argv[1] names the core wait mechanism
 * ("epoll", "select" or "default"); evpl_test_config() turns it into a
 * global config the test may extend before evpl_init().
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <evpl/evpl.h>

#define TEST_EXIT_SKIP 77

#define test_fail(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define test_assert(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_fail("assertion failed: %s", #cond);                                              \
        }                                                                                          \
    } while (0)

#define test_assert_msg(cond, ...)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_fail(__VA_ARGS__);                                                                \
        }                                                                                          \
    } while (0)

#define test_assert_eq(a, b)                                                                       \
    do {                                                                                           \
        long long _ta = (long long) (a), _tb = (long long) (b);                                    \
        if (_ta != _tb) {                                                                          \
            test_fail("%s == %lld, expected %s == %lld", #a, _ta, #b, _tb);                        \
        }                                                                                          \
    } while (0)

#define test_skip(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(TEST_EXIT_SKIP);                                                                      \
    } while (0)

#if defined(__SANITIZE_THREAD__)
#define EVPL_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVPL_TEST_TSAN 1
#endif
#endif

/*
 * The size of a long transfer.  ThreadSanitizer checks every access (about
 * 10x slower), so under it the transfer is a quarter, never below floor:
 * still past every flow-control mark the test is about, but the TSan leg
 * stays a few minutes.  ASan, valgrind and the plain build move it all.
 */
static inline unsigned long long
test_transfer_bytes(unsigned long long bytes, unsigned long long floor)
{
#ifdef EVPL_TEST_TSAN
    bytes /= 4;
    if (bytes < floor) {
        bytes = floor;
    }
#else
    (void) floor;
#endif
    return bytes;
}

/*
 * Defines `static void name(...)`, an attach callback (evpl_attach_callback_t)
 * that gives every accepted connection the notify callback `notify` and
 * nothing else: what most servers in the tests need.
 */
#define TEST_ATTACH_NOTIFY(name, notify)                                                           \
    static void name(struct evpl *evpl_, struct evpl_bind *bind_,                                  \
                     evpl_notify_callback_t  *notify_callback_,                                    \
                     evpl_segment_callback_t *segment_callback_, void **conn_private_data_,        \
                     void *private_data_)                                                          \
    {                                                                                              \
        (void) evpl_;                                                                              \
        (void) bind_;                                                                              \
        (void) segment_callback_;                                                                  \
        (void) conn_private_data_;                                                                 \
        (void) private_data_;                                                                      \
        *notify_callback_ = (notify);                                                              \
    }

/* A new global config with the mechanism named by argv[1] selected. */
struct evpl_global_config *evpl_test_config(int argc, char **argv);

/* evpl_init(evpl_test_config(argc, argv)). */
void evpl_test_init(int argc, char **argv);

/* The mechanism name the test runs under ("epoll", "select", "default"). */
const char *evpl_test_mech_name(int argc, char **argv);

/*
 * The harness log sink (common/test.c), installed before main() in every
 * test program: every line goes to stderr, and an "error" or "fatal" line
 * the test did not declare -- a leak report of evpl_destroy() included --
 * turns an exit status of 0 into 1.  Tests must not replace it with
 * evpl_set_log_fn(); they watch lines with evpl_test_log_observe() instead.
 * (core/logging_default.c, which checks the library's default sink, defines
 * `const int evpl_test_default_log_sink = 1;` to keep it out.)
 */

extern const int evpl_test_default_log_sink __attribute__((weak));

/* Error lines containing substring are expected (do not fail the test). */
void evpl_test_log_expect(const char *substring);

/* Every error line is expected, except leak reports: for forked scenarios
 * whose parent checks the child's log itself (core/init_child.h). */
void evpl_test_log_expect_errors(void);

/* Also hand every line to fn (after the harness has counted it). */
void evpl_test_log_observe(evpl_log_fn fn);

/* Unexpected error lines so far; leak reports so far (expected or not). */
int evpl_test_log_unexpected(void);
int evpl_test_log_leaks(void);

/*
 * Required capabilities (common/test.c): protocol names, block backend
 * names ("IO_URING", "LIBAIO") and tools that must exist on CI and on a
 * Debian 12 machine set up by scripts/install-deps.sh.
 */
extern const char *const evpl_test_required_protocols[];
extern const char *const evpl_test_required_block[];
extern const char *const evpl_test_required_tools[];

/* Is name required here (listed, and not excused by EVPL_TEST_NOT_REQUIRED)? */
int evpl_test_required(const char *name);

/* name is missing (why says how): fail if it is required, else skip. */
__attribute__((noreturn)) void evpl_test_unavailable(const char *name, const char *why);

/*
 * Enter new namespaces (CLONE_NEWNS, CLONE_NEWNET, ...) inside a new user
 * namespace, so that no root is needed; fails the test when that is
 * impossible.  Call before any thread exists (before evpl_init()).
 */
void evpl_test_unshare(int flags);
