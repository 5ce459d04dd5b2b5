#!/bin/sh
# Across the air gap with the real clients: the connected side mirrors a
# stand-in upstream (nginx, 127.0.0.1) and exports a full bundle; an empty
# offline repository imports it, adds alloy-journal-loki and is served by
# nginx on 127.0.0.1; apt-get and dnf in fresh chroots install
# alloy-journal-loki from it.  Then upstream releases alloy 1.3.0: the
# connected side syncs and exports a delta, the offline side imports it,
# and both chroots upgrade to it.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
# shellcheck source=tests/lib/airgap.sh
. "$top/tests/lib/airgap.sh"
UP_PIDFILE=
trap 'nginx_stop; NGINX_PIDFILE=$UP_PIDFILE nginx_stop; t_cleanup' EXIT

airgap_setup
OFF=$T/offline
check "nginx serves the offline repository" nginx_start "$OFF/public" "$T/nginx-off"
URL=http://127.0.0.1:$NGINX_PORT
offline_root "$OFF" "$URL"

check "export (full)" "$P" bundle export --root "$REPO" --out "$T/full.tar"
check "import on the offline side" "$P" bundle import --root "$OFF" "$T/full.tar"
# The offline side's own packages, signed with its own key.
GNUPGHOME=$T/off-gnupg "$P" build --key "$OFPR" --out "$T/pkgs" "$top" >/dev/null
GNUPGHOME=$T/off-gnupg "$P" build --key "$OFPR" --format rpm --out "$T/pkgs" "$top/tests/fixtures/host-provides" >/dev/null
check "add alloy-journal-loki offline and publish" sh -c "'$P' repo add --root '$OFF' '$T'/pkgs/alloy-journal-loki_*.deb '$T'/pkgs/*.rpm >/dev/null && '$P' repo publish --root '$OFF' >/dev/null"
check "client-package of the offline repository" "$P" repo client-package --root "$OFF" --out "$T/client"

# ---- apt ----------------------------------------------------------------------
A=$T/apt-root
new_root apt "$A"
client_install apt "$A" "$T/client"
# shellcheck disable=SC2016 # ${Version} is dpkg-query's
check_eq "apt: it pulled the mirrored alloy 1.2.0" 1.2.0-1 "$(chroot "$A" dpkg-query -W -f '${Version}' alloy)"
journal_shipping apt "$A"

# ---- dnf ----------------------------------------------------------------------
D=$T/dnf-root
new_root dnf "$D"
client_install dnf "$D" "$T/client"
check_eq "dnf: it pulled the mirrored alloy 1.2.0" 1.2.0-1 "$(chroot "$D" rpm -q --qf '%{VERSION}-%{RELEASE}' alloy)"
journal_shipping dnf "$D"

# ---- a delta brings alloy 1.3.0 -----------------------------------------------
airgap_resync 1.3.0
check "export a delta" "$P" bundle export --root "$REPO" --out "$T/delta.tar"
check_eq "the delta carries only the two new package files" 2 "$(tar -tf "$T/delta.tar" | grep -c '^pool/')"
check "import the delta offline" "$P" bundle import --root "$OFF" "$T/delta.tar"
check "apt: apt-get update" in_root "$A" apt-get update --error-on=any
check "apt: apt-get install -y alloy (the upgrade)" in_root "$A" apt-get install -y alloy
# shellcheck disable=SC2016
check_eq "apt: alloy 1.3.0 is installed" 1.3.0-1 "$(chroot "$A" dpkg-query -W -f '${Version}' alloy)"
check "dnf: dnf upgrade -y alloy" in_dnf "$D" upgrade alloy
check_eq "dnf: alloy 1.3.0 is installed" 1.3.0-1 "$(chroot "$D" rpm -q --qf '%{VERSION}-%{RELEASE}' alloy)"
check "the offline side kept its own packages through the import" grep -q '^Package: alloy-journal-loki' "$OFF/public/dists/stable/main/binary-amd64/Packages"
