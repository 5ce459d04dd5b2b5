#!/bin/sh
# alloy-journal-loki installed and removed with dnf in a Debian 12 chroot
# (rpm database seeded with a test-only package that provides what the
# host has), from a createrepo_c repository holding our package and the
# stand-in alloy, all built by pkgsmith.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

R=$T/root
new_root dnf "$R"
for src in "$top" "$top/tests/fixtures/alloy" "$top/tests/fixtures/host-provides"; do
    "$PKGSMITH" build --no-sign --format rpm --out "$T/pkgs" "$src" >/dev/null
done
dnf_repo "$R" "$T"/pkgs/*.rpm
check "dnf: install the host-provides stand-in" in_dnf "$R" install host-provides
check "dnf: install alloy-journal-loki (pulls alloy)" in_dnf "$R" install alloy-journal-loki
check "dnf: alloy installed as a dependency" in_root "$R" rpm -q alloy
check "dnf: config points at the default Loki" grep -q 'url = "http://localhost:3100/loki/api/v1/push"' \
    "$R/etc/alloy-journal-loki/config.alloy"
check "dnf: id alloy includes systemd-journal" sh -c "chroot '$R' id -nG alloy | tr ' ' '\n' | grep -qx systemd-journal"
check_eq "dnf: systemctl is-enabled alloy" enabled "$(in_root "$R" systemctl is-enabled alloy.service 2>/dev/null)"
check_eq "dnf: alloy.service runs our config" /etc/alloy-journal-loki/config.alloy "$(effective_config "$R")"
check_eq "dnf: the command alloy.service would run" \
    "/usr/bin/alloy run --storage.path=/var/lib/alloy/data /etc/alloy-journal-loki/config.alloy" \
    "$(effective_command "$R")"
# (rpm -V also reports /etc/alloy's owner and mode, which alloy's own %post
# changes, as upstream's does; what matters here are its config files.)
check_eq "dnf: alloy's config files unmodified (rpm -V)" "" "$(in_root "$R" rpm -V alloy 2>&1 | grep ' c /')"
check "dnf: sysconfig file installed as a config file" in_root "$R" sh -c "rpm -qc alloy-journal-loki | grep -qx /etc/sysconfig/alloy-journal-loki"

check "dnf: remove alloy-journal-loki" in_dnf "$R" remove alloy-journal-loki
check "dnf: alloy stays installed after remove" in_root "$R" rpm -q alloy
check_eq "dnf: after remove alloy runs its own config" /etc/alloy/config.alloy "$(effective_config "$R")"
check "dnf: remove deleted our config and state" sh -c "! ls -d '$R/etc/alloy-journal-loki' '$R/var/lib/alloy-journal-loki' 2>/dev/null"
check "dnf: the alloy user stays" in_root "$R" id alloy
