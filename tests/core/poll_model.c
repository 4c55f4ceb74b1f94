/*
 * Model-based conformance test of the hybrid spin-then-sleep state machine
 * (contract 11.2, with the clarifications of 11.1 and Appendix A.4).
 *
 * A reference model of 11.2 is written below from the contract alone:
 * in_poll_mode, the activity counter and the count last observed,
 * last_activity_time, pin_count, pure_passes, spin_ns and poll_iterations,
 * plus the two rules the contract leaves to the reader:
 *   - a poll added while the loop is in poll mode gets its enter callback
 *     before its first poll callback (and an exit callback only if it was
 *     entered);
 *   - activity is observed only by a full pass in which poll_mode is on and
 *     a poll is registered, so activity reported while no poll exists is
 *     still pending when one is added.
 *
 * A seeded random driver then mixes, on one loop under the virtual clock:
 * evpl_add_poll / evpl_remove_poll (with and without enter/exit callbacks,
 * some polls reporting evpl_activity() from their callback), evpl_activity,
 * pin / unpin, one-shot timers (some reporting activity), socket binds of
 * every socket transport (UDP, TCP, UNIX, TLS, TCP_RDMA) being created,
 * used and closed (their traffic
 * makes the library spin on its own: that must stay invisible), virtual
 * clock advances and runs of passes.  After every step the enter / poll /
 * exit callbacks each poll has received must be exactly the model's.
 *
 *   core_poll_model MECH [FIRST_SEED [SEEDS [STEPS]]]
 *
 * A failing seed prints its parameters and the whole step list; rerun it
 * alone with `core_poll_model MECH SEED 1`.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../socket/net_test.h"

#define SPIN_NS    100000ULL /* 100 us */
#define MAX_POLLS  8
#define MAX_TIMERS 8
#define MAX_BINDS  12
#define MAX_STEPS  1024
#define LOG_MAX    65536

/* ---- random numbers (xorshift64*) --------------------------------------- */

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned int
rng_below(unsigned int n)
{
    return (unsigned int) (rng_next() % n);
}

/* ---- the reference model (contract 11.2) -------------------------------- */

struct model_poll {
    int used;
    int has_enter, has_exit;
    int busy; /* its callback reports evpl_activity() */
    int entered;
    /* callbacks as letters: E enter, P poll, X exit */
    char   expected[LOG_MAX];
    size_t nexpected;
    char   actual[LOG_MAX];
    size_t nactual;
};

struct model_timer {
    int               armed;
    int               activity; /* its callback reports evpl_activity() */
    uint64_t          deadline;
    struct evpl_timer timer;
};

struct model {
    int      poll_mode;
    int      poll_iterations;
    int      in_poll_mode;
    uint64_t activity;
    uint64_t activity_seen;
    uint64_t last_activity_time;
    int      pin_count;
    int      pure_passes;

    struct model_poll  polls[MAX_POLLS]; /* by slot */
    int                order[MAX_POLLS]; /* registered slots, in registration order */
    int                npolls;
    struct model_timer timers[MAX_TIMERS];
};

static struct model       m;
static struct evpl       *loop;
static struct evpl_poll  *handles[MAX_POLLS];
static struct model_poll *current_check; /* for error messages */

static void
expect(struct model_poll *p, char c)
{
    if (p->nexpected < LOG_MAX) {
        p->expected[p->nexpected] = c;
    }
    p->nexpected++;
}

/* Call every poll of a pass; enter first the ones added since the mode
 * began. */
static void
model_call_polls(void)
{
    for (int i = 0; i < m.npolls; i++) {
        struct model_poll *p = &m.polls[m.order[i]];

        if (!p->entered) {
            p->entered = 1;
            if (p->has_enter) {
                expect(p, 'E');
            }
        }
        expect(p, 'P');
        if (p->busy) {
            m.activity++;
        }
    }
}

static void
model_enter_all(void)
{
    for (int i = 0; i < m.npolls; i++) {
        struct model_poll *p = &m.polls[m.order[i]];

        if (!p->entered) {
            p->entered = 1;
            if (p->has_enter) {
                expect(p, 'E');
            }
        }
    }
}

static void
model_exit_all(void)
{
    for (int i = 0; i < m.npolls; i++) {
        struct model_poll *p = &m.polls[m.order[i]];

        if (p->entered) {
            p->entered = 0;
            if (p->has_exit) {
                expect(p, 'X');
            }
        }
    }
}

static void
model_pass(uint64_t now)
{
    if (m.in_poll_mode && m.pure_passes < m.poll_iterations) {
        model_call_polls();
        m.pure_passes++;
        return;
    }

    /* Full pass.  Step 1: due timers (a deadline equal to now is due). */
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (m.timers[i].armed && m.timers[i].deadline <= now) {
            m.timers[i].armed = 0;
            if (m.timers[i].activity) {
                m.activity++;
            }
        }
    }

    /* Step 2: poll-mode bookkeeping. */
    int      can_poll = m.poll_mode && m.npolls > 0;
    uint64_t elapsed  = 0;

    if (can_poll) {
        if (m.activity != m.activity_seen) {
            m.activity_seen      = m.activity;
            m.last_activity_time = now;
        } else {
            elapsed = now - m.last_activity_time;
        }
    }
    if (m.pin_count == 0 && elapsed > SPIN_NS) {
        if (m.in_poll_mode) {
            model_exit_all();
            m.in_poll_mode = 0;
        }
    } else if (can_poll && !m.in_poll_mode) {
        model_enter_all();
        m.in_poll_mode = 1;
        m.pure_passes  = 0;
    }

    /* Steps 5-7: after the wait, the polls run while in poll mode. */
    if (m.in_poll_mode) {
        model_call_polls();
    }
    m.pure_passes = 0;
}

static void dump_and_fail(const char *what);

/* ---- the real loop's callbacks ------------------------------------------ */

static unsigned long long n_enter, n_poll, n_exit, n_binds;

static void
record(void *private_data, char c)
{
    n_enter += c == 'E';
    n_poll += c == 'P';
    n_exit += c == 'X';
    struct model_poll *p = private_data;

    test_assert(p >= m.polls && p < m.polls + MAX_POLLS && p->used);
    if (p->nactual < LOG_MAX) {
        p->actual[p->nactual] = c;
    }
    p->nactual++;
}

static void
enter_cb(struct evpl *evpl, void *private_data)
{
    test_assert(evpl == loop);
    record(private_data, 'E');
}

static void
exit_cb(struct evpl *evpl, void *private_data)
{
    test_assert(evpl == loop);
    record(private_data, 'X');
}

static void
poll_cb(struct evpl *evpl, void *private_data)
{
    struct model_poll *p = private_data;

    test_assert(evpl == loop);
    record(private_data, 'P');
    if (p->busy) {
        evpl_activity(evpl);
    }
}

static void
timer_cb(struct evpl *evpl, struct evpl_timer *timer)
{
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (&m.timers[i].timer == timer) {
            /* The model has just fired it in the same pass. */
            if (m.timers[i].armed) {
                dump_and_fail("a timer fired that the model does not consider due");
            }
            if (m.timers[i].activity) {
                evpl_activity(evpl);
            }
            return;
        }
    }
    test_fail("unknown timer fired");
}

/* ---- socket binds: library spinning the application must not see ---------- */

struct test_bind {
    struct evpl_bind     *bind;
    struct evpl_endpoint *ep; /* UDP: its own address (it sends to itself) */
    int                   closing;
};

static struct test_bind      binds[MAX_BINDS];
static enum evpl_protocol_id stream_protos[4];
static int                   nstream_protos;
static int                   tcp_listen_fd = -1, unix_listen_fd = -1;
static struct evpl_endpoint *stream_eps[4];
static char                  unix_path[108];
static struct evpl_endpoint *dead_eps[MAX_STEPS];
static int                   ndead_eps;

static void
bind_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct test_bind *b = data;

    (void) bind;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_MSG:
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        if (b->ep) {
            dead_eps[ndead_eps++] = b->ep;
        }
        memset(b, 0, sizeof(*b));
        break;
    default:
        break;
    }
}

/* A kernel listening socket nobody accepts from: connections complete in
 * its backlog, so stream binds connect without a listener thread (whose
 * loop would busy-spin under the virtual clock). */
static void
raw_listeners_open(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t          len = sizeof(sin);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    tcp_listen_fd       = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    test_assert(tcp_listen_fd >= 0);
    test_assert(bind(tcp_listen_fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(getsockname(tcp_listen_fd, (struct sockaddr *) &sin, &len) == 0);
    test_assert(listen(tcp_listen_fd, 1024) == 0);

    snprintf(unix_path, sizeof(unix_path), "/tmp/evpl-poll-model-%d.sock", (int) getpid());
    unlink(unix_path);
    memcpy(sun.sun_path, unix_path, strlen(unix_path) + 1);
    unix_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    test_assert(unix_listen_fd >= 0);
    test_assert(bind(unix_listen_fd, (struct sockaddr *) &sun, sizeof(sun)) == 0);
    test_assert(listen(unix_listen_fd, 1024) == 0);

    nstream_protos                = 0;
    stream_protos[nstream_protos] = EVPL_STREAM_SOCKET_TCP;
    stream_eps[nstream_protos++]  = evpl_endpoint_create("127.0.0.1", ntohs(sin.sin_port));
    stream_protos[nstream_protos] = EVPL_STREAM_SOCKET_UNIX;
    stream_eps[nstream_protos++]  = evpl_endpoint_create_local(unix_path);
    if (evpl_protocol_available(EVPL_STREAM_SOCKET_TLS)) {
        stream_protos[nstream_protos] = EVPL_STREAM_SOCKET_TLS;
        stream_eps[nstream_protos++]  = evpl_endpoint_create("127.0.0.1", ntohs(sin.sin_port));
    }
    if (evpl_protocol_available(EVPL_DATAGRAM_TCP_RDMA)) {
        stream_protos[nstream_protos] = EVPL_DATAGRAM_TCP_RDMA;
        stream_eps[nstream_protos++]  = evpl_endpoint_create("127.0.0.1", ntohs(sin.sin_port));
    }
}

static void
raw_listeners_close(void)
{
    for (int i = 0; i < nstream_protos; i++) {
        evpl_endpoint_close(stream_eps[i]);
    }
    close(tcp_listen_fd);
    close(unix_listen_fd);
    unlink(unix_path);
}

/* ---- the driver ------------------------------------------------------------- */

static char        steps[MAX_STEPS][96];
static int         nsteps;
static int         seed_now;
static const char *mech_name;

static void
dump_and_fail(const char *what)
{
    fprintf(stderr,
            "\nFAIL core_poll_model %s seed %d (poll_mode %d, poll_iterations %d, spin_ns %llu)\n",
            mech_name, seed_now, m.poll_mode, m.poll_iterations, (unsigned long long) SPIN_NS);
    fprintf(stderr, "%s\n", what);
    if (current_check) {
        fprintf(stderr, "poll #%d (enter %d, exit %d):\n  expected %.*s\n  actual   %.*s\n",
                (int) (current_check - m.polls), current_check->has_enter, current_check->has_exit,
                (int) (current_check->nexpected < LOG_MAX ? current_check->nexpected : LOG_MAX),
                current_check->expected,
                (int) (current_check->nactual < LOG_MAX ? current_check->nactual : LOG_MAX),
                current_check->actual);
    }
    fprintf(stderr, "steps (%d):\n", nsteps);
    for (int i = 0; i < nsteps; i++) {
        fprintf(stderr, "  %3d %s\n", i, steps[i]);
    }
    fprintf(stderr, "replay: core_poll_model %s %d 1\n", mech_name, seed_now);
    exit(1);
}

static void
check_poll(struct model_poll *p)
{
    current_check = p;
    if (p->nexpected != p->nactual || p->nexpected > LOG_MAX ||
        memcmp(p->expected, p->actual, p->nexpected) != 0) {
        dump_and_fail("callback sequence differs from the model");
    }
    current_check = NULL;
}

static void
check_all(void)
{
    for (int i = 0; i < MAX_POLLS; i++) {
        if (m.polls[i].used) {
            check_poll(&m.polls[i]);
        }
    }
}

static void
run_passes(int n)
{
    for (int i = 0; i < n; i++) {
        model_pass(evpl_virtual_clock_now());
        evpl_continue(loop);
    }
}

static int
free_poll_slot(void)
{
    for (int i = 0; i < MAX_POLLS; i++) {
        if (!m.polls[i].used) {
            return i;
        }
    }
    return -1;
}

static void
step_add_poll(char *desc, size_t len)
{
    int slot = free_poll_slot();

    if (slot < 0) {
        snprintf(desc, len, "add_poll: none free");
        return;
    }

    struct model_poll *p = &m.polls[slot];

    memset(p, 0, sizeof(*p));
    p->used       = 1;
    p->has_enter  = rng_below(3) != 0;
    p->has_exit   = rng_below(3) != 0;
    p->busy       = rng_below(6) == 0;
    handles[slot] = evpl_add_poll(loop, p->has_enter ? enter_cb : NULL,
                                  p->has_exit ? exit_cb : NULL, poll_cb, p);
    test_assert(handles[slot] != NULL);
    m.order[m.npolls++] = slot;
    snprintf(desc, len, "add_poll #%d enter=%d exit=%d busy=%d", slot, p->has_enter, p->has_exit,
             p->busy);
}

static void
step_remove_poll(char *desc, size_t len)
{
    if (m.npolls == 0) {
        snprintf(desc, len, "remove_poll: none");
        return;
    }

    int                k    = (int) rng_below(m.npolls);
    int                slot = m.order[k];
    struct model_poll *p    = &m.polls[slot];

    evpl_remove_poll(loop, handles[slot]);
    handles[slot] = NULL;
    memmove(&m.order[k], &m.order[k + 1], (m.npolls - k - 1) * sizeof(int));
    m.npolls--;
    /* No exit callback on removal; the last one leaves poll mode (A.4). */
    if (m.npolls == 0) {
        m.in_poll_mode = 0;
    }
    check_poll(p);
    p->used = 0;
    snprintf(desc, len, "remove_poll #%d", slot);
}

static void
step_bind(char *desc, size_t len)
{
    int op = (int) rng_below(4);
    int i  = (int) rng_below(MAX_BINDS);

    if (op == 0 && binds[i].bind == NULL) {
        struct test_bind *b = &binds[i];

        b->bind = net_udp_bind(loop, "127.0.0.1", bind_notify, b, &b->ep, NULL);
        n_binds++;
        snprintf(desc, len, "bind %d: UDP bind", i);
    } else if (op == 1 && binds[i].bind == NULL) {
        int               k = (int) rng_below(nstream_protos);
        struct test_bind *b = &binds[i];

        b->bind = evpl_connect(loop, stream_protos[k], NULL, stream_eps[k], bind_notify, NULL, b);
        test_assert(b->bind != NULL);
        n_binds++;
        snprintf(desc, len, "bind %d: connect proto %d", i, (int) stream_protos[k]);
    } else if (op == 2 && binds[i].bind && !binds[i].closing) {
        char msg[64];

        memset(msg, 'm', sizeof(msg));
        if (binds[i].ep) {
            evpl_sendtoep(loop, binds[i].bind, binds[i].ep, msg, sizeof(msg));
        } else {
            evpl_send(loop, binds[i].bind, msg, sizeof(msg));
        }
        snprintf(desc, len, "bind %d: send 64 bytes", i);
    } else if (op == 3 && binds[i].bind && !binds[i].closing) {
        binds[i].closing = 1;
        evpl_close(loop, binds[i].bind);
        snprintf(desc, len, "bind %d: close", i);
    } else {
        snprintf(desc, len, "bind %d: nothing to do (op %d)", i, op);
    }
}

static void
run_seed(int seed, int nsteps_wanted)
{
    static const uint64_t advances[]   = {1000,           SPIN_NS / 2, SPIN_NS,      SPIN_NS + 1,
                                          SPIN_NS + 1000, 3 * SPIN_NS, 10 * SPIN_NS, 0};
    static const int      iterations[] = {0, 1, 2, 3, 5};

    seed_now  = seed;
    rng_state = 0x9E3779B97F4A7C15ULL ^ ((uint64_t) seed * 0xD1B54A32D192ED03ULL);
    rng_next();
    memset(&m, 0, sizeof(m));
    memset(binds, 0, sizeof(binds));
    nsteps    = 0;
    ndead_eps = 0;

    m.poll_mode       = rng_below(10) != 0;
    m.poll_iterations = iterations[rng_below(5)];

    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_poll_mode(tc, m.poll_mode);
    evpl_thread_config_set_poll_iterations(tc, m.poll_iterations);
    loop                 = evpl_create(tc);
    m.last_activity_time = evpl_virtual_clock_now(); /* the window starts at creation */
    raw_listeners_open();

    for (int s = 0; s < nsteps_wanted && nsteps < MAX_STEPS; s++) {
        char    *desc = steps[nsteps++];
        size_t   len  = sizeof(steps[0]);
        unsigned op   = rng_below(100);

        if (op < 12) {
            step_add_poll(desc, len);
        } else if (op < 20) {
            step_remove_poll(desc, len);
        } else if (op < 28) {
            evpl_activity(loop);
            m.activity++;
            snprintf(desc, len, "activity");
        } else if (op < 33) {
            evpl_poll_pin(loop);
            m.pin_count++;
            snprintf(desc, len, "pin (count %d)", m.pin_count);
        } else if (op < 38) {
            if (m.pin_count > 0) {
                evpl_poll_unpin(loop);
                m.pin_count--;
            }
            snprintf(desc, len, "unpin (count %d)", m.pin_count);
        } else if (op < 44) {
            static const unsigned delays[] = {0, 1, 50, 100, 101, 250};
            int                   i        = (int) rng_below(MAX_TIMERS);
            struct model_timer   *t        = &m.timers[i];

            if (!t->armed) {
                unsigned delay = delays[rng_below(6)];

                t->armed    = 1;
                t->activity = (int) rng_below(2);
                t->deadline = evpl_virtual_clock_now() + (uint64_t) delay * 1000;
                evpl_add_oneshot_timer(loop, &t->timer, timer_cb, delay);
                snprintf(desc, len, "timer %d: in %u us, activity=%d", i, delay, t->activity);
            } else {
                evpl_remove_timer(loop, &t->timer);
                t->armed = 0;
                snprintf(desc, len, "timer %d: removed", i);
            }
        } else if (op < 56) {
            uint64_t ns = advances[rng_below(8)];

            if (ns == 0) {
                ns = 1 + rng_below(4 * SPIN_NS);
            }
            evpl_virtual_clock_advance(ns);
            snprintf(desc, len, "advance %llu ns", (unsigned long long) ns);
        } else if (op < 66) {
            step_bind(desc, len);
        } else if (op < 70) {
            if (m.npolls > 0) {
                struct model_poll *p = &m.polls[m.order[rng_below(m.npolls)]];

                p->busy = !p->busy;
                snprintf(desc, len, "poll #%d busy=%d", (int) (p - m.polls), p->busy);
            } else {
                snprintf(desc, len, "busy: no poll");
            }
        } else {
            int n = 1 + (int) rng_below(2 * m.poll_iterations + 3);

            snprintf(desc, len, "passes %d", n);
            run_passes(n);
        }
        check_all();

        /* Often a pass or two right after the operation, in the same step. */
        int extra = (int) rng_below(3);

        if (extra) {
            size_t used = strlen(desc);

            snprintf(desc + used, len - used, " + passes %d", extra);
            run_passes(extra);
            check_all();
        }
    }

    /* Teardown: nothing here is checked against the model any more. */
    for (int i = 0; i < MAX_POLLS; i++) {
        if (m.polls[i].used) {
            evpl_remove_poll(loop, handles[i]);
            m.polls[i].used = 0;
        }
    }
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (m.timers[i].armed) {
            evpl_remove_timer(loop, &m.timers[i].timer);
        }
    }
    while (m.pin_count-- > 0) {
        evpl_poll_unpin(loop);
    }
    evpl_destroy(loop);
    for (int i = 0; i < MAX_BINDS; i++) {
        test_assert(binds[i].bind == NULL); /* every bind delivered DISCONNECTED */
    }
    for (int i = 0; i < ndead_eps; i++) {
        evpl_endpoint_close(dead_eps[i]);
    }
    raw_listeners_close();
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);
    int                        first  = argc > 2 ? atoi(argv[2]) : 0;
    int                        seeds  = argc > 3 ? atoi(argv[3]) : 200;
    int                        nstep  = argc > 4 ? atoi(argv[4]) : 120;

    mech_name = evpl_test_mech_name(argc, argv);
    evpl_global_config_set_virtual_clock(config, 1);
    evpl_global_config_set_spin_ns(config, SPIN_NS);
    evpl_init(config);

    for (int seed = first; seed < first + seeds; seed++) {
        run_seed(seed, nstep);
    }
    printf("core_poll_model %s: %d seeds x %d steps match the model (%llu enter, %llu poll, "
           "%llu exit callbacks; %llu socket binds)\n",
           mech_name, seeds, nstep, n_enter, n_poll, n_exit, n_binds);
    /* A driver that never reached the interesting states would prove nothing. */
    test_assert(seeds < 50 || (n_enter > 0 && n_exit > 0 && n_poll > 0 && n_binds > 0));
    return 0;
}
