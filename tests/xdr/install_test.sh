#!/usr/bin/env bash
# xdr_install: install this build tree into a temporary prefix, then
#  1. build tests/xdr/consumer with find_package(evpl) + evpl_xdr_library()
#  2. run the generator found through pkg-config --variable=xdrzcc evpl
# Environment: EVPL_BUILD_DIR, EVPL_CONSUMER_SRC, EVPL_CMAKE, EVPL_CC.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$EVPL_CMAKE" --install "$EVPL_BUILD_DIR" --prefix "$tmp/prefix" > "$tmp/install.log"
"$EVPL_CMAKE" -S "$EVPL_CONSUMER_SRC" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_C_COMPILER="$EVPL_CC" > "$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
"$EVPL_CMAKE" --build "$tmp/build" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/build/xdr_consumer"
echo "find_package(evpl) + evpl_xdr_library(): ok"
if command -v pkg-config > /dev/null; then
    gen=$(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig" \
          pkg-config --variable=xdrzcc evpl)
    [ -x "$gen" ] || { echo "FAIL: pkg-config xdrzcc variable '$gen' is not the generator"; exit 1; }
    "$gen" "$EVPL_CONSUMER_SRC/point.x" "$tmp/p.c" "$tmp/p.h"
    "$EVPL_CC" -std=gnu11 -Wall -Wextra -Werror -I"$tmp" -c "$tmp/p.c" -o "$tmp/p.o"
    echo "pkg-config --variable=xdrzcc evpl: ok ($gen)"
fi
