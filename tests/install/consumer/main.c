/*
 * The smallest useful libevpl program: create a loop, ask the protocol
 * registry a question, destroy the loop.  Built against an installed tree by
 * tests/install/consumer_test.sh; exits 0 when the library links and works.
 */
#include <stdio.h>
#include <evpl/evpl.h>

int
main(void)
{
    struct evpl *evpl = evpl_create(NULL);

    if (evpl == NULL) {
        fprintf(stderr, "evpl_create failed\n");
        return 1;
    }

    printf("consumer: loop created, STREAM_SOCKET_TCP %s\n",
           evpl_protocol_available(EVPL_STREAM_SOCKET_TCP) ? "available" : "unavailable");

    evpl_destroy(evpl);
    return 0;
}
