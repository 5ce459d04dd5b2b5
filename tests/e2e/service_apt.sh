#!/bin/sh
# Service handling on a host where systemd runs: a config change reloads
# alloy, a change of its groups restarts it, nothing starts a disabled
# alloy, and nothing is started when systemd does not run.  systemd cannot
# run in the chroot, so /run/systemd/system is made and `systemctl` is a
# logging shim in front of the real one: start/stop/reload/restart and
# is-active are logged (alloy counts as running); the rest is real.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

R=$T/root
new_root apt "$R"
"$PKGSMITH" build --no-sign --format deb --out "$T/pkgs" "$top" >/dev/null
"$PKGSMITH" build --no-sign --format deb --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
apt_repo "$R" "$T"/pkgs/*.deb
in_root "$R" apt-get update -qq
cat >"$R/usr/sbin/systemctl" <<'SHIM'
#!/bin/sh
for a in "$@"; do
    case $a in
    start | stop | reload | restart | try-restart | reload-or-restart | is-active)
        echo "$*" >>/var/log/systemctl-shim
        exit 0
        ;;
    esac
done
exec /usr/bin/systemctl "$@"
SHIM
chmod 755 "$R/usr/sbin/systemctl"
log=$R/var/log/systemctl-shim
# No /run/systemd/system yet: the package must not start anything.
check "service: install without a running systemd" in_root "$R" apt-get install -y -q alloy-journal-loki
check_eq "service: nothing started without systemd" "" "$(grep -v is-active "$log" 2>/dev/null)"

mkdir -p "$R/run/systemd/system"

in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_host string loki-b.example.net" | debconf-set-selections'
: >"$log"
check "service: reconfigure with a new host" in_root "$R" dpkg-reconfigure -fnoninteractive alloy-journal-loki
check "service: a config change reloads alloy" grep -q 'reload alloy.service' "$log"
check "service: ... and does not restart it" sh -c "! grep -q 'restart alloy.service' '$log'"

in_root "$R" gpasswd -d alloy systemd-journal >/dev/null
: >"$log"
check "service: reconfigure after alloy lost its journal group" in_root "$R" alloy-journal-loki-configure
check "service: the group is back" sh -c "chroot '$R' id -nG alloy | tr ' ' '\n' | grep -qx systemd-journal"
check "service: a group change restarts alloy (a reload is not enough)" grep -q 'restart alloy.service' "$log"

: >"$log"
check "service: reconfigure with nothing changed" in_root "$R" alloy-journal-loki-configure
check_eq "service: nothing changed, nothing reloaded or restarted" "" "$(grep -v is-active "$log")"

rm -f "$R/usr/sbin/systemctl"
