/*
 * Caller fd events on a pipe, the latching contract of contract section 12:
 *  - nothing runs before interest is armed;
 *  - three bytes, one read per call: exactly four calls on four consecutive
 *    passes (three reads, then EAGAIN + mark_unreadable), then quiet;
 *  - readiness latched while disinterested is delivered when re-armed;
 *  - an always-writable descriptor gets its write callback every pass until
 *    write_disinterest + mark_unwritable;
 *  - mark_readable restarts a paused consumer without a kernel report;
 *  - removal from inside a callback (own and other event) is safe;
 *  - hang-up reaches the error callback (epoll) or read() sees EOF (select).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static int pass_no;
static int read_calls, read_bytes, last_read_pass = -1;
static int write_calls;
static int error_calls;
static int eof_seen;

static struct evpl_fd_event rev, wev;
static int                  rp[2], wp[2];

static void
count_pass(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    pass_no++;
}

static void
one_byte_reader(struct evpl *evpl, struct evpl_fd_event *ev)
{
    char    c;
    ssize_t n = read(evpl_fd_event_fd(ev), &c, 1);

    read_calls++;
    if (last_read_pass >= 0) {
        test_assert_eq(pass_no, last_read_pass + 1); /* a burst runs on consecutive passes */
    }
    last_read_pass = pass_no;
    if (n == 1) {
        read_bytes++;
    } else {
        if (n == 0) {
            eof_seen = 1;
        }
        evpl_fd_event_mark_unreadable(evpl, ev);
        last_read_pass = -1; /* burst over */
    }
}

static void
writer(struct evpl *evpl, struct evpl_fd_event *ev)
{
    (void) evpl;
    (void) ev;
    write_calls++;
}

static void
on_error(struct evpl *evpl, struct evpl_fd_event *ev)
{
    (void) evpl;
    (void) ev;
    error_calls++;
}

static struct evpl_fd_event ev1, ev2;
static int                  p1[2], p2[2];
static int                  ev1_calls, ev2_calls;

static void
remover_cb(struct evpl *evpl, struct evpl_fd_event *ev)
{
    (void) ev;
    ev1_calls++;
    evpl_remove_fd_event(evpl, &ev1);
    evpl_remove_fd_event(evpl, &ev2);
}

static void
ev2_cb(struct evpl *evpl, struct evpl_fd_event *ev)
{
    (void) ev;
    ev2_calls++;
    evpl_remove_fd_event(evpl, &ev1);
    evpl_remove_fd_event(evpl, &ev2);
}

static void
run_passes(struct evpl *evpl, int n)
{
    for (int i = 0; i < n; i++) {
        evpl_continue(evpl);
    }
}

int
main(int argc, char **argv)
{
    evpl_test_init(argc, argv);

    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(tc, 10); /* passes never block for long */

    struct evpl           *evpl  = evpl_create(tc);
    struct evpl_loop_hooks hooks = {.iteration_end = count_pass};

    evpl_set_loop_hooks(evpl, &hooks);

    test_assert(pipe2(rp, O_NONBLOCK) == 0);
    evpl_add_fd_event(evpl, &rev, rp[0], one_byte_reader, NULL, on_error);
    test_assert_eq(evpl_fd_event_fd(&rev), rp[0]);

    /* Nothing armed at add time. */
    test_assert(write(rp[1], "abc", 3) == 3);
    run_passes(evpl, 3);
    test_assert_eq(read_calls, 0);

    /* Arming delivers the readiness latched meanwhile: 4 calls, 4 passes. */
    evpl_fd_event_read_interest(evpl, &rev);
    run_passes(evpl, 8);
    test_assert_eq(read_calls, 4);
    test_assert_eq(read_bytes, 3);

    /* Quiet until new data arrives. */
    run_passes(evpl, 3);
    test_assert_eq(read_calls, 4);
    test_assert(write(rp[1], "d", 1) == 1);
    run_passes(evpl, 4);
    test_assert_eq(read_calls, 6);
    test_assert_eq(read_bytes, 4);

    /* Latched while disinterested, delivered when re-armed. */
    evpl_fd_event_read_disinterest(evpl, &rev);
    test_assert(write(rp[1], "e", 1) == 1);
    run_passes(evpl, 3);
    test_assert_eq(read_calls, 6);
    evpl_fd_event_read_interest(evpl, &rev);
    run_passes(evpl, 4);
    test_assert_eq(read_bytes, 5);
    test_assert_eq(read_calls, 8);

    /* mark_readable without a kernel report: one call, EAGAIN, quiet. */
    evpl_fd_event_mark_readable(evpl, &rev);
    run_passes(evpl, 3);
    test_assert_eq(read_calls, 9);

    /* Always-writable descriptor: write callback on every pass. */
    test_assert(pipe2(wp, O_NONBLOCK) == 0);
    evpl_add_fd_event(evpl, &wev, wp[1], NULL, writer, NULL);
    evpl_fd_event_write_interest(evpl, &wev);
    run_passes(evpl, 5);
    test_assert(write_calls >= 4);
    evpl_fd_event_write_disinterest(evpl, &wev);
    evpl_fd_event_mark_unwritable(evpl, &wev);
    int w = write_calls;

    run_passes(evpl, 5);
    test_assert_eq(write_calls, w);
    evpl_remove_fd_event(evpl, &wev);

    /* Hang-up: error callback (epoll reports HUP) or EOF through read. */
    close(rp[1]);
    run_passes(evpl, 4);
    test_assert(error_calls >= 1 || eof_seen);
    if (strcmp(evpl_test_mech_name(argc, argv), "select") != 0) {
        test_assert(error_calls >= 1);
    }
    evpl_remove_fd_event(evpl, &rev);

    /* Removal during dispatch, own and other event in the same pass. */
    test_assert(pipe2(p1, O_NONBLOCK) == 0);
    test_assert(pipe2(p2, O_NONBLOCK) == 0);
    evpl_add_fd_event(evpl, &ev1, p1[0], remover_cb, NULL, NULL);
    evpl_add_fd_event(evpl, &ev2, p2[0], ev2_cb, NULL, NULL);
    evpl_fd_event_read_interest(evpl, &ev1);
    evpl_fd_event_read_interest(evpl, &ev2);
    test_assert(write(p1[1], "x", 1) == 1);
    test_assert(write(p2[1], "x", 1) == 1);
    run_passes(evpl, 4);
    test_assert_eq(ev1_calls + ev2_calls, 1);
    test_assert(write(p1[1], "x", 1) == 1);
    test_assert(write(p2[1], "x", 1) == 1);
    run_passes(evpl, 3);
    test_assert_eq(ev1_calls + ev2_calls, 1);

    /* Descriptor 0 is accepted (Appendix A.15). */
    int saved = dup(0);
    int zp[2];

    close(0);
    test_assert(pipe2(zp, O_NONBLOCK) == 0);
    test_assert_eq(zp[0], 0);
    struct evpl_fd_event zev;

    read_calls = 0;
    evpl_add_fd_event(evpl, &zev, 0, one_byte_reader, NULL, NULL);
    evpl_fd_event_read_interest(evpl, &zev);
    test_assert(write(zp[1], "z", 1) == 1);
    run_passes(evpl, 4);
    test_assert_eq(read_calls, 2);
    evpl_remove_fd_event(evpl, &zev);
    close(zp[0]);
    close(zp[1]);
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    }

    evpl_destroy(evpl);
    close(rp[0]);
    close(wp[0]);
    close(wp[1]);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    return 0;
}
