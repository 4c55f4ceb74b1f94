/*
 * evpl_metrics_scrape(): Prometheus text with every contract family, bounded
 * writes at every buffer size (guard bytes past the end stay untouched),
 * -1 for unusable arguments or a buffer that is too small, and output that
 * `promtool check metrics` accepts when promtool is installed (the promtool
 * part is reported as skipped otherwise, after everything else passed).
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define GUARD 0xA5
#define PAD   64

static const char *const families[] = {
    "evpl_allocator_slabs_inline_total",
    "evpl_allocator_slabs_prealloc_total",
    "evpl_allocator_consumer_waits_total",
    "evpl_allocator_consumer_wait_ns_total",
    "evpl_allocator_free_buffers",
    "evpl_allocator_outstanding_slabs",
    "evpl_allocator_target_buffers",
    "evpl_allocator_total_slabs",
    "evpl_block_latency_nanoseconds",
    "evpl_block_request_bytes",
    "evpl_block_queue_depth",
    "evpl_rpc2_queue_depth",
};

static int
count_occurrences(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

static void
check_text(const char *text)
{
    char        needle[256];
    const char *line;

    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(needle, sizeof(needle), "# HELP %s ", families[i]);
        test_assert_msg(count_occurrences(text, needle) == 1, "HELP for %s", families[i]);
        snprintf(needle, sizeof(needle), "# TYPE %s ", families[i]);
        test_assert_msg(count_occurrences(text, needle) == 1, "TYPE for %s", families[i]);
    }

    /* Every line is a comment or a sample of an evpl_ family; the text ends
     * with a newline. */
    for (line = text; *line; line = strchr(line, '\n') + 1) {
        test_assert_msg(strchr(line, '\n') != NULL, "unterminated line: %s", line);
        if (line[0] == '#') {
            test_assert(strncmp(line, "# HELP evpl_", 12) == 0 ||
                        strncmp(line, "# TYPE evpl_", 12) == 0);
        } else {
            test_assert_msg(strncmp(line, "evpl_", 5) == 0, "line: %.60s", line);
        }
    }
}

/*
 * promtool exits 1 when the text does not parse and 3 for lint findings.
 * The lint findings allowed are about names the contract fixes
 * (evpl_allocator_consumer_wait_ns_total, evpl_block_latency_nanoseconds).
 */
static int
promtool_check(const char *text, int len)
{
    char  cmd[256], report[4096], *line;
    FILE *p, *f;
    int   status;
    char  tmpl[] = "/tmp/evpl_promtool_XXXXXX";
    int   fd;

    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        evpl_test_unavailable("promtool", "is not installed");
    }
    fd = mkstemp(tmpl);
    test_assert(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "promtool check metrics >%s 2>&1", tmpl);
    p = popen(cmd, "w");
    test_assert(p != NULL);
    test_assert(fwrite(text, 1, (size_t) len, p) == (size_t) len);
    status = pclose(p);

    f = fopen(tmpl, "r");
    test_assert(f != NULL);
    report[fread(report, 1, sizeof(report) - 1, f)] = '\0';
    fclose(f);
    unlink(tmpl);

    test_assert_msg(WIFEXITED(status), "promtool died (status 0x%x)", status);
    if (WEXITSTATUS(status) == 0) {
        return 0;
    }
    test_assert_msg(WEXITSTATUS(status) == 3, "promtool check metrics rejected the output:\n%s\n%s",
                    report, text);
    for (line = strtok(report, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        test_assert_msg(strncmp(line, "evpl_allocator_consumer_wait_ns_total ", 38) == 0 ||
                            strncmp(line, "evpl_block_latency_nanoseconds ", 31) == 0,
                        "promtool lint finding: %s\n%s", line, text);
    }
    return 0;
}

static void *
scraper(void *arg)
{
    static _Thread_local char buf[65536];

    (void) arg;
    for (int i = 0; i < 200; i++) {
        if (evpl_metrics_scrape(buf, sizeof(buf)) <= 0) {
            return (void *) 1;
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    static char full[65536];
    static char buf[65536 + PAD];
    char        small[4 + PAD];
    int         len, rc;
    pthread_t   threads[4];

    evpl_test_init(argc, argv);

    /* The contract's example sizes. */
    {
        char eight_k[8192];

        rc = evpl_metrics_scrape(eight_k, sizeof(eight_k));
        test_assert_msg(rc > 0, "8 KiB scrape returned %d", rc);
        test_assert(strstr(eight_k, "evpl_allocator") != NULL);
        test_assert_eq(strlen(eight_k), rc);
    }
    memset(small, GUARD, sizeof(small));
    test_assert_eq(evpl_metrics_scrape(small, 4), -1);
    for (int i = 4; i < (int) sizeof(small); i++) {
        test_assert((unsigned char) small[i] == GUARD);
    }

    /* Unusable arguments. */
    test_assert_eq(evpl_metrics_scrape(NULL, 100), -1);
    test_assert_eq(evpl_metrics_scrape(full, 0), -1);
    test_assert_eq(evpl_metrics_scrape(full, -5), -1);

    len = evpl_metrics_scrape(full, sizeof(full));
    test_assert(len > 0 && len < (int) sizeof(full));
    test_assert_eq(strlen(full), len);
    check_text(full);

    /* Every size up to one past the length: -1 until there is room for the
     * text and its NUL, and never a byte written at or past the size. */
    for (int size = 0; size <= len + 1; size++) {
        memset(buf, GUARD, (size_t) size + PAD);
        rc = evpl_metrics_scrape(buf, size);
        if (size <= len) {
            test_assert_msg(rc == -1, "size %d (length %d) returned %d", size, len, rc);
        } else {
            test_assert_msg(rc == len, "size %d returned %d, expected %d", size, rc, len);
            test_assert(memcmp(buf, full, (size_t) len + 1) == 0);
        }
        for (int i = size; i < size + PAD; i++) {
            test_assert_msg((unsigned char) buf[i] == GUARD, "size %d: byte %d overwritten", size,
                            i);
        }
    }

    /* Thread-safe. */
    for (int i = 0; i < 4; i++) {
        test_assert(pthread_create(&threads[i], NULL, scraper, NULL) == 0);
    }
    for (int i = 0; i < 4; i++) {
        void *ret;

        pthread_join(threads[i], &ret);
        test_assert(ret == NULL);
    }

    rc = promtool_check(full, len);
    test_assert_eq(rc, 0);
    return 0;
}
