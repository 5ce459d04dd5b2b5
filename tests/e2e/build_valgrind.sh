#!/bin/sh
# A full signed build (deb + rpm) under valgrind: no invalid access, no
# leak of ours ("definitely lost"; library one-time state is suppressed
# in tests/valgrind.supp with its reason).
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/build.sh
. "$top/tests/lib/build.sh"

if [ "${SANITIZE:-}" = 1 ]; then
    echo "# skipped under SANITIZE=1: valgrind cannot run ASan binaries"
    exit 0
fi
copy_source "$T/src"
valgrind_log=$T/valgrind.log
check "valgrind: a signed build is clean" valgrind --log-file="$valgrind_log" -q --leak-check=full \
    --errors-for-leak-kinds=definite --error-exitcode=9 \
    --suppressions="$top/tests/valgrind.supp" \
    "$PKGSMITH" build --key "$FPR" --out "$T/out" "$T/src"
check_eq "valgrind: both packages written" 2 "$(find "$T/out" -name '*.*' -type f | wc -l)"
grep -v "^==" "$T/.out" | sed "s/^/#   /" | tail -n 5
