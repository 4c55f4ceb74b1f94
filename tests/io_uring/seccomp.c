/*
 * io_uring blocked by a seccomp profile (as default container runtimes do):
 * STREAM_IO_URING_TCP must be reported unavailable, connect must return
 * NULL, listen -1, and nothing may abort.  Runs in a forked child so the
 * filter (installed before evpl_init) does not outlive the test; argv[2]
 * picks the errno the filter returns (ENOSYS or EPERM).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static int
block_io_uring(int err)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        return -1;
    }
    return (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void
notify_cb(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) notify;
    (void) data;
}

static int
child(int argc, char **argv, int err)
{
    enum evpl_protocol_id id;
    struct evpl          *evpl;
    struct evpl_listener *listener;
    struct evpl_endpoint *ep;

    if (block_io_uring(err) < 0) {
        fprintf(stderr, "SKIP: cannot install a seccomp filter: %s\n", strerror(errno));
        return TEST_EXIT_SKIP;
    }
    /* The filter works: a raw setup now fails with our errno. */
    test_assert(syscall(__NR_io_uring_setup, 4, NULL) < 0 && errno == err);

    evpl_test_init(argc, argv);

    test_assert_eq(evpl_protocol_available(EVPL_STREAM_IO_URING_TCP), 0);
    test_assert_eq(evpl_protocol_is_stream(EVPL_STREAM_IO_URING_TCP), 0);
    test_assert(evpl_protocol_lookup(&id, "STREAM_IO_URING_TCP") == -1);
    /* Everything else still works. */
    test_assert_eq(evpl_protocol_available(EVPL_STREAM_SOCKET_TCP), 1);

    evpl = evpl_create(NULL);
    test_assert(evpl != NULL);
    ep = evpl_endpoint_create("127.0.0.1", 9);
    test_assert(evpl_connect(evpl, EVPL_STREAM_IO_URING_TCP, NULL, ep, notify_cb, NULL, NULL) ==
                NULL);

    listener = evpl_listener_create();
    test_assert(listener != NULL);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_IO_URING_TCP, ep), -1);
    evpl_listener_destroy(listener);

    evpl_destroy(evpl);
    return 0;
}

int
main(int argc, char **argv)
{
    int   err = (argc > 2 && strcmp(argv[2], "EPERM") == 0) ? EPERM : ENOSYS;
    pid_t pid = fork();
    int   status;

    test_assert(pid >= 0);
    if (pid == 0) {
        _exit(child(argc, argv, err));
    }
    test_assert(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) {
        test_fail("child killed by signal %d (abort?)", WTERMSIG(status));
    }
    test_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}
