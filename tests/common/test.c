#include <string.h>
#include "test.h"

const char *
evpl_test_mech_name(int argc, char **argv)
{
    return argc > 1 ? argv[1] : "default";
}

struct evpl_global_config *
evpl_test_config(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_global_config_init();
    const char                *mech   = evpl_test_mech_name(argc, argv);

    if (strcmp(mech, "epoll") == 0) {
        evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_EPOLL);
    } else if (strcmp(mech, "select") == 0) {
        evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_SELECT);
    } else if (strcmp(mech, "default") != 0) {
        test_fail("unknown mechanism '%s'", mech);
    }
    return config;
}

void
evpl_test_init(int argc, char **argv)
{
    evpl_init(evpl_test_config(argc, argv));
}
