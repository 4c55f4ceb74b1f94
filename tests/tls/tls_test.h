/*
 * Helpers of the TLS tests: test certificates generated at run time with the
 * openssl CLI (make-certs.sh, into a temporary directory removed at exit),
 * a log sink that records the library's error lines so tests can check that
 * each fault produced exactly one clear line, loops and ports, and spawning
 * openssl s_server / s_client as interoperability peers.
 */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include <evpl/evpl_tls.h>

/* ---- certificates ------------------------------------------------------- */

static char tls_cert_dir[128];

static inline void
tls_require_openssl_cli(void)
{
    if (system("openssl version >/dev/null 2>&1") != 0) {
        evpl_test_unavailable("openssl", "(the command-line tool) is not installed");
    }
}

static inline void
tls_remove_certs(void)
{
    char cmd[256];

    if (tls_cert_dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls_cert_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tls_cert_dir);
        }
    }
}

/* Generate the test certificates (make-certs.sh); skip without openssl. */
static inline void
tls_make_certs(void)
{
    char cmd[512];

    tls_require_openssl_cli();
    snprintf(tls_cert_dir, sizeof(tls_cert_dir), "/tmp/evpl-tls-%d-XXXXXX", (int) getpid());
    test_assert(mkdtemp(tls_cert_dir) != NULL);
    atexit(tls_remove_certs);
    snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", TLS_CERT_SCRIPT, tls_cert_dir);
    test_assert_msg(system(cmd) == 0, "make-certs.sh failed");
}

/* The path of a generated file (static storage, one of 8 rotating slots). */
static inline const char *
tls_file(const char *name)
{
    static char slots[8][256];
    static int  next;
    char       *p = slots[next++ % 8];

    snprintf(p, 256, "%s/%s", tls_cert_dir, name);
    return p;
}

/* ---- log capture -------------------------------------------------------- */

#define TLS_LOG_MAX 256

static pthread_mutex_t tls_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char            tls_log_lines[TLS_LOG_MAX][512];
static int             tls_log_count;

static inline void
tls_log_sink(const char *level, const char *module, const char *srcfile, int lineno,
             const char *fmt, va_list argp)
{
    char line[512];

    (void) srcfile;
    (void) lineno;
    vsnprintf(line, sizeof(line), fmt, argp);
    if (strcmp(level, "error") == 0 && strcmp(module, "tls") == 0) {
        pthread_mutex_lock(&tls_log_lock);
        if (tls_log_count < TLS_LOG_MAX) {
            snprintf(tls_log_lines[tls_log_count++], sizeof(tls_log_lines[0]), "%s", line);
        }
        pthread_mutex_unlock(&tls_log_lock);
    }
}

/* Capture error lines of module "tls" (install before evpl_init). */
static inline void
tls_log_capture(void)
{
    evpl_test_log_observe(tls_log_sink);
    /* The tests that capture the log provoke failed handshakes and check
     * the captured lines themselves. */
    evpl_test_log_expect("TLS handshake");
}

/* Number of captured error lines so far. */
static inline int
tls_log_errors(void)
{
    pthread_mutex_lock(&tls_log_lock);
    int n = tls_log_count;
    pthread_mutex_unlock(&tls_log_lock);
    return n;
}

/* Does captured line index i contain any of the '|'-separated words
 * (case-insensitive)? */
static inline int
tls_log_line_has(int i, const char *words)
{
    char list[256], *save = NULL;
    int  found = 0;

    snprintf(list, sizeof(list), "%s", words);
    pthread_mutex_lock(&tls_log_lock);
    for (char *w = strtok_r(list, "|", &save); w && i < tls_log_count;
         w       = strtok_r(NULL, "|", &save)) {
        if (strcasestr(tls_log_lines[i], w)) {
            found = 1;
        }
    }
    pthread_mutex_unlock(&tls_log_lock);
    return found;
}

/* ---- loops, ports, endpoints -------------------------------------------- */

static inline int
tls_free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(fd >= 0);
    test_assert(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(getsockname(fd, (struct sockaddr *) &sin, &len) == 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static inline struct evpl *
tls_loop_create(void)
{
    struct evpl_thread_config *config = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(config, 20);
    return evpl_create(config);
}

static inline double
tls_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pump evpl until *flag >= want, failing after timeout_s seconds. */
static inline void
tls_run_until(struct evpl *evpl, atomic_int *flag, int want, int timeout_s)
{
    double start = tls_now();

    while (atomic_load(flag) < want) {
        evpl_continue(evpl);
        if (tls_now() - start > timeout_s) {
            test_fail("timed out after %d s waiting for %d (have %d)", timeout_s, want,
                      atomic_load(flag));
        }
    }
}

/* Listen for protocol TLS on 127.0.0.1, retrying ports; returns the port. */
static inline int
tls_listen(struct evpl_listener *listener, struct evpl_endpoint **endpoint)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = tls_free_port();

        *endpoint = evpl_endpoint_create("127.0.0.1", port);
        if (evpl_listen(listener, EVPL_STREAM_SOCKET_TLS, *endpoint) == 0) {
            return port;
        }
        evpl_endpoint_close(*endpoint);
    }
    test_fail("could not listen");
}

/* ---- child processes ---------------------------------------------------- */

/*
 * Run argv with its stdin and stdout on pipes (*to_child, *from_child; pass
 * NULL for /dev/null) and stderr inherited.  Returns the pid.
 */
static inline pid_t
tls_spawn(char *const argv[], int *to_child, int *from_child)
{
    int   in[2] = {-1, -1}, out[2] = {-1, -1};
    pid_t pid;

    test_assert(pipe(in) == 0 && pipe(out) == 0);
    pid = fork();
    test_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (to_child) {
        *to_child = in[1];
    } else {
        close(in[1]);
    }
    if (from_child) {
        *from_child = out[0];
    } else {
        close(out[0]);
    }
    return pid;
}

/* Wait for a child; returns its exit status (128 + signal if killed). */
static inline int
tls_reap(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
