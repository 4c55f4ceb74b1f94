#!/usr/bin/env bash
# usage: rpcsvc.sh XDRZCC LIST SOURCE_DIR -- runs rpcsvc.list (see there).
# Skips (77) when /usr/include/rpcsvc or cpp is missing.
set -u
xdrzcc=$1
list=$2
src=$3
dir=/usr/include/rpcsvc
[ -d "$dir" ] || { echo "SKIP: $dir missing (install libtirpc-dev rpcsvc-proto)"; exit 77; }
command -v cpp >/dev/null || { echo "SKIP: no cpp"; exit 77; }
compilers=()
for cc in gcc clang; do command -v $cc >/dev/null && compilers+=($cc); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
accepted=()
refused=()
while read -r file expect netobj cflags diag; do
    case "$file" in ""|"#"*) continue ;; esac
    [ -f "$dir/$file" ] || { echo "note: $file not installed, not checked"; continue; }
    b=${file%.x}
    {
        [ "$netobj" = yes ] && printf 'const MAX_NETOBJ_SZ = 1024;\ntypedef opaque netobj<MAX_NETOBJ_SZ>;\n'
        cpp -P -undef -nostdinc -x c -DRPC_XDR "$dir/$file" 2>/dev/null
    } > "$tmp/$b.x"
    [ "$cflags" = - ] && cflags=""
    cflags=${cflags//,/ }
    for mode in plain rpc; do
        opt=""
        [ $mode = rpc ] && opt=-r
        "$xdrzcc" $opt "$tmp/$b.x" "$tmp/${b}_$mode.c" "$tmp/${b}_$mode.h" 2> "$tmp/err"
        rc=$?
        if [ "$expect" = refuse ]; then
            if [ $rc != 1 ] || ! grep -qF -- "$diag" "$tmp/err"; then
                echo "FAIL $file ($mode): expected refusal with '$diag', got status $rc:"
                cat "$tmp/err"
                failures=$((failures + 1))
            fi
            continue
        fi
        if [ $rc != 0 ]; then
            echo "FAIL $file ($mode): generator status $rc:"
            cat "$tmp/err"
            failures=$((failures + 1))
            continue
        fi
        # deterministic: a second run gives the same bytes
        "$xdrzcc" $opt "$tmp/$b.x" "$tmp/again.c" "$tmp/again.h" 2> /dev/null
        sed -i "s|again\.h|${b}_$mode.h|" "$tmp/again.c"
        if ! cmp -s "$tmp/again.c" "$tmp/${b}_$mode.c" || ! cmp -s "$tmp/again.h" "$tmp/${b}_$mode.h"; then
            echo "FAIL $file ($mode): output differs between two runs"
            failures=$((failures + 1))
        fi
        for cc in "${compilers[@]}"; do
            if ! $cc -std=gnu11 -Wall -Wextra -Werror -I"$src/include" -I"$tmp" $cflags \
                -c "$tmp/${b}_$mode.c" -o "$tmp/$b.o" 2> "$tmp/cc.err"; then
                echo "FAIL $file ($mode): $cc:"
                head -20 "$tmp/cc.err"
                failures=$((failures + 1))
            fi
        done
    done
    if [ "$expect" = accept ]; then accepted+=("$file"); else refused+=("$file"); fi
done < "$list"
echo "accepted: ${accepted[*]}"
echo "refused (as expected): ${refused[*]}"
echo "compilers: ${compilers[*]}; $failures failures"
[ $failures = 0 ]
