#!/bin/sh
# mirror sync publishes through the same path as repo publish (issue 22):
# with Publish-To set, each sync that publishes also pushes to a real Ceph
# radosgw on 127.0.0.1 (tests/lib/radosgw.sh, never a mock), from a
# stand-in upstream served by nginx on 127.0.0.1.  Every daemon is
# stopped by PID.
# shellcheck disable=SC2016 # the sh -c scripts expand their own "$1" "$2"
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
# shellcheck source=tests/lib/radosgw.sh
. "$top/tests/lib/radosgw.sh"
trap 'rgw_stop; nginx_stop; t_cleanup' EXIT

P=$PKGSMITH
UH=$T/up-gnupg
K1=$(make_key "$UH" 'Upstream One <up1@example.test>')
OH=$T/our-gnupg
OURS=$(make_key "$OH" 'Our Repo <ours@example.test>')
gpg --homedir "$UH" --batch --armor --export "$K1" >"$T/upstream-keys.asc"
UP=$T/up
REPO=$T/repo
CONF=$T/mirrors.d
mkdir -p "$CONF"
up_debs "$UP/apt" 3
up_add_alloy_deb "$UP/apt" 1.1.0 1.2.0
up_apt_publish "$UP/apt" "$UH" "$K1"
NGINX_PLAIN=1
check "nginx serves the upstream on 127.0.0.1" nginx_start "$UP" "$T/nginx"
mirror_conf "$CONF/grafana-apt.mirror" grafana-apt apt "http://127.0.0.1:$NGINX_PORT/apt" upstream-keys.asc "$K1"
cp "$T/upstream-keys.asc" "$CONF/"

rgw_setup mirror AKIAMIRROR mirrorsecret mirrored
"$P" repo init --root "$REPO" --key "$OURS" --gnupg-home "$OH" >/dev/null
cat >>"$REPO/repo.conf" <<CONF
Publish-To: s3://mirrored/grafana
S3-Endpoint: $RGW_ENDPOINT
S3-Credentials-File: $T/creds
CONF
ANON=$RGW_ENDPOINT/mirrored/grafana
M() { "$P" mirror "$@" --root "$REPO" --config "$CONF"; }

check "mirror sync" M sync
check "... pushed: the bucket serves its InRelease" \
    sh -c 'curl -fsS "$1/dists/stable/InRelease" | cmp - "$2"' sh "$ANON" "$REPO/public/dists/stable/InRelease"
check "... and verifies as a client reads it" "$P" repo verify --root "$REPO" --target s3://mirrored/grafana

up_add_alloy_deb "$UP/apt" 1.3.0
up_apt_publish "$UP/apt" "$UH" "$K1"
check "a sync after a new upstream version" M sync
check "... pushed it: the bucket's index names 1.3.0" \
    sh -c 'curl -fsS "$1/dists/stable/main/binary-amd64/Packages" | grep -q "^Version: 1.3.0"' sh "$ANON"
check "... and verifies" "$P" repo verify --root "$REPO" --target s3://mirrored/grafana

check "radosgw stops by PID" rgw_stop
