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
