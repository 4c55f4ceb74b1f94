/*
 * Helpers shared by the memory tests: a small-buffer configuration (so that
 * tests exercise slab growth and buffer reuse quickly) and a log sink that
 * counts the leak reports evpl_destroy() emits.
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

#include "test.h"

#define MEMORY_TEST_BUFFER_SIZE (64u * 1024)
#define MEMORY_TEST_SLAB_SIZE   (1u * 1024 * 1024)

static pthread_mutex_t memory_test_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int             memory_test_leak_reports;
static char            memory_test_last_leak[512];
static int             memory_test_huge_reports;

static void
memory_test_log(const char *level, const char *module, const char *srcfile, int lineno,
                const char *fmt, va_list argp)
{
    char line[512];

    (void) level;
    (void) module;
    (void) srcfile;
    (void) lineno;
    vsnprintf(line, sizeof(line), fmt, argp);
    pthread_mutex_lock(&memory_test_log_lock);
    if (strstr(line, "still holds references")) {
        memory_test_leak_reports++;
        snprintf(memory_test_last_leak, sizeof(memory_test_last_leak), "%s", line);
    }
    if (strstr(line, "huge pages")) {
        memory_test_huge_reports++;
    }
    pthread_mutex_unlock(&memory_test_log_lock);
}

static inline int
memory_test_leaks(void)
{
    int n;

    pthread_mutex_lock(&memory_test_log_lock);
    n = memory_test_leak_reports;
    pthread_mutex_unlock(&memory_test_log_lock);
    return n;
}

/* Config for argv's mechanism with the given buffer and slab sizes. */
static inline struct evpl_global_config *
memory_test_config(int argc, char **argv, uint64_t buffer_size, uint64_t slab_size)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_test_log_observe(memory_test_log);
    evpl_global_config_set_buffer_size(config, buffer_size);
    evpl_global_config_set_slab_size(config, slab_size);
    if (buffer_size < 65536) {
        evpl_global_config_set_max_datagram_size(config, (unsigned int) buffer_size);
    }
    return config;
}

static inline void
memory_test_init(int argc, char **argv)
{
    evpl_init(memory_test_config(argc, argv, MEMORY_TEST_BUFFER_SIZE, MEMORY_TEST_SLAB_SIZE));
}

/* Fill an iovec with a byte pattern / check it. */
static inline void
memory_test_fill(const struct evpl_iovec *iov, unsigned char pattern)
{
    memset(iov->data, pattern, iov->length);
}

static inline int
memory_test_check(const struct evpl_iovec *iov, unsigned char pattern)
{
    const unsigned char *p = iov->data;

    for (unsigned int i = 0; i < iov->length; i++) {
        if (p[i] != pattern) {
            return 0;
        }
    }
    return 1;
}
