#!/bin/sh
# alloy-journal-loki on a booted Debian guest with systemd as PID 1 (issue
# 16 part 3), no systemctl shim.  On the host: our package and the
# stand-in alloy are built, signed, added to a pkgsmith repository and
# published; the client package is made.  In the guest (qemu, no network
# device): the repository is served by the guest's stock nginx (workers as
# www-data) with the shipped site on its own loopback, a Loki stand-in
# (nginx, /ready) listens on 127.0.0.1:3100; the client package goes in,
# then `apt-get install alloy-journal-loki`.  Then what a user checks:
# alloy active and enabled, running as alloy with systemd-journal among
# its process groups, journalctl as alloy returns entries, a settings
# change reloads (MainPID kept), a group change restarts (new MainPID),
# the doctor passes; the guest reboots and alloy runs again; purge leaves
# alloy installed and running on its own config.  The guest writes ok /
# not ok lines; the host checks that both boots ran to the end.
# VM_SUITES (default "bookworm trixie") picks the Debian releases.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/vm.sh
. "$top/tests/lib/vm.sh"
trap 'vm_stop; t_cleanup' EXIT

P=$PKGSMITH
FPR=$(make_key "$T/gnupg" "Acme Repo <repo@acme.test>")
GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --format deb --out "$T/pkgs" "$top" >/dev/null
GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --format deb --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
"$P" repo init --root "$T/repo" --key "$FPR" --gnupg-home "$T/gnupg" --org acme --url http://127.0.0.1 >/dev/null
check "host: add alloy-journal-loki and alloy, publish" sh -c "'$P' repo add --root '$T/repo' '$T'/pkgs/*.deb >/dev/null && '$P' repo publish --root '$T/repo' >/dev/null"
check "host: client-package" "$P" repo client-package --root "$T/repo" --out "$T/client"

# The guest's input disk: the repository root as pkgsmith left it (modes
# kept: what www-data may read is part of the test), the shipped nginx
# site, the client package, the script.
IN=$T/in
mkdir -p "$IN"
cp -a "$T/repo" "$IN/repo"
cp -a "$top/repo-tools/nginx" "$IN/nginx"
cp "$T"/client/acme-repo_*_all.deb "$IN/"
cp "$top/tests/lib/vm-guest.sh" "$IN/guest.sh"
cat >"$IN/run.sh" <<'GUEST'
# Runs as root in the guest at every boot ($1: 1, 2, ...); stdout is the
# results.  Exit 100: reboot.
. /mnt/in/guest.sh
# doctor: passes when the doctor says ok; shows its JSON otherwise.
doctor() { alloy-journal-loki-doctor --json >/tmp/doctor.json 2>&1 && grep -q '^{"ok":true,' /tmp/doctor.json || { cat /tmp/doctor.json; return 1; }; }
# reloaded: the stand-in logged its SIGHUP (shows its journal otherwise).
reloaded() { journalctl -q --no-pager -u alloy.service | grep -q "alloy: reloading" || { journalctl -q --no-pager -u alloy.service | tail -n 8; return 1; }; }

if [ "$1" = 1 ]; then
    echo "# $S: systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), PID 1 is $(cat /proc/1/comm)"
    check_eq "PID 1 is systemd" systemd "$(cat /proc/1/comm)"
    # The Loki stand-in: /ready answers on 127.0.0.1:3100.
    printf 'server {\n listen 127.0.0.1:3100;\n location = /ready { return 200 "ready\\n"; }\n}\n' >/etc/nginx/conf.d/loki-standin.conf
    serve_repo
    check "nginx (www-data) serves the published Release" curl -fsS -o /dev/null http://127.0.0.1/dists/stable/Release
    check "the setup package installs" sh -c 'dpkg -i /mnt/in/acme-repo_*_all.deb'
    if ! curl -fsS -o /dev/null http://127.0.0.1/dists/stable/Release 2>/dev/null; then
        # The failure above is reported; the systemd checks below still
        # run, from the same signed tree read as root through file:.
        echo "# nginx cannot serve the tree: installing from file:/var/lib/pkgsmith/public instead"
        sed -i 's|http://127.0.0.1|file:/var/lib/pkgsmith/public|' /etc/apt/sources.list.d/*
    fi
    check "apt-get update from our repository" apt-get update --error-on=any
    check "apt-get install -y alloy-journal-loki" sh -c 'apt-get install -y alloy-journal-loki </dev/null'
    check "alloy came from our repository" sh -c 'apt-cache policy alloy | grep -Eq "http://127.0.0.1|file:/var/lib/pkgsmith"'
    settle
    check_eq "systemctl is-active alloy" active "$(systemctl is-active alloy.service)"
    check_eq "systemctl is-enabled alloy" enabled "$(systemctl is-enabled alloy.service)"
    check "id alloy lists systemd-journal" sh -c 'id -nG alloy | tr " " "\n" | grep -qx systemd-journal'
    pid=$(mainpid)
    check_eq "alloy's main process runs as alloy" alloy "$(uid_name "$pid")"
    check "alloy's main process has systemd-journal among its groups" in_groups "$pid" systemd-journal
    check "journalctl as alloy returns entries" sh -c 'test "$(runuser -u alloy -- journalctl -q --no-pager -n 5 | wc -l)" -gt 0'
    check "journalctl as nobody returns none (the group is what reads it)" sh -c 'test "$(runuser -u nobody -- journalctl -q --no-pager -n 5 -u alloy.service 2>/dev/null | wc -l)" -eq 0'

    # A settings change: reload, same main process.
    echo "alloy-journal-loki alloy-journal-loki/loki_host string 127.0.0.1" | debconf-set-selections
    check "dpkg-reconfigure with a new Loki host" dpkg-reconfigure -fnoninteractive alloy-journal-loki
    settle
    check_eq "a settings change reloads: MainPID kept" "$pid" "$(mainpid)"
    check "... and alloy got the reload (SIGHUP)" reloaded
    check "the config has the new host" grep -Eq 'url[[:space:]]*=[[:space:]]*"http://127.0.0.1:3100/loki/api/v1/push"' /etc/alloy-journal-loki/config.alloy

    # A group change: restart, a new main process with the group.
    gpasswd -d alloy systemd-journal >/dev/null
    check "alloy-journal-loki-configure after alloy lost its journal group" alloy-journal-loki-configure
    settle
    pid2=$(mainpid)
    check "a group change restarts: new MainPID" test "$pid2" != "$pid" -a "$pid2" != 0
    check "the new main process has systemd-journal among its groups" in_groups "$pid2" systemd-journal
    check "alloy-journal-loki-doctor --json passes (Loki stand-in /ready on 127.0.0.1:3100)" doctor
    exit 100
fi

# Second boot.
check_eq "after reboot: systemctl is-active alloy" active "$(systemctl is-active alloy.service)"
pid=$(mainpid)
check "after reboot: alloy runs our config" grep -q /etc/alloy-journal-loki/config.alloy "/proc/$pid/cmdline"
check "after reboot: its main process has systemd-journal among its groups" in_groups "$pid" systemd-journal
check "after reboot: alloy-journal-loki-doctor --json passes" doctor

check "apt-get purge -y alloy-journal-loki" sh -c 'apt-get purge -y alloy-journal-loki </dev/null'
settle
check "after purge: alloy stays installed" dpkg -s alloy
check_eq "after purge: alloy still running" active "$(systemctl is-active alloy.service)"
pid=$(mainpid)
check "after purge: alloy runs its own config" grep -q /etc/alloy/config.alloy "/proc/$pid/cmdline"
check_eq "after purge: our enabling of alloy is undone (documented)" disabled "$(systemctl is-enabled alloy.service)"
check "after purge: our config and state are gone" sh -c '! ls -d /etc/alloy-journal-loki /var/lib/alloy-journal-loki 2>/dev/null'
check "after purge: the alloy user stays" id alloy
exit 0
GUEST

for suite in ${VM_SUITES:-bookworm trixie}; do
    extra=''
    [ "$suite" = bookworm ] && extra=$VM_BOOKWORM_EXTRA
    t0=$(date +%s)
    img=$(vm_image "$suite" "$extra") || {
        not_ok "$suite: guest image" "mmdebstrap or mke2fs failed"
        continue
    }
    echo "# $suite: image ready in $(($(date +%s) - t0))s ($img)"
    W=$T/vm-$suite
    check "$suite: the guest ran both boots and powered off by itself" vm_run "$img" "$IN" "$W" 300
    echo "# $suite: accel $VM_ACCEL, two boots and the test in $(cat "$W/seconds")s"
    # The guest's own ok / not ok lines (tests/run counts them).
    grep -E '^(ok|not ok|#)' "$W/results" | tr -d '\r'
    check "$suite: the second boot's run ended" grep -q '^# guest boot 2: run.sh exited 0' "$W/results"
    if grep -q '^not ok' "$W/results"; then
        echo "# $suite: console tail:"
        tail -n 20 "$W/console" | sed 's/^/#   /'
    fi
done
