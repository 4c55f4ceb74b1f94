/*
 * Endpoint validation and address rendering (contract section 5): local
 * path/@abstract limits and rejections, inproc names, inet endpoints with
 * IPv4/IPv6 literals and host names, the rendering formats of section 5.2
 * (observed through real binds) and safe truncation.
 */
#include <string.h>
#include <sys/un.h>
#include "test.h"
#include "../socket/net_test.h"

static void
reject_local(const char *path)
{
    test_assert_msg(evpl_endpoint_create_local(path) == NULL, "accepted local '%s'",
                    path ? path : "(null)");
}

static void
noop_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
    }
}

int
main(int argc, char **argv)
{
    char                  buf[EVPL_ADDRESS_STRLEN];
    char                  name[256];
    size_t                sun_len = sizeof(((struct sockaddr_un *) 0)->sun_path);
    struct evpl_endpoint *ep;
    struct evpl          *evpl;
    struct evpl_bind     *bind;
    /* The subject is refusals, each of which logs why; leak reports still fail. */
    evpl_test_log_expect_errors();

    evpl_test_init(argc, argv);

    /* local rejections */
    reject_local(NULL);
    reject_local("");
    reject_local("/");
    reject_local("@");
    reject_local("relative/path");
    reject_local("bare");

    /* path boundary: sun_path - 1 bytes fit, one more does not */
    memset(name, 'a', sizeof(name));
    name[0]           = '/';
    name[sun_len - 1] = '\0';
    ep                = evpl_endpoint_create_local(name);
    test_assert(ep != NULL);
    test_assert(evpl_endpoint_is_local(ep));
    test_assert(!evpl_endpoint_is_inproc(ep));
    test_assert(strcmp(evpl_endpoint_address(ep), name) == 0);
    test_assert_eq(evpl_endpoint_port(ep), 0);
    evpl_endpoint_close(ep);
    memset(name, 'a', sizeof(name));
    name[0]       = '/';
    name[sun_len] = '\0';
    reject_local(name);

    /* abstract boundary: "@" + name of sun_path bytes total */
    memset(name, 'b', sizeof(name));
    name[0]       = '@';
    name[sun_len] = '\0';
    ep            = evpl_endpoint_create_local(name);
    test_assert(ep != NULL);
    evpl_endpoint_close(ep);
    memset(name, 'b', sizeof(name));
    name[0]           = '@';
    name[sun_len + 1] = '\0';
    reject_local(name);

    /* evpl_endpoint_create classifies by prefix */
    ep = evpl_endpoint_create("/tmp/x.sock", 99);
    test_assert(ep && evpl_endpoint_is_local(ep));
    test_assert_eq(evpl_endpoint_port(ep), 0);
    evpl_endpoint_close(ep);
    test_assert(evpl_endpoint_create("relative", 1) != NULL); /* inet host name */
    test_assert(evpl_endpoint_create("@", 1) == NULL);
    test_assert(evpl_endpoint_create(NULL, 1) == NULL);

    /* inproc rules */
    test_assert(evpl_endpoint_create_inproc(NULL) == NULL);
    test_assert(evpl_endpoint_create_inproc("") == NULL);
    memset(name, 'c', sizeof(name));
    name[107] = '\0';
    ep        = evpl_endpoint_create_inproc(name);
    test_assert(ep != NULL);
    test_assert(evpl_endpoint_is_inproc(ep) && !evpl_endpoint_is_local(ep));
    evpl_endpoint_close(ep);
    name[107] = 'c';
    name[108] = '\0';
    test_assert(evpl_endpoint_create_inproc(name) == NULL);
    ep = evpl_endpoint_create("inproc://svc", 5);
    test_assert(ep && evpl_endpoint_is_inproc(ep));
    test_assert(strcmp(evpl_endpoint_address(ep), "inproc://svc") == 0);
    test_assert_eq(evpl_endpoint_port(ep), 0);
    evpl_endpoint_close(ep);
    test_assert(evpl_endpoint_create("inproc://", 5) == NULL);

    /* inet */
    ep = evpl_endpoint_create("127.0.0.1", 8000);
    test_assert(ep && !evpl_endpoint_is_local(ep) && !evpl_endpoint_is_inproc(ep));
    test_assert(strcmp(evpl_endpoint_address(ep), "127.0.0.1") == 0);
    test_assert_eq(evpl_endpoint_port(ep), 8000);
    evpl_endpoint_close(ep);

    /* renderings through real UDP binds: IPv4, IPv6 literal, host name */
    evpl     = net_loop_create();
    int port = net_free_port(SOCK_DGRAM);
    ep       = evpl_endpoint_create("127.0.0.1", port);
    bind     = evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep, noop_notify, NULL);
    test_assert(bind != NULL);
    evpl_bind_get_local_address(bind, buf, sizeof(buf));
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    test_assert_msg(strcmp(buf, want) == 0, "rendered '%s', want '%s'", buf, want);
    evpl_bind_get_remote_address(bind, buf, sizeof(buf));
    test_assert(strcmp(buf, "(NULL)") == 0);
    /* truncation: 7 characters and the NUL, nothing past len */
    memset(buf, 'X', sizeof(buf));
    evpl_bind_get_local_address(bind, buf, 8);
    test_assert_eq(strlen(buf), 7);
    test_assert(memcmp(buf, "127.0.0", 7) == 0);
    test_assert(buf[8] == 'X');
    evpl_bind_get_local_address(bind, buf, 0); /* nothing written, no crash */
    test_assert(buf[0] == '1');
    evpl_close(evpl, bind);
    evpl_endpoint_close(ep);
    for (int i = 0; i < 3; i++) {
        evpl_continue(evpl); /* the close takes effect at the end of a pass */
    }

    ep   = evpl_endpoint_create("::1", port);
    bind = evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep, noop_notify, NULL);
    if (bind) {
        evpl_bind_get_local_address(bind, buf, sizeof(buf));
        snprintf(want, sizeof(want), "[::1]:%d", port);
        test_assert_msg(strcmp(buf, want) == 0, "rendered '%s', want '%s'", buf, want);
        evpl_close(evpl, bind);
    } else {
        fprintf(stderr, "note: no IPv6 loopback, IPv6 rendering not checked\n");
    }
    evpl_endpoint_close(ep);

    ep   = evpl_endpoint_create("localhost", port);
    bind = evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep, noop_notify, NULL);
    test_assert(bind != NULL);
    evpl_bind_get_local_address(bind, buf, sizeof(buf));
    snprintf(want, sizeof(want), "127.0.0.1:%d", port); /* IPv4 preferred */
    test_assert_msg(strcmp(buf, want) == 0, "rendered '%s', want '%s'", buf, want);
    evpl_close(evpl, bind);
    evpl_endpoint_close(ep);

    /* unresolvable names and kind mismatches are recoverable errors */
    ep = evpl_endpoint_create("no-such-host.invalid", port);
    test_assert(evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep, noop_notify, NULL) == NULL);
    evpl_endpoint_close(ep);
    ep = evpl_endpoint_create_local("/tmp/evpl-not-inet.sock");
    test_assert(evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep, noop_notify, NULL) == NULL);
    test_assert(evpl_connect(evpl, EVPL_STREAM_SOCKET_TCP, NULL, ep, noop_notify, NULL, NULL) ==
                NULL);
    evpl_endpoint_close(ep);

    evpl_destroy(evpl);

    /* endpoints left open are closed at exit */
    evpl_endpoint_create("10.0.0.1", 1);
    return 0;
}
