/*
 * Process initialisation (explicit evpl_init() and implicit, on first use)
 * and the exit-time teardown.
 *
 * The whole process-wide state is built under init_lock and then published
 * with one release store of evpl_shared; readers (evpl_config()) take the
 * fast path with an acquire load and never lock.  Once published the state
 * is read-only until the atexit() handler tears it down.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/protocol.h"
#include "core/shared.h"
#include "memory/allocator.h"

struct evpl_shared *evpl_shared;

static struct evpl_shared shared_state;
static pthread_mutex_t    init_lock = PTHREAD_MUTEX_INITIALIZER;

/* Set for the duration of init on the initialising thread: a library call
 * that needs the initialised state from inside init would deadlock on
 * init_lock, so it aborts with a clear message instead. */
static _Thread_local int init_in_progress;

/* Set by the exit handler: the state is gone and must not be rebuilt. */
static int torn_down;

#define MAX_SHUTDOWN_HOOKS 64

static pthread_mutex_t shutdown_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*shutdown_hooks[MAX_SHUTDOWN_HOOKS])(void);
static int num_shutdown_hooks;

void
evpl_at_shutdown(void (*fn)(void))
{
    pthread_mutex_lock(&shutdown_lock);
    evpl_core_abort_if(num_shutdown_hooks == MAX_SHUTDOWN_HOOKS,
                       "more than %d shutdown hooks registered", MAX_SHUTDOWN_HOOKS);
    shutdown_hooks[num_shutdown_hooks++] = fn;
    pthread_mutex_unlock(&shutdown_lock);
}

static void
evpl_exit_handler(void)
{
    struct evpl_shared *shared = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE);

    if (shared == NULL) {
        return;
    }

    /* Modules tear down in reverse order of registration: later modules
     * (endpoints, backends) may still use what earlier ones set up. */
    pthread_mutex_lock(&shutdown_lock);
    while (num_shutdown_hooks > 0) {
        void (*fn)(void) = shutdown_hooks[--num_shutdown_hooks];

        pthread_mutex_unlock(&shutdown_lock);
        fn();
        pthread_mutex_lock(&shutdown_lock);
    }
    pthread_mutex_unlock(&shutdown_lock);

    pthread_mutex_lock(&init_lock);
    __atomic_store_n(&torn_down, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&evpl_shared, NULL, __ATOMIC_RELEASE);

    if (shared->allocator != NULL) {
        evpl_allocator_destroy(shared->allocator);
        shared->allocator = NULL;
    }
    evpl_global_config_free(shared->config);
    shared->config = NULL;
    pthread_mutex_unlock(&init_lock);
}

/* Settings evpl_init() checks before anything is built. */
static void
config_validate(struct evpl_global_config *config)
{
    switch (config->core_mech) {
    case EVPL_CORE_MECH_DEFAULT:
    case EVPL_CORE_MECH_EPOLL:
    case EVPL_CORE_MECH_SELECT:
        break;
    case EVPL_CORE_MECH_KQUEUE:
        evpl_core_abort("core mechanism EVPL_CORE_MECH_KQUEUE is not available on this platform "
                        "(use EVPL_CORE_MECH_EPOLL or EVPL_CORE_MECH_SELECT)");
    default:
        evpl_core_abort("unknown core mechanism %d", (int) config->core_mech);
    }

    /* A.11: a datagram larger than one buffer cannot be received; the
     * original silently truncated.  Clamp and say so. */
    if ((uint64_t) config->max_datagram_size > config->buffer_size) {
        evpl_core_error("max_datagram_size %u exceeds buffer_size %llu; clamping "
                        "max_datagram_size to %llu",
                        config->max_datagram_size, (unsigned long long) config->buffer_size,
                        (unsigned long long) config->buffer_size);
        config->max_datagram_size = (unsigned int) config->buffer_size;
    }
}

/* Called with init_lock held and evpl_shared still NULL. */
static void
init_locked(struct evpl_global_config *config)
{
    struct sigaction sa;

    if (config == NULL) {
        config = evpl_global_config_init();
        evpl_core_abort_if(config == NULL, "out of memory creating the default global config");
    }

    init_in_progress = 1;

    config_validate(config);
    evpl_clock_init(config);

    shared_state.config    = config;
    shared_state.allocator = evpl_allocator_create(config);
    evpl_core_abort_if(shared_state.allocator == NULL, "failed to create the buffer allocator");

    evpl_backends_register(config);

    /* Writes to a closed peer must surface as EPIPE, not kill the process. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    evpl_core_abort_if(atexit(evpl_exit_handler) != 0, "atexit() failed");

    init_in_progress = 0;

    evpl_core_debug("initialised: core_mech %d, buffer_size %llu, slab_size %llu, hf_time_mode "
                    "%u, virtual_clock %d",
                    (int) config->core_mech, (unsigned long long) config->buffer_size,
                    (unsigned long long) config->slab_size, config->hf_time_mode,
                    config->virtual_clock);

    __atomic_store_n(&evpl_shared, &shared_state, __ATOMIC_RELEASE);
}

void
evpl_init(struct evpl_global_config *global_config)
{
    pthread_mutex_lock(&init_lock);

    evpl_core_abort_if(__atomic_load_n(&evpl_shared, __ATOMIC_RELAXED) != NULL,
                       "evpl_init() called but the library is already initialised (by an "
                       "earlier evpl_init(), or implicitly by a call such as evpl_create(), "
                       "evpl_thread_config_init() or evpl_protocol_lookup()); call evpl_init() "
                       "first");
    evpl_core_abort_if(__atomic_load_n(&torn_down, __ATOMIC_RELAXED),
                       "evpl_init() called after the library was torn down at exit");
    evpl_core_abort_if(init_in_progress, "evpl_init() called during initialisation");

    init_locked(global_config);

    pthread_mutex_unlock(&init_lock);
}

void
evpl_ensure_init(void)
{
    if (__builtin_expect(__atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE) != NULL, 1)) {
        return;
    }

    evpl_core_abort_if(init_in_progress,
                       "the library was used from inside its own initialisation (a backend or "
                       "the allocator called a function that needs the initialised state)");

    pthread_mutex_lock(&init_lock);
    if (__atomic_load_n(&evpl_shared, __ATOMIC_RELAXED) == NULL) {
        evpl_core_abort_if(__atomic_load_n(&torn_down, __ATOMIC_RELAXED),
                           "libevpl used after its exit-time teardown (a thread still running "
                           "after main() returned or exit() was called?)");
        init_locked(NULL);
    }
    pthread_mutex_unlock(&init_lock);
}
