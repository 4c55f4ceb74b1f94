#!/usr/bin/env bash
#
# Coverage leg: run the whole ctest suite of a gcov build tree (configured by
# `make coverage` with -O0 --coverage), then print the per-module line
# coverage table (scripts/coverage-table.py) and write docs/coverage.md.
#
#   scripts/coverage.sh BUILD_DIR [ctest arguments...]
#
# Fails when a test fails, or a module is under EVPL_COV_MODULE_MIN (80) or
# the total under EVPL_COV_TOTAL_MIN (85).  EVPL_COV_MARKDOWN names the
# markdown file (default docs/coverage.md; empty: do not write one).
set -uo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR [ctest arguments...]" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
markdown=${EVPL_COV_MARKDOWN-$root/docs/coverage.md}

# Counters of an earlier run would add up with this one.
find "$build_dir" -name '*.gcda' -delete

log=$(mktemp "${TMPDIR:-/tmp}/evpl-cov.XXXXXX")
trap 'rm -f "$log" "$log.json"' EXIT
"$here/run-ctest.sh" "$build_dir" "$@" 2>&1 | tee "$log"
test_rc=${PIPESTATUS[0]}

echo
echo "coverage: collecting with gcovr"
# Only the library (src/, include/) and the tools count; tests, examples and
# bench are not measured; CMakeFiles/<version>/ holds CMake's compiler probe.
# No -j: gcovr 5.2 hangs when a parallel worker hits
# a parse error instead of exiting.
(cd "$root" && gcovr --root "$root" --object-directory "$build_dir" \
    --filter "$root/src/" --filter "$root/include/" --filter "$root/tools/" \
    --exclude-directories '.*/CMakeFiles/[0-9][^/]*' \
    --exclude-unreachable-branches --json-summary "$log.json") || {
    echo "coverage: gcovr failed" >&2
    exit 1
}

tests_line=$(grep -E '^ctest: ' "$log" | tail -n 1)
mapfile -t skips < <(sed -n '/^Skipped tests/,/^ctest: /p' "$log" | grep -E '^  [^ ]+: ' | sed 's/^  //')

md_args=()
if [ -n "$markdown" ]; then
    md_args=(--markdown "$markdown")
fi
python3 "$here/coverage-table.py" "$log.json" --root "$root" "${md_args[@]}" \
    --tests "$tests_line" --skips "${skips[@]}"
table_rc=$?

if [ "$test_rc" -ne 0 ]; then
    echo "coverage: the suite failed (ctest exit $test_rc)"
    exit "$test_rc"
fi
exit "$table_rc"
