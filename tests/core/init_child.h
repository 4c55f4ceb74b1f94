/*
 * Run a scenario in a forked child so that it starts from the parent's
 * (uninitialised) library state and may abort or initialise freely.  Used by
 * the init_, config_, logging_, clock_, metrics_ and protocol_ tests.
 */
#pragma once

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

struct child_result {
    int  status;     /* waitpid() status */
    char err[16384]; /* what the child wrote to stderr (truncated) */
    char out[4096];  /* what the child wrote to stdout (truncated) */
};

static inline void
child_read_file(FILE *f, char *buf, size_t len)
{
    size_t n;

    rewind(f);
    n      = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/*
 * fork(); the child runs fn(arg) and then exit(0), which runs the library's
 * atexit handler.  stdout and stderr are captured into res.
 */
static inline void
run_in_child(void (*fn)(void *), void *arg, struct child_result *res)
{
    FILE *out = tmpfile();
    FILE *err = tmpfile();
    pid_t pid;

    if (out == NULL || err == NULL) {
        fprintf(stderr, "tmpfile failed\n");
        exit(1);
    }

    fflush(stdout);
    fflush(stderr);

    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork failed\n");
        exit(1);
    }
    if (pid == 0) {
        struct rlimit nocore = {0, 0};

        setrlimit(RLIMIT_CORE, &nocore); /* expected aborts need no core file */
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        /* The parent checks the scenario's log itself; a leak report still
         * fails the child (harness sink, common/test.c). */
        evpl_test_log_expect_errors();
        fn(arg);
        fflush(stdout);
        exit(0);
    }

    if (waitpid(pid, &res->status, 0) != pid) {
        fprintf(stderr, "waitpid failed\n");
        exit(1);
    }
    child_read_file(out, res->out, sizeof(res->out));
    child_read_file(err, res->err, sizeof(res->err));
}

static inline int
child_exited_ok(const struct child_result *res)
{
    return WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0;
}

static inline int
child_aborted(const struct child_result *res)
{
    return WIFSIGNALED(res->status) && WTERMSIG(res->status) == SIGABRT;
}

/*
 * Did the child abort with the library's fatal message (the harness sink's
 * "level=fatal" line) containing msg?  Any SIGABRT is not enough: under
 * ASAN_OPTIONS=abort_on_error=1 a sanitizer report also ends in SIGABRT.
 */
static inline int
child_aborted_with(const struct child_result *res, const char *msg)
{
    if (!child_aborted(res) || strstr(res->err, "Sanitizer") != NULL ||
        strstr(res->err, "runtime error:") != NULL) {
        return 0;
    }
    for (const char *p = res->err; (p = strstr(p, "level=fatal")) != NULL; p++) {
        const char *end = strchr(p, '\n');
        const char *hit = strstr(p, msg);

        if (hit != NULL && (end == NULL || hit < end)) {
            return 1;
        }
    }
    return 0;
}

/* Fail the test with the child's stderr when cond does not hold. */
#define child_expect(cond, res, what)                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s (status 0x%x)\n--- child stderr ---\n%s\n---\n",       \
                    __FILE__, __LINE__, what, (res)->status, (res)->err);                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
