#!/bin/sh
# The life of alloy-journal-loki on an RPM system, with dnf in a chroot:
# install with a host from /etc/sysconfig written beforehand, reinstall,
# admin edits and disable surviving our upgrade, --force, an alloy upgrade
# that changes its own config file, a bad host, erase (file lists
# compared), install again.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

R=$T/root
C=$R/etc/alloy-journal-loki/config.alloy
S=$R/etc/sysconfig/alloy-journal-loki
new_root dnf "$R"
alloy=$top/tests/fixtures/alloy
build_versions rpm "$top" "$T/pkgs" 1.0.0 1.0.1
build_versions rpm "$alloy" "$T/pkgs" 1.16.1 1.17.0
"$PKGSMITH" build --no-sign --format rpm --out "$T/pkgs" "$top/tests/fixtures/host-provides" >/dev/null
dnf_repo "$R" "$T"/pkgs/*.rpm

files() {
    (cd "$R" && find etc usr var -xdev \( -path var/lib/rpm -o -path var/lib/dnf -o -path var/cache \
        -o -path var/log -o -path etc/ld.so.cache \) -prune -o -print |
        sed 's/\.rpmsave$//' | sort -u)
}

check "lifecycle: host-provides and alloy 1.16.1 alone" in_dnf "$R" install host-provides alloy-1.16.1
mkdir -p "$R/etc/sysconfig"
printf 'LOKI_HOST=loki-b.example.net\n' >"$S"
files >"$T/before"
check "lifecycle: install 1.0.0 with a host in /etc/sysconfig" in_dnf "$R" install alloy-journal-loki-1.0.0
check "lifecycle: the sysconfig host in the push URL" grep -q 'url *= *"http://loki-b.example.net:3100/loki/api/v1/push"' "$C"
check "lifecycle: the admin's sysconfig was kept (%config(noreplace))" grep -qx 'LOKI_HOST=loki-b.example.net' "$S"
cp "$C" "$T/config.1"
check "lifecycle: reinstall" in_dnf "$R" reinstall alloy-journal-loki
check "lifecycle: reinstall keeps the config" cmp "$C" "$T/config.1"
check_eq "lifecycle: still enabled after reinstall" enabled "$(in_root "$R" systemctl is-enabled alloy.service 2>/dev/null)"

echo "// edited by the admin" >>"$C"
in_root "$R" systemctl disable alloy.service >/dev/null 2>&1
check "lifecycle: upgrade 1.0.0 -> 1.0.1" in_dnf "$R" upgrade alloy-journal-loki
check_eq "lifecycle: upgraded" "1.0.1" "$(in_root "$R" rpm -q --qf '%{VERSION}' alloy-journal-loki)"
check "lifecycle: the admin's edit survives our upgrade" grep -q '^// edited by the admin' "$C"
check_eq "lifecycle: the admin's disable survives our upgrade" disabled \
    "$(in_root "$R" systemctl is-enabled alloy.service 2>/dev/null)"
check "lifecycle: --force regenerates the edited config" in_root "$R" alloy-journal-loki-configure --force
check "lifecycle: --force dropped the edit" sh -c "! grep -q 'edited by the admin' '$C'"
check "lifecycle: --force kept the sysconfig host" grep -q 'loki-b.example.net' "$C"

cp "$C" "$T/config.2"
check "lifecycle: dnf upgrade of alloy (its config file changed)" in_dnf "$R" upgrade alloy
check_eq "lifecycle: alloy upgraded" "1.17.0" "$(in_root "$R" rpm -q --qf '%{VERSION}' alloy)"
check_eq "lifecycle: alloy's config files are the new ones (we never touched them)" "" \
    "$(in_root "$R" rpm -V alloy 2>&1 | grep ' c /')"
check "lifecycle: our config intact after alloy's upgrade" cmp "$C" "$T/config.2"
check_eq "lifecycle: alloy still runs our config" /etc/alloy-journal-loki/config.alloy "$(effective_config "$R")"

printf 'LOKI_HOST=bad_host!\n' >"$S"
check_fails "lifecycle: a bad host fails clearly" 2 "LOKI_HOST" in_root "$R" alloy-journal-loki-configure
check "lifecycle: the previous config stays" cmp "$C" "$T/config.2"
printf 'LOKI_HOST=loki-b.example.net\n' >"$S"

check_fails "settings: alloy's own conffile is refused as CONFIG_FILE" 2 "is alloy's own conffile" \
    in_root "$R" alloy-journal-loki-configure --set CONFIG_FILE=/etc/alloy/config.alloy
check "settings: CONFIG_FILE moves the config" \
    in_root "$R" alloy-journal-loki-configure --set CONFIG_FILE=/etc/alloy-journal-loki/journal.alloy
check_eq "settings: alloy.service runs the moved config" \
    "/usr/bin/alloy run --storage.path=/var/lib/alloy/data /etc/alloy-journal-loki/journal.alloy" \
    "$(effective_command "$R")"
check "settings: the old config is gone (kept in the backups)" sh -c \
    "[ ! -e '$C' ] && ls '$R'/var/backups/alloy-journal-loki/config.alloy.* >/dev/null"
check_fails "groups: a missing journal group is said clearly" 0 "group 'nosuchgroup' does not exist" \
    in_root "$R" alloy-journal-loki-configure --set JOURNAL_GROUP=nosuchgroup
check_fails "settings: a bad SERVICE_USER is refused" 2 "SERVICE_USER and JOURNAL_GROUP must be" \
    in_root "$R" alloy-journal-loki-configure --set "SERVICE_USER=Bad User"

check "lifecycle: erase" in_dnf "$R" remove alloy-journal-loki
files >"$T/after"
if diff -u "$T/before" "$T/after" >"$T/files.diff"; then
    ok "lifecycle: after erase the file list is what alloy alone had"
else
    not_ok "lifecycle: after erase the file list is what alloy alone had" "differences:"
    sed 's/^/#   /' "$T/files.diff" | head -20
fi
check "lifecycle: install again after erase" in_dnf "$R" install alloy-journal-loki
check "lifecycle: config back after reinstall" grep -q 'loki.source.journal' "$C"
