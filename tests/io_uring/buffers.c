/*
 * Provided-buffer exhaustion.  With 4 KiB buffers the loop's buffer ring
 * holds at most 4 MiB; the server keeps every received iovec (evpl_recvv)
 * until 8 MiB have arrived, so the kernel runs out of provided buffers
 * (ENOBUFS) long before.  The connection must stay up and deliver every byte
 * in order; once the iovecs are released the ring is replenished and a
 * second 8 MiB, consumed as it arrives, must flow too.
 */
#include "net_test.h"

#define PHASE_BYTES (8u << 20)
#define MAX_HELD    ((int) (PHASE_BYTES / 512))
#define CHUNK       65536

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static struct evpl_iovec     held[MAX_HELD];
static int                   nheld;
static uint64_t              received, sent;
static int                   phase = 1;
static atomic_int            server_done, client_done;
static struct evpl_bind     *client;

static inline unsigned char
pattern(uint64_t off)
{
    return (unsigned char) (off * 7 + off / 251);
}

static void
check_held(struct evpl *evpl)
{
    uint64_t off = 0;

    for (int i = 0; i < nheld; i++) {
        const unsigned char *p = held[i].data;

        for (unsigned int j = 0; j < held[i].length; j++, off++) {
            if (p[j] != pattern(off)) {
                test_fail("byte %llu is %u, expected %u", (unsigned long long) off, p[j],
                          pattern(off));
            }
        }
    }
    test_assert_eq(off, PHASE_BYTES);
    evpl_iovecs_release(evpl, held, nheld);
    nheld = 0;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        if (phase == 1) {
            int length, n;

            while ((n = evpl_recvv(evpl, bind, held + nheld, MAX_HELD - nheld, PHASE_BYTES,
                                   &length)) > 0) {
                nheld += n;
                received += length;
                test_assert(nheld < MAX_HELD);
            }
            if (received == PHASE_BYTES) {
                check_held(evpl);
                phase = 2;
            }
        } else {
            static unsigned char buf[CHUNK];
            int                  n;

            while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
                for (int i = 0; i < n; i++, received++) {
                    if (buf[i] != pattern(received)) {
                        test_fail("phase 2 byte %llu wrong", (unsigned long long) received);
                    }
                }
            }
            if (received == 2ull * PHASE_BYTES) {
                evpl_close(evpl, bind);
            }
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_eq(received, 2ull * PHASE_BYTES);
        atomic_store(&server_done, 1);
        break;
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        test_assert_eq(received, 2ull * PHASE_BYTES);
        atomic_store(&client_done, 1);
    }
}

/* Queue the next piece of the current phase. */
static void
client_send(struct evpl *evpl)
{
    static unsigned char buf[CHUNK];
    uint64_t             limit = phase == 1 ? PHASE_BYTES : 2ull * PHASE_BYTES;

    while (sent < limit && sent - received < 4 * CHUNK + PHASE_BYTES) {
        for (int i = 0; i < CHUNK; i++) {
            buf[i] = pattern(sent + i);
        }
        evpl_send(evpl, client, buf, CHUNK);
        sent += CHUNK;
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config = evpl_test_config(argc, argv);
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl                  *evpl;
    struct timespec               start, now;

    evpl_global_config_set_buffer_size(config, 4096);
    evpl_global_config_set_slab_size(config, 64ull << 20);
    evpl_global_config_set_max_datagram_size(config, 4096);
    evpl_init(config);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "buffers");

    evpl     = evpl_create(NULL);
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);
    client = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(client != NULL);

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!atomic_load(&server_done) || !atomic_load(&client_done)) {
        if (sent < (phase == 1 ? PHASE_BYTES : 2ull * PHASE_BYTES)) {
            client_send(evpl);
        }
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60) {
            test_fail("timed out: phase %d, %llu of %llu bytes received", phase,
                      (unsigned long long) received, (unsigned long long) sent);
        }
    }

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
