# tests/lib/vm-guest.sh - sourced by a test's run.sh inside a guest (from
# its input disk, /mnt/in/guest.sh): the checks of common.sh, with the
# guest's Debian codename in every name.  stdout is the results.
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
S=$(. /etc/os-release && echo "$VERSION_CODENAME")
ok() { echo "ok $S: $1"; }
not_ok() { echo "not ok $S: $1 - $2"; }
# check NAME CMD... : passes when CMD exits 0; shows its output otherwise.
check() {
    _n=$1
    shift
    if "$@" >/tmp/out 2>&1; then
        ok "$_n"
    else
        not_ok "$_n" "exit $? from: $*"
        sed 's/^/#   /' /tmp/out | tail -n 15
    fi
}
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2], got [$3]"; fi; }
# children PID: its child processes (no procps needed).
children() { grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3; }
# uid_name PID: the user a process runs as.
uid_name() { getent passwd "$(awk '/^Uid:/ { print $2 }' "/proc/$1/status")" | cut -d: -f1; }
# mainpid: alloy.service's main PID.
mainpid() { systemctl show -p MainPID --value alloy.service; }
# in_groups PID GROUP: the process has GROUP among its groups.
in_groups() {
    _g=$(getent group "$2" | cut -d: -f3)
    [ -n "$_g" ] && awk '/^Groups:/ { for (i = 2; i <= NF; i++) print $i }' "/proc/$1/status" | grep -qx "$_g"
}
# settle: waits for a settled alloy (start, reload and restart are
# asynchronous for the stand-in's shell traps).
settle() { sleep 2; }
# serve_repo: the repository where the README puts it, as pkgsmith wrote
# it (/mnt/in/repo), served by the guest's stock nginx with the shipped
# site (/mnt/in/nginx).  Only listen changes (the guest's loopback); the
# stock default site goes, as on a host that serves only the repository.
# Extra server files go in /etc/nginx/conf.d first.
serve_repo() {
    cp -a /mnt/in/repo /var/lib/pkgsmith
    cp /mnt/in/nginx/pkgsmith-repo.conf /etc/nginx/sites-available/
    cp /mnt/in/nginx/pkgsmith-repo-locations.conf /etc/nginx/snippets/
    sed -i 's/^\( *\)listen 80;/\1listen 127.0.0.1:80;/; /listen \[::\]:80;/d' /etc/nginx/sites-available/pkgsmith-repo.conf
    rm -f /etc/nginx/sites-enabled/default
    ln -s ../sites-available/pkgsmith-repo.conf /etc/nginx/sites-enabled/
    check "stock nginx restarts with the shipped site" systemctl restart nginx
    check_eq "nginx workers run as www-data" www-data "$(uid_name "$(children "$(cat /run/nginx.pid)" | head -n 1)")"
}
# The pkgsmith package's guests (vm_timers.sh, vm_pkg_dnf.sh):
# result UNIT: its Result after a run.
result() { systemctl show -p Result --value "$1"; }
# gens: how many generations the repository at /var/lib/pkgsmith has.
gens() { find /var/lib/pkgsmith/generations -mindepth 1 -maxdepth 1 -type d | wc -l; }
# as_ps CMD...: CMD as the user pkgsmith in its GnuPG home, as the README's
# "Set up a repository server" runs it (umask 077: the key and the state
# private, as the units' UMask).
as_ps() { runuser -u pkgsmith -- sh -c 'umask 077 && exec env GNUPGHOME=/var/lib/pkgsmith/gnupg "$@"' sh "$@"; }
