#!/usr/bin/env bash
#
# Run tests of a (Debug, unsanitized) build tree under valgrind memcheck,
# through `ctest -T memcheck`, so that ctest's selection, timeouts, skip codes
# and scripts/run-ctest.sh's skip summary work as in every other leg.
#
#   scripts/valgrind.sh BUILD_DIR [ctest arguments...]
#
# A test fails when valgrind finds an error (--error-exitcode=1): invalid
# reads/writes, uses of uninitialised values, bad frees, and definite or
# indirect leaks (--errors-for-leak-kinds=definite,indirect).  For each failed
# test the valgrind report is printed after the summary.
#
# Environment:
#   VALGRIND_OPTIONS   extra valgrind options (appended)
#   VALGRIND_SUPP      suppression file (default scripts/valgrind.supp when it
#                      exists)
#
# ctest prints "Cannot find file: .../DartConfiguration.tcl": harmless, the
# project has no CDash configuration; the memcheck settings are passed with
# --overwrite instead.
set -uo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR [ctest arguments...]" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

valgrind=$(command -v valgrind) || {
    echo "valgrind: not installed (scripts/install-deps.sh installs it)" >&2
    exit 1
}

opts="--error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect"
opts+=" --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30"
# Children too: tests that re-execute themselves (under unshare, or as a
# client process).  The system tools and interpreters they run are not ours
# to check.
opts+=" --trace-children=yes --trace-children-skip=*/python*,*/ip,*/openssl,*/promtool,*/ldd"
opts+=",*/cmake,*/cc,*/gcc*,*/clang*,*/ld,*/ld.*,*/collect2,*/as,*/pkg-config,*/ninja,*/make"
opts+=",*/mktemp,*/rm,*/cat,*/grep,*/sed,*/awk,*/mawk,*/head,*/tail,*/wc,*/seq,*/sleep"
opts+=",*/sort,*/tr,*/date,*/dirname,*/basename,*/nsenter,*/sh,*/dash,*/kill"
opts+=",*/nginx,*/curl,*/rpcgen,*/rpcinfo,*/cpp" # peers and their tools: not our code
supp=${VALGRIND_SUPP:-$here/valgrind.supp}
if [ -f "$supp" ]; then
    opts+=" --suppressions=$supp"
fi
opts+=" ${VALGRIND_OPTIONS:-}"

# Stale reports of an earlier run would be printed for this run's failures.
rm -f "$build_dir"/Testing/Temporary/MemoryChecker.*.log

"$here/run-ctest.sh" "$build_dir" -T memcheck \
    --overwrite "MemoryCheckCommand=$valgrind" \
    --overwrite "MemoryCheckCommandOptions=$opts" "$@"
rc=$?

failed_log=$(ls -t "$build_dir"/Testing/Temporary/LastTestsFailed*.log 2>/dev/null | head -n 1)
if [ "$rc" -ne 0 ] && [ -n "$failed_log" ]; then
    echo
    echo "valgrind reports of the failed tests:"
    # Lines look like "12:name".
    while IFS=: read -r num name; do
        report="$build_dir/Testing/Temporary/MemoryChecker.$num.log"
        echo "---- $name ($report)"
        if [ -f "$report" ]; then
            cat "$report"
        else
            echo "(no valgrind report: the test failed on its own, see its output above)"
        fi
    done <"$failed_log"
fi
exit "$rc"
