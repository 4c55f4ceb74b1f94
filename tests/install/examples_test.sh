#!/usr/bin/env bash
#
# ctest install.examples: install the build tree into a temporary prefix,
# build examples/ against it as a standalone CMake project, then run the
# echo server and client together: TCP and AF_UNIX, stream and message
# variants.  Every run must echo every byte (the client checks content).
set -euo pipefail

: "${EVPL_BUILD_DIR:?}" "${EVPL_EXAMPLES_SRC:?}"
CMAKE=${EVPL_CMAKE:-cmake}
GENERATOR=${EVPL_CMAKE_GENERATOR:-Unix Makefiles}
CC=${EVPL_CC:-cc}

work=$(mktemp -d "${TMPDIR:-/tmp}/evpl-examples-test.XXXXXX")
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$CMAKE" --install "$EVPL_BUILD_DIR" --prefix "$work/prefix" >"$work/install.log" || {
    cat "$work/install.log"
    exit 1
}
"$CMAKE" -S "$EVPL_EXAMPLES_SRC" -B "$work/build" -G "$GENERATOR" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="${EVPL_CFLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${EVPL_LDFLAGS:-}" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/cmake.log" || {
    cat "$work/cmake.log"
    exit 1
}
"$CMAKE" --build "$work/build" >"$work/build.log" || {
    cat "$work/build.log"
    exit 1
}

# Below the ephemeral range (32768+), so no client connection holds it.
port=$((10000 + RANDOM % 20000))
sock="$work/echo.sock"

start_server() {
    # Empty the log here, in the shell: the redirection below happens in
    # the background child, and until then a grep would still find the
    # previous server's "listening" line and start the client too early.
    : >"$work/server.log"
    "$work/build/echo_server" "$@" --count 1 2>"$work/server.log" &
    server_pid=$!
    # The server is ready once it has logged that it listens.
    for _ in $(seq 100); do
        grep -q listening "$work/server.log" && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    return 1
}

# run_pair inet|unix [--message]: another test may hold a port, so an inet
# server that cannot listen retries on the next one.
run_pair() {
    local kind=$1
    shift
    local args=("$@")
    for _ in 1 2 3 4 5; do
        if [ "$kind" = inet ]; then
            args=(--port "$port" "$@")
            port=$((port + 1))
        else
            args=(--protocol STREAM_SOCKET_UNIX --address "$sock" "$@")
        fi
        start_server "${args[@]}" && break
    done
    if [ -z "$server_pid" ]; then
        echo "FAIL: echo_server ${args[*]} never listened"
        cat "$work/server.log"
        exit 1
    fi
    if ! timeout 60 "$work/build/echo_client" "${args[@]}" --count 3000; then
        echo "FAIL: echo_client ${args[*]}"
        cat "$work/server.log"
        exit 1
    fi
    wait "$server_pid" || { echo "FAIL: echo_server ${args[*]} exited with $?"; exit 1; }
    server_pid=
}

run_pair inet
run_pair inet --message
run_pair unix
run_pair unix --message
echo "examples built against the installed tree and echoed every byte"
