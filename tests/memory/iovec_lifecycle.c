/*
 * Reference lifecycles through every inline helper: clone, clone_segment,
 * move, move_segment, take_ref, set_ref/get_ref, ref_incr/ref_release and
 * the array releases, for local and shared iovecs.  Every lifecycle ends
 * with zero references: the buffer is handed out again (the loop cache is
 * LIFO) and evpl_destroy() reports nothing.  Misuse aborts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include "memory_test.h"

#define BS MEMORY_TEST_BUFFER_SIZE

static unsigned int
count(const struct evpl_iovec_ref *ref)
{
    if (ref->flags & EVPL_IOVEC_FLAG_SHARED) {
        return atomic_load((atomic_uint *) &ref->refcnt_atomic);
    }
    return ref->refcnt;
}

static void
lifecycle(struct evpl *evpl, unsigned int flags)
{
    struct evpl_iovec      whole, clone, seg, moved, mseg, taken, adopt, arr[3];
    struct evpl_iovec_ref *ref;
    void                  *data;

    /* a whole buffer: only our iovec counts on it */
    test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, flags, &whole), 1);
    ref  = evpl_iovec_get_ref(&whole);
    data = evpl_iovec_data(&whole);
    test_assert_eq(ref->flags, flags);
    test_assert_eq(count(ref), 1);
    test_assert_eq(evpl_iovec_length(&whole), BS);
    memset(data, 7, BS);

    evpl_iovec_clone(&clone, &whole);
    test_assert_eq(count(ref), 2);
    test_assert(clone.data == data && clone.length == BS && clone.ref == ref);

    evpl_iovec_clone_segment(&seg, &whole, 100, 200);
    test_assert_eq(count(ref), 3);
    test_assert(seg.data == (char *) data + 100);
    test_assert_eq(seg.length, 200);
    test_assert(seg.ref == ref);

    evpl_iovec_move(&moved, &clone);
    test_assert_eq(count(ref), 3);
    test_assert(clone.data == NULL);
    test_assert(moved.data == data && moved.ref == ref);

    evpl_iovec_move_segment(&mseg, &moved, 10, 20);
    test_assert_eq(count(ref), 3);
    test_assert(mseg.data == (char *) data + 10);
    test_assert_eq(mseg.length, 20);

    /* narrowing in place */
    evpl_iovec_move_segment(&mseg, &mseg, 5, 5);
    test_assert(mseg.data == (char *) data + 15);
    test_assert_eq(mseg.length, 5);

    taken.data   = (char *) data + 1000;
    taken.length = 10;
    evpl_iovec_take_ref(&taken, ref);
    test_assert_eq(count(ref), 4);
    test_assert(taken.ref == ref && taken.data == (char *) data + 1000);

    /* adopt a reference counted by hand */
    evpl_iovec_ref_incr(ref);
    adopt.data   = data;
    adopt.length = 1;
    evpl_iovec_set_ref(&adopt, ref);
    test_assert_eq(count(ref), 5);

    evpl_iovec_set_length(&adopt, 0);
    test_assert_eq(evpl_iovec_length(&adopt), 0);

    evpl_iovec_release(evpl, &whole);
    test_assert_eq(count(ref), 4);
    evpl_iovec_release_internal(evpl, &seg);
    test_assert_eq(count(ref), 3);
    arr[0] = mseg;
    arr[1] = taken;
    evpl_iovecs_release_internal(evpl, arr, 2);
    test_assert_eq(count(ref), 1);
    evpl_iovec_ref_incr(ref);
    evpl_iovec_ref_release(evpl, ref);
    arr[2] = adopt;
    evpl_iovecs_release(evpl, &arr[2], 1);

    /* back in the loop cache: the next whole buffer is the same memory */
    test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, flags, &whole), 1);
    test_assert(whole.data == data);
    test_assert(whole.ref == ref);
    test_assert_eq(count(ref), 1);
    evpl_iovec_release(evpl, &whole);
}

/* Random clone/move/release traffic on small packed iovecs. */
static void
churn(struct evpl *evpl, unsigned int flags)
{
    enum { N = 512 };
    static struct evpl_iovec held[N * 4];
    int                      nheld = 0;
    unsigned int             seed  = 12345;

    for (int round = 0; round < 20000; round++) {
        seed      = seed * 1103515245 + 12345;
        int r     = (seed >> 16) % 6;
        int index = nheld ? (int) ((seed >> 8) % (unsigned int) nheld) : 0;

        if (nheld == 0 || (r == 0 && nheld < N * 4 - 1)) {
            int n = evpl_iovec_alloc(evpl, 1 + (seed >> 4) % 3000, 0, 2, flags, &held[nheld]);

            test_assert(n == 1 || n == 2);
            nheld += n;
        } else if (r == 1 && nheld < N * 4) {
            evpl_iovec_clone(&held[nheld++], &held[index]);
        } else if (r == 2 && nheld < N * 4 && held[index].length > 2) {
            evpl_iovec_clone_segment(&held[nheld++], &held[index], 1, held[index].length - 2);
        } else if (r == 3) {
            struct evpl_iovec tmp;

            evpl_iovec_move(&tmp, &held[index]);
            held[index] = tmp;
        } else if (r == 4 && held[index].length > 1) {
            evpl_iovec_move_segment(&held[index], &held[index], 1, held[index].length - 1);
        } else {
            evpl_iovec_release(evpl, &held[index]);
            held[index] = held[--nheld];
        }
    }
    evpl_iovecs_release(evpl, held, nheld);
}

/*
 * Run fn in a child and expect it to abort with the library's fatal message
 * containing msg: any SIGABRT is not enough (under ASAN_OPTIONS=
 * abort_on_error=1 a sanitizer report ends in SIGABRT too).
 */
static void
expect_abort(void (*fn)(struct evpl *), struct evpl *evpl, const char *msg)
{
    FILE  *err = tmpfile();
    char   text[8192];
    pid_t  pid;
    int    status;
    size_t n;

    test_assert(err != NULL);
    fflush(stderr);
    pid = fork();
    test_assert(pid >= 0);
    if (pid == 0) {
        dup2(fileno(err), STDERR_FILENO);
        fn(evpl);
        _exit(0);
    }
    test_assert(waitpid(pid, &status, 0) == pid);
    rewind(err);
    n       = fread(text, 1, sizeof(text) - 1, err);
    text[n] = '\0';
    fclose(err);
    test_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                    "'%s' expected, but the child did not abort; its stderr:\n%s", msg, text);
    test_assert_msg(strstr(text, "level=fatal") != NULL && strstr(text, msg) != NULL &&
                        strstr(text, "Sanitizer") == NULL,
                    "the abort did not say '%s'; the child's stderr:\n%s", msg, text);
}

static void
bad_clone_segment(struct evpl *evpl)
{
    struct evpl_iovec iov, seg;

    evpl_iovec_alloc(evpl, 100, 0, 1, 0, &iov);
    evpl_iovec_clone_segment(&seg, &iov, 50, 51);
}

static void
bad_move_segment(struct evpl *evpl)
{
    struct evpl_iovec iov, seg;

    evpl_iovec_alloc(evpl, 100, 0, 1, 0, &iov);
    evpl_iovec_move_segment(&seg, &iov, 101, 0);
}

static void
bad_move(struct evpl *evpl)
{
    struct evpl_iovec iov;

    evpl_iovec_alloc(evpl, 100, 0, 1, 0, &iov);
    evpl_iovec_move(NULL, &iov);
}

static void
double_release(struct evpl *evpl)
{
    struct evpl_iovec iov;

    evpl_iovec_alloc(evpl, BS, 0, 1, 0, &iov);
    evpl_iovec_release(evpl, &iov);
    evpl_iovec_release(evpl, &iov);
}

static void
double_release_shared(struct evpl *evpl)
{
    struct evpl_iovec iov;

    evpl_iovec_alloc(evpl, BS, 0, 1, EVPL_IOVEC_FLAG_SHARED, &iov);
    evpl_iovec_release(evpl, &iov);
    evpl_iovec_release(NULL, &iov);
}

static void *
foreign_alloc_thread(void *arg)
{
    struct evpl_iovec iov;

    evpl_iovec_alloc(arg, 100, 0, 1, 0, &iov);
    return NULL;
}

/* Allocation packs into per-loop state: only the owning thread may do it. */
static void
foreign_thread_alloc(struct evpl *evpl)
{
    pthread_t thread;

    pthread_create(&thread, NULL, foreign_alloc_thread, evpl);
    pthread_join(thread, NULL);
}

static void
bad_alignment(struct evpl *evpl)
{
    struct evpl_iovec iov;

    evpl_iovec_alloc(evpl, 100, 3, 1, 0, &iov);
}

int
main(int argc, char **argv)
{
    struct evpl *evpl;

    memory_test_init(argc, argv);
    evpl = evpl_create(NULL);

    lifecycle(evpl, 0);
    lifecycle(evpl, EVPL_IOVEC_FLAG_SHARED);
    churn(evpl, 0);
    churn(evpl, EVPL_IOVEC_FLAG_SHARED);
    lifecycle(evpl, 0);

    /* silence the expected fatal messages of the children */
    expect_abort(bad_clone_segment, evpl, "iovec clone segment");
    expect_abort(bad_move_segment, evpl, "iovec move segment");
    expect_abort(bad_move, evpl, "evpl_iovec_move with NULL iovec");
    expect_abort(double_release, evpl, "double release of iovec reference");
    /* The buffer went back to the pool at the first release, so the second
     * finds a plain reference: the message says "double release" either way. */
    expect_abort(double_release_shared, evpl, "double release of");
    expect_abort(bad_alignment, evpl, "is not a power of two");
    expect_abort(foreign_thread_alloc, evpl, "from a thread that does not own it");

    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}
