#!/bin/sh
# alloy-journal-loki installed, removed and purged with apt-get in a
# Debian 12 chroot, from a local repository holding our package and the
# stand-in alloy, both built by pkgsmith.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

R=$T/root
new_root apt "$R"
"$PKGSMITH" build --no-sign --out "$T/pkgs" "$top" >/dev/null
"$PKGSMITH" build --no-sign --format deb --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
apt_repo "$R" "$T"/pkgs/*.deb
check "apt: update from the local repository" in_root "$R" apt-get update
check "apt: install alloy-journal-loki (pulls alloy)" \
    sh -c "$(command -v chroot) '$R' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive apt-get install -y alloy-journal-loki </dev/null"
check "apt: alloy installed as a dependency" in_root "$R" dpkg -s alloy
check "apt: config points at the default Loki" grep -q 'url = "http://localhost:3100/loki/api/v1/push"' \
    "$R/etc/alloy-journal-loki/config.alloy"
check "apt: config has the journal pipeline" grep -q '^loki.source.journal "journal"' \
    "$R/etc/alloy-journal-loki/config.alloy"
check "apt: id alloy includes systemd-journal" sh -c "chroot '$R' id -nG alloy | tr ' ' '\n' | grep -qx systemd-journal"
check_eq "apt: systemctl is-enabled alloy" enabled "$(in_root "$R" systemctl is-enabled alloy.service 2>/dev/null)"
check_eq "apt: alloy.service runs our config" /etc/alloy-journal-loki/config.alloy "$(effective_config "$R")"
check_eq "apt: the command alloy.service would run" \
    "/usr/bin/alloy run --storage.path=/var/lib/alloy/data /etc/alloy-journal-loki/config.alloy" \
    "$(effective_command "$R")"
check_eq "apt: alloy's files and conffiles unmodified (dpkg --verify)" "" "$(in_root "$R" dpkg --verify alloy 2>&1)"

check "apt: remove alloy-journal-loki" in_root "$R" apt-get remove -y alloy-journal-loki
check "apt: alloy stays installed after remove" in_root "$R" dpkg -s alloy
check_eq "apt: after remove alloy runs its own config" /etc/alloy/config.alloy "$(effective_config "$R")"
check "apt: purge" in_root "$R" apt-get purge -y alloy-journal-loki
check "apt: purge removed our config and state" sh -c "! ls -d '$R/etc/alloy-journal-loki' '$R/var/lib/alloy-journal-loki' 2>/dev/null"
check "apt: purge removed our debconf answers" sh -c "! chroot '$R' debconf-show alloy-journal-loki 2>/dev/null | grep -q ."
check "apt: the alloy user stays" in_root "$R" id alloy
