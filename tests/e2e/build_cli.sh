#!/bin/sh
# The CLI's help texts, usage errors and exit codes.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

check "cli: --help lists build" sh -c "'$PKGSMITH' --help | grep -q '^   build '"
check "cli: help build shows the synopsis" sh -c "'$PKGSMITH' help build | grep -q 'pkgsmith build \[--out DIR\]'"
check "cli: build --help" sh -c "'$PKGSMITH' build --help | grep -q '^EXIT STATUS'"
check_fails "cli: unknown command exits 64" 64 "not a pkgsmith command" "$PKGSMITH" frobnicate
check_fails "cli: no command exits 64" 64 "usage:" "$PKGSMITH"
check_fails "cli: bad --format exits 64" 64 "--format" "$PKGSMITH" build --format zip --no-sign "$top"
check_fails "cli: --key with --no-sign exits 64" 64 "exclude" "$PKGSMITH" build --key X --no-sign "$top"
check "cli: --version" sh -c "'$PKGSMITH' --version | grep -q '^pkgsmith [0-9]'"

# Relative --out and SOURCE-DIR (librpm runs %install from another cwd).
copy_source "$T/src"
check "build: relative --out and SOURCE-DIR" sh -c "cd '$T' && '$PKGSMITH' build --no-sign --out rel-out src"
check_eq "build: both packages in the relative --out" 2 "$(find "$T/rel-out" -name "*.*" -type f | wc -l)"
check "build --json lists the outputs" sh -c \
    "cd '$T' && '$PKGSMITH' build --no-sign --json --out json-out src | grep -q '^{\"ok\":true,\"outputs\":\[\".*\.rpm\",\".*\.deb\"\]}$'"
check_fails "build --json reports errors as JSON" 2 '"code":"input"' "$PKGSMITH" build --no-sign --json --set nope=1 "$T/src"
