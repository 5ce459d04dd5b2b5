#!/bin/sh
# Clients install from the bucket (issue 22): a repository published with
# Publish-To pushes itself to a real Ceph radosgw on 127.0.0.1
# (tests/lib/radosgw.sh, never a mock); apt in a bookworm chroot and dnf
# in the dnf chroot, set up by the client package pointed at the bucket's
# URL, install alloy-journal-loki and alloy with anonymous HTTP GETs to
# radosgw; an apt-get update loop never fails while 10 publishes push.
# Every daemon is stopped by PID.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"
# shellcheck source=tests/lib/radosgw.sh
. "$top/tests/lib/radosgw.sh"
trap 'rgw_stop; t_cleanup' EXIT

P=$PKGSMITH
R=$T/repo
C=$T/aptroot
DR=$T/dnfroot
export GNUPGHOME="$T/gnupg"
FPR=$(make_key "$GNUPGHOME" 'Install Test <install@example.test>')
rgw_setup publisher AKIAINSTALL installsecret pkgrepo
URL=$RGW_ENDPOINT/pkgrepo/prod

"$P" build --key "$FPR" --out "$T/pkgs" "$top" >/dev/null
"$P" build --key "$FPR" --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
"$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$top/tests/fixtures/host-provides" >/dev/null
check "init, Base-URL the bucket's" "$P" repo init --root "$R" --key "$FPR" --org acme --url "$URL"
cat >>"$R/repo.conf" <<CONF
Publish-To: s3://pkgrepo/prod
S3-Endpoint: $RGW_ENDPOINT
S3-Credentials-File: $T/creds
CONF
check "add" "$P" repo add --root "$R" "$T"/pkgs/*.deb "$T"/pkgs/*.rpm
check "publish pushes to the bucket" "$P" repo publish --root "$R"
sed 's/^/# /' "$T/.out"
check "client-package" "$P" repo client-package --root "$R" --out "$T/client"

# Nothing is served locally: the clients can only reach the bucket.
new_root apt "$C"
cp "$T"/client/acme-repo_*_all.deb "$C/tmp/"
check "apt: the setup package installs" in_root "$C" sh -c 'dpkg -i /tmp/acme-repo_*_all.deb'
check "apt: its sources name the bucket" grep -rqF "$URL" "$C/etc/apt/sources.list.d/"
check "apt: apt-get update from the bucket" in_root "$C" apt-get update --error-on=any
check "apt: install alloy-journal-loki" in_root "$C" apt-get install -y alloy-journal-loki
check "apt: alloy is installed with it" in_root "$C" dpkg -s alloy

new_root dnf "$DR"
cp "$T"/client/acme-repo-*.noarch.rpm "$DR/tmp/"
check "dnf: the setup package installs" in_root "$DR" sh -c 'rpm -i --nodeps --nosignature /tmp/acme-repo-*.noarch.rpm'
check "dnf: its .repo names the bucket" grep -qF "$URL" "$DR/etc/yum.repos.d/acme.repo"
rm -f "$DR/etc/yum.repos.d/local.repo"
check "dnf: install host-provides from the bucket" in_dnf "$DR" install host-provides
check "dnf: install alloy-journal-loki from the bucket" in_dnf "$DR" install alloy-journal-loki
check "dnf: alloy is installed with it" in_root "$DR" rpm -q alloy

# ---- apt-get update in a loop while 10 publishes push ----------------------
# Each publish adds a version of alloy, so every index changes; the loop
# (at most 300 runs, 300 s) must never see a hash mismatch, a 403/404 or
# a bad signature: the order of the push keeps each InRelease's
# references in the bucket before it.  Stopped through a flag file, and
# by PID.
touch "$T/looping"
(
    n=0 start=$(date +%s)
    while [ -f "$T/looping" ] && [ $n -lt 300 ] && [ $(($(date +%s) - start)) -lt 300 ]; do
        n=$((n + 1))
        if ! in_root "$C" apt-get update --error-on=any >"$T/upd.out" 2>&1; then
            echo "run $n failed:" >>"$T/loop.fail"
            cat "$T/upd.out" >>"$T/loop.fail"
        fi
    done
    echo "$n" >"$T/loop.runs"
) &
LOOP=$!
i=0 failed_pub=0
while [ $i -lt 10 ]; do
    i=$((i + 1))
    "$P" build --key "$FPR" --format deb --set version=1.20.$i --out "$T/v$i" "$top/tests/fixtures/alloy" >/dev/null
    "$P" repo add --root "$R" "$T/v$i"/*.deb >/dev/null
    "$P" repo publish --root "$R" >"$T/pub.out" 2>&1 || { failed_pub=$((failed_pub + 1)); cat "$T/pub.out"; }
done
rm -f "$T/looping"
wait "$LOOP"
check_eq "10 publishes, each pushed" 0 "$failed_pub"
runs=$(cat "$T/loop.runs" 2>/dev/null || echo 0)
check "apt-get update ran during them ($runs runs)" test "$runs" -gt 1
check "... and never failed" test ! -s "$T/loop.fail"
[ -s "$T/loop.fail" ] && head -n 20 "$T/loop.fail" | sed 's/^/#   /'
check "apt: apt-get update after the last push" in_root "$C" apt-get update --error-on=any
check "apt: the last version is the candidate" \
    sh -c "chroot '$C' apt-cache policy alloy | grep -q 'Candidate: 1.20.10-1'"

check "radosgw stops by PID" rgw_stop
