/*
 * The metrics registry used by other modules (src/core/metrics.h): sample
 * writers attached to built-in and declared families print right after their
 * family's one HELP/TYPE pair, family writers follow, the histogram and
 * label-escaping helpers produce valid text, unregistering removes a writer,
 * and writes stay bounded with writers active.
 *
 * The registry is internal (hidden in libevpl), so this test compiles
 * metrics.c into itself with stand-ins for the few library services it uses;
 * its definitions take precedence over libevpl's exported scrape function.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "core/metrics.c"

/* --- stand-ins for the rest of the library --- */

static struct evpl_global_config fake_config;
static struct evpl_shared        fake_shared = {&fake_config, NULL};
struct evpl_shared              *evpl_shared = &fake_shared;
static int                       n_errors;

void
evpl_ensure_init(void)
{
}

void
evpl_log_emit(const char *level, const char *module, const char *srcfile, int lineno,
              const char *fmt, ...)
{
    (void) module;
    (void) srcfile;
    (void) lineno;
    (void) fmt;
    if (strcmp(level, "error") == 0) {
        n_errors++;
    }
}

void
evpl_allocator_get_stats(struct evpl_allocator *allocator, struct evpl_allocator_stats *stats)
{
    (void) allocator;
    memset(stats, 0, sizeof(*stats));
}

int
evpl_allocator_node_stats(struct evpl_allocator *allocator, struct evpl_allocator_node_stats *stats,
                          int max)
{
    (void) allocator;
    (void) stats;
    (void) max;
    return 0;
}

/* --- writers --- */

static void
queue_depth_samples(struct evpl_metrics_writer *w, void *private_data)
{
    char device[64], labels[128];

    evpl_metrics_escape_label(device, sizeof(device), (const char *) private_data);
    snprintf(labels, sizeof(labels), "device=\"%s\",type=\"io_uring\"", device);
    evpl_metrics_sample(w, "evpl_block_queue_depth", labels, 3);
}

static void
latency_samples(struct evpl_metrics_writer *w, void *private_data)
{
    static const uint64_t bounds[] = {1000, 10000, 100000};
    static const uint64_t counts[] = {1, 2, 3};

    (void) private_data;
    /* 7 observations: 6 in the buckets, 1 above the last bound. */
    evpl_metrics_histogram(w, "evpl_block_latency_nanoseconds",
                           "device=\"d0\",type=\"io_uring\",op=\"read\"", bounds, counts, 3, 123456,
                           7);
}

static void
own_family(struct evpl_metrics_writer *w, void *private_data)
{
    (void) private_data;
    evpl_metrics_family(w, "evpl_test_widgets", EVPL_METRICS_GAUGE, "Widgets in the test.");
    evpl_metrics_sample(w, "evpl_test_widgets", NULL, 5);
}

static void
declared_samples(struct evpl_metrics_writer *w, void *private_data)
{
    (void) private_data;
    evpl_metrics_sample(w, "evpl_test_things_total", "kind=\"x\"", 9);
}

static const char *
after(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);

    test_assert_msg(p != NULL, "missing: %s", needle);
    return p + strlen(needle);
}

/* Does text start with the whole of prefix? */
static int
starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static void
promtool_accepts(const char *text)
{
    FILE *p;
    int   status;

    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        evpl_test_unavailable("promtool", "is not installed");
    }
    /* Exit 3 is lint only: the contract fixes names promtool dislikes. */
    p = popen("promtool check metrics >/dev/null 2>&1", "w");
    fputs(text, p);
    status = pclose(p);
    test_assert_msg(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3),
                    "promtool rejected:\n%s", text);
}

int
main(int argc, char **argv)
{
    static char text[65536], buf[65536 + 64];
    static char device[] = "nvme\"0\\n";
    char        esc[8];
    const char *p;
    int         len, rc;

    (void) argc;
    (void) argv;

    /* Families: declare, re-declare, conflicting type, unknown family. */
    test_assert_eq(evpl_metrics_family_declare("evpl_test_things_total", EVPL_METRICS_COUNTER,
                                               "Things counted by the test."),
                   0);
    test_assert_eq(evpl_metrics_family_declare("evpl_test_things_total", EVPL_METRICS_COUNTER,
                                               "Things counted by the test."),
                   0);
    test_assert_eq(evpl_metrics_family_declare("evpl_test_things_total", EVPL_METRICS_GAUGE, "x"),
                   -1);
    test_assert_eq(evpl_metrics_register_samples("evpl_no_such_family", declared_samples, NULL),
                   -1);

    test_assert_eq(
        evpl_metrics_register_samples("evpl_block_queue_depth", queue_depth_samples, device), 0);
    test_assert_eq(
        evpl_metrics_register_samples("evpl_block_latency_nanoseconds", latency_samples, NULL), 0);
    test_assert_eq(evpl_metrics_register_samples("evpl_test_things_total", declared_samples, NULL),
                   0);
    test_assert_eq(evpl_metrics_register(own_family, NULL), 0);

    len = evpl_metrics_scrape(text, sizeof(text));
    test_assert(len > 0);

    /* Samples follow their own family's header. */
    p = after(text, "# TYPE evpl_block_queue_depth gauge\n");
    test_assert_msg(
        starts_with(p, "evpl_block_queue_depth{device=\"nvme\\\"0\\\\n\",type=\"io_uring\"} 3\n"),
        "queue depth sample: %.80s", p);
    p = after(text, "# TYPE evpl_block_latency_nanoseconds histogram\n");
    test_assert_msg(
        starts_with(
            p, "evpl_block_latency_nanoseconds_bucket{device=\"d0\",type=\"io_uring\",op=\"read\","
               "le=\"1000\"} 1\n"
               "evpl_block_latency_nanoseconds_bucket{device=\"d0\",type=\"io_uring\",op=\"read\","
               "le=\"10000\"} 3\n"
               "evpl_block_latency_nanoseconds_bucket{device=\"d0\",type=\"io_uring\",op=\"read\","
               "le=\"100000\"} 6\n"
               "evpl_block_latency_nanoseconds_bucket{device=\"d0\",type=\"io_uring\",op=\"read\","
               "le=\"+Inf\"} 7\n"
               "evpl_block_latency_nanoseconds_sum{device=\"d0\",type=\"io_uring\",op=\"read\"} "
               "123456\n"
               "evpl_block_latency_nanoseconds_count{device=\"d0\",type=\"io_uring\",op=\"read\"} "
               "7\n"),
        "histogram: %.200s", p);
    test_assert(strstr(text, "le=\"10000\"} 3\n") && strstr(text, "le=\"+Inf\"} 7\n"));
    p = after(text, "# TYPE evpl_test_things_total counter\n");
    test_assert(starts_with(p, "evpl_test_things_total{kind=\"x\"} 9\n"));
    p = after(text, "# TYPE evpl_test_widgets gauge\nevpl_test_widgets 5\n");
    test_assert(*p == '\0'); /* family writers come last */
    promtool_accepts(text);

    /* Bounded at every size with writers active. */
    for (int size = 0; size <= len + 1; size++) {
        memset(buf, 0xA5, (size_t) size + 64);
        rc = evpl_metrics_scrape(buf, size);
        test_assert_eq(rc, size > len ? len : -1);
        for (int i = size; i < size + 64; i++) {
            test_assert((unsigned char) buf[i] == 0xA5);
        }
    }

    /* Unregister removes every registration of (fn, private_data). */
    evpl_metrics_unregister(queue_depth_samples, device);
    evpl_metrics_unregister(own_family, NULL);
    len = evpl_metrics_scrape(text, sizeof(text));
    test_assert(len > 0);
    test_assert(strstr(text, "evpl_block_queue_depth{") == NULL);
    test_assert(strstr(text, "evpl_test_widgets") == NULL);
    test_assert(strstr(text, "# TYPE evpl_block_queue_depth gauge\n") != NULL);
    promtool_accepts(text);

    /* Escaping truncates without splitting an escape sequence. */
    evpl_metrics_escape_label(esc, sizeof(esc), "ab\"cd\"e");
    test_assert_msg(strcmp(esc, "ab\\\"cd") == 0, "escaped: %s", esc);
    evpl_metrics_escape_label(esc, 1, "abc");
    test_assert(esc[0] == '\0');

    test_assert_eq(n_errors, 2); /* conflicting declare, unknown family */
    return 0;
}
