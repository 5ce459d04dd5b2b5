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

# One option table drives the parser, --help and the man page.
check_fails "cli: a number out of range names the option and the value" 64 "--keep: '0' is not" \
    "$PKGSMITH" repo init --root "$T/r" --keep 0
check_fails "cli: a bad size names the option and the value" 64 "--rate-limit: '10Q' is not a size" \
    "$PKGSMITH" mirror sync --rate-limit 10Q
check_fails "cli: an option without its value is named" 64 "no value for: --root" "$PKGSMITH" bundle list --root
for c in build sign repo mirror bundle; do
    "$PKGSMITH" help "$c" | sed -n '/^OPTIONS/,/^EXIT/s/^ *\(-., \)\{0,1\}--\([a-z-]*\).*/\2/p' >"$T/help-$c"
    "$PKGSMITH" help --man "$c" >"$T/$c.1"
    missing=$(while read -r o; do grep -q -- "\\\\-\\\\-$o\\\\fR" "$T/$c.1" || echo "$o"; done <"$T/help-$c")
    check_eq "cli: the man page of $c has every option of its --help" "" "$missing"
    check "cli: the man page of $c renders without a warning" sh -c \
        "[ \$(wc -l <'$T/help-$c') -ge 4 ] && groff -man -Tutf8 -ww -z '$T/$c.1' 2>'$T/$c.warn' && [ ! -s '$T/$c.warn' ]"
done

# Relative --out and SOURCE-DIR (librpm runs %install from another cwd).
copy_source "$T/src"
check "build: relative --out and SOURCE-DIR" sh -c "cd '$T' && '$PKGSMITH' build --no-sign --out rel-out src"
check_eq "build: both packages in the relative --out" 2 "$(find "$T/rel-out" -name "*.*" -type f | wc -l)"
check "build --json lists the outputs" sh -c \
    "cd '$T' && '$PKGSMITH' build --no-sign --json --out json-out src | grep -q '^{\"ok\":true,\"outputs\":\[\".*\.rpm\",\".*\.deb\"\]}$'"
check_fails "build --json reports errors as JSON" 2 '"code":"input"' "$PKGSMITH" build --no-sign --json --set nope=1 "$T/src"
