#!/usr/bin/env bash
# Runs malformed.cases through xdrzcc (usage: malformed.sh XDRZCC CASES), then
# the command-line error cases.  Each case: the expected exit status, the
# expected diagnostic text, no crash (status >= 128), and on failure no
# output left behind (stale outputs removed, no temporary files).
set -u
xdrzcc=$1
cases=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
count=0

fail() {
    echo "FAIL $1: $2"
    echo "---- input:"
    cat "$tmp/in.x" 2>/dev/null
    echo "---- stderr:"
    cat "$tmp/err" 2>/dev/null
    failures=$((failures + 1))
}

run_case() { # name status text
    local name=$1 want=$2 text=$3 rc
    count=$((count + 1))
    sed -i 's/@NUL@/\x00/' "$tmp/in.x"
    echo stale > "$tmp/out.c"
    echo stale > "$tmp/out.h"
    timeout 20 "$xdrzcc" "$tmp/in.x" "$tmp/out.c" "$tmp/out.h" 2> "$tmp/err" > /dev/null
    rc=$?
    if [ "$rc" -ge 124 ]; then
        fail "$name" "crashed or hung (status $rc)"
    elif [ "$rc" != "$want" ]; then
        fail "$name" "exit status $rc, expected $want"
    elif ! grep -qF -- "$text" "$tmp/err"; then
        fail "$name" "diagnostic does not contain: $text"
    elif [ "$rc" != 0 ] && { [ -e "$tmp/out.c" ] || [ -e "$tmp/out.h" ]; }; then
        fail "$name" "outputs left behind after a failure"
    elif ls "$tmp" | grep -q 'out\.[ch]\.'; then
        fail "$name" "temporary files left behind"
    elif [ "$rc" = 0 ] && ! grep -q marshall "$tmp/out.h"; then
        fail "$name" "no output written"
    fi
    rm -f "$tmp"/out.*
}

name=""
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
    "#"*) [ -z "$name" ] && continue ;;
    esac
    if [[ "$line" == "=== "* ]]; then
        [ -n "$name" ] && run_case "$name" "$status" "$text"
        hdr=${line#=== }
        name=$(echo "${hdr%% | *}" | xargs)
        rest=${hdr#* | }
        status=$(echo "${rest%% | *}" | xargs)
        text=${rest#* | }
        : > "$tmp/in.x"
        continue
    fi
    [ -n "$name" ] && printf '%s\n' "$line" >> "$tmp/in.x"
done < "$cases"
[ -n "$name" ] && run_case "$name" "$status" "$text"

# command line (XDR.md 1.1)
cli() { # name want text args...
    local name=$1 want=$2 text=$3 rc
    shift 3
    count=$((count + 1))
    : > "$tmp/in.x"
    timeout 20 "$xdrzcc" "$@" 2> "$tmp/err" > /dev/null
    rc=$?
    if [ "$rc" != "$want" ]; then
        fail "cli_$name" "exit status $rc, expected $want"
    elif [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/err"; then
        fail "cli_$name" "diagnostic does not contain: $text"
    fi
}
printf 'struct s { int a; };\n' > "$tmp/good.x"
cli help 0 "usage: xdrzcc" -h
cli unknown_option 1 "unknown option '-q'" -q "$tmp/good.x" "$tmp/o.c" "$tmp/o.h"
cli clustered_unknown 1 "unknown option '-x'" -rx "$tmp/good.x" "$tmp/o.c" "$tmp/o.h"
cli too_few 1 "expected input.x output.c output.h" "$tmp/good.x" "$tmp/o.c"
cli too_many 1 "too many arguments" "$tmp/good.x" "$tmp/o.c" "$tmp/o.h" extra
cli unreadable 1 "cannot read" "$tmp/nosuch.x" "$tmp/o.c" "$tmp/o.h"
cli unwritable 1 "cannot write" "$tmp/good.x" "$tmp/nodir/o.c" "$tmp/o.h"
[ -e "$tmp/o.h" ] && fail cli_unwritable "header left behind"
cli clustered_ok 0 "" -re -- "$tmp/good.x" "$tmp/o c.c" "$tmp/o h.h"
grep -qF "#include \"$tmp/o h.h\"" "$tmp/o c.c" || fail cli_spaces "include of the exact header path missing"

echo "$count cases, $failures failures"
[ "$failures" = 0 ]
