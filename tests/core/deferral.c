/*
 * Deferral ordering: armed deferrals run once per pass in arming order,
 * after active events and before iteration_end; arming twice yields one
 * call; re-arming from the callback runs again in the same drain; removal
 * prevents the call; more than 256 can be armed at once.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define MANY 1000

static char log_buf[256];
static int  log_len;
static int  runs[MANY];
static int  self_rearm;
static int  pass_ended;

static struct evpl_deferral d_a, d_b, d_c, d_self, d_removed, many[MANY];

static void
log_char(char c)
{
    test_assert(log_len < (int) sizeof(log_buf) - 1);
    log_buf[log_len++] = c;
    log_buf[log_len]   = '\0';
}

static void
char_cb(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    log_char(*(char *) private_data);
}

static void
self_cb(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    log_char('S');
    if (++self_rearm < 3) {
        evpl_defer(evpl, &d_self);
    }
}

static void
arm_b_cb(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    log_char('a');
    evpl_defer(evpl, &d_b); /* armed from a deferral: runs in the same drain */
}

static void
many_cb(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    runs[(struct evpl_deferral *) private_data - many]++;
}

static void
iteration_end(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    (void) private_data;
    pass_ended++;
    log_char('|');
}

static struct evpl_fd_event fdev;
static int                  pipefd[2];

static void
fd_read_cb(struct evpl *evpl, struct evpl_fd_event *ev)
{
    char c;

    while (read(pipefd[0], &c, 1) == 1) {
    }
    evpl_fd_event_mark_unreadable(evpl, ev);
    log_char('E');
    evpl_defer(evpl, &d_c); /* armed from an event: runs at the end of this pass */
}

int
main(int argc, char **argv)
{
    static char a = 'A', b = 'B', c = 'C', r = 'R';

    evpl_test_init(argc, argv);

    struct evpl           *evpl  = evpl_create(NULL);
    struct evpl_loop_hooks hooks = {.iteration_end = iteration_end};

    evpl_set_loop_hooks(evpl, &hooks);

    /* Storage is deliberately dirty: evpl_deferral_init must clear armed. */
    memset(&d_a, 0xff, sizeof(d_a));
    evpl_deferral_init(&d_a, char_cb, &a);
    test_assert_eq(d_a.armed, 0);
    evpl_deferral_init(&d_b, char_cb, &b);
    evpl_deferral_init(&d_c, char_cb, &c);
    evpl_deferral_init(&d_self, self_cb, NULL);
    evpl_deferral_init(&d_removed, char_cb, &r);

    /* Arming order A, B; arming A twice gives one call. */
    evpl_defer(evpl, &d_a);
    evpl_defer(evpl, &d_b);
    evpl_defer(evpl, &d_a);
    evpl_defer(evpl, &d_removed);
    test_assert(d_removed.armed != 0);
    evpl_remove_deferral(evpl, &d_removed);
    test_assert_eq(d_removed.armed, 0);
    evpl_remove_deferral(evpl, &d_removed); /* no-op */

    evpl_continue(evpl);
    test_assert_msg(strcmp(log_buf, "AB|") == 0, "log '%s'", log_buf);
    test_assert_eq(d_a.armed, 0); /* disarmed once it has run */
    test_assert_eq(d_b.armed, 0);

    /* Self re-arm runs three times within one pass. */
    log_len = 0;
    evpl_defer(evpl, &d_self);
    evpl_continue(evpl);
    test_assert_msg(strcmp(log_buf, "SSS|") == 0, "log '%s'", log_buf);

    /* A deferral armed by another deferral runs in the same drain. */
    struct evpl_deferral d_arm_b;

    evpl_deferral_init(&d_arm_b, arm_b_cb, NULL);
    log_len = 0;
    evpl_defer(evpl, &d_arm_b);
    evpl_continue(evpl);
    test_assert_msg(strcmp(log_buf, "aB|") == 0, "log '%s'", log_buf);

    /* Events dispatch before deferrals; a deferral armed there runs in the
     * same pass. */
    test_assert(pipe2(pipefd, O_NONBLOCK) == 0);
    evpl_add_fd_event(evpl, &fdev, pipefd[0], fd_read_cb, NULL, NULL);
    evpl_fd_event_read_interest(evpl, &fdev);
    test_assert(write(pipefd[1], "x", 1) == 1);
    log_len = 0;
    evpl_defer(evpl, &d_a);
    evpl_continue(evpl);
    /* Event first, then deferrals in arming order (A before C). */
    test_assert_msg(strcmp(log_buf, "EAC|") == 0, "log '%s'", log_buf);
    evpl_remove_fd_event(evpl, &fdev);

    /* No capacity limit: 1000 armed at once, each runs exactly once. */
    for (int i = 0; i < MANY; i++) {
        evpl_deferral_init(&many[i], many_cb, &many[i]);
        evpl_defer(evpl, &many[i]);
    }
    evpl_continue(evpl);
    for (int i = 0; i < MANY; i++) {
        test_assert_eq(runs[i], 1);
    }

    evpl_destroy(evpl);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}
