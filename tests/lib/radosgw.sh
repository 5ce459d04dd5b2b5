# tests/lib/radosgw.sh - a real S3 server for tests: a throwaway
# single-node Ceph (one mon, one OSD on memstore, radosgw with the beast
# frontend) on 127.0.0.1, everything (config, data, sockets, logs, pid
# files) inside one test directory.  Never a mock: radosgw checks SigV4
# signatures, payload hashes, Content-MD5, conditional PUTs and quotas as
# a production S3 service does (../shared/reference/object-storage.md has
# the settings that were needed and why).  Daemons are stopped by PID.
#
#   rgw_start DIR        start the cluster; sets RGW_DIR, RGW_PORT,
#                        RGW_ENDPOINT (http://127.0.0.1:PORT), RGW_CONF
#   rgw_stop             stop every daemon rgw_start started, by PID file
#   rgw_user UID KEY SECRET  an S3 user; its keys become RGW_KEY/RGW_SECRET
#   rgw_bucket NAME      a bucket of the last rgw_user, anonymous-read
#   rgw_quota UID BYTES [OBJECTS]  a user quota, enabled
#   rgw_curl METHOD PATH [FILE] [HEADER...]  a request signed as RGW_KEY
#
# The caller's EXIT trap must call rgw_stop (the daemons outlive a shell
# that dies otherwise).

_rgw_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _rgw_wait SECONDS CMD... : runs CMD once a second until it succeeds.
_rgw_wait() {
    _n=$1
    shift
    while [ "$_n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
        _n=$((_n - 1))
    done
    return 1
}

_rgw_conf() {
    # auth none everywhere, and then crc mode for the mon client (without
    # it radosgw hangs for 300 s at start-up); size-1 pools, small pg
    # counts; the mon must not stop on a disk that looks full; tcp_nodelay
    # (else each small GET stalls about 47 ms).
    cat <<CONF
[global]
fsid = $1
mon host = v2:127.0.0.1:$2
public network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
run dir = $RGW_DIR/run
admin socket = $RGW_DIR/run/\$name.asok
log file = $RGW_DIR/log/\$name.log
pid file = $RGW_DIR/run/\$name.pid
keyring = $RGW_DIR/keyring
mon data = $RGW_DIR/mon/\$id
osd data = $RGW_DIR/osd/\$id
[osd]
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 460
osd max object namespace len = 64
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$3 tcp_nodelay=1
rgw data = $RGW_DIR/rgw
CONF
}

_rgw_osd_up() { timeout 10 ceph -c "$RGW_CONF" osd stat 2>/dev/null | grep -q ' 1 up'; }

rgw_start() {
    RGW_DIR=$1
    mkdir -p "$RGW_DIR/run" "$RGW_DIR/log" "$RGW_DIR/mon" "$RGW_DIR/osd/0" "$RGW_DIR/rgw"
    RGW_CONF=$RGW_DIR/ceph.conf
    _mport=$(_rgw_free_port)
    RGW_PORT=$(_rgw_free_port)
    RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
    _fsid=$(cat /proc/sys/kernel/random/uuid)
    _rgw_conf "$_fsid" "$_mport" "$RGW_PORT" >"$RGW_CONF"
    export RGW_DIR RGW_CONF RGW_PORT RGW_ENDPOINT
    ceph-authtool --create-keyring "$RGW_DIR/keyring" --gen-key -n mon. \
        --cap mon 'allow *' >/dev/null || return 1
    monmaptool --create --fsid "$_fsid" --addv a "[v2:127.0.0.1:$_mport]" \
        "$RGW_DIR/monmap" >/dev/null || return 1
    ceph-mon -c "$RGW_CONF" -i a --mkfs --monmap "$RGW_DIR/monmap" \
        --keyring "$RGW_DIR/keyring" || return 1
    ceph-mon -c "$RGW_CONF" -i a || return 1
    _rgw_wait 30 timeout 10 ceph -c "$RGW_CONF" mon stat || {
        echo "rgw_start: the mon did not answer (see $RGW_DIR/log)" >&2
        return 1
    }
    _id=$(timeout 20 ceph -c "$RGW_CONF" osd create) && [ "$_id" = 0 ] || return 1
    ceph-osd -c "$RGW_CONF" -i 0 --mkfs >/dev/null 2>&1 || return 1
    # It reports its start-up on stderr: keep that with its log.
    ceph-osd -c "$RGW_CONF" -i 0 2>>"$RGW_DIR/log/osd.0.stderr" || return 1
    _rgw_wait 60 _rgw_osd_up || {
        echo "rgw_start: the OSD did not come up (see $RGW_DIR/log)" >&2
        return 1
    }
    radosgw -c "$RGW_CONF" -n client.rgw || return 1
    _rgw_wait 90 curl -fsS -o /dev/null "$RGW_ENDPOINT/" || {
        echo "rgw_start: radosgw did not answer on $RGW_ENDPOINT (see $RGW_DIR/log)" >&2
        return 1
    }
}

# _rgw_kill PIDFILE : TERM, then KILL after 20 s; waits until it is gone.
_rgw_kill() {
    [ -f "$1" ] || return 0
    _pid=$(cat "$1")
    [ -n "$_pid" ] || return 0
    kill "$_pid" 2>/dev/null || { rm -f "$1"; return 0; }
    _n=0
    while kill -0 "$_pid" 2>/dev/null; do
        _n=$((_n + 1))
        if [ "$_n" -eq 100 ]; then
            kill -9 "$_pid" 2>/dev/null
        fi
        [ "$_n" -lt 150 ] || break
        sleep 0.2
    done
    rm -f "$1"
}

# Clients first, the mon last (the OSD and radosgw talk to it on the way
# down).
rgw_stop() {
    [ -n "${RGW_DIR:-}" ] || return 0
    _rgw_kill "$RGW_DIR/run/client.rgw.pid"
    _rgw_kill "$RGW_DIR/run/osd.0.pid"
    _rgw_kill "$RGW_DIR/run/mon.a.pid"
}

rgw_user() {
    radosgw-admin -c "$RGW_CONF" user create --uid="$1" --display-name="$1" \
        --access-key="$2" --secret-key="$3" >/dev/null || return 1
    RGW_KEY=$2
    RGW_SECRET=$3
}

# rgw_curl METHOD PATH [FILE] [HEADER...] : signed as RGW_KEY/RGW_SECRET;
# curl 7.88 leaves x-amz-content-sha256 to us (the payload's real hash).
# Prints the body; fails on an HTTP error.
rgw_curl() {
    _m=$1 _p=$2 _f=${3:-}
    shift 2
    [ $# -gt 0 ] && shift
    if [ -n "$_f" ]; then
        _h=$(sha256sum <"$_f" | cut -d' ' -f1)
    else
        _h=$(printf '' | sha256sum | cut -d' ' -f1)
    fi
    set -- -fsS -X "$_m" --aws-sigv4 "aws:amz:default:s3" --user "$RGW_KEY:$RGW_SECRET" \
        -H "x-amz-content-sha256: $_h" "$@"
    if [ -n "$_f" ]; then
        set -- "$@" --data-binary "@$_f"
    fi
    curl "$@" "$RGW_ENDPOINT$_p"
}

# Anonymous readers (apt, dnf, a CDN) may GET every object, nothing more.
rgw_bucket() {
    rgw_curl PUT "/$1" || return 1
    cat >"$RGW_DIR/policy-$1.json" <<POLICY
{"Version":"2012-10-17","Statement":[{"Sid":"anonymous-read","Effect":"Allow",
"Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::$1/*"]}]}
POLICY
    rgw_curl PUT "/$1?policy=" "$RGW_DIR/policy-$1.json" -H 'Content-Type: application/json'
}

rgw_quota() {
    set -- "$1" "$2" "${3:--1}"
    radosgw-admin -c "$RGW_CONF" quota set --quota-scope=user --uid="$1" \
        --max-size="$2" --max-objects="$3" >/dev/null &&
        radosgw-admin -c "$RGW_CONF" quota enable --quota-scope=user --uid="$1" >/dev/null
}

# rgw_setup UID KEY SECRET BUCKET : what every S3 test starts with, each a
# check: radosgw in $T/rgw, user UID with KEY/SECRET, BUCKET readable by
# anyone; the credentials in $T/creds (mode 0600, as pkgsmith demands).
rgw_setup() {
    check "radosgw starts on 127.0.0.1" rgw_start "$T/rgw"
    check "an S3 user" rgw_user "$1" "$2" "$3"
    check "a bucket with anonymous read" rgw_bucket "$4"
    (umask 077 && printf '%s %s\n' "$2" "$3" >"$T/creds")
}
