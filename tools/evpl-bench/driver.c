/*
 * Roles, worker threads, measurement window and CPU accounting shared by
 * every benchmark program (see driver.h).
 *
 * Role "both" forks before the library under test is touched, so parent and
 * child each initialise their own copy: the child serves, the parent runs
 * the clients.  Two pipes join them: the child reports "ready" or a one-line
 * error, the parent marks the window's start ('S') and end ('E'), and the
 * child answers the end mark with the CPU time it used inside the window.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "report.h"

uint64_t   bench_window_start_ns;
uint64_t   bench_window_end_ns;
atomic_int bench_stop_flag;

static const char *prog = "evpl-bench";

struct worker_thread {
    pthread_t            thread;
    struct bench_worker *worker;
    int (*body)(struct bench_worker *w);
    int        rc;
    atomic_int done;
};

/* The child process of role both, seen from the parent. */
struct child {
    pid_t pid;
    int   ctl_fd; /* parent -> child marks */
    int   res_fd; /* child -> parent replies */
};

/* Exit status for a failed prepare(): 3 means "not available here", which
 * bench/compare and the tests treat as a skip rather than a failure. */
static int
prepare_exit(int rc)
{
    return rc == -2 ? 3 : 1;
}

static void
cpu_now(struct bench_cpu *cpu)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    cpu->valid   = 1;
    cpu->user_ns = (uint64_t) ru.ru_utime.tv_sec * 1000000000u + ru.ru_utime.tv_usec * 1000u;
    cpu->sys_ns  = (uint64_t) ru.ru_stime.tv_sec * 1000000000u + ru.ru_stime.tv_usec * 1000u;
}

static struct bench_cpu
cpu_diff(const struct bench_cpu *end, const struct bench_cpu *start)
{
    struct bench_cpu d = {.valid = 1};

    d.user_ns = end->user_ns - start->user_ns;
    d.sys_ns  = end->sys_ns - start->sys_ns;
    return d;
}

static void
sleep_until(uint64_t deadline_ns)
{
    uint64_t now = bench_now_ns();

    if (deadline_ns > now) {
        uint64_t        d  = deadline_ns - now;
        struct timespec ts = {.tv_sec  = (time_t) (d / 1000000000u),
                              .tv_nsec = (long) (d % 1000000000u)};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

/* Read one '\n'-terminated line (without it) from fd; -1 on EOF/error. */
static int
read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;

    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, 1);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        if (buf[n] == '\n') {
            break;
        }
        n++;
    }
    buf[n] = '\0';
    return 0;
}

static void
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        buf += w;
        len -= (size_t) w;
    }
}

static void *
worker_main(void *arg)
{
    struct worker_thread *t = arg;

    t->rc = t->body(t->worker);
    atomic_store(&t->done, 1);
    return NULL;
}

static int
progress_enabled(const struct bench_options *opt)
{
    if (opt->progress == BENCH_PROGRESS_ON) {
        return 1;
    }
    if (opt->progress == BENCH_PROGRESS_OFF || opt->json) {
        return 0;
    }
    return isatty(STDERR_FILENO);
}

/*
 * Run the client side (or the block workload): start the workers, mark the
 * window, print progress, collect.  `child` is the server process of role
 * both, or NULL.
 */
static int
run_clients(const struct bench_impl *impl, struct bench_options *opt,
            int (*body)(struct bench_worker *w), struct child *child, const char *server_note)
{
    unsigned int                n       = opt->client_threads;
    struct bench_worker        *workers = calloc(n, sizeof(*workers));
    struct worker_thread       *threads = calloc(n, sizeof(*threads));
    struct bench_hist_snapshot *total   = malloc(sizeof(*total));
    struct bench_hist_snapshot *prev    = malloc(sizeof(*prev));
    struct bench_hist_snapshot *cur     = malloc(sizeof(*cur));
    struct bench_hist_snapshot *one     = malloc(sizeof(*one));
    struct bench_result         result  = {.impl = impl->name, .opt = opt, .hist = total};
    struct bench_cpu            cpu_start, cpu_end;
    int                         progress = progress_enabled(opt), failed = 0, rc = 1;
    uint64_t                    t0, prev_ops = 0, prev_bytes = 0, prev_t;
    char                        line[256];

    if (!workers || !threads || !total || !prev || !cur || !one) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    t0                    = bench_now_ns();
    bench_window_start_ns = t0 + opt->warmup_ns;
    bench_window_end_ns   = bench_window_start_ns + opt->duration_ns;
    atomic_store(&bench_stop_flag, 0);

    for (unsigned int i = 0; i < n; i++) {
        workers[i].index = i;
        workers[i].opt   = opt;
        bench_hist_init(&workers[i].hist);
        threads[i].worker = &workers[i];
        threads[i].body   = body;
        atomic_init(&threads[i].done, 0);
        if (pthread_create(&threads[i].thread, NULL, worker_main, &threads[i]) != 0) {
            fprintf(stderr, "%s: cannot create client thread\n", prog);
            exit(1);
        }
    }

    /* Sleep in short steps so a worker that fails early (connection
     * refused, ...) ends the run at once. */
    prev_t = t0;
    bench_hist_snapshot_clear(prev);
    cpu_start.valid = 0;
    for (;;) {
        uint64_t now      = bench_now_ns(), next;
        int      all_done = 1;

        for (unsigned int i = 0; i < n; i++) {
            if (atomic_load(&threads[i].done)) {
                if (threads[i].rc != 0) {
                    failed = 1;
                }
            } else {
                all_done = 0;
            }
        }
        if (failed || all_done) {
            break;
        }
        if (!cpu_start.valid && now >= bench_window_start_ns) {
            cpu_now(&cpu_start);
            if (child) {
                write_all(child->ctl_fd, "S\n", 2);
            }
        }
        if (now >= bench_window_end_ns) {
            break;
        }
        if (progress && now - prev_t >= 1000000000u) {
            uint64_t ops = 0, bytes = 0;
            double   dt = (now - prev_t) / 1e9;

            bench_hist_snapshot_clear(cur);
            for (unsigned int i = 0; i < n; i++) {
                ops += atomic_load_explicit(&workers[i].live_ops, memory_order_relaxed);
                bytes += atomic_load_explicit(&workers[i].live_bytes, memory_order_relaxed);
                bench_hist_snapshot(&workers[i].hist, one);
                bench_hist_snapshot_merge(cur, one);
            }
            bench_hist_snapshot_diff(one, cur, prev);
            bench_report_progress(stderr, (now - t0) / 1e9, now < bench_window_start_ns,
                                  (ops - prev_ops) / dt, (bytes - prev_bytes) * 8 / dt / 1e9,
                                  bench_hist_percentile(one, 50), bench_hist_percentile(one, 99));
            memcpy(prev, cur, sizeof(*cur));
            prev_ops   = ops;
            prev_bytes = bytes;
            prev_t     = now;
        }
        next = now + 50000000u;
        if (!cpu_start.valid && next > bench_window_start_ns) {
            next = bench_window_start_ns;
        }
        if (next > bench_window_end_ns) {
            next = bench_window_end_ns;
        }
        sleep_until(next);
    }
    if (progress) {
        fprintf(stderr, "\n");
    }

    if (!cpu_start.valid) {
        cpu_now(&cpu_start);
    }
    cpu_now(&cpu_end);
    result.client_cpu = cpu_diff(&cpu_end, &cpu_start);
    /* Stop the clients before the server: they close their flows, and the
     * server, which keeps serving until the control pipe closes, sees
     * ordinary disconnects rather than the clients seeing it vanish. */
    atomic_store(&bench_stop_flag, 1);
    if (child) {
        write_all(child->ctl_fd, "E\n", 2);
    }
    for (unsigned int i = 0; i < n; i++) {
        pthread_join(threads[i].thread, NULL);
        if (threads[i].rc != 0) {
            failed = 1;
        }
    }

    result.server_cpu_note = server_note;
    if (child) {
        unsigned long long user, sys;

        if (read_line(child->res_fd, line, sizeof(line)) == 0 &&
            sscanf(line, "C %llu %llu", &user, &sys) == 2) {
            result.server_cpu.valid   = 1;
            result.server_cpu.user_ns = user;
            result.server_cpu.sys_ns  = sys;
        } else {
            result.server_cpu_note = "server did not report";
        }
        close(child->ctl_fd);
        close(child->res_fd);
        waitpid(child->pid, NULL, 0);
    }

    if (failed) {
        for (unsigned int i = 0; i < n; i++) {
            if (threads[i].rc != 0) {
                fprintf(stderr, "%s: %s\n", prog,
                        workers[i].error[0] ? workers[i].error : "client failed");
                break;
            }
        }
        goto out;
    }

    bench_hist_snapshot_clear(total);
    for (unsigned int i = 0; i < n; i++) {
        bench_hist_snapshot(&workers[i].hist, one);
        bench_hist_snapshot_merge(total, one);
        result.ops += atomic_load(&workers[i].ops);
        result.bytes += atomic_load(&workers[i].bytes);
        result.lost += workers[i].lost;
    }
    result.elapsed_ns = bench_window_end_ns - bench_window_start_ns;
    if (opt->json) {
        bench_report_json(stdout, &result);
    } else {
        bench_report_summary(stdout, &result);
    }
    rc = 0;
out:
    free(workers);
    free(threads);
    free(total);
    free(prev);
    free(cur);
    free(one);
    return rc;
}

/* Role server: serve until SIGINT or SIGTERM. */
static int
run_server(const struct bench_impl *impl, struct bench_options *opt)
{
    char             err[512] = "";
    sigset_t         set;
    struct bench_cpu cpu;
    uint64_t         t0 = bench_now_ns();
    void            *server;
    int              sig, rc;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if ((rc = impl->prepare(opt, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return prepare_exit(rc);
    }
    if (!(server = impl->server_start(opt, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    fprintf(stderr, "%s: %s server on %s port %d (%s), stop with Ctrl-C\n", prog, impl->name,
            opt->address, opt->port, opt->protocol);
    sigwait(&set, &sig);
    cpu_now(&cpu);
    impl->server_stop(server);
    bench_report_server(stdout, impl->name, opt, (bench_now_ns() - t0) / 1e9, &cpu, opt->json);
    return 0;
}

/* The child of role both: serve, answer the parent's marks, exit. */
static void __attribute__((noreturn))
child_main(const struct bench_impl *impl, struct bench_options *opt, int ctl_fd, int res_fd)
{
    char             err[512] = "", line[600];
    struct bench_cpu start    = {0}, end;
    void            *server;

    int rc;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if ((rc = impl->prepare(opt, err, sizeof(err))) != 0 ||
        !(server = impl->server_start(opt, err, sizeof(err)))) {
        snprintf(line, sizeof(line), "%c %s\n", rc == -2 ? 'U' : 'E', err);
        write_all(res_fd, line, strlen(line));
        _exit(1);
    }
    write_all(res_fd, "R\n", 2);
    cpu_now(&start);
    for (;;) {
        if (read_line(ctl_fd, line, sizeof(line)) != 0) {
            break;
        }
        if (line[0] == 'S') {
            cpu_now(&start);
        } else if (line[0] == 'E') {
            struct bench_cpu d;

            cpu_now(&end);
            d = cpu_diff(&end, &start);
            snprintf(line, sizeof(line), "C %llu %llu\n", (unsigned long long) d.user_ns,
                     (unsigned long long) d.sys_ns);
            write_all(res_fd, line, strlen(line));
            /* keep serving until the parent's clients are gone (EOF) */
        }
    }
    impl->server_stop(server);
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

static int
run_both(const struct bench_impl *impl, struct bench_options *opt)
{
    char         err[512] = "", line[600];
    int          ctl[2], res[2], rc;
    struct child child;

    if (pipe(ctl) != 0 || pipe(res) != 0) {
        fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    child.pid = fork();
    if (child.pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
        return 1;
    }
    if (child.pid == 0) {
        close(ctl[1]);
        close(res[0]);
        child_main(impl, opt, ctl[0], res[1]);
    }
    close(ctl[0]);
    close(res[1]);
    child.ctl_fd = ctl[1];
    child.res_fd = res[0];

    line[0] = '\0';
    if (read_line(child.res_fd, line, sizeof(line)) != 0 || line[0] != 'R') {
        int failed_early = line[0] == 'E' || line[0] == 'U';

        fprintf(stderr, "%s: %s\n", prog,
                failed_early ? line + 2 : "server process failed to start");
        close(child.ctl_fd);
        close(child.res_fd);
        waitpid(child.pid, NULL, 0);
        return line[0] == 'U' ? 3 : 1;
    }
    if ((rc = impl->prepare(opt, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        close(child.ctl_fd);
        close(child.res_fd);
        waitpid(child.pid, NULL, 0);
        return prepare_exit(rc);
    }
    return run_clients(impl, opt, impl->client_run, &child, NULL);
}

static int
run_same_process(const struct bench_impl *impl, struct bench_options *opt)
{
    char  err[512] = "";
    void *server;
    int   rc;

    if ((rc = impl->prepare(opt, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return prepare_exit(rc);
    }
    if (!(server = impl->server_start(opt, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    rc = run_clients(impl, opt, impl->client_run, NULL,
                     "same process: included in the client figure");
    impl->server_stop(server);
    return rc;
}

int
bench_main(const struct bench_impl *impl, int argc, char **argv)
{
    struct bench_options opt;
    char                 err[512];
    const char          *slash;
    int                  rc;

    if (argc > 0 && argv[0]) {
        slash = strrchr(argv[0], '/');
        prog  = slash ? slash + 1 : argv[0];
    }
    rc = bench_options_parse(&opt, argc, argv, err, sizeof(err));
    if (rc == 1) {
        bench_options_usage(stdout, prog);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s (see --help)\n", prog, err);
        return 2;
    }
    /* A client whose server vanished must fail the write, not die of it. */
    signal(SIGPIPE, SIG_IGN);

    if (opt.workload == BENCH_WORKLOAD_BLOCK) {
        if (!impl->block_run) {
            fprintf(stderr, "%s: the block workload is not offered by %s\n", prog, impl->name);
            return 2;
        }
        if ((rc = impl->prepare(&opt, err, sizeof(err))) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return prepare_exit(rc);
        }
        return run_clients(impl, &opt, impl->block_run, NULL, NULL);
    }

    switch (opt.role) {
    case BENCH_ROLE_SERVER:
        return run_server(impl, &opt);
    case BENCH_ROLE_CLIENT:
        if ((rc = impl->prepare(&opt, err, sizeof(err))) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return prepare_exit(rc);
        }
        return run_clients(impl, &opt, impl->client_run, NULL, "server runs elsewhere");
    default:
        /* In-process protocols cannot cross a fork: their two ends must be
         * loops of one process. */
        if (strstr(opt.protocol, "INPROC")) {
            opt.same_process = 1;
        }
        return opt.same_process ? run_same_process(impl, &opt) : run_both(impl, &opt);
    }
}
