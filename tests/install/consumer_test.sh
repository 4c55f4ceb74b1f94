#!/usr/bin/env bash
#
# ctest install.consumer: install the build tree into a temporary prefix, then
# build and run tests/install/consumer against it four ways:
#   find_package(evpl) -> evpl::evpl, evpl::evpl_static
#   pkg-config evpl    -> shared (-levpl), static (libevpl.a + Libs.private)
#
# Inputs (set by tests/install/CMakeLists.txt): EVPL_BUILD_DIR,
# EVPL_CONSUMER_SRC, EVPL_CMAKE, EVPL_CMAKE_GENERATOR, EVPL_CC, EVPL_CFLAGS,
# EVPL_LDFLAGS.  Independent of the current directory.
set -euo pipefail

: "${EVPL_BUILD_DIR:?}" "${EVPL_CONSUMER_SRC:?}"
CMAKE=${EVPL_CMAKE:-cmake}
GENERATOR=${EVPL_CMAKE_GENERATOR:-Unix Makefiles}
CC=${EVPL_CC:-cc}
read -r -a CFLAGS <<<"${EVPL_CFLAGS:-}"
read -r -a LDFLAGS <<<"${EVPL_LDFLAGS:-}"

# Both are required (scripts/install-deps.sh installs pkg-config; ldd comes
# with libc): a missing one fails instead of skipping or dropping a check.
for tool in pkg-config ldd; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "FAIL: $tool is not installed (scripts/install-deps.sh installs pkg-config)"
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/evpl-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "== $*"; }

step "install into $prefix"
"$CMAKE" --install "$EVPL_BUILD_DIR" --prefix "$prefix" >"$work/install.log" || {
    cat "$work/install.log"
    exit 1
}

for f in include/evpl/evpl.h include/evpl/evpl_core.h; do
    [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
pcfile=$(find "$prefix" -name evpl.pc -path '*/pkgconfig/*' | head -n 1)
config=$(find "$prefix" -name evplConfig.cmake | head -n 1)
[ -n "$pcfile" ] || { echo "FAIL: evpl.pc not installed"; exit 1; }
[ -n "$config" ] || { echo "FAIL: evplConfig.cmake not installed"; exit 1; }
libdir=$(cd "$(dirname "$pcfile")/.." && pwd)
for f in libevpl.so libevpl.a; do
    [ -e "$libdir/$f" ] || { echo "FAIL: $libdir/$f not installed"; exit 1; }
done

step "find_package(evpl) consumer"
"$CMAKE" -S "$EVPL_CONSUMER_SRC" -B "$work/cmake-build" -G "$GENERATOR" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="${EVPL_CFLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${EVPL_LDFLAGS:-}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
"$CMAKE" --build "$work/cmake-build"
"$work/cmake-build/consumer_shared"
"$work/cmake-build/consumer_static"
# The shared consumer must use the installed library, not the build tree's.
# Capture first: with pipefail, `ldd | grep -q` fails whenever grep exits at
# its first match before ldd has written everything (SIGPIPE).
deps=$(ldd "$work/cmake-build/consumer_shared")
grep -q "$prefix" <<<"$deps" || {
    echo "FAIL: consumer_shared does not load libevpl from $prefix"
    ldd "$work/cmake-build/consumer_shared"
    exit 1
}

step "pkg-config consumer"
PKG_CONFIG_PATH=$(dirname "$pcfile")
export PKG_CONFIG_PATH
echo "pkg-config --cflags --libs evpl: $(pkg-config --cflags --libs evpl)"
echo "pkg-config --static --libs evpl: $(pkg-config --static --libs evpl)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
"$CC" -std=c11 -Wall -Wextra -Werror "${CFLAGS[@]}" -o "$work/pc_shared" \
    "$EVPL_CONSUMER_SRC/main.c" $(pkg-config --cflags --libs evpl) "${LDFLAGS[@]}"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/pc_shared"

# Static: libevpl.a by name, then what Libs.private says it needs.
static_deps=$(pkg-config --static --libs evpl | sed -e 's/\(^\| \)-levpl\( \|$\)/ /g' -e 's/\(^\| \)-L[^ ]*//g')
# shellcheck disable=SC2046,SC2086
"$CC" -std=c11 -Wall -Wextra -Werror "${CFLAGS[@]}" -o "$work/pc_static" \
    "$EVPL_CONSUMER_SRC/main.c" $(pkg-config --cflags evpl) "$libdir/libevpl.a" $static_deps \
    "${LDFLAGS[@]}"
"$work/pc_static"

echo "install.consumer: all four consumers built and ran"
