#!/bin/sh
# The Alloy config alloy-journal-loki writes, installed with apt-get in a
# chroot: the stream labels are the Ansible role's (unit, hostname,
# priority, component="loki.source.journal") plus our job and level; label
# keys that are Alloy keywords still make a valid file; the file is in the
# layout `alloy fmt` prints (tests/lib/alloyfmt.py); every refused setting
# gives one line naming it, exit status 2, and leaves the config as it was.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"

R=$T/root
C=$R/etc/alloy-journal-loki/config.alloy
P=$R/etc/alloy-journal-loki/password
fmt=$top/tests/lib/alloyfmt.py
new_root apt "$R"
"$PKGSMITH" build --no-sign --format deb --out "$T/pkgs" "$top" >/dev/null
"$PKGSMITH" build --no-sign --format deb --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
apt_repo "$R" "$T"/pkgs/*.deb
in_root "$R" apt-get update -qq
configure() { in_root "$R" alloy-journal-loki-configure "$@"; }

check "install alloy-journal-loki" in_root "$R" apt-get install -y -q alloy-journal-loki </dev/null
python3 "$fmt" --labels "$C" >"$T/labels"
check_eq "labels: by default exactly the role's, plus job and level" "static component=loki.source.journal
static job=systemd-journal
rule __journal__systemd_unit -> unit
rule __journal__hostname -> hostname
rule __journal_priority -> priority
rule __journal_priority_keyword -> level" "$(cat "$T/labels")"
check "labels: the role's source labels line" grep -qF 'labels        = {component = "loki.source.journal", job = "systemd-journal"}' "$C"
check "labels: no 'host' label any more (renamed to the role's 'hostname')" sh -c "! grep -Eq 'target_label *= *\"host\"' '$C'"
check "labels: relabelled in the source, where the __journal_ fields exist" \
    grep -Eq '^	relabel_rules = loki.relabel.journal.rules$' "$C"
check "layout: the default config is what alloy fmt prints" python3 "$fmt" "$C"

check "labels: LOKI_LABELS=true=yes,null=x,env=prod is accepted" \
    configure --set LOKI_LABELS=true=yes,null=x,env=prod
check "labels: keyword keys are quoted" grep -qF '"true" = "yes", "null" = "x", "env" = "prod"}' "$C"
check "labels: ... which Alloy's syntax accepts" python3 "$fmt" --syntax "$C"
check "layout: with extra labels, what alloy fmt prints" python3 "$fmt" "$C"
check "labels: ... and the stand-in alloy validates it" in_root "$R" alloy validate /etc/alloy-journal-loki/config.alloy
check_eq "labels: the extra labels by name" "static component=loki.source.journal
static job=systemd-journal
static true=yes
static null=x
static env=prod" "$(python3 "$fmt" --labels "$C" | grep '^static')"
sed 's/"true" = "yes"/true = "yes"/' "$C" >"$T/bare.alloy"
check_fails "alloyfmt.py: a bare keyword key is refused as Alloy refuses it" 1 \
    'expected field name \(string or identifier\), got BOOL' python3 "$fmt" --syntax "$T/bare.alloy"
cp "$T/bare.alloy" "$R/tmp/bare.alloy"
check_fails "stand-in alloy: a bare keyword key is refused as Alloy refuses it" 1 \
    'expected field name \(string or identifier\), got BOOL' in_root "$R" alloy fmt /tmp/bare.alloy

check "auth: username, password (inner spaces), tenant, priority" configure --set LOKI_USERNAME=ops \
    --set "LOKI_PASSWORD=s3cret with spaces" --set LOKI_TENANT_ID=tenant-1 --set JOURNAL_MAX_PRIORITY=5 \
    --set LOKI_LABELS=env=prod
check "layout: with basic_auth, tenant and a keep rule, what alloy fmt prints" python3 "$fmt" "$C"
check "auth: password_file named in basic_auth" grep -Eq '^		basic_auth \{$' "$C"
check "auth: the push URL aligned with tenant_id" \
    grep -qF 'url       = "http://localhost:3100/loki/api/v1/push"' "$C"
check_eq "auth: password file content" "s3cret with spaces" "$(cat "$P")"
check "labels: the keep rule is the only addition" sh -c \
    "python3 '$fmt' --labels '$C' | grep -qx 'keep __journal_priority \[0-5\]'"

cp "$C" "$T/config.good"
cp "$P" "$T/password.good"
# Each run reads the settings anew (debconf, then --set): a refused run
# names everything it needs.
# refused NAME PATTERN --set...: exit 2, exactly one line matching
# PATTERN, config and password file untouched.
refused() {
    _n=$1 _p=$2
    shift 2
    check_fails "refused: $_n (exit 2)" 2 "$_p" configure "$@"
    check_eq "refused: $_n: one line" 1 "$(wc -l <"$T/.out")"
    check "refused: $_n: config and password untouched" sh -c "cmp '$C' '$T/config.good' && cmp '$P' '$T/password.good'"
}
refused "password with a leading space" '^alloy-journal-loki: error: LOKI_PASSWORD begins or ends with a space' \
    --set LOKI_USERNAME=ops --set "LOKI_PASSWORD= s3cret"
refused "password with a trailing space" '^alloy-journal-loki: error: LOKI_PASSWORD begins or ends with a space' \
    --set LOKI_USERNAME=ops --set "LOKI_PASSWORD=s3cret "
refused "username without a password" "^alloy-journal-loki: error: LOKI_USERNAME 'ops' needs LOKI_PASSWORD" \
    --set LOKI_USERNAME=ops
refused "password without a username" '^alloy-journal-loki: error: LOKI_PASSWORD needs LOKI_USERNAME' \
    --set LOKI_PASSWORD=s3cret
for l in job component unit hostname priority level; do
    refused "LOKI_LABELS=$l=x (a label we set)" "^alloy-journal-loki: error: LOKI_LABELS: '$l' is a label alloy-journal-loki sets itself" \
        --set "LOKI_LABELS=env=prod,$l=x"
done
refused "a label given twice" "^alloy-journal-loki: error: LOKI_LABELS: 'env' is given twice" --set LOKI_LABELS=env=a,env=b
refused "a reserved __ label" "^alloy-journal-loki: error: LOKI_LABELS: '__x' is reserved" --set LOKI_LABELS=__x=1
refused "a bad label name" "^alloy-journal-loki: error: LOKI_LABELS: '9bad' is not a valid label name" --set LOKI_LABELS=9bad=x
refused "an unknown setting" "^alloy-journal-loki: error: --set: unknown setting 'LOKI_HOTS'" --set LOKI_HOTS=x
check_fails "usage: an unknown option exits 64" 64 "unknown option '--bogus'" configure --bogus
check_fails "usage: --set without NAME=VALUE exits 64" 64 "--set needs NAME=VALUE" configure --set

# Through debconf, as an admin runs it: the postinst passes the status on.
in_root "$R" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_labels string env=prod,hostname=web1" | debconf-set-selections'
check_fails "debconf: dpkg-reconfigure with a label we set exits 2" 2 "LOKI_LABELS: 'hostname' is a label" \
    in_root "$R" dpkg-reconfigure -fnoninteractive alloy-journal-loki
check "debconf: the config stays" cmp "$C" "$T/config.good"
