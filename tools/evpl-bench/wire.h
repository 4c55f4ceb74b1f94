/*
 * What evpl-bench and the peer programs say to each other on the wire, so
 * that any client can drive any server of the same workload.
 *
 * Connected (stream and message) protocols: the client opens each flow with
 * one 16-byte hello naming the workload and the message size, then
 *   pingpong: sends messages of `size` bytes; the server echoes every byte
 *             back, and the client counts a round trip per `size` bytes it
 *             receives (responses come back in request order);
 *   stream:   sends messages of `size` bytes; the server consumes them and
 *             sends nothing.
 * Datagram protocols (UDP): no hello; the server echoes every datagram to
 * its sender; the first 8 bytes of each request carry the slot number the
 * client uses to match the answer (so size >= 8). Stream over UDP is not
 * offered: a one-way flood of datagrams measures drops, not the library.
 */
#pragma once

#include <stdint.h>

#define BENCH_WIRE_MAGIC 0x42505645u /* "EVPB" little-endian */

struct bench_wire_hello {
    uint32_t magic;
    uint32_t workload; /* enum bench_workload */
    uint32_t size;
    uint32_t reserved;
};

#define BENCH_WIRE_HELLO_SIZE 16
_Static_assert(sizeof(struct bench_wire_hello) == BENCH_WIRE_HELLO_SIZE, "hello size");

/* The smallest pingpong message over a datagram protocol. */
#define BENCH_WIRE_MIN_DGRAM 8
