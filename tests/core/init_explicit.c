/*
 * evpl_init(): explicit initialisation with and without a config, the
 * SIGPIPE side effect, clean exit, and the aborts for a second
 * initialisation (explicit or after an implicit one) and for a core
 * mechanism the platform lacks.  Each scenario runs in its own child process.
 */
#include <signal.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

static int    g_argc;
static char **g_argv;

static void
init_null_and_return(void *arg)
{
    struct sigaction sa;

    (void) arg;
    evpl_init(NULL);
    if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_IGN) {
        fprintf(stderr, "SIGPIPE is not ignored after evpl_init\n");
        exit(2);
    }
    /* Normal return: the atexit handler tears everything down. */
}

static void
init_config_and_return(void *arg)
{
    (void) arg;
    evpl_test_init(g_argc, g_argv);
    test_assert(evpl_get_slab_size() > 0);
}

static void
init_twice(void *arg)
{
    (void) arg;
    evpl_init(NULL);
    evpl_init(NULL);
    exit(3); /* not reached */
}

static void
init_after_protocol_query(void *arg)
{
    (void) arg;
    (void) evpl_protocol_available(EVPL_STREAM_SOCKET_TCP);
    evpl_init(NULL);
    exit(3);
}

static void
init_after_thread_config(void *arg)
{
    struct evpl_thread_config *config;

    (void) arg;
    config = evpl_thread_config_init();
    evpl_thread_config_release(config);
    evpl_init(evpl_global_config_init());
    exit(3);
}

static void
init_after_scrape(void *arg)
{
    char buf[8192];

    (void) arg;
    test_assert(evpl_metrics_scrape(buf, sizeof(buf)) > 0);
    evpl_init(NULL);
    exit(3);
}

static void
init_after_create(void *arg)
{
    struct evpl *evpl;

    (void) arg;
    evpl = evpl_create(NULL);
    evpl_destroy(evpl);
    evpl_init(NULL);
    exit(3);
}

static void
init_kqueue(void *arg)
{
    struct evpl_global_config *config = evpl_global_config_init();

    (void) arg;
    evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_KQUEUE);
    evpl_init(config);
    exit(3);
}

static void
create_without_init(void *arg)
{
    struct evpl *evpl;

    (void) arg;
    evpl = evpl_create(NULL);
    test_assert(evpl != NULL);
    evpl_destroy(evpl);
}

int
main(int argc, char **argv)
{
    struct child_result res;

    g_argc = argc;
    g_argv = argv;

    run_in_child(init_null_and_return, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "evpl_init(NULL) then return must exit 0");
    child_expect(res.out[0] == '\0', &res, "the library wrote to stdout");

    run_in_child(init_config_and_return, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "evpl_init(config) then return must exit 0");

    run_in_child(create_without_init, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "evpl_create(NULL) without evpl_init must work");

    run_in_child(init_twice, NULL, &res);
    child_expect(child_aborted_with(&res, "already initialised"), &res,
                 "a second evpl_init() must abort, saying why");

    run_in_child(init_after_protocol_query, NULL, &res);
    child_expect(child_aborted_with(&res, "already initialised"), &res,
                 "evpl_init() after a protocol query must abort");

    run_in_child(init_after_thread_config, NULL, &res);
    child_expect(child_aborted_with(&res, "already initialised"), &res,
                 "evpl_init() after evpl_thread_config_init() must abort");

    run_in_child(init_after_scrape, NULL, &res);
    child_expect(child_aborted_with(&res, "already initialised"), &res,
                 "evpl_init() after evpl_metrics_scrape() must abort");

    run_in_child(init_after_create, NULL, &res);
    child_expect(child_aborted_with(&res, "already initialised"), &res,
                 "evpl_init() after evpl_create() must abort");

    run_in_child(init_kqueue, NULL, &res);
    child_expect(child_aborted_with(&res, "EVPL_CORE_MECH_KQUEUE is not available"), &res,
                 "EVPL_CORE_MECH_KQUEUE on Linux must abort, naming the mechanism");

    return 0;
}
