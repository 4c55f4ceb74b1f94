/*
 * Our client against a hostile server.  Each line of hostile.txt is a case:
 *
 *   name | N | server script | status of call 0 .. status of call N-1
 *
 * The client opens a connection and issues N NULL calls; a raw TCP server
 * on a thread reads the N call records (learning their xids, Xn in the
 * script), writes the scripted bytes (wire.h tokens; `close` closes the
 * connection after them) and otherwise keeps the connection open.  The
 * client then waits for the calls, disconnects, and checks that every call
 * completed exactly once with the expected status (0, a positive
 * accept_stat, or -1 DECODE_ERROR, -2 DENIED, -3 CONN_LOST).
 */
#include <poll.h>

#include "net_test.h"
#include "echo_prog.h"
#include "wire.h"

#define MAXCALLS 10

static int         listen_fd;
static char       *script;
static int         ncalls;
static atomic_int  script_done, case_over;
static const char *case_name;

/* Read one whole record (all fragments); returns its first word or -1 at EOF. */
static int64_t
read_record(int fd)
{
    uint8_t  mark[4], word[4];
    int64_t  xid  = -1;
    int      last = 0;
    uint32_t got  = 0;

    while (!last) {
        if (recv(fd, mark, 4, MSG_WAITALL) != 4) {
            return -1;
        }
        last         = (mark[0] & 0x80) != 0;
        uint32_t len = (uint32_t) (mark[0] & 0x7f) << 24 | (uint32_t) mark[1] << 16 |
                       (uint32_t) mark[2] << 8 | mark[3];

        while (len) {
            uint8_t buf[4096];
            ssize_t n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), 0);

            if (n <= 0) {
                return -1;
            }
            for (ssize_t i = 0; i < n && got < 4; i++) {
                word[got++] = buf[i];
            }
            len -= (uint32_t) n;
        }
    }
    if (got == 4) {
        xid = (int64_t) ((uint32_t) word[0] << 24 | (uint32_t) word[1] << 16 |
                         (uint32_t) word[2] << 8 | word[3]);
    }
    return xid;
}

static void *
server_main(void *arg)
{
    (void) arg;
    for (;;) {
        int          fd = accept(listen_fd, NULL, NULL);
        uint32_t     xids[MAXCALLS];
        struct bytes out = {0};
        int          action;

        if (fd < 0) {
            return NULL;
        }
        for (int i = 0; i < ncalls; i++) {
            int64_t x = read_record(fd);

            test_assert_msg(x >= 0, "%s: call %d not received", case_name, i);
            xids[i] = (uint32_t) x;
        }
        action = encode(case_name, script, &out, xids, ncalls);
        if (out.len) {
            test_assert(send(fd, out.data, out.len, MSG_NOSIGNAL) == (ssize_t) out.len);
        }
        free(out.data);
        if (action == 2) {
            close(fd);
            atomic_store(&script_done, 1);
        } else {
            atomic_store(&script_done, 1);
            /* Drain (the client may answer calls we sent) until it leaves. */
            uint8_t buf[4096];

            while (recv(fd, buf, sizeof(buf), 0) > 0) {
            }
            close(fd);
        }
        while (!atomic_load(&case_over)) {
            usleep(1000);
        }
        atomic_store(&case_over, 0); /* acknowledged: main may start the next case */
    }
}

static struct evpl *evpl;
static int          status[MAXCALLS], times[MAXCALLS], disconnected;

static void
notify(struct evpl_rpc2_thread *t, struct evpl_rpc2_conn *c, struct evpl_rpc2_notify *n, void *p)
{
    (void) t;
    (void) c;
    (void) p;
    if (n->notify_type == EVPL_RPC2_NOTIFY_DISCONNECTED) {
        disconnected++;
    }
}

static void
null_done(struct evpl *e, const struct evpl_rpc2_verf *verf, int st, void *p)
{
    int i = (int) (intptr_t) p;

    (void) e;
    test_assert(verf != NULL);
    status[i] = st;
    times[i]++;
}

static void
pump_ms(int ms)
{
    struct timespec s, n;

    clock_gettime(CLOCK_MONOTONIC, &s);
    do {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &n);
    } while ((n.tv_sec - s.tv_sec) * 1000 + (n.tv_nsec - s.tv_nsec) / 1000000 < ms);
}

int
main(int argc, char **argv)
{
    const char               *path = argc > 2 ? argv[2] : "hostile.txt";
    struct sockaddr_in        sin  = {.sin_family = AF_INET};
    socklen_t                 len  = sizeof(sin);
    struct ECHO_V1            prog;
    struct evpl_rpc2_program *progs[1] = {&prog.rpc2};
    struct evpl_rpc2_thread  *rpc2;
    struct evpl_endpoint     *ep;
    pthread_t                 tid;
    FILE                     *f;
    char                     *line  = NULL;
    size_t                    cap   = 0;
    int                       cases = 0, failed = 0;

    evpl_test_init(argc, argv);
    /* The hostile server provokes one logged error per bad reply (the
     * table checks each outcome); leak reports still fail. */
    evpl_test_log_expect_errors();
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd           = socket(AF_INET, SOCK_STREAM, 0);
    test_assert(bind(listen_fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(listen(listen_fd, 16) == 0);
    test_assert(getsockname(listen_fd, (struct sockaddr *) &sin, &len) == 0);
    ep = evpl_endpoint_create("127.0.0.1", ntohs(sin.sin_port));

    ECHO_V1_init(&prog);
    evpl = net_loop_create();
    rpc2 = evpl_rpc2_thread_init(evpl, progs, 1, notify, NULL);

    f = fopen(path, "r");
    test_assert_msg(f != NULL, "cannot open %s", path);
    test_assert(pthread_create(&tid, NULL, server_main, NULL) == 0);
    while (getline(&line, &cap, f) > 0) {
        char *name, *n, *expect, *save = NULL, *tok, *s2 = NULL;
        int   ok = 1, want[MAXCALLS], nwant = 0;

        if (line[0] == '#' || strspn(line, " \t\n") == strlen(line)) {
            continue;
        }
        name   = strtok_r(line, "|", &save);
        n      = strtok_r(NULL, "|", &save);
        script = strtok_r(NULL, "|", &save);
        expect = strtok_r(NULL, "|", &save);
        test_assert_msg(name && n && script && expect, "malformed line: %s", line);
        while (*name == ' ') {
            name++;
        }
        name[strcspn(name, " \t")] = '\0';
        case_name                  = name;
        for (tok = strtok_r(expect, " \t\n", &s2); tok; tok = strtok_r(NULL, " \t\n", &s2)) {
            want[nwant++] = atoi(tok);
        }
        memset(status, 0x7f, sizeof(status));
        memset(times, 0, sizeof(times));
        disconnected = 0;
        atomic_store(&script_done, 0);
        ncalls = atoi(n);
        test_assert_msg(ncalls == nwant && ncalls <= MAXCALLS, "%s: %d calls, %d statuses", name,
                        ncalls, nwant);
        cases++;

        struct evpl_rpc2_conn *conn =
            evpl_rpc2_client_connect(rpc2, EVPL_STREAM_SOCKET_TCP, ep, NULL, 0, NULL);

        test_assert(conn != NULL);
        for (int i = 0; i < ncalls; i++) {
            send_call_void(&prog.rpc2, evpl, conn, NULL, ECHO_NULL, (void *) null_done,
                           (void *) (intptr_t) i);
        }
        while (!atomic_load(&script_done)) {
            evpl_continue(evpl);
        }
        pump_ms(100);
        if (!disconnected) {
            evpl_rpc2_client_disconnect(rpc2, conn);
        }
        while (!disconnected) {
            evpl_continue(evpl);
        }
        atomic_store(&case_over, 1);
        while (atomic_load(&case_over)) {
            usleep(1000);
        }
        for (int i = 0; i < ncalls; i++) {
            if (times[i] != 1 || status[i] != want[i]) {
                fprintf(stderr, "FAIL %s: call %d completed %d times, status %d, expected %d\n",
                        name, i, times[i], status[i], want[i]);
                ok = 0;
            }
        }
        failed += !ok;
    }
    free(line);
    fclose(f);
    fprintf(stderr, "%d cases, %d failed\n", cases, failed);
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(tid, NULL);
    evpl_rpc2_thread_destroy(rpc2);
    evpl_endpoint_close(ep);
    evpl_destroy(evpl);
    test_assert(cases >= 20);
    return failed ? 1 : 0;
}
