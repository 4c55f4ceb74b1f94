/* Wire cross-check driver (xcheck.h): identical bytes, and each side decodes the other's. */
#include <stdio.h>
#include <string.h>

#include "xcheck.h"

int
main(void)
{
    static unsigned char ours[XCHECK_MAX], theirs[XCHECK_MAX];
    int                  failures = 0, n = 3000;

    for (uint64_t seed = 1; seed <= (uint64_t) n; seed++) {
        int a = xcheck_ours_encode(seed, ours);
        int b = xcheck_tirpc_encode(seed, theirs);

        if (a < 0 || b < 0 || a != b || memcmp(ours, theirs, (size_t) a) != 0) {
            fprintf(stderr, "FAIL seed %llu: encodings differ (ours %d bytes, rpcgen %d bytes)\n",
                    (unsigned long long) seed, a, b);
            for (int i = 0; i < a && i < b; i++) {
                if (ours[i] != theirs[i]) {
                    fprintf(stderr, "  first difference at byte %d: %02x vs %02x\n", i, ours[i],
                            theirs[i]);
                    break;
                }
            }
            failures++;
            continue;
        }
        if (xcheck_ours_decode(seed, theirs, b) != 0) {
            fprintf(stderr, "FAIL seed %llu: ours does not decode rpcgen's bytes\n",
                    (unsigned long long) seed);
            failures++;
        }
        if (xcheck_tirpc_decode(seed, ours, a) != 0) {
            fprintf(stderr, "FAIL seed %llu: rpcgen does not decode our bytes\n",
                    (unsigned long long) seed);
            failures++;
        }
    }
    printf("%d values cross-checked, %d failures\n", n, failures);
    return failures ? 1 : 0;
}
