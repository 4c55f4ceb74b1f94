/*
 * Wire cross-check (xcheck.x): the same values, drawn from one seeded
 * sequence, are encoded by our generated code (xcheck_ours.c) and by
 * rpcgen's with libtirpc's xdr_* routines (xcheck_tirpc.c).  The bytes must
 * be identical and each side must decode the other's bytes back to the
 * values.  The two sides live in separate files because both define the
 * .x's type names.
 */
#pragma once

#include <stdint.h>

#define XCHECK_MAX 65536

/* The shared value sequence: both sides draw the same numbers in the same order. */
static inline uint32_t
xcheck_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t) (*s >> 33);
}

static inline uint64_t
xcheck_next64(uint64_t *s)
{
    uint64_t hi = xcheck_next(s);
    uint64_t lo = xcheck_next(s);

    return (hi << 32) | lo;
}

/* Encode the values of seed into buf; returns the length or -1. */
int xcheck_ours_encode(uint64_t seed, unsigned char *buf);
int xcheck_tirpc_encode(uint64_t seed, unsigned char *buf);

/* Decode buf[0..len) and compare with the values of seed: 0 when equal. */
int xcheck_ours_decode(uint64_t seed, const unsigned char *buf, int len);
int xcheck_tirpc_decode(uint64_t seed, const unsigned char *buf, int len);
