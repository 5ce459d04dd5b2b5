#!/bin/sh
# Reproducibility: the same sources in two directories, built twice with the
# same SOURCE_DATE_EPOCH, give byte-identical unsigned packages.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

copy_source "$T/a"
copy_source "$T/b"
touch -d '2030-01-01' "$T/b/debian/postinst" # mtimes must not leak in
for d in a b; do
    SOURCE_DATE_EPOCH=1700000000 "$PKGSMITH" build --no-sign --out "$T/out-$d" "$T/$d" >/dev/null
done
n=0
for f in "$T"/out-a/*; do
    n=$((n + 1))
    check "reproducible: $(basename "$f")" cmp "$f" "$T/out-b/$(basename "$f")"
done
check_eq "reproducible: one deb and one rpm built" 2 "$n"
# Without SOURCE_DATE_EPOCH the changelog date is used: still identical.
"$PKGSMITH" build --no-sign --out "$T/out-c" "$T/a" >/dev/null
"$PKGSMITH" build --no-sign --out "$T/out-d" "$T/b" >/dev/null
for f in "$T"/out-c/*; do
    check "reproducible without SOURCE_DATE_EPOCH: $(basename "$f")" cmp "$f" "$T/out-d/$(basename "$f")"
done
deb=$(ls "$T"/out-c/*.deb)
check "reproducible: mtimes are the changelog date" sh -c \
    "dpkg-deb --contents '$deb' | awk '{print \$4}' | sort -u | grep -qx '$(date -u -d "$(dpkg-parsechangelog -l "$T/a/debian/changelog" -S Date)" +%Y-%m-%d)'"
