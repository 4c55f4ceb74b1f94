/*
 * Fuzz target over the generated decoders (every.x).  The first input byte
 * picks the type, the second how the rest is cut into iovecs; whatever
 * decodes must re-encode to exactly marshall_length_ bytes and decode again
 * to the same length.  Built as a libFuzzer target (make fuzz, clang
 * -fsanitize=fuzzer) and, without libFuzzer, as the ctest xdr_fuzz_smoke,
 * which feeds it random bytes and every truncation of real encodings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "every_xdr.h"

#define MAX_IOV 64

static char scratch_mem[1 << 20];

#define TRY(T)                                                                                     \
    do {                                                                                           \
        struct T v;                                                                                \
        memset(&v, 0, sizeof(v));                                                                  \
        int n = unmarshall_##T(&v, iov, niov, NULL, dbuf);                                         \
        if (n >= 0) {                                                                              \
            xdr_iovec sc   = {scratch_mem, sizeof(scratch_mem)}, out[MAX_IOV];                     \
            int       nout = MAX_IOV, len = marshall_length_##T(&v);                               \
            int       enc = marshall_##T(&v, &sc, out, &nout, NULL, 0);                            \
            if (enc >= 0 && enc != len) {                                                          \
                abort();                                                                           \
            }                                                                                      \
            if (enc >= 0) {                                                                        \
                struct T w;                                                                        \
                memset(&w, 0, sizeof(w));                                                          \
                if (unmarshall_##T(&w, out, nout, NULL, dbuf) != enc) {                            \
                    abort();                                                                       \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xdr_dbuf *dbuf;
    xdr_iovec        iov[MAX_IOV];
    int              niov = 0;

    if (size < 2) {
        return 0;
    }
    if (!dbuf) {
        dbuf = xdr_dbuf_alloc(1 << 20);
    }
    xdr_dbuf_reset(dbuf);

    unsigned int which = data[0], cut = data[1];
    uint8_t     *copy = malloc(size - 2 + 1); /* exact size: ASan sees any overread */

    memcpy(copy, data + 2, size - 2);
    size -= 2;
    for (size_t at = 0; at < size && niov < MAX_IOV;) {
        size_t n = cut ? 1 + (at * 7 + cut) % (cut + 1) : size - at;

        if (n > size - at || niov == MAX_IOV - 1) {
            n = size - at;
        }
        iov[niov].iov_base = copy + at;
        iov[niov].iov_len  = (uint32_t) n;
        niov++;
        at += n;
    }
    switch (which % 11) {
    case 0:
        TRY(all);
        break;
    case 1:
        TRY(scalars);
        break;
    case 2:
        TRY(arrays);
        break;
    case 3:
        TRY(bytes);
        break;
    case 4:
        TRY(optional);
        break;
    case 5:
        TRY(holder);
        break;
    case 6:
        TRY(entry);
        break;
    case 7:
        TRY(u_kind);
        break;
    case 8:
        TRY(u_bool);
        break;
    case 9:
        TRY(u_nodefault);
        break;
    default:
        TRY(ou);
        break;
    }
    free(copy);
    return 0;
}

#ifndef XDR_LIBFUZZER
/* Smoke run: random inputs, then every truncation of a few valid encodings. */
int
main(void)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint8_t  buf[4096];

    for (int i = 0; i < 200000; i++) {
        size_t n = 2 + (size_t) ((s >> 33) % 300);

        for (size_t j = 0; j < n; j++) {
            s      = s * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[j] = (uint8_t) (s >> 56);
            if ((s >> 20) % 4 == 0) {
                buf[j] = 0; /* small lengths and counts are more interesting */
            }
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    /* truncations of a valid holder (a list) and an opaque_union */
    static const uint8_t holder[] = {0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0,
                                     0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0,   0,   0, 0, 5};
    static const uint8_t ou[]     = {10, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2};

    for (size_t n = 2; n <= sizeof(holder); n++) {
        LLVMFuzzerTestOneInput(holder, n);
    }
    for (size_t n = 2; n <= sizeof(ou); n++) {
        LLVMFuzzerTestOneInput(ou, n);
    }
    return 0;
}
#endif
