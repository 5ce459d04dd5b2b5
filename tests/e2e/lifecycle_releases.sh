#!/bin/sh
# alloy-journal-loki on Debian 11 (bullseye) and 13 (trixie), with apt-get
# and with dnf (rpm 4.16 and 4.20): install 1.0.0 (pulls the stand-in
# alloy), upgrade to 1.0.1, purge / erase.  The full lifecycle
# (lifecycle_apt.sh, lifecycle_dnf.sh) runs on bookworm only, to keep make
# check under 30 minutes on 2 cores; these are the leaner but real steps
# run on the other releases.  Each check names its release.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

alloy=$top/tests/fixtures/alloy
build_versions deb "$top" "$T/debs" 1.0.0 1.0.1
build_versions deb "$alloy" "$T/debs" 1.16.1
build_versions rpm "$top" "$T/rpms" 1.0.0 1.0.1
build_versions rpm "$alloy" "$T/rpms" 1.16.1
"$PKGSMITH" build --no-sign --format rpm --out "$T/rpms" "$top/tests/fixtures/host-provides" >/dev/null

for rel in ${LIFECYCLE_RELEASES:-bullseye trixie}; do
    R=$T/$rel-apt
    C=$R/etc/alloy-journal-loki/config.alloy
    new_root apt "$R" "$rel"
    apt_repo "$R" "$T"/debs/*.deb
    in_root "$R" apt-get update -qq >/dev/null 2>&1
    check "$rel apt: install 1.0.0 (pulls alloy)" sh -c "chroot '$R' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive apt-get install -y -q alloy-journal-loki=1.0.0-1 </dev/null"
    check "$rel apt: config has the journal pipeline" grep -q '^loki.source.journal "journal"' "$C"
    journal_shipping "$rel apt" "$R"
    check "$rel apt: upgrade 1.0.0 -> 1.0.1" in_root "$R" apt-get install -y -q alloy-journal-loki=1.0.1-1 </dev/null
    check_eq "$rel apt: upgraded" 1.0.1-1 "$(in_root "$R" dpkg-query -W -f="\${Version}" alloy-journal-loki)"
    check "$rel apt: purge" in_root "$R" apt-get purge -y -q alloy-journal-loki </dev/null
    check "$rel apt: purge removed the config" test ! -e "$C"
    root_umount "$R"
    rm -rf "$R"

    R=$T/$rel-dnf
    C=$R/etc/alloy-journal-loki/config.alloy
    new_root dnf "$R" "$rel"
    dnf_repo "$R" "$T"/rpms/*.rpm
    check "$rel dnf: install host-provides, alloy-journal-loki 1.0.0" in_dnf "$R" install host-provides alloy-journal-loki-1.0.0
    check "$rel dnf: config has the journal pipeline" grep -q '^loki.source.journal "journal"' "$C"
    journal_shipping "$rel dnf" "$R"
    check "$rel dnf: upgrade 1.0.0 -> 1.0.1" in_dnf "$R" upgrade alloy-journal-loki
    check_eq "$rel dnf: upgraded" 1.0.1 "$(in_root "$R" rpm -q --qf '%{VERSION}' alloy-journal-loki)"
    check "$rel dnf: erase" in_dnf "$R" remove alloy-journal-loki
    check "$rel dnf: erase removed the config" test ! -e "$C"
    root_umount "$R"
    rm -rf "$R"
done
