#!/usr/bin/env bash
# bench/ab (paired A/B comparison): two configurations, two short rounds
# each, plain and pinned; the table must list both with a median above zero,
# the first one's ratio to itself exactly 1.000 and the second's ratio
# positive and inside its 95% interval; a malformed
# specification must fail with one line.  Exit 0 pass, 1 fail.
set -u
BENCH=${1:?usage: ab.sh PATH/TO/evpl-bench}
AB=$(dirname "$0")/../../bench/ab
fail() { echo "FAIL: $*" >&2; exit 1; }

for pin in "" --pin; do
    out=$("$AB" --bin "$BENCH" --pairs 2 --duration 0.2 --warmup 0.1 $pin \
        'tcp=pingpong --protocol STREAM_SOCKET_TCP' \
        "again=BIN=$BENCH pingpong --protocol STREAM_SOCKET_TCP --depth 4") ||
        fail "bench/ab $pin exited $?"
    echo "$out"
    echo "$out" | grep -Eq '^ +tcp +[1-9][0-9.]* +[0-9.]+  1\.000 \[1\.000-1\.000\]$' ||
        fail "no baseline row ($pin)"
    row=$(echo "$out" | grep -E '^ +again +[1-9][0-9.]* +[0-9.]+  [0-9]+\.[0-9]{3} \[[0-9.]+-[0-9.]+\]$') ||
        fail "no second row ($pin)"
    # The second configuration's ratio is a real comparison: positive, and
    # inside its own 95% interval (the baseline's 1.000 says nothing).
    echo "$row" | awk '{ split(substr($5, 2, length($5) - 2), ci, "-");
                         exit !($4 > 0 && ci[1] > 0 && ci[1] <= $4 && $4 <= ci[2]) }' ||
        fail "second row's ratio is not inside its interval ($pin): $row"
done

err=$("$AB" --bin "$BENCH" nolabel 2>&1) && fail "a malformed specification was accepted"
[ "$(echo "$err" | wc -l)" = 1 ] || fail "more than one line for a malformed specification: $err"
echo "$err" | grep -q 'bad specification' || fail "unexpected message: $err"
echo "ok"
