/*
 * io_uring blocked by a seccomp filter (as default container profiles do):
 * opening an IO_URING device returns NULL after one log line, nothing
 * aborts, and LIBAIO still works.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "block_test.h"

static int unusable_reports;

static void
count_reports(const char *level, const char *module, const char *srcfile, int lineno,
              const char *fmt, va_list argp)
{
    char line[512];

    (void) level;
    (void) module;
    (void) srcfile;
    (void) lineno;
    vsnprintf(line, sizeof(line), fmt, argp);
    if (strstr(line, "io_uring is unusable here")) {
        __atomic_add_fetch(&unusable_reports, 1, __ATOMIC_RELAXED);
    }
}

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int
main(int argc, char **argv)
{
#if defined(TEST_AUDIT_ARCH) && defined(__NR_io_uring_setup)
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short) (sizeof(filter) / sizeof(filter[0])), filter};
    struct evpl_block_device *dev;
    struct evpl_block_queue  *q;
    struct evpl              *evpl;
    const char               *path;
    /* io_uring blocked by seccomp is reported, once per refused open. */
    evpl_test_log_expect("io_uring is unusable here");
    evpl_test_log_observe(count_reports);

    path = blk_sparse_file(blk_scratch_dir(NULL), "seccomp", 1 << 20);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        test_skip("cannot install a seccomp filter: %s", strerror(errno));
    }
    test_assert(syscall(__NR_io_uring_setup, 2, NULL) < 0 && errno == EPERM);

    evpl_test_init(argc, argv);
    test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_IO_URING, path) == NULL);
    int after_first = __atomic_load_n(&unusable_reports, __ATOMIC_RELAXED);
    test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_IO_URING, path) == NULL);
    /* One line per refused open (plus the probe's own, once). */
    test_assert_eq(__atomic_load_n(&unusable_reports, __ATOMIC_RELAXED), after_first + 1);
    test_assert_eq(after_first, 2);

    dev = evpl_block_open_device(EVPL_BLOCK_PROTOCOL_LIBAIO, path);
    test_assert(dev != NULL);
    evpl = evpl_create(NULL);
    q    = evpl_block_open_queue(evpl, dev);
    test_assert(q != NULL);
    test_assert_eq(blk_flush_sync(evpl, q), 0);
    evpl_block_close_queue(evpl, q);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);
    return 0;
#else
    (void) argc;
    (void) argv;
    test_skip("no seccomp test for this architecture");
#endif
}
