#!/bin/sh
# The life of alloy-journal-loki on Debian, with apt-get in a chroot:
# preseeded install, reinstall, admin edits and disable surviving our
# upgrade, --force, an alloy upgrade that changes its own conffile (no
# prompt, pipeline intact), a bad preseeded host, purge (file lists
# compared), install again.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

R=$T/root
C=$R/etc/alloy-journal-loki/config.alloy
new_root apt "$R"
alloy=$top/tests/fixtures/alloy
build_versions deb "$top" "$T/pkgs" 1.0.0 1.0.1
build_versions deb "$alloy" "$T/pkgs" 1.16.1 1.17.0
apt_repo "$R" "$T"/pkgs/*.deb
in_root "$R" apt-get update -qq

# apt ARGS... : apt-get with no terminal and no --force-conf*: a conffile
# prompt fails the command ("end of file on stdin at conffile prompt").
apt() { in_root "$R" apt-get -y -q "$@" </dev/null; }
# Paths that exist, outside package-manager state and caches.
files() {
    (cd "$R" && find etc usr var -xdev \( -path var/lib/dpkg -o -path var/lib/apt -o -path var/cache \
        -o -path var/log -o -path etc/ld.so.cache -o -path var/lib/systemd/deb-systemd-helper-enabled \) -prune \
        -o -print | sort)
}

check "lifecycle: alloy 1.16.1 alone" apt install alloy=1.16.1-1
files >"$T/before"
in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_host string loki-a.example.net" | debconf-set-selections'
check "lifecycle: install 1.0.0 with a preseeded host" apt install alloy-journal-loki=1.0.0-1
check "lifecycle: preseeded host in the push URL" grep -q 'url *= *"http://loki-a.example.net:3100/loki/api/v1/push"' "$C"
cp "$C" "$T/config.1"
check "lifecycle: reinstall" apt install --reinstall alloy-journal-loki=1.0.0-1
check "lifecycle: reinstall keeps the config" cmp "$C" "$T/config.1"
check_eq "lifecycle: still enabled after reinstall" enabled "$(in_root "$R" systemctl is-enabled alloy.service 2>/dev/null)"

echo "// edited by the admin" >>"$C"
in_root "$R" systemctl disable alloy.service >/dev/null 2>&1
check "lifecycle: upgrade 1.0.0 -> 1.0.1" apt install alloy-journal-loki=1.0.1-1
check_eq "lifecycle: upgraded" "1.0.1-1" "$(in_root "$R" dpkg-query -W -f="\${Version}" alloy-journal-loki)"
check "lifecycle: the admin's edit survives our upgrade" grep -q '^// edited by the admin' "$C"
check_eq "lifecycle: the admin's disable survives our upgrade" disabled \
    "$(in_root "$R" systemctl is-enabled alloy.service 2>/dev/null)"
check "lifecycle: --force regenerates the edited config" in_root "$R" alloy-journal-loki-configure --force
check "lifecycle: --force dropped the edit" sh -c "! grep -q 'edited by the admin' '$C'"
check "lifecycle: --force kept the preseeded host" grep -q 'loki-a.example.net' "$C"

cp "$C" "$T/config.2"
check "lifecycle: apt-get upgrade of alloy (its conffile changed), no prompt" apt upgrade
check_eq "lifecycle: alloy upgraded" "1.17.0-1" "$(in_root "$R" dpkg-query -W -f="\${Version}" alloy)"
check_eq "lifecycle: alloy's conffile is the new one (we never touched it)" "" \
    "$(in_root "$R" dpkg --verify alloy 2>&1)"
check "lifecycle: our config intact after alloy's upgrade" cmp "$C" "$T/config.2"
check_eq "lifecycle: alloy still runs our config" /etc/alloy-journal-loki/config.alloy "$(effective_config "$R")"

# Every setting of the role and its users, through debconf.
in_root "$R" sh -c 'printf "%s\n" \
    "alloy-journal-loki alloy-journal-loki/loki_url string https://logs.example.com:8443/loki/api/v1/push" \
    "alloy-journal-loki alloy-journal-loki/loki_username string ops" \
    "alloy-journal-loki alloy-journal-loki/loki_password password s3cret with spaces" \
    "alloy-journal-loki alloy-journal-loki/loki_tenant_id string tenant-1" \
    "alloy-journal-loki alloy-journal-loki/journal_max_priority string 5" \
    "alloy-journal-loki alloy-journal-loki/loki_labels string env=prod,team=ops" | debconf-set-selections'
check "settings: dpkg-reconfigure with every setting" in_root "$R" dpkg-reconfigure -fnoninteractive alloy-journal-loki
check "settings: the full push URL wins" grep -q 'url *= *"https://logs.example.com:8443/loki/api/v1/push"' "$C"
check "settings: tenant" grep -q 'tenant_id = "tenant-1"' "$C"
check "settings: basic auth by password_file" grep -q 'password_file = "/etc/alloy-journal-loki/password"' "$C"
check "settings: the password is not in the config" sh -c "! grep -q s3cret '$C'"
check_eq "settings: password file 0640 root:alloy" "640 root:alloy" "$(in_root "$R" stat -c '%a %U:%G' /etc/alloy-journal-loki/password)"
check_eq "settings: password file content" "s3cret with spaces" "$(cat "$R/etc/alloy-journal-loki/password")"
check "settings: priorities 0-5 kept" grep -q 'regex         = "\[0-5\]"' "$C"
check "settings: extra labels" grep -q 'labels        = {component = "loki.source.journal", job = "systemd-journal", "env" = "prod", "team" = "ops"}' "$C"
check "settings: the config passes alloy validate" in_root "$R" alloy validate /etc/alloy-journal-loki/config.alloy
check "backups: the previous config kept in /var/backups/alloy-journal-loki" \
    sh -c "ls '$R'/var/backups/alloy-journal-loki/config.alloy.* >/dev/null"
touch -d '40 days ago' "$R/var/backups/alloy-journal-loki/config.alloy.20000101T000000Z"
touch -d '10 days ago' "$R/var/backups/alloy-journal-loki/config.alloy.20000102T000000Z"
in_root "$R" alloy-journal-loki-configure --force --set LOKI_TENANT_ID=tenant-2 >/dev/null 2>&1
check "backups: older than 30 days are pruned" test ! -e "$R/var/backups/alloy-journal-loki/config.alloy.20000101T000000Z"
check "backups: younger ones stay" test -e "$R/var/backups/alloy-journal-loki/config.alloy.20000102T000000Z"
in_root "$R" alloy-journal-loki-configure --force >/dev/null 2>&1
check "settings: adm membership on Debian" sh -c "chroot '$R' id -nG alloy | tr ' ' '\n' | grep -qx adm"
cp "$C" "$T/config.2"
in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_labels string 9bad=x" | debconf-set-selections'
check_fails "settings: a bad label name is refused" 2 "LOKI_LABELS: '9bad' is not a valid label name" \
    in_root "$R" dpkg-reconfigure -fnoninteractive alloy-journal-loki
check "settings: the previous config stays after a bad label" cmp "$C" "$T/config.2"
in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_labels string env=prod,team=ops" | debconf-set-selections'
check_fails "doctor: in the chroot, reports the stopped service and exits 1" 1 "^FAIL +service-active" \
    in_root "$R" alloy-journal-loki-doctor
check "doctor: the group and the config are fine" sh -c "chroot '$R' alloy-journal-loki-doctor | grep -Eq '^ok +journal-group' && chroot '$R' alloy-journal-loki-doctor | grep -Eq '^ok +config-valid'"

in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_host string bad_host!" | debconf-set-selections'
check_fails "lifecycle: a bad preseeded host fails clearly" 2 "LOKI_HOST|host" \
    in_root "$R" dpkg-reconfigure -fnoninteractive alloy-journal-loki
check "lifecycle: the previous config stays" cmp "$C" "$T/config.2"
in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_host string loki-a.example.net" | debconf-set-selections'

check "lifecycle: purge" apt purge alloy-journal-loki
files >"$T/after"
if diff -u "$T/before" "$T/after" >"$T/files.diff"; then
    ok "lifecycle: after purge the file list is what alloy alone had"
else
    not_ok "lifecycle: after purge the file list is what alloy alone had" "differences:"
    sed 's/^/#   /' "$T/files.diff" | head -20
fi
check "lifecycle: install again after purge" apt install alloy-journal-loki
check "lifecycle: config back after reinstall" grep -q 'loki.source.journal' "$C"
