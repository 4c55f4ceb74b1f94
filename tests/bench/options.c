/*
 * evpl-bench option parsing: defaults, per-workload defaults, every option
 * accepted, and bad input refused with a message (never a crash, never a
 * silent default).
 */
#include <stdarg.h>
#include <string.h>

#include "options.h"
#include "test.h"

static int
parse(struct bench_options *opt, char *err, const char *first, ...)
{
    char       *argv[64];
    int         argc = 0;
    va_list     ap;
    const char *a;

    argv[argc++] = (char *) "evpl-bench";
    va_start(ap, first);
    for (a = first; a; a = va_arg(ap, const char *)) {
        argv[argc++] = (char *) a;
    }
    va_end(ap);
    argv[argc] = NULL;
    err[0]     = '\0';
    return bench_options_parse(opt, argc, argv, err, 512);
}

#define EXPECT_ERROR(substr, ...)                                                                  \
    do {                                                                                           \
        test_assert_eq(parse(&opt, err, __VA_ARGS__, (const char *) NULL), -1);                    \
        test_assert_msg(strstr(err, substr) != NULL, "error '%s' lacks '%s'", err, substr);        \
        test_assert(strchr(err, '\n') == NULL);                                                    \
    } while (0)

int
main(void)
{
    struct bench_options opt;
    char                 err[512];
    uint64_t             v;

    /* defaults */
    test_assert_eq(parse(&opt, err, "pingpong", (const char *) NULL), 0);
    test_assert_eq(opt.workload, BENCH_WORKLOAD_PINGPONG);
    test_assert_eq(opt.role, BENCH_ROLE_BOTH);
    test_assert(strcmp(opt.protocol, "STREAM_SOCKET_TCP") == 0);
    test_assert_eq(opt.size, 64);
    test_assert_eq(opt.depth, 16);
    test_assert_eq(opt.flows, 1);
    test_assert_eq(opt.client_threads, 1);
    test_assert_eq(opt.server_threads, 1);
    test_assert_eq(opt.duration_ns, 5000000000ull);
    test_assert_eq(opt.warmup_ns, 1000000000ull);
    test_assert(strcmp(opt.address, "127.0.0.1") == 0);
    test_assert_eq(opt.port, BENCH_DEFAULT_PORT);
    test_assert_eq(opt.json, 0);
    test_assert_eq(opt.framing, BENCH_FRAMING_MSG);

    /* per-workload size defaults */
    test_assert_eq(parse(&opt, err, "stream", (const char *) NULL), 0);
    test_assert_eq(opt.size, 131072);
    test_assert_eq(parse(&opt, err, "--size", "1k", "stream", (const char *) NULL), 0);
    test_assert_eq(opt.size, 1024);
    test_assert_eq(parse(&opt, err, "block", "--file", "/tmp/x", (const char *) NULL), 0);
    test_assert_eq(opt.size, 4096);

    /* every option */
    test_assert_eq(parse(&opt, err, "--protocol", "DATAGRAM_SOCKET_UDP", "--size", "128KiB",
                         "--depth", "32", "--flows", "4", "--client-threads", "2",
                         "--server-threads", "3", "--duration", "2.5s", "--warmup", "250ms",
                         "--address", "10.0.0.1", "--port", "9000", "--role", "client", "--json",
                         "--framing", "data", "--same-process", "--no-progress", "pingpong",
                         (const char *) NULL),
                   0);
    test_assert(strcmp(opt.protocol, "DATAGRAM_SOCKET_UDP") == 0);
    test_assert_eq(opt.size, 131072);
    test_assert_eq(opt.depth, 32);
    test_assert_eq(opt.flows, 4);
    test_assert_eq(opt.client_threads, 2);
    test_assert_eq(opt.server_threads, 3);
    test_assert_eq(opt.duration_ns, 2500000000ull);
    test_assert_eq(opt.warmup_ns, 250000000ull);
    test_assert(strcmp(opt.address, "10.0.0.1") == 0);
    test_assert_eq(opt.port, 9000);
    test_assert_eq(opt.role, BENCH_ROLE_CLIENT);
    test_assert_eq(opt.json, 1);
    test_assert_eq(opt.framing, BENCH_FRAMING_DATA);
    test_assert_eq(opt.same_process, 1);
    test_assert_eq(opt.progress, BENCH_PROGRESS_OFF);

    test_assert_eq(
        parse(&opt, err, "--role=server", "--warmup", "0", "stream", (const char *) NULL), 0);
    test_assert_eq(opt.role, BENCH_ROLE_SERVER);
    test_assert_eq(opt.warmup_ns, 0);

    test_assert_eq(parse(&opt, err, "block", "--file", "/tmp/f", "--backend", "LIBAIO", "--rw",
                         "randrw", "--file-size", "256M", "--size", "8k", (const char *) NULL),
                   0);
    test_assert_eq(opt.workload, BENCH_WORKLOAD_BLOCK);
    test_assert(strcmp(opt.backend, "LIBAIO") == 0);
    test_assert_eq(opt.rw, BENCH_RW_RANDRW);
    test_assert_eq(opt.file_size, 256ull << 20);
    test_assert_eq(opt.size, 8192);

    /* Placement and steering (docs/topology.md); "none" is the default. */
    test_assert_eq(parse(&opt, err, "pingpong", "--placement", "cache", "--steer", "incoming-cpu",
                         (const char *) NULL),
                   0);
    test_assert(strcmp(opt.placement, "cache") == 0);
    test_assert(strcmp(opt.steer, "incoming-cpu") == 0);
    test_assert_eq(parse(&opt, err, "pingpong", "--placement", "none", (const char *) NULL), 0);
    test_assert(opt.placement[0] == '\0' && opt.steer[0] == '\0');

    /* help */
    test_assert_eq(parse(&opt, err, "--help", (const char *) NULL), 1);
    test_assert_eq(parse(&opt, err, "-h", "pingpong", (const char *) NULL), 1);

    /* bad input */
    EXPECT_ERROR("no workload", "--size", "64");
    EXPECT_ERROR("unknown workload 'ping'", "ping");
    EXPECT_ERROR("unexpected argument", "pingpong", "stream");
    EXPECT_ERROR("unknown option '--bogus'", "--bogus", "pingpong");
    EXPECT_ERROR("unknown option '-x'", "-x", "pingpong");
    EXPECT_ERROR("needs a value", "pingpong", "--size");
    EXPECT_ERROR("invalid --size 'abc'", "--size", "abc", "pingpong");
    EXPECT_ERROR("invalid --size '0'", "--size", "0", "pingpong");
    EXPECT_ERROR("invalid --size '-5'", "--size", "-5", "pingpong");
    EXPECT_ERROR("invalid --size '12q'", "--size", "12q", "pingpong");
    EXPECT_ERROR("invalid --size '1t'", "--size", "1t", "pingpong");
    EXPECT_ERROR("invalid --size '65M'", "--size", "65M", "pingpong");
    EXPECT_ERROR("invalid --size '99999999999999999999'", "--size", "99999999999999999999",
                 "pingpong");
    EXPECT_ERROR("invalid --depth '0'", "--depth", "0", "pingpong");
    EXPECT_ERROR("invalid --depth '16x'", "--depth", "16x", "pingpong");
    EXPECT_ERROR("invalid --depth ''", "--depth", "", "pingpong");
    EXPECT_ERROR("invalid --flows '100000'", "--flows", "100000", "pingpong");
    EXPECT_ERROR("invalid --client-threads '0'", "--client-threads", "0", "pingpong");
    EXPECT_ERROR("invalid --server-threads 'two'", "--server-threads", "two", "pingpong");
    EXPECT_ERROR("invalid --duration '0'", "--duration", "0", "pingpong");
    EXPECT_ERROR("invalid --duration '5m'", "--duration", "5m", "pingpong");
    EXPECT_ERROR("invalid --duration 'nan'", "--duration", "nan", "pingpong");
    EXPECT_ERROR("invalid --warmup '-1'", "--warmup", "-1", "pingpong");
    EXPECT_ERROR("invalid --port '0'", "--port", "0", "pingpong");
    EXPECT_ERROR("invalid --placement 'socket'", "--placement", "socket", "pingpong");
    EXPECT_ERROR("invalid --steer 'random'", "--steer", "random", "pingpong");
    EXPECT_ERROR("invalid --port '65536'", "--port", "65536", "pingpong");
    EXPECT_ERROR("invalid --role 'peer'", "--role", "peer", "pingpong");
    EXPECT_ERROR("invalid --framing 'x'", "--framing", "x", "pingpong");
    EXPECT_ERROR("invalid --backend 'SPDK'", "--backend", "SPDK", "block", "--file", "/tmp/f");
    EXPECT_ERROR("invalid --rw 'rw'", "--rw", "rw", "block", "--file", "/tmp/f");
    EXPECT_ERROR("needs --file", "block");
    EXPECT_ERROR("multiple of 512", "block", "--file", "/tmp/f", "--size", "1000");
    EXPECT_ERROR("invalid --protocol ''", "--protocol", "", "pingpong");

    /* the number helpers directly */
    test_assert(bench_parse_size("4KiB", &v) == 0 && v == 4096);
    test_assert(bench_parse_size("2g", &v) == 0 && v == 2ull << 30);
    test_assert(bench_parse_size("3MB", &v) == 0 && v == 3ull << 20);
    test_assert(bench_parse_size(" 4", &v) == -1);
    test_assert(bench_parse_size("4 k", &v) == -1);
    test_assert(bench_parse_size("4kx", &v) == -1);
    test_assert(bench_parse_duration("1.5", &v) == 0 && v == 1500000000ull);
    test_assert(bench_parse_duration("20us", &v) == 0 && v == 20000);
    test_assert(bench_parse_duration("inf", &v) == -1);
    test_assert(bench_parse_duration("1e30", &v) == -1);
    test_assert(bench_parse_duration("2h", &v) == -1);
    return 0;
}
