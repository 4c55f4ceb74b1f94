#!/usr/bin/env bash
#
# Run a set of tests RUNS times in a row and report every failure: flaky
# tests are bugs (issue 6), so one failure in any run fails the whole script.
#
#   scripts/stress.sh BUILD_DIR RUNS CTEST_REGEX [ctest arguments...]
#
# Each run is a full `ctest -R CTEST_REGEX` pass (tests of a run go in
# parallel with the ctest arguments given, e.g. -j 2), so the tests also
# compete for the CPUs as they do in CI.  The output of every failing run is
# kept in BUILD_DIR/stress/run-N.log.  At the end a table lists each test that
# failed: how many runs it failed, which runs, and the first failure's output.
# Skips (exit 77) are not failures but are counted and reported.
set -uo pipefail

if [ $# -lt 3 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR RUNS CTEST_REGEX [ctest arguments...]" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
runs=$2
regex=$3
shift 3

logdir="$build_dir/stress"
rm -rf "$logdir"
mkdir -p "$logdir"

declare -A fails=() fail_runs=() first_log=() skips=()
ntests=0
for ((run = 1; run <= runs; run++)); do
    log="$logdir/run-$run.log"
    (cd "$build_dir" && ctest --output-on-failure --no-tests=error -R "$regex" "$@") >"$log" 2>&1
    rc=$?
    result='^ *[0-9]+/[0-9]+ Test +#[0-9]+: '
    ntests=$(grep -cE "$result" "$log" || true)
    bad=$(grep -E "$result" "$log" | grep -vE ' Passed |\*\*\*Skipped' |
        sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*/\1/')
    for name in $(grep -E "$result.*\*\*\*Skipped" "$log" |
        sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*/\1/'); do
        skips[$name]=$((${skips[$name]:-0} + 1))
    done
    nbad=0
    for name in $bad; do
        nbad=$((nbad + 1))
        fails[$name]=$((${fails[$name]:-0} + 1))
        fail_runs[$name]="${fail_runs[$name]:-} $run"
        if [ -z "${first_log[$name]:-}" ]; then
            first_log[$name]=$log
        fi
    done
    if [ "$rc" -ne 0 ] && [ "$nbad" -eq 0 ]; then
        # ctest failed without a failing test line (e.g. nothing selected).
        echo "stress: run $run: ctest exited $rc without a failing test; see $log"
        cat "$log"
        exit 1
    fi
    echo "stress: run $run/$runs: $ntests tests, $nbad failed${bad:+: $(echo $bad)}"
    if [ "$nbad" -eq 0 ]; then
        rm -f "$log"
    fi
done

echo
if [ ${#skips[@]} -gt 0 ]; then
    echo "Skipped (exit 77) in some runs:"
    for name in "${!skips[@]}"; do
        echo "  $name: skipped in ${skips[$name]}/$runs runs"
    done
fi
if [ ${#fails[@]} -eq 0 ]; then
    echo "stress: $runs runs of $ntests tests, no failure"
    exit 0
fi

echo "stress: FLAKY OR BROKEN TESTS ($runs runs):"
for name in $(printf '%s\n' "${!fails[@]}" | sort); do
    echo "  $name: failed ${fails[$name]}/$runs runs (runs:${fail_runs[$name]})"
done
for name in $(printf '%s\n' "${!fails[@]}" | sort); do
    echo
    echo "---- first failure of $name (${first_log[$name]}):"
    # ctest's --output-on-failure block: from the result line to the next
    # test's "Start" line.
    awk -v want="$name" '
        $0 ~ ("Test +#[0-9]+: " want " ") { on = 1; print; next }
        on && /^ +Start +[0-9]+: / { on = 0 }
        on && /^ *[0-9]+\/[0-9]+ Test +#/ { on = 0 }
        on { print }' "${first_log[$name]}" | head -n 60
done
exit 1
