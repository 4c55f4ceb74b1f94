#!/usr/bin/env bash
#
# Run the ctest suite of a build tree and end with a summary that counts
# skipped tests and says why each one skipped (the last line its program
# printed, by convention "SKIP file:line: reason").
#
#   scripts/run-ctest.sh BUILD_DIR [ctest arguments...]
#
# Exits with ctest's status.  An empty selection is an error, never a pass.
set -uo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR [ctest arguments...]" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
shift

log=$(mktemp "${TMPDIR:-/tmp}/evpl-ctest.XXXXXX")
trap 'rm -f "$log"' EXIT

(cd "$build_dir" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# Result lines look like "  3/12 Test  #3: name ......   Passed    0.01 sec"
# or "...***Failed", "***Skipped", "***Timeout", "***Exception: ...", "***Not Run";
# under `ctest -T memcheck` (scripts/valgrind.sh) they say "MemCheck #3:".
result='^ *[0-9]+/[0-9]+ (Test|MemCheck) +#[0-9]+: '
count() { grep -cE "$result.*$1" "$log" || true; }
passed=$(count ' Passed ')
skipped=$(count '\*\*\*Skipped')
total=$(grep -cE "$result" "$log" || true)
failed=$((total - passed - skipped))

echo
if [ "$skipped" -gt 0 ]; then
    echo "Skipped tests (the machine lacks what they need):"
    names=$(grep -E "$result"'.*\*\*\*Skipped' "$log" |
        sed -E 's/^ *[0-9]+\/[0-9]+ (Test|MemCheck) +#[0-9]+: ([^ ]+) .*/\2/')
    last_test_log="$build_dir/Testing/Temporary/LastTest.log"
    # ctest -T memcheck writes its per-test output to LastDynamicAnalysis_<tag>.log.
    if grep -qE '^ *[0-9]+/[0-9]+ MemCheck +#' "$log"; then
        last_test_log=$(ls -t "$build_dir"/Testing/Temporary/LastDynamicAnalysis_*.log 2>/dev/null | head -n 1)
    fi
    for name in $names; do
        reason=""
        if [ -f "$last_test_log" ]; then
            # The last non-empty output line of that test in ctest's log.
            reason=$(awk -v want="$name" '
                /^[0-9]+\/[0-9]+ Test: / { cur = substr($0, index($0, ": ") + 2); inout = 0; next }
                cur == want && /^Output:$/ { getline; inout = 1; next }
                inout && /^<end of output>$/ { inout = 0; next }
                inout && cur == want && NF { last = $0 }
                END { print last }' "$last_test_log")
        fi
        echo "  $name: ${reason:-(no reason printed)}"
    done
fi
echo "ctest: $passed passed, $failed failed, $skipped skipped"

# A skip that is not in tests/allowed-skips.txt fails the run: a capability
# the machine should have (io_uring, TLS, a tool install-deps.sh installs)
# that turns tests into skips must not leave CI green.
allowed_file="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/allowed-skips.txt"
if [ "$skipped" -gt 0 ]; then
    allowed=$(grep -vE '^[[:space:]]*(#|$)' "$allowed_file" | paste -sd '|' -)
    if [ -n "${EVPL_ALLOWED_SKIPS_EXTRA:-}" ]; then
        allowed="${allowed:+$allowed|}${EVPL_ALLOWED_SKIPS_EXTRA}"
    fi
    unexpected=""
    for name in $names; do
        if ! printf '%s\n' "$name" | grep -qxE "(${allowed:-^$})"; then
            unexpected="$unexpected $name"
        fi
    done
    if [ -n "$unexpected" ]; then
        echo "FAIL: skipped but not in tests/allowed-skips.txt:$unexpected"
        [ "$rc" -ne 0 ] || rc=1
    fi
fi
exit "$rc"
