#!/usr/bin/env bash
#
# Run quality-gate legs (make targets) one after the other, as CI does, and
# end with a table: each leg's verdict and wall time.  A failing leg does not
# stop the next ones (the log shows every problem at once), but any failure
# makes the script fail.
#
#   scripts/run-legs.sh LEG...
#
# Legs: test demo asan tsan valgrind lint coverage stress (lint = clang,
# format-check and static-analysis), or any other make target.  Make
# variables given to an enclosing `make check-all` (BUILD_PREFIX=..., JOBS=...)
# reach the legs through MAKEFLAGS.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

if [ $# -eq 0 ]; then
    echo "usage: $0 LEG..." >&2
    exit 2
fi

make_cmd=${MAKE:-make}
results=()
failed=0
start_all=$(date +%s)
for leg in "$@"; do
    echo
    echo "================================================================"
    echo "== leg: $leg    ($(date -u '+%H:%M:%S UTC'))"
    echo "================================================================"
    start=$(date +%s)
    "$make_cmd" --no-print-directory "$leg" </dev/null
    rc=$?
    secs=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        verdict=pass
    else
        verdict="FAIL (exit $rc)"
        failed=$((failed + 1))
    fi
    results+=("$(printf '%-12s %-16s %4d:%02d' "$leg" "$verdict" $((secs / 60)) $((secs % 60)))")
    echo "== leg $leg: $verdict in ${secs}s"
done
total=$(($(date +%s) - start_all))

echo
echo "================================================================"
printf '%-12s %-16s %7s\n' leg verdict "time"
printf '%s\n' "${results[@]}"
printf '%-12s %-16s %4d:%02d\n' total "$([ $failed -eq 0 ] && echo pass || echo "$failed failed")" \
    $((total / 60)) $((total % 60))
echo "================================================================"
[ "$failed" -eq 0 ]
