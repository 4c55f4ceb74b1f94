/*
 * Clocks: high-frequency monotonic time, the virtual clock, the loop clock.
 *
 * TSC mode converts rdtsc readings to CLOCK_MONOTONIC nanoseconds with a
 * calibration taken against CLOCK_MONOTONIC: one anchor sample at
 * evpl_init() and a second one on the first TSC read, at least
 * CALIBRATION_NS later (the first call waits out the remainder if it comes
 * sooner), so init stays fast and the frequency estimate is good to a few
 * ppm.  TSC readings from different cores may differ by a few cycles, so
 * each thread remembers the last value it returned and never goes below it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/shared.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define EVPL_HAVE_TSC 1
#else
#define EVPL_HAVE_TSC 0
#endif

#define CALIBRATION_NS 10000000ull /* 10 ms between the two samples */

/* Resolved at evpl_init(), before the library is published (so readers that
 * went through evpl_config() or an evpl_shared acquire see the values). */
static int hf_use_tsc;
static int vclock_on;

static uint64_t vclock_ns; /* virtual time, atomic */

struct tsc_sample {
    uint64_t tsc;
    uint64_t ns;
};

static struct tsc_sample tsc_anchor; /* taken at init */
static struct tsc_sample tsc_base;   /* conversion origin after calibration */
static uint64_t          tsc_mult;   /* ns per tick, 32.32 fixed point */
static pthread_once_t    tsc_once = PTHREAD_ONCE_INIT;

static _Thread_local uint64_t hf_last_ns;

static inline uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

#if EVPL_HAVE_TSC

static inline uint64_t
read_tsc(void)
{
    return __rdtsc();
}

/* A (tsc, monotonic ns) pair read as close together as possible: the best
 * of a few tries, the TSC taken in the middle of two clock reads. */
static struct tsc_sample
tsc_sample_take(void)
{
    struct tsc_sample best        = {0, 0};
    uint64_t          best_window = UINT64_MAX;

    for (int i = 0; i < 5; i++) {
        uint64_t t0  = mono_ns();
        uint64_t tsc = read_tsc();
        uint64_t t1  = mono_ns();

        if (t1 - t0 < best_window) {
            best_window = t1 - t0;
            best.tsc    = tsc;
            best.ns     = t0 + (t1 - t0) / 2;
        }
    }
    return best;
}

static void
tsc_calibrate(void)
{
    struct tsc_sample now;
    uint64_t          dns, dtsc;

    now = tsc_sample_take();
    if (now.ns - tsc_anchor.ns < CALIBRATION_NS) {
        uint64_t        wait = CALIBRATION_NS - (now.ns - tsc_anchor.ns);
        struct timespec req  = {(time_t) (wait / 1000000000ull), (long) (wait % 1000000000ull)};

        while (nanosleep(&req, &req) != 0) {
        }
        now = tsc_sample_take();
    }

    dns  = now.ns - tsc_anchor.ns;
    dtsc = now.tsc - tsc_anchor.tsc;

    /* Between 10 MHz and 100 GHz, or the TSC is not usable. */
    if (now.tsc <= tsc_anchor.tsc || dtsc < dns / 100 || dtsc / 100 > dns) {
        evpl_core_error("TSC calibration failed (%" PRIu64 " ticks in %" PRIu64
                        " ns); using clock_gettime for high-frequency time",
                        dtsc, dns);
        __atomic_store_n(&hf_use_tsc, 0, __ATOMIC_RELEASE);
        return;
    }

    tsc_mult = (uint64_t) (((unsigned __int128) dns << 32) / dtsc);
    tsc_base = now;
    evpl_core_debug("TSC calibrated: %.3f MHz", (double) dtsc * 1000.0 / (double) dns);
}

static int
cpu_has_nonstop_tsc(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char  line[8192];
    int   found = 0;

    if (f == NULL) {
        return 0;
    }
    while (!found && fgets(line, sizeof(line), f)) {
        char *tok, *save = NULL;

        if (strncmp(line, "flags", 5) != 0) {
            continue;
        }
        for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
            if (strcmp(tok, "nonstop_tsc") == 0) {
                found = 1;
                break;
            }
        }
        break; /* the first CPU's flags speak for all */
    }
    fclose(f);
    return found;
}

#endif /* EVPL_HAVE_TSC */

void
evpl_clock_init(struct evpl_global_config *config)
{
    unsigned int mode = config->hf_time_mode;

    if (mode > 2) {
        evpl_core_error("unknown hf_time_mode %u, using the OS clock", mode);
        mode = 0;
    }

#if EVPL_HAVE_TSC
    if (mode == 2) {
        mode = cpu_has_nonstop_tsc() ? 1 : 0;
    }
    if (mode == 1) {
        tsc_anchor = tsc_sample_take();
    }
#else
    if (mode == 1) {
        evpl_core_info("hf_time_mode 1 (TSC) is not supported on this CPU, using the OS clock");
    }
    mode = 0;
#endif

    config->hf_time_mode = mode;
    __atomic_store_n(&hf_use_tsc, (int) mode, __ATOMIC_RELEASE);

    __atomic_store_n(&vclock_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&vclock_on, config->virtual_clock ? 1 : 0, __ATOMIC_RELEASE);
}

void
evpl_get_hf_monotonic_time(struct evpl *evpl, struct timespec *ts)
{
    uint64_t ns   = 0;
    int      have = 0;

    (void) evpl; /* accepted for API symmetry; the clock is process-wide */

#if EVPL_HAVE_TSC
    if (__atomic_load_n(&hf_use_tsc, __ATOMIC_ACQUIRE)) {
        pthread_once(&tsc_once, tsc_calibrate);

        /* Calibration may have given up on the TSC. */
        if (__atomic_load_n(&hf_use_tsc, __ATOMIC_ACQUIRE)) {
            uint64_t tsc = read_tsc();

            ns = tsc_base.ns;
            if (tsc > tsc_base.tsc) {
                ns += (uint64_t) (((unsigned __int128) (tsc - tsc_base.tsc) * tsc_mult) >> 32);
            }
            have = 1;
        }
    }
#endif

    if (!have) {
        ns = mono_ns();
    }

    /* TSC readings may differ slightly between cores, and a switch of clock
     * source (initialisation, failed calibration) must not step back. */
    if (ns < hf_last_ns) {
        ns = hf_last_ns;
    }
    hf_last_ns = ns;

    ts->tv_sec  = (time_t) (ns / 1000000000ull);
    ts->tv_nsec = (long) (ns % 1000000000ull);
}

uint64_t
evpl_monotonic_ns(void)
{
    return mono_ns();
}

int
evpl_virtual_clock_enabled(void)
{
    return __atomic_load_n(&vclock_on, __ATOMIC_RELAXED);
}

/* Both public entry points refuse to run on the real clock: a test that
 * forgot to enable the virtual clock should fail loudly, not hang. */
static void
vclock_check(const char *func)
{
    evpl_core_abort_if(__atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE) == NULL,
                       "%s called before the library was initialised", func);
    evpl_core_abort_if(!evpl_virtual_clock_enabled(),
                       "%s called but the virtual clock is not enabled "
                       "(evpl_global_config_set_virtual_clock before evpl_init)",
                       func);
}

void
evpl_virtual_clock_advance(uint64_t ns)
{
    vclock_check(__func__);
    __atomic_add_fetch(&vclock_ns, ns, __ATOMIC_ACQ_REL);
}

uint64_t
evpl_virtual_clock_now(void)
{
    vclock_check(__func__);
    return __atomic_load_n(&vclock_ns, __ATOMIC_ACQUIRE);
}

uint64_t
evpl_loop_clock_ns(void)
{
    if (__builtin_expect(evpl_virtual_clock_enabled(), 0)) {
        return __atomic_load_n(&vclock_ns, __ATOMIC_ACQUIRE);
    }
    return mono_ns();
}
