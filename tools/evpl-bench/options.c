/*
 * Option parsing for evpl-bench and the peer programs (see options.h).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "options.h"

enum {
    OPT_PROTOCOL = 1000,
    OPT_SIZE,
    OPT_DEPTH,
    OPT_FLOWS,
    OPT_CLIENT_THREADS,
    OPT_SERVER_THREADS,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_ADDRESS,
    OPT_PORT,
    OPT_ROLE,
    OPT_JSON,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_FRAMING,
    OPT_SAME_PROCESS,
    OPT_FILE,
    OPT_FILE_SIZE,
    OPT_BACKEND,
    OPT_RW,
    OPT_PLACEMENT,
    OPT_STEER,
    OPT_HELP,
};

static const struct option long_options[] = {
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"size", required_argument, NULL, OPT_SIZE},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"flows", required_argument, NULL, OPT_FLOWS},
    {"client-threads", required_argument, NULL, OPT_CLIENT_THREADS},
    {"server-threads", required_argument, NULL, OPT_SERVER_THREADS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"address", required_argument, NULL, OPT_ADDRESS},
    {"port", required_argument, NULL, OPT_PORT},
    {"role", required_argument, NULL, OPT_ROLE},
    {"json", no_argument, NULL, OPT_JSON},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"framing", required_argument, NULL, OPT_FRAMING},
    {"same-process", no_argument, NULL, OPT_SAME_PROCESS},
    {"file", required_argument, NULL, OPT_FILE},
    {"file-size", required_argument, NULL, OPT_FILE_SIZE},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"rw", required_argument, NULL, OPT_RW},
    {"placement", required_argument, NULL, OPT_PLACEMENT},
    {"steer", required_argument, NULL, OPT_STEER},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void __attribute__((format(printf, 3, 4)))
set_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int
bench_parse_size(const char *text, uint64_t *value)
{
    char              *end;
    unsigned long long n;
    uint64_t           mult = 1;

    if (!text || !isdigit((unsigned char) text[0])) {
        return -1;
    }
    errno = 0;
    n     = strtoull(text, &end, 10);
    if (errno || end == text) {
        return -1;
    }
    if (*end) {
        char unit = (char) tolower((unsigned char) *end);

        switch (unit) {
        case 'k':
            mult = UINT64_C(1) << 10;
            break;
        case 'm':
            mult = UINT64_C(1) << 20;
            break;
        case 'g':
            mult = UINT64_C(1) << 30;
            break;
        default:
            return -1;
        }
        end++;
        if (*end && strcasecmp(end, "ib") != 0 && strcasecmp(end, "b") != 0) {
            return -1;
        }
    }
    if (n > UINT64_MAX / mult) {
        return -1;
    }
    *value = (uint64_t) n * mult;
    return 0;
}

int
bench_parse_duration(const char *text, uint64_t *ns)
{
    char  *end;
    double v, mult = 1e9;

    if (!text || !(isdigit((unsigned char) text[0]) || text[0] == '.')) {
        return -1;
    }
    errno = 0;
    v     = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0) {
        return -1;
    }
    if (*end) {
        if (strcmp(end, "s") == 0) {
            mult = 1e9;
        } else if (strcmp(end, "ms") == 0) {
            mult = 1e6;
        } else if (strcmp(end, "us") == 0) {
            mult = 1e3;
        } else {
            return -1;
        }
    }
    if (v * mult > 1e18) {
        return -1;
    }
    *ns = (uint64_t) llround(v * mult);
    return 0;
}

static int
parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *value)
{
    char         *end;
    unsigned long n;

    if (!text || !isdigit((unsigned char) text[0])) {
        return -1;
    }
    errno = 0;
    n     = strtoul(text, &end, 10);
    if (errno || *end || n < min || n > max) {
        return -1;
    }
    *value = n;
    return 0;
}

static int
copy_string(char *dst, size_t dstlen, const char *src)
{
    size_t len = strlen(src);

    if (len == 0 || len >= dstlen) {
        return -1;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

const char *
bench_workload_name(enum bench_workload workload)
{
    switch (workload) {
    case BENCH_WORKLOAD_PINGPONG:
        return "pingpong";
    case BENCH_WORKLOAD_STREAM:
        return "stream";
    case BENCH_WORKLOAD_BLOCK:
        return "block";
    default:
        return "none";
    }
}

const char *
bench_role_name(enum bench_role role)
{
    switch (role) {
    case BENCH_ROLE_SERVER:
        return "server";
    case BENCH_ROLE_CLIENT:
        return "client";
    default:
        return "both";
    }
}

const char *
bench_rw_name(enum bench_rw rw)
{
    switch (rw) {
    case BENCH_RW_WRITE:
        return "write";
    case BENCH_RW_RANDRW:
        return "randrw";
    default:
        return "read";
    }
}

static void
set_defaults(struct bench_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->workload = BENCH_WORKLOAD_NONE;
    opt->role     = BENCH_ROLE_BOTH;
    strcpy(opt->protocol, "STREAM_SOCKET_TCP");
    opt->size           = 64;
    opt->depth          = 16;
    opt->flows          = 1;
    opt->client_threads = 1;
    opt->server_threads = 1;
    opt->duration_ns    = UINT64_C(5000000000);
    opt->warmup_ns      = UINT64_C(1000000000);
    strcpy(opt->address, "127.0.0.1");
    opt->port      = BENCH_DEFAULT_PORT;
    opt->file_size = UINT64_C(1) << 30;
    strcpy(opt->backend, "IO_URING");
    opt->rw = BENCH_RW_READ;
}

#define BENCH_MAX_SIZE    (UINT64_C(64) << 20)
#define BENCH_MAX_DEPTH   65536
#define BENCH_MAX_FLOWS   4096
#define BENCH_MAX_THREADS 256

int
bench_options_parse(struct bench_options *opt, int argc, char **argv, char *err, size_t errlen)
{
    unsigned long n;
    int           c;

    set_defaults(opt);
    if (err && errlen) {
        err[0] = '\0';
    }

    /* getopt keeps global state: reset it so the parser can run more than
     * once per process (the unit tests do). */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        const char *arg = optarg;

        switch (c) {
        case OPT_PROTOCOL:
            if (copy_string(opt->protocol, sizeof(opt->protocol), arg)) {
                set_error(err, errlen, "invalid --protocol '%s'", arg);
                return -1;
            }
            break;
        case OPT_SIZE:
            if (bench_parse_size(arg, &opt->size) || opt->size == 0 || opt->size > BENCH_MAX_SIZE) {
                set_error(err, errlen,
                          "invalid --size '%s' (1 byte to 64 MiB, e.g. 64, 4k, 128KiB)", arg);
                return -1;
            }
            opt->given |= BENCH_GIVEN_SIZE;
            break;
        case OPT_DEPTH:
            if (parse_uint(arg, 1, BENCH_MAX_DEPTH, &n)) {
                set_error(err, errlen, "invalid --depth '%s' (1 to %d)", arg, BENCH_MAX_DEPTH);
                return -1;
            }
            opt->depth = (unsigned int) n;
            opt->given |= BENCH_GIVEN_DEPTH;
            break;
        case OPT_FLOWS:
            if (parse_uint(arg, 1, BENCH_MAX_FLOWS, &n)) {
                set_error(err, errlen, "invalid --flows '%s' (1 to %d)", arg, BENCH_MAX_FLOWS);
                return -1;
            }
            opt->flows = (unsigned int) n;
            break;
        case OPT_CLIENT_THREADS:
        case OPT_SERVER_THREADS:
            if (parse_uint(arg, 1, BENCH_MAX_THREADS, &n)) {
                set_error(err, errlen, "invalid --%s-threads '%s' (1 to %d)",
                          c == OPT_CLIENT_THREADS ? "client" : "server", arg, BENCH_MAX_THREADS);
                return -1;
            }
            if (c == OPT_CLIENT_THREADS) {
                opt->client_threads = (unsigned int) n;
            } else {
                opt->server_threads = (unsigned int) n;
            }
            break;
        case OPT_DURATION:
            if (bench_parse_duration(arg, &opt->duration_ns) || opt->duration_ns < 1000000) {
                set_error(err, errlen,
                          "invalid --duration '%s' (e.g. 5, 2.5s, 500ms; at least 1ms)", arg);
                return -1;
            }
            break;
        case OPT_WARMUP:
            if (bench_parse_duration(arg, &opt->warmup_ns)) {
                set_error(err, errlen, "invalid --warmup '%s' (e.g. 1, 0.5s, 200ms)", arg);
                return -1;
            }
            break;
        case OPT_ADDRESS:
            if (copy_string(opt->address, sizeof(opt->address), arg)) {
                set_error(err, errlen, "invalid --address '%s'", arg);
                return -1;
            }
            opt->given |= BENCH_GIVEN_ADDRESS;
            break;
        case OPT_PORT:
            if (parse_uint(arg, 1, 65535, &n)) {
                set_error(err, errlen, "invalid --port '%s' (1 to 65535)", arg);
                return -1;
            }
            opt->port = (int) n;
            break;
        case OPT_ROLE:
            if (strcmp(arg, "both") == 0) {
                opt->role = BENCH_ROLE_BOTH;
            } else if (strcmp(arg, "server") == 0) {
                opt->role = BENCH_ROLE_SERVER;
            } else if (strcmp(arg, "client") == 0) {
                opt->role = BENCH_ROLE_CLIENT;
            } else {
                set_error(err, errlen, "invalid --role '%s' (server, client or both)", arg);
                return -1;
            }
            break;
        case OPT_JSON:
            opt->json = 1;
            break;
        case OPT_PROGRESS:
            opt->progress = BENCH_PROGRESS_ON;
            break;
        case OPT_NO_PROGRESS:
            opt->progress = BENCH_PROGRESS_OFF;
            break;
        case OPT_FRAMING:
            if (strcmp(arg, "msg") == 0) {
                opt->framing = BENCH_FRAMING_MSG;
            } else if (strcmp(arg, "data") == 0) {
                opt->framing = BENCH_FRAMING_DATA;
            } else {
                set_error(err, errlen, "invalid --framing '%s' (msg or data)", arg);
                return -1;
            }
            break;
        case OPT_SAME_PROCESS:
            opt->same_process = 1;
            break;
        case OPT_FILE:
            if (copy_string(opt->file, sizeof(opt->file), arg)) {
                set_error(err, errlen, "invalid --file '%s'", arg);
                return -1;
            }
            break;
        case OPT_FILE_SIZE:
            if (bench_parse_size(arg, &opt->file_size) || opt->file_size == 0) {
                set_error(err, errlen, "invalid --file-size '%s' (e.g. 1G, 256M)", arg);
                return -1;
            }
            break;
        case OPT_PLACEMENT:
            if (strcmp(arg, "none") != 0 && strcmp(arg, "core") != 0 && strcmp(arg, "pu") != 0 &&
                strcmp(arg, "cache") != 0 && strcmp(arg, "numa") != 0) {
                set_error(err, errlen, "invalid --placement '%s' (none, core, pu, cache or numa)",
                          arg);
                return -1;
            }
            strcpy(opt->placement, strcmp(arg, "none") == 0 ? "" : arg);
            break;
        case OPT_STEER:
            if (strcmp(arg, "round-robin") != 0 && strcmp(arg, "least-loaded") != 0 &&
                strcmp(arg, "incoming-cpu") != 0) {
                set_error(err, errlen,
                          "invalid --steer '%s' (round-robin, least-loaded or incoming-cpu)", arg);
                return -1;
            }
            strcpy(opt->steer, arg);
            break;
        case OPT_BACKEND:
            if (strcmp(arg, "IO_URING") != 0 && strcmp(arg, "LIBAIO") != 0 &&
                strcmp(arg, "IO_URING_NVME") != 0 && strcmp(arg, "VFIO") != 0) {
                set_error(err, errlen,
                          "invalid --backend '%s' (IO_URING, LIBAIO, IO_URING_NVME or VFIO)", arg);
                return -1;
            }
            strcpy(opt->backend, arg);
            break;
        case OPT_RW:
            if (strcmp(arg, "read") == 0) {
                opt->rw = BENCH_RW_READ;
            } else if (strcmp(arg, "write") == 0) {
                opt->rw = BENCH_RW_WRITE;
            } else if (strcmp(arg, "randrw") == 0) {
                opt->rw = BENCH_RW_RANDRW;
            } else {
                set_error(err, errlen, "invalid --rw '%s' (read, write or randrw)", arg);
                return -1;
            }
            break;
        case 'h':
        case OPT_HELP:
            return 1;
        case ':':
            set_error(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            return -1;
        default:
            if (optopt && optopt < 256) {
                set_error(err, errlen, "unknown option '-%c'", optopt);
            } else {
                set_error(err, errlen, "unknown option '%s'", argv[optind - 1]);
            }
            return -1;
        }
    }

    if (optind >= argc) {
        set_error(err, errlen, "no workload given (pingpong, stream or block)");
        return -1;
    }
    if (strcmp(argv[optind], "pingpong") == 0) {
        opt->workload = BENCH_WORKLOAD_PINGPONG;
    } else if (strcmp(argv[optind], "stream") == 0) {
        opt->workload = BENCH_WORKLOAD_STREAM;
    } else if (strcmp(argv[optind], "block") == 0) {
        opt->workload = BENCH_WORKLOAD_BLOCK;
    } else {
        set_error(err, errlen, "unknown workload '%s' (pingpong, stream or block)", argv[optind]);
        return -1;
    }
    if (optind + 1 < argc) {
        set_error(err, errlen, "unexpected argument '%s'", argv[optind + 1]);
        return -1;
    }

    /* Per-workload defaults for what was not given. */
    if (!(opt->given & BENCH_GIVEN_SIZE)) {
        if (opt->workload == BENCH_WORKLOAD_STREAM) {
            opt->size = UINT64_C(128) << 10;
        } else if (opt->workload == BENCH_WORKLOAD_BLOCK) {
            opt->size = 4096;
        }
    }
    if (opt->workload == BENCH_WORKLOAD_BLOCK) {
        if (!opt->file[0]) {
            set_error(err, errlen, "the block workload needs --file PATH");
            return -1;
        }
        if (opt->size % 512) {
            set_error(err, errlen, "--size must be a multiple of 512 for the block workload");
            return -1;
        }
        if (opt->file_size < opt->size) {
            set_error(err, errlen, "--file-size is smaller than --size");
            return -1;
        }
    }
    return 0;
}

void
bench_options_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s WORKLOAD [options]\n"
            "\n"
            "workloads:\n"
            "  pingpong   request/response: --depth requests in flight per flow, each\n"
            "             answered (echoed) before it is reused\n"
            "  stream     one-way transfer of --size messages, --depth queued per flow\n"
            "  block      random reads/writes through the block API (evpl-bench only)\n"
            "\n"
            "options:\n"
            "  --protocol NAME        contract protocol name (default STREAM_SOCKET_TCP)\n"
            "  --size BYTES           message/request size (pingpong 64, stream 128KiB,\n"
            "                         block 4KiB); suffixes k, m, g (binary)\n"
            "  --depth N              requests in flight per flow (default 16)\n"
            "  --flows N              connections per client thread (default 1)\n"
            "  --client-threads N     client loops (default 1)\n"
            "  --server-threads N     server loops attached to the listener (default 1)\n"
            "  --placement P          pin server loops: none (default), core, pu, cache or\n"
            "                         numa, going round the domains (docs/topology.md)\n"
            "  --steer S              listener policy: round-robin (default), least-loaded\n"
            "                         or incoming-cpu\n"
            "  --duration T           measured time (default 5s; 500ms, 2.5s ...)\n"
            "  --warmup T             unmeasured time before it (default 1s)\n"
            "  --address A            server address (default 127.0.0.1; a path for\n"
            "                         STREAM_SOCKET_UNIX, a name for the in-process ones)\n"
            "  --port P               server port (default %d)\n"
            "  --role R               server, client or both (default: both, as two\n"
            "                         processes over loopback)\n"
            "  --same-process         role both as threads of one process (implied for\n"
            "                         the in-process protocols)\n"
            "  --framing F            msg (segment callback, one RECV_MSG per message;\n"
            "                         default) or data (RECV_DATA drained with recvv)\n"
            "  --json                 machine-readable summary on stdout\n"
            "  --progress, --no-progress  force the live progress line on or off (default:\n"
            "                         on when stderr is a terminal and --json is not given)\n"
            "block workload:\n"
            "  --file PATH            file or block device (a missing file is created)\n"
            "  --file-size BYTES      size of a created file (default 1G, sparse)\n"
            "  --backend B            IO_URING (default), LIBAIO, IO_URING_NVME, VFIO\n"
            "  --rw M                 read (default), write or randrw\n",
            prog, BENCH_DEFAULT_PORT);
}
