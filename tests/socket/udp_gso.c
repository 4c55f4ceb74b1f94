/*
 * UDP segmentation offload (src/socket/udp.c): runs of equal-sized queued
 * datagrams to one destination leave as one UDP_SEGMENT send, and a
 * receiving bind takes coalesced runs (UDP_GRO) apart again.  Nothing of
 * that may be visible to peers or to the application:
 *   1. our bind -> a plain socket with UDP_GRO: every datagram arrives, in
 *      order, with its size and bytes -- and at least one run arrived
 *      coalesced, so GSO was really used;
 *   2. a plain socket sending a GSO run (10 x 201 bytes + 57) and then 5
 *      single datagrams -> our bind: 16 RECV_MSGs, in order, intact, the
 *      run's datagrams side by side in one buffer (delivered without a
 *      copy, which shows the coalesced path was taken);
 *   3. our bind -> our bind, 3000 datagrams of mixed sizes (long runs of
 *      equal ones, shorter tails, random sizes): each exactly one RECV_MSG,
 *      in order, intact.
 * With argument "mtu" the test runs in a network namespace of its own whose
 * loopback has a 1500-byte MTU: there a run of 3000-byte datagrams is
 * refused by the kernel (a segment larger than the MTU), and the bind must
 * fall back to sending them singly (IP fragments), all of them arriving.
 * Skipped (77) where a namespace cannot be created.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "net_test.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define MAX_DGRAMS 4000

static unsigned int sizes[MAX_DGRAMS];
static int          ndgrams;

/* Datagram i: its index in the first 4 bytes, then a pattern. */
static void
fill(unsigned char *buf, int i, unsigned int len)
{
    for (unsigned int k = 0; k < len; k++) {
        buf[k] = (unsigned char) (i * 7 + k);
    }
    if (len >= 4) {
        memcpy(buf, &i, 4);
    }
}

static void
check(const unsigned char *buf, int i, unsigned int len)
{
    unsigned char want[65536];

    test_assert_eq(len, sizes[i]);
    fill(want, i, len);
    test_assert(memcmp(buf, want, len) == 0);
}

static int
raw_socket(int port, int gro)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval     tv  = {.tv_sec = 5};
    int                fd  = socket(AF_INET, SOCK_DGRAM, 0);
    int                one = 1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(fd >= 0);
    test_assert(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) {
        test_skip("UDP_GRO not supported");
    }
    return fd;
}

/* ---- our receiving bind ------------------------------------------------- */

static int               received;
static const char       *prev_data;
static unsigned int      prev_len;
static int               contiguous; /* consecutive datagrams side by side */
static struct evpl_bind *sender;
static int               sent_msgs;

static void
recv_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        test_assert(received < ndgrams);
        test_assert_eq(notify->recv_msg.niov, 1);
        check(notify->recv_msg.iovec[0].data, received, notify->recv_msg.length);
        if (prev_data && notify->recv_msg.iovec[0].data == prev_data + prev_len) {
            contiguous++;
        }
        prev_data = notify->recv_msg.iovec[0].data;
        prev_len  = notify->recv_msg.length;
        received++;
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
    }
}

static void
send_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_SENT) {
        sent_msgs += notify->sent.msgs;
    }
}

static void
run_until(struct evpl *evpl, int *counter, int want)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (*counter < want) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 20) {
            test_fail("timed out: %d of %d", *counter, want);
        }
    }
}

/* 1. our bind -> plain GRO socket */
static void
phase_send(struct evpl *evpl)
{
    static const struct {
        int          count;
        unsigned int size;
    } plan[] = {{40, 300}, {1, 77}, {25, 300}, {10, 1400}, {3, 20}, {70, 64}, {1, 9000}, {5, 64}};
    int                   port = net_free_port(SOCK_DGRAM);
    int                   fd   = raw_socket(port, 1);
    struct evpl_endpoint *ep   = evpl_endpoint_create("127.0.0.1", port);
    unsigned char         buf[65536];
    int                   got = 0, coalesced = 0;

    ndgrams = 0;
    for (unsigned int p = 0; p < sizeof(plan) / sizeof(plan[0]); p++) {
        for (int i = 0; i < plan[p].count; i++) {
            sizes[ndgrams++] = plan[p].size;
        }
    }
    sent_msgs = 0;
    for (int i = 0; i < ndgrams; i++) {
        fill(buf, i, sizes[i]);
        evpl_sendtoep(evpl, sender, ep, buf, sizes[i]);
    }
    run_until(evpl, &sent_msgs, ndgrams);

    while (got < ndgrams) {
        char          ctrl[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
        struct iovec  iov = {buf, sizeof(buf)};
        struct msghdr mh  = {
             .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof(ctrl)};
        ssize_t len = recvmsg(fd, &mh, 0);
        int     seg = 0;

        test_assert(len >= 0);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                memcpy(&seg, CMSG_DATA(c), sizeof(seg));
            }
        }
        if (seg <= 0 || seg >= len) {
            seg = (int) len;
        } else {
            coalesced++;
        }
        for (ssize_t off = 0; off < len; off += seg) {
            unsigned int l = (unsigned int) (len - off < seg ? len - off : seg);
            test_assert(got < ndgrams);
            check(buf + off, got, l);
            got++;
        }
    }
    test_assert(coalesced > 0);
    evpl_endpoint_close(ep);
    close(fd);
}

/* 2. plain GSO sender -> our bind */
static void
phase_receive(struct evpl *evpl, int port)
{
    int                fd = raw_socket(net_free_port(SOCK_DGRAM), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    unsigned char      run[10 * 201 + 57];
    char               ctrl[CMSG_SPACE(sizeof(uint16_t))] __attribute__((aligned(8)));
    uint16_t           gso = 201;
    struct iovec       iov = {run, sizeof(run)};
    struct msghdr      mh  = {.msg_name       = &to,
                              .msg_namelen    = sizeof(to),
                              .msg_iov        = &iov,
                              .msg_iovlen     = 1,
                              .msg_control    = ctrl,
                              .msg_controllen = sizeof(ctrl)};
    struct cmsghdr    *c;

    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ndgrams            = 16;
    for (int i = 0; i < 16; i++) {
        sizes[i] = i == 10 ? 57 : 201;
    }
    for (int i = 0; i < 11; i++) {
        fill(run + i * 201, i, sizes[i]);
    }
    memset(ctrl, 0, sizeof(ctrl)); /* padding included: it all goes to the kernel */
    c             = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type  = UDP_SEGMENT;
    c->cmsg_len   = CMSG_LEN(sizeof(gso));
    memcpy(CMSG_DATA(c), &gso, sizeof(gso));
    test_assert_eq(sendmsg(fd, &mh, 0), (ssize_t) sizeof(run));
    for (int i = 11; i < 16; i++) {
        unsigned char one[201];
        fill(one, i, 201);
        test_assert_eq(sendto(fd, one, 201, 0, (struct sockaddr *) &to, sizeof(to)), 201);
    }

    received   = 0;
    prev_data  = NULL;
    contiguous = 0;
    run_until(evpl, &received, 16);
    /* The run's 11 datagrams lie side by side (201 is not a multiple of
     * the 8-byte alignment single datagrams get). */
    test_assert(contiguous >= 10);
    close(fd);
}

/* 3. our bind -> our bind, mixed sizes */
static void
phase_both(struct evpl *evpl, struct evpl_endpoint *ep_recv)
{
    unsigned char buf[4096];
    int           i = 0;

    srand(7);
    while (i < 3000) {
        int          run  = 1 + rand() % 80;
        unsigned int size = rand() % 3 ? 64 : 1 + rand() % 4000;

        for (int k = 0; k < run && i < 3000; k++) {
            sizes[i++] = size;
        }
        if (rand() % 2 && i < 3000) {
            sizes[i++] = 1 + rand() % size; /* a shorter tail ends a run */
        }
    }
    ndgrams  = 3000;
    received = 0;
    for (int base = 0; base < ndgrams; base += 25) {
        /* 25 queued at a time: well inside the socket buffers (UDP drops
         * what does not fit). */
        for (int j = base; j < base + 25; j++) {
            fill(buf, j, sizes[j]);
            evpl_sendtoep(evpl, sender, ep_recv, buf, sizes[j]);
        }
        run_until(evpl, &received, base + 25);
    }
}

/* Own network namespace, loopback up with a 1500-byte MTU. */
static void
enter_small_mtu_namespace(void)
{
    struct ifreq ifr;
    int          fd;

    evpl_test_unshare(CLONE_NEWNET);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    test_assert(fd >= 0);
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    ifr.ifr_mtu = 1500;
    test_assert(ioctl(fd, SIOCSIFMTU, &ifr) == 0);
    test_assert(ioctl(fd, SIOCGIFFLAGS, &ifr) == 0);
    ifr.ifr_flags |= IFF_UP;
    test_assert(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
    close(fd);
}

/* 4. a run the kernel refuses to segment */
static void
phase_fallback(struct evpl *evpl, struct evpl_endpoint *ep_recv)
{
    unsigned char buf[4096];

    ndgrams  = 0;
    received = 0;
    for (int round = 0; round < 3; round++) {
        int base = ndgrams;

        for (int k = 0; k < 20; k++) {
            sizes[ndgrams] = k == 19 ? 1000 : 3000;
            fill(buf, ndgrams, sizes[ndgrams]);
            evpl_sendtoep(evpl, sender, ep_recv, buf, sizes[ndgrams]);
            ndgrams++;
        }
        /* Small runs still go out as runs. */
        for (int k = 0; k < 20; k++) {
            sizes[ndgrams] = 100;
            fill(buf, ndgrams, sizes[ndgrams]);
            evpl_sendtoep(evpl, sender, ep_recv, buf, sizes[ndgrams]);
            ndgrams++;
        }
        run_until(evpl, &received, base + 40);
    }
}

int
main(int argc, char **argv)
{
    struct evpl          *evpl;
    struct evpl_endpoint *ep_send, *ep_recv;
    struct evpl_bind     *receiver;
    int                   port;

    int small_mtu = argc > 2 && strcmp(argv[2], "mtu") == 0;

    if (small_mtu) {
        enter_small_mtu_namespace();
    }
    evpl_test_init(argc, argv);
    evpl   = net_loop_create();
    sender = net_udp_bind(evpl, "127.0.0.1", send_notify, NULL, &ep_send, NULL);
    evpl_bind_request_send_notifications(evpl, sender);
    receiver = net_udp_bind(evpl, "127.0.0.1", recv_notify, NULL, &ep_recv, &port);

    if (small_mtu) {
        phase_fallback(evpl, ep_recv);
    } else {
        phase_send(evpl);
        phase_receive(evpl, port);
        phase_both(evpl, ep_recv);
    }

    evpl_close(evpl, sender);
    evpl_close(evpl, receiver);
    evpl_destroy(evpl);
    evpl_endpoint_close(ep_send);
    evpl_endpoint_close(ep_recv);
    return 0;
}
