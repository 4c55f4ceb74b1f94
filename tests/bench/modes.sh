#!/usr/bin/env bash
# evpl-bench across its modes, each run a fraction of a second: separate
# server and client invocations (JSON and summary), UDP, unix and
# in-process protocols, data framing, several flows and threads, the live
# progress line, the block workload on a temporary file (io_uring and
# libaio, both required: see tests/common/test.c) and the setup errors that reach the
# library.  Every run's figures must be consistent (ops > 0, bytes = ops x
# size, ordered non-zero percentiles).  Exit 0 pass, 1 fail.
set -uo pipefail
BENCH=${1:?usage: modes.sh PATH/TO/evpl-bench}
TMP=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# check_json FILE SIZE [PROTOCOL]
check_json() {
    python3 - "$@" <<'PY' || exit 1
import json, sys
path, size = sys.argv[1], int(sys.argv[2])
proto = sys.argv[3] if len(sys.argv) > 3 else None
r = json.load(open(path))
def bad(msg):
    print("FAIL: %s: %s\n%s" % (path, msg, json.dumps(r)), file=sys.stderr); sys.exit(1)
if r["ops"] <= 0: bad("no operations")
if r["bytes"] != r["ops"] * size: bad("bytes != ops x size")
if r["size"] != size: bad("size not echoed")
if proto and r["protocol"] != proto: bad("protocol not echoed")
l = r["latency_ns"]
if l["count"] != r["ops"]: bad("latency count != ops")
if not (0 < l["min"] <= l["p50"] <= l["p90"] <= l["p99"] <= l["p99.9"] <= l["max"]): bad("percentiles out of order")
if not r["cpu"]["client"] or r["cpu"]["client"]["total_s"] <= 0: bad("no client cpu")
print("ok %s %s: %d ops, p50 %.1f us" % (r["workload"], r["protocol"], r["ops"], l["p50"] / 1e3))
PY
}

# expect_error DESCRIPTION STATUS PATTERN CMD...: exit STATUS, one line on
# stderr matching PATTERN, nothing on stdout.
expect_error() {
    local what=$1 want=$2 pattern=$3; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc -eq "$want" ] || { cat "$TMP/err" >&2; fail "$what: exit status $rc, expected $want"; }
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err" >&2; fail "$what: not exactly one line on stderr"; }
    grep -q -- "$pattern" "$TMP/err" || { cat "$TMP/err" >&2; fail "$what: message lacks '$pattern'"; }
    [ ! -s "$TMP/out" ] || fail "$what: output on stdout"
    echo "ok error: $what"
}

port=$(free_port)
short=(--duration 0.3 --warmup 0.1 --port "$port")

# Standalone server (JSON report on SIGINT) with two loops, and a client
# with two threads of two flows each, data framing, in a separate process.
"$BENCH" pingpong --role server --server-threads 2 --json --port "$port" \
    >"$TMP/server.json" 2>"$TMP/server.err" &
server_pid=$!
for _ in $(seq 50); do
    grep -q 'server on' "$TMP/server.err" && break
    sleep 0.1
done
grep -q 'server on' "$TMP/server.err" || fail "standalone server did not start"
"$BENCH" pingpong --role client --client-threads 2 --flows 2 --framing data --json "${short[@]}" \
    >"$TMP/cl.json" || fail "client (data framing, 2 threads) exited $?"
check_json "$TMP/cl.json" 64
"$BENCH" stream --role client --size 16k --depth 4 "${short[@]}" >"$TMP/cl.txt" \
    || fail "stream client exited $?"
grep -q 'ops/s' "$TMP/cl.txt" && grep -q 'server runs elsewhere' "$TMP/cl.txt" \
    || { cat "$TMP/cl.txt" >&2; fail "client summary lacks fields"; }
kill -INT $server_pid
wait $server_pid || fail "standalone server exited $? on SIGINT"
server_pid=
python3 - "$TMP/server.json" <<'PY' || fail "server JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["protocol"] == "STREAM_SOCKET_TCP", r
print("ok server report:", json.dumps(r)[:120])
PY

# UDP: server process plus client, several flows.
"$BENCH" pingpong --protocol DATAGRAM_SOCKET_UDP --flows 2 --depth 4 --json "${short[@]}" \
    >"$TMP/udp.json" || fail "UDP pingpong exited $?"
check_json "$TMP/udp.json" 64 DATAGRAM_SOCKET_UDP
# unix sockets, stream with data framing.
"$BENCH" stream --protocol STREAM_SOCKET_UNIX --address "$TMP/bench.sock" --size 4k --framing data \
    --json "${short[@]}" >"$TMP/unix.json" || fail "unix stream exited $?"
check_json "$TMP/unix.json" 4096 STREAM_SOCKET_UNIX
# In-process: both ends in one process, several loops.
"$BENCH" pingpong --protocol STREAM_INPROC --client-threads 2 --server-threads 2 --json "${short[@]}" \
    >"$TMP/inproc.json" || fail "inproc pingpong exited $?"
check_json "$TMP/inproc.json" 64 STREAM_INPROC
"$BENCH" stream --protocol STREAM_INPROC --size 8k --json "${short[@]}" >"$TMP/inproc-st.json" \
    || fail "inproc stream exited $?"
check_json "$TMP/inproc-st.json" 8192 STREAM_INPROC
# TCP in one process with the live progress line (printed once a second).
"$BENCH" pingpong --same-process --progress --duration 0.9 --warmup 0.2 --port "$port" \
    >"$TMP/prog.txt" 2>"$TMP/prog.err" || fail "same-process run exited $?"
grep -q 'ops/s' "$TMP/prog.txt" || { cat "$TMP/prog.txt" >&2; fail "same-process summary"; }
grep -q 'p99' "$TMP/prog.err" || { cat "$TMP/prog.err" >&2; fail "no progress line"; }
echo "ok progress line"

# Errors that the library reports.
expect_error "stream over UDP" 1 "needs a connected protocol" \
    "$BENCH" stream --protocol DATAGRAM_SOCKET_UDP --port "$port"
expect_error "UDP size" 1 "size must be" \
    "$BENCH" pingpong --protocol DATAGRAM_SOCKET_UDP --size 100k --port "$port"
expect_error "UDP threads" 1 "server-threads 1" \
    "$BENCH" pingpong --protocol DATAGRAM_SOCKET_UDP --server-threads 2 --port "$port"
expect_error "unix listen" 1 "cannot listen on" \
    "$BENCH" pingpong --protocol STREAM_SOCKET_UNIX --address "$TMP/no/such/dir/s" --port "$port"
expect_error "unix listen, server role" 1 "cannot listen on" \
    "$BENCH" pingpong --role server --protocol STREAM_SOCKET_UNIX --address "$TMP/no/such/dir/s"
# A UDP socket held by a helper that picks its own free port.
python3 -u -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); time.sleep(5)' \
    >"$TMP/udp-port" &
holder=$!
for _ in $(seq 50); do
    [ -s "$TMP/udp-port" ] && break
    sleep 0.1
done
expect_error "UDP port in use" 1 "cannot bind" \
    "$BENCH" pingpong --protocol DATAGRAM_SOCKET_UDP --port "$(cat "$TMP/udp-port")"
kill $holder 2>/dev/null
wait $holder 2>/dev/null

# Block workload on a temporary file, per backend.
blk=(--duration 0.3 --warmup 0.1 --json)
expect_error "block: cannot create" 1 "cannot create" \
    "$BENCH" block --file "$TMP/no/such/dir/f" "${blk[@]}"
for backend in IO_URING LIBAIO; do
    "$BENCH" block --backend $backend --file "$TMP/blk-$backend" --file-size 16M --rw randrw \
        --depth 8 --client-threads 2 "${blk[@]}" >"$TMP/blk.json" 2>"$TMP/blk.err"
    rc=$?
    if [ $rc -eq 3 ]; then
        # Both backends are required capabilities (tests/common/test.c).
        case ",${EVPL_TEST_NOT_REQUIRED:-}," in
        *,$backend,*)
            echo "block $backend unavailable (excused): $(cat "$TMP/blk.err")"
            continue
            ;;
        esac
        fail "block $backend unavailable, but it is required: $(cat "$TMP/blk.err")"
    fi
    [ $rc -eq 0 ] || { cat "$TMP/blk.err" >&2; fail "block $backend exited $rc"; }
    check_json "$TMP/blk.json" 4096
    "$BENCH" block --backend $backend --file "$TMP/blk-$backend" --rw write --size 8k \
        "${blk[@]}" >"$TMP/blkw.json" || fail "block $backend write exited $?"
    check_json "$TMP/blkw.json" 8192
    head -c 1024 /dev/zero >"$TMP/tiny-$backend"
    expect_error "block $backend: file smaller than --size" 1 "smaller than --size" \
        "$BENCH" block --backend $backend --file "$TMP/tiny-$backend" "${blk[@]}"
done
echo "PASS"
exit 0
