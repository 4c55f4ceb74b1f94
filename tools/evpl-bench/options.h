/*
 * Command-line options shared by evpl-bench and the peer programs in bench/
 * (libevent, libuv, hand-written epoll), so that every implementation takes
 * the same flags and means the same by them.
 *
 * Parsing never prints and never exits: errors come back as one line of
 * text for the caller to print, which keeps the parser unit-testable.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bench_workload {
    BENCH_WORKLOAD_NONE = 0,
    BENCH_WORKLOAD_PINGPONG,
    BENCH_WORKLOAD_STREAM,
    BENCH_WORKLOAD_BLOCK,
};

enum bench_role {
    BENCH_ROLE_BOTH = 0,
    BENCH_ROLE_SERVER,
    BENCH_ROLE_CLIENT,
};

/* How a receiver cuts the byte stream into messages (stream protocols). */
enum bench_framing {
    BENCH_FRAMING_MSG = 0, /* segment callback returning the fixed size: one RECV_MSG each */
    BENCH_FRAMING_DATA,    /* RECV_DATA, drained with evpl_recvv; whole messages counted */
};

enum bench_rw {
    BENCH_RW_READ = 0,
    BENCH_RW_WRITE,
    BENCH_RW_RANDRW, /* 50/50 */
};

enum bench_progress {
    BENCH_PROGRESS_AUTO = 0, /* on when stderr is a terminal and --json is not given */
    BENCH_PROGRESS_OFF,
    BENCH_PROGRESS_ON,
};

#define BENCH_NAME_MAX 256

struct bench_options {
    enum bench_workload workload;
    enum bench_role     role;
    char                protocol[64];
    uint64_t            size;  /* message or block request size, bytes */
    unsigned int        depth; /* requests in flight per flow (block: per thread) */
    unsigned int        flows; /* flows (connections) per client thread */
    unsigned int        client_threads;
    unsigned int        server_threads;
    uint64_t            duration_ns;
    uint64_t            warmup_ns;
    char                address[BENCH_NAME_MAX];
    int                 port;
    int                 json;
    enum bench_progress progress;
    enum bench_framing  framing;
    int                 same_process; /* role both as threads of one process */
    /* server loop placement (docs/topology.md): "" unpinned, or a policy
     * name (core, pu, cache, numa); listener steering: round-robin (""),
     * least-loaded or incoming-cpu */
    char placement[16];
    char steer[16];
    /* block workload */
    char          file[BENCH_NAME_MAX];
    uint64_t      file_size;
    char          backend[32];
    enum bench_rw rw;
    /* which options were given explicitly (for per-workload defaults) */
    unsigned int given;
};

#define BENCH_GIVEN_SIZE    0x1
#define BENCH_GIVEN_ADDRESS 0x2
#define BENCH_GIVEN_DEPTH   0x4

#define BENCH_DEFAULT_PORT 17391

/*
 * Parse argv into *opt (which it initialises with the defaults first).
 * Returns 0 on success, 1 when --help was asked for, -1 on error with a
 * one-line message (no trailing newline) in err.
 */
int bench_options_parse(struct bench_options *opt, int argc, char **argv, char *err, size_t errlen);

void bench_options_usage(FILE *out, const char *prog);

/* "64", "4k", "4KiB", "128K", "1m", "2G" (binary multiples). 0 on success. */
int bench_parse_size(const char *text, uint64_t *value);

/* "5", "2.5s", "500ms", "250us" -> nanoseconds. 0 on success. */
int bench_parse_duration(const char *text, uint64_t *ns);

const char *bench_workload_name(enum bench_workload workload);
const char *bench_role_name(enum bench_role role);
const char *bench_rw_name(enum bench_rw rw);
