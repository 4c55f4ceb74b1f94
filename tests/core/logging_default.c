/*
 * The default sink: one logfmt line per message on stderr (time, quoted and
 * escaped message, process, thread, level, module, file:line), nothing on
 * stdout, and a fatal line before SIGABRT.
 */
#include <ctype.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

/* The subject is the library's default sink: keep the harness's out. */
const int evpl_test_default_log_sink = 1;

static void
emit_messages(void *arg)
{
    struct evpl_global_config *c = evpl_global_config_init();

    (void) arg;
    evpl_global_config_set_huge_page_size(c, 3); /* one error line */
    evpl_global_config_release(c);
    evpl_abort("mymod", "/build/src/x/file.c", 77, "quote\" backslash\\ newline\n tab\t end");
}

/* "time=YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ " */
static int
valid_time(const char *line)
{
    static const char pattern[] = "time=dddd-dd-ddTdd:dd:dd.dddddddddZ ";

    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        if (pattern[i] == 'd' ? !isdigit((unsigned char) line[i]) : line[i] != pattern[i]) {
            return 0;
        }
    }
    return 1;
}

/* Debug messages (evpl_init reports its settings at debug level) reach the
 * default sink only with EVPL_LOG_LEVEL=debug. */
static void
init_quietly(void *arg)
{
    if (arg != NULL) {
        setenv("EVPL_LOG_LEVEL", "debug", 1);
    } else {
        unsetenv("EVPL_LOG_LEVEL");
    }
    evpl_init(NULL);
}

int
main(int argc, char **argv)
{
    struct child_result res;
    char               *line1, *line2, *nl;

    (void) argc;
    (void) argv;

    run_in_child(emit_messages, NULL, &res);
    child_expect(child_aborted(&res), &res, "evpl_abort must end with SIGABRT");
    child_expect(res.out[0] == '\0', &res, "the library wrote to stdout");

    line1 = res.err;
    nl    = strchr(line1, '\n');
    child_expect(nl != NULL, &res, "no complete first line");
    *nl   = '\0';
    line2 = nl + 1;
    nl    = strchr(line2, '\n');
    child_expect(nl != NULL, &res, "no complete second line");
    *nl = '\0';
    child_expect(nl[1] == '\0', &res, "more than two lines");

    test_assert_msg(valid_time(line1), "bad time field: %s", line1);
    test_assert_msg(strstr(line1, " message=\"invalid huge page size 3:") != NULL, "line: %s",
                    line1);
    test_assert_msg(strstr(line1, " process=") && strstr(line1, " thread="), "line: %s", line1);
    test_assert_msg(strstr(line1, " level=error module=core file=\"src/core/config.c:") != NULL,
                    "line: %s", line1);

    test_assert_msg(valid_time(line2), "bad time field: %s", line2);
    test_assert_msg(strstr(line2, " message=\"quote\\\" backslash\\\\ newline\\n tab\\t end\" ") !=
                        NULL,
                    "escaping: %s", line2);
    test_assert_msg(strstr(line2, " level=fatal module=mymod file=\"src/x/file.c:77\"") != NULL,
                    "line: %s", line2);

    run_in_child(init_quietly, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "evpl_init(NULL)");
    child_expect(strstr(res.err, "level=debug") == NULL, &res, "debug line printed by default");

    run_in_child(init_quietly, (void *) 1, &res);
    child_expect(child_exited_ok(&res), &res, "evpl_init(NULL) with EVPL_LOG_LEVEL=debug");
    child_expect(strstr(res.err, "level=debug module=core") != NULL &&
                     strstr(res.err, "message=\"initialised:") != NULL,
                 &res, "EVPL_LOG_LEVEL=debug did not enable debug lines");
    return 0;
}
