#!/usr/bin/env bash
#
# Install every build and test dependency of libevpl from Debian 12 packages.
#
# Idempotent and quick when nothing is missing: packages already installed are
# detected with dpkg-query, and apt-get runs (update, then install) only when
# something is missing.  Works unattended (no stdin, CI=true).  Must run as
# root, or as a user with sudo.
#
# Environment:
#   EVPL_SKIP_DEPS=1   do nothing (for machines whose dependencies are managed
#                      some other way)
set -euo pipefail

if [ "${EVPL_SKIP_DEPS:-0}" = "1" ]; then
    echo "install-deps: EVPL_SKIP_DEPS=1, not checking packages"
    exit 0
fi

# Required: the build fails, or tests cannot run, without these.
required=(
    build-essential cmake ninja-build pkg-config git
    clang clang-format clang-tidy cppcheck
    llvm libclang-rt-14-dev # llvm-symbolizer and clang's sanitizer runtimes
    valgrind gcovr lcov
    liburing-dev libaio-dev libssl-dev openssl
    libevent-dev libuv1-dev uthash-dev
    libhwloc-dev hwloc # topology discovery (src/topology/), lstopo
    libtirpc-dev rpcsvc-proto # rpcgen, libtirpc and rpcsvc/*.x: XDR generator tests
    iproute2 procps
    node-llhttp curl # libevpl_http's parser sources; HTTP interop tests
    nginx # tests/http/nginx_interop.c starts one: our HTTP client against nginx
)

# Optional: installed when the distribution has them; the tests that need them
# skip (exit 77) otherwise.  prometheus provides promtool, which checks the
# metrics scrape output.
optional=(
    prometheus
    rpcbind # rpc2_tirpc_interop checks rpcinfo when an rpcbind runs
)

export DEBIAN_FRONTEND=noninteractive

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "install-deps: not root and no sudo; cannot install packages" >&2
        exit 1
    fi
fi

# Print the packages among "$@" that are not installed.
missing_of() {
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            echo "$pkg"
        fi
    done
}

mapfile -t missing_required < <(missing_of "${required[@]}")
mapfile -t missing_optional < <(missing_of "${optional[@]}")

if [ ${#missing_required[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
    echo "install-deps: all $((${#required[@]} + ${#optional[@]})) packages already installed"
    exit 0
fi

echo "install-deps: missing: ${missing_required[*]} ${missing_optional[*]}"

apt_get() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null
}

# Installing a server package (prometheus) must not start its daemon: when the
# machine has no policy-rc.d, install a temporary one that refuses service
# starts, and remove it afterwards.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
cleanup() {
    if [ "$policy_added" = "1" ]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    policy_added=1
fi

apt_get update

to_install=("${missing_required[@]}")
for pkg in "${missing_optional[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
        to_install+=("$pkg")
    else
        echo "install-deps: optional package $pkg is not available; tests needing it will skip"
    fi
done

if [ ${#to_install[@]} -gt 0 ]; then
    apt_get install --no-install-recommends "${to_install[@]}"
fi

mapfile -t still_missing < <(missing_of "${missing_required[@]}")
if [ ${#still_missing[@]} -gt 0 ]; then
    echo "install-deps: failed to install: ${still_missing[*]}" >&2
    exit 1
fi
echo "install-deps: done"
