/*
 * Every capability tests/common/test.c lists as required is present: each
 * protocol is found by name and available, each block backend opens a file,
 * each tool is on PATH.  Together with the tests' "required: fail, do not
 * skip" rule, this makes a broken capability detection (io_uring, TLS, a
 * missing package) a failure instead of a run of green skips.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static const struct {
    const char                 *name;
    enum evpl_block_protocol_id id;
} block_ids[] = {
    {"IO_URING", EVPL_BLOCK_PROTOCOL_IO_URING},
    {"LIBAIO", EVPL_BLOCK_PROTOCOL_LIBAIO},
};

static enum evpl_block_protocol_id
block_id(const char *name)
{
    for (size_t i = 0; i < sizeof(block_ids) / sizeof(block_ids[0]); i++) {
        if (strcmp(block_ids[i].name, name) == 0) {
            return block_ids[i].id;
        }
    }
    test_fail("required block backend %s has no id in this test", name);
}

int
main(int argc, char **argv)
{
    char path[] = "./evpl-required-XXXXXX";
    int  fd, missing = 0;

    evpl_test_init(argc, argv);

    for (int i = 0; evpl_test_required_protocols[i] != NULL; i++) {
        const char           *name = evpl_test_required_protocols[i];
        enum evpl_protocol_id id;

        if (!evpl_test_required(name)) {
            fprintf(stderr, "excused by EVPL_TEST_NOT_REQUIRED: %s\n", name);
        } else if (evpl_protocol_lookup(&id, name) != 0 || !evpl_protocol_available(id)) {
            fprintf(stderr, "MISSING protocol %s\n", name);
            missing++;
        }
    }

    fd = mkstemp(path);
    test_assert(fd >= 0);
    test_assert(ftruncate(fd, 1 << 20) == 0);
    close(fd);
    for (int i = 0; evpl_test_required_block[i] != NULL; i++) {
        const char               *name = evpl_test_required_block[i];
        struct evpl_block_device *dev;

        if (!evpl_test_required(name)) {
            fprintf(stderr, "excused by EVPL_TEST_NOT_REQUIRED: %s\n", name);
            continue;
        }
        dev = evpl_block_open_device(block_id(name), path);
        if (dev == NULL) {
            fprintf(stderr, "MISSING block backend %s\n", name);
            missing++;
        } else {
            test_assert_eq(evpl_block_size(dev), 1 << 20);
            evpl_block_close_device(dev);
        }
    }
    unlink(path);

    for (int i = 0; evpl_test_required_tools[i] != NULL; i++) {
        const char *name = evpl_test_required_tools[i];
        char        cmd[256];

        snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", name);
        if (evpl_test_required(name) && system(cmd) != 0) {
            fprintf(stderr, "MISSING tool %s (scripts/install-deps.sh installs it)\n", name);
            missing++;
        }
    }

    test_assert_msg(missing == 0,
                    "%d required capabilities are missing (tests/common/test.c lists them)",
                    missing);
    return 0;
}
