#!/bin/sh
# The .rpm of alloy-journal-loki, built signed by pkgsmith, as rpm and
# rpmlint see it.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/build.sh
. "$top/tests/lib/build.sh"

copy_source "$T/src"
check "build: signed rpm builds" build_signed "$T/src" "$T/out" --format rpm
version=$(sed -n '1s/.*(\(.*\)-\([^-]*\)).*/\1-\2/p' "$top/debian/changelog")
rpmf=$T/out/alloy-journal-loki-$version.noarch.rpm
check "build: rpm named <name>-<version>-<release>.noarch.rpm" test -f "$rpmf"

rpm -qpi "$rpmf" >"$T/qpi" 2>&1
check "rpm -qpi: name" grep -q "^Name *: alloy-journal-loki" "$T/qpi"
check "rpm -qpi: version" grep -q "^Version *: ${version%-*}" "$T/qpi"
check "rpm -qpi: noarch" grep -q "^Architecture: noarch" "$T/qpi"
check "rpm -qpi: signature line" grep -Eq "^Signature *: RSA/SHA(256|512)" "$T/qpi"
check "rpm -qpR: requires alloy" sh -c "rpm -qpR '$rpmf' | grep -qx 'alloy'"
rpm -qp --scripts "$rpmf" >"$T/scripts" 2>&1
check "rpm -qp --scripts: %post calls the shared script" \
    grep -q "alloy-journal-loki-configure" "$T/scripts"
check "rpm -qp --scripts: %preun removes through the shared script on erase" \
    sh -c "sed -n '/^preuninstall scriptlet/,\$p' '$T/scripts' | grep -q 'alloy-journal-loki-configure --hook remove'"
rpm -qplv "$rpmf" >"$T/files" 2>&1
check "rpm -qplv: shared script is 0755 root" \
    grep -Eq '^-rwxr-xr-x +1 root +root .*/alloy-journal-loki-configure$' "$T/files"
check "rpm -qpc: sysconfig is a config file" \
    sh -c "rpm -qpc '$rpmf' | grep -qx /etc/sysconfig/alloy-journal-loki"
check "rpm -qp: sysconfig is noreplace" sh -c \
    "rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' '$rpmf' | grep -q '^/etc/sysconfig/alloy-journal-loki cn'"

db=$T/rpmdb
mkdir -p "$db"
rk() { rpm --dbpath "$db" -K "$@"; }
check_fails "rpm -K: unknown key is reported before import" 1 "NOKEY|NOT OK" rk "$rpmf"
check "rpm --import of the public key" rpm --dbpath "$db" --import "$T/signing-key.asc"
check_fails "rpm -K: digests and signatures OK" 0 "digests signatures OK" rk "$rpmf"
rpm --dbpath "$db" -Kv "$rpmf" >"$T/kv" 2>&1
check "rpm -Kv: header V4 RSA/SHA256 signature OK" grep -Eq "Header V4 RSA/SHA(256|512) Signature, key ID [0-9a-f]+: OK" "$T/kv"
check "rpm -Kv: header+payload signature OK" grep -Eq "^ +V4 RSA/SHA(256|512) Signature, key ID [0-9a-f]+: OK" "$T/kv"
check "rpm -Kv: payload SHA256 digest OK" grep -q "Payload SHA256 digest: OK" "$T/kv"
size=$(stat -c %s "$rpmf")
cp "$rpmf" "$T/tampered.rpm"
flip_byte "$T/tampered.rpm" $((size - 200))
check_fails "rpm -K: fails after one payload byte is flipped" 1 "NOT OK|BAD" rk "$T/tampered.rpm"

rpmlint -c "$top/tests/rpmlint.toml" "$rpmf" >"$T/rpmlint" 2>&1
check "rpmlint: no errors" grep -q " 0 errors" "$T/rpmlint"
grep -E ': [EW]: ' "$T/rpmlint" | sed 's/^/#   /'
