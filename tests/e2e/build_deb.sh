#!/bin/sh
# The .deb of alloy-journal-loki, built signed by pkgsmith, as dpkg-deb,
# lintian and debsig-verify see it.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/build.sh
. "$top/tests/lib/build.sh"

copy_source "$T/src"
check "build: signed deb builds" build_signed "$T/src" "$T/out" --format deb
deb=$(ls "$T"/out/alloy-journal-loki_*_all.deb 2>/dev/null)
version=$(sed -n '1s/.*(\(.*\)).*/\1/p' "$top/debian/changelog")
check_eq "build: deb named <name>_<version>_all.deb" \
    "$T/out/alloy-journal-loki_${version}_all.deb" "$deb"

dpkg-deb --info "$deb" >"$T/info" 2>&1
check "dpkg-deb --info: package and version" \
    grep -q "Package: alloy-journal-loki" "$T/info"
check "dpkg-deb --info: Architecture all" grep -q "^ Architecture: all" "$T/info"
check "dpkg-deb --info: depends on alloy" grep -Eq "^ Depends:.*\balloy\b" "$T/info"
check "dpkg-deb --info: postinst present" grep -q " postinst " "$T/info"
check "dpkg-deb --info: templates present" grep -q " templates " "$T/info"
dpkg-deb --contents "$deb" >"$T/contents" 2>&1
check "dpkg-deb --contents: root owned" sh -c "! grep -v ' root/root ' '$T/contents'"
check "dpkg-deb --contents: shared script installed" \
    grep -q "usr/sbin/alloy-journal-loki-configure" "$T/contents"
check "dpkg-deb --contents: copyright" grep -q "usr/share/doc/alloy-journal-loki/copyright" "$T/contents"
check "dpkg-deb: members in order" sh -c \
    "ar t '$deb' | tr '\n' ' ' | grep -qx 'debian-binary control.tar.xz data.tar.xz _gpgorigin '"

lintian --no-tag-display-limit "$deb" >"$T/lintian" 2>&1
check "lintian: no errors" sh -c "! grep '^E:' '$T/lintian'"
grep '^[EW]:' "$T/lintian" | sed 's/^/#   /'

# debsig-verify under a test policy for our key.
"$top/scripts/debsig-policy" "$T/debsig" "$FPR"
check "debsig-verify: accepts the origin signature" dsv "$deb"
cp "$deb" "$T/tampered.deb"
off=$(member_offset "$T/tampered.deb" data.tar.xz)
flip_byte "$T/tampered.deb" $((off + 100))
check_fails "debsig-verify: refuses after one byte of data.tar is flipped" 13 "." dsv "$T/tampered.deb"
