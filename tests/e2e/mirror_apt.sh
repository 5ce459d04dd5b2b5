#!/bin/sh
# The whole chain on apt: a stand-in Grafana upstream (nginx, 127.0.0.1)
# -> pkgsmith mirror sync (alloy, keep 5) -> our repository with
# alloy-journal-loki added -> nginx -> apt-get install alloy-journal-loki
# in a Debian chroot, which pulls the mirrored alloy.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

chain_keys

new_root apt "$C"
up_debs "$T/up" 5
up_add_alloy_deb "$T/up" 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0 1.6.0
up_apt_publish "$T/up" "$UH" "$UK"
chain_sync apt
"$P" build --key "$FPR" --format deb --out "$T/pkgs" "$top" >/dev/null
check "add alloy-journal-loki and publish" sh -c "'$P' repo add --root '$REPO' '$T'/pkgs/alloy-journal-loki_*.deb >/dev/null && '$P' repo publish --root '$REPO' >/dev/null"
check "client-package" "$P" repo client-package --root "$REPO" --out "$T/client"
client_install apt "$C" "$T/client"
# shellcheck disable=SC2016 # ${Version} is dpkg-query's, not ours
check_eq "it pulled the newest mirrored alloy" 1.6.0-1 "$(chroot "$C" dpkg-query -W -f '${Version}' alloy)"
check "apt-cache policy shows alloy from our repository" sh -c "chroot '$C' apt-cache policy alloy | grep -q '$URL stable/main'"
check_eq "apt sees exactly the 5 kept versions" 5 "$(chroot "$C" apt-cache madison alloy | wc -l)"
journal_shipping apt "$C"
check "the journal pipeline is configured" grep -q '^loki.source.journal "journal"' "$C/etc/alloy-journal-loki/config.alloy"
