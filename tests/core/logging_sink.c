/*
 * evpl_set_log_fn(): an installed sink receives the library's messages with
 * lowercase level strings, a module name and the call site; evpl_abort()
 * reports through the sink at level "fatal", calls the flush hook and
 * terminates with SIGABRT; sinks can be replaced while other threads log.
 */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

struct record {
    char level[16];
    char module[32];
    char file[256];
    int  line;
    char text[512];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct record   last;
static int             count_a, count_b; /* atomic */

static void
sink_a(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
       va_list argp)
{
    pthread_mutex_lock(&lock);
    snprintf(last.level, sizeof(last.level), "%s", level);
    snprintf(last.module, sizeof(last.module), "%s", module);
    snprintf(last.file, sizeof(last.file), "%s", srcfile);
    last.line = lineno;
    vsnprintf(last.text, sizeof(last.text), fmt, argp);
    __atomic_add_fetch(&count_a, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
}

static void
sink_b(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
       va_list argp)
{
    char buf[256];

    (void) level;
    (void) module;
    (void) srcfile;
    (void) lineno;
    vsnprintf(buf, sizeof(buf), fmt, argp);
    __atomic_add_fetch(&count_b, 1, __ATOMIC_RELAXED);
}

/* --- evpl_abort in a child: the sink and the flush hook report on stdout,
 * which the parent captures (the library itself never writes stdout). --- */

static void
abort_sink(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
           va_list argp)
{
    char buf[256];

    vsnprintf(buf, sizeof(buf), fmt, argp);
    printf("SINK level=%s module=%s file=%s line=%d text=%s\n", level, module, srcfile, lineno,
           buf);
    fflush(stdout); /* abort() does not flush stdio */
}

static void
abort_flush(void)
{
    printf("FLUSHED\n");
    fflush(stdout);
}

static void
call_abort(void *arg)
{
    (void) arg;
    evpl_set_log_fn(abort_sink, abort_flush);
    evpl_abort("mytest", "here.c", 42, "broken invariant %d/%s", 7, "x");
}

static void
call_abort_no_flush(void *arg)
{
    (void) arg;
    evpl_set_log_fn(abort_sink, NULL);
    evpl_abort("mytest", "here.c", 43, "no flush hook");
}

/* A library abort (bad virtual clock use) goes through the same path. */
static void
library_abort(void *arg)
{
    (void) arg;
    evpl_set_log_fn(abort_sink, abort_flush);
    evpl_init(NULL);
    (void) evpl_virtual_clock_now();
}

/* --- sink replacement racing with logging threads --- */

static volatile int stop_logging;

static void *
logger(void *arg)
{
    struct evpl_global_config *c = evpl_global_config_init();

    (void) arg;
    while (!__atomic_load_n(&stop_logging, __ATOMIC_RELAXED)) {
        evpl_global_config_set_huge_page_size(c, 3); /* logs one error */
    }
    evpl_global_config_release(c);
    return NULL;
}

static void
race_sinks(void)
{
    pthread_t threads[4];

    for (int i = 0; i < 4; i++) {
        test_assert(pthread_create(&threads[i], NULL, logger, NULL) == 0);
    }
    /* Keep swapping until both sinks have seen plenty of messages. */
    for (int i = 0; i < 2000 || __atomic_load_n(&count_b, __ATOMIC_RELAXED) < 500 ||
                    __atomic_load_n(&count_a, __ATOMIC_RELAXED) < 500;
         i++) {
        evpl_set_log_fn((i & 1) ? sink_a : sink_b, NULL);
    }
    __atomic_store_n(&stop_logging, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *c;
    struct child_result        res;

    (void) argc;
    (void) argv;

    /* Children first, while this process has no threads. */
    run_in_child(call_abort, NULL, &res);
    child_expect(child_aborted(&res), &res, "evpl_abort must end with SIGABRT");
    child_expect(strstr(res.out, "SINK level=fatal module=mytest file=here.c line=42 "
                                 "text=broken invariant 7/x\n") != NULL,
                 &res, "fatal message not delivered to the sink");
    child_expect(strstr(res.out, "FLUSHED") != NULL, &res, "flush hook not called");
    child_expect(strstr(res.out, "SINK") < strstr(res.out, "FLUSHED"), &res,
                 "flush must come after the message");

    run_in_child(call_abort_no_flush, NULL, &res);
    child_expect(child_aborted(&res), &res, "evpl_abort without flush hook");
    child_expect(strstr(res.out, "text=no flush hook") != NULL, &res, "message lost");

    run_in_child(library_abort, NULL, &res);
    child_expect(child_aborted(&res), &res, "virtual clock misuse must abort");
    child_expect(strstr(res.out, "SINK level=fatal module=core") != NULL, &res,
                 "library abort not reported through the sink");
    child_expect(strstr(res.out, "FLUSHED") != NULL, &res, "flush hook not called");

    /* Messages from the library carry level, module and call site. */
    evpl_set_log_fn(sink_a, NULL);
    c = evpl_global_config_init();
    evpl_global_config_set_huge_page_size(c, 3);
    test_assert_eq(count_a, 1);
    test_assert(strcmp(last.level, "error") == 0);
    test_assert(strcmp(last.module, "core") == 0);
    test_assert_msg(strstr(last.file, "config.c") != NULL, "srcfile '%s'", last.file);
    test_assert(last.line > 0);
    test_assert_msg(strstr(last.text, "invalid huge page size 3") != NULL, "text '%s'", last.text);
    evpl_global_config_release(c);

    /* Setting a sink never initialises the library. */
    evpl_init(NULL);

    race_sinks();
    return 0;
}
