#!/bin/sh
# The whole chain on dnf: a stand-in Grafana rpm upstream (nginx,
# 127.0.0.1) -> pkgsmith mirror sync (alloy, keep 5, package signatures
# checked) -> our repository with alloy-journal-loki -> dnf install in a
# chroot with gpgcheck=1 and repo_gpgcheck=1, pulling the mirrored alloy.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

chain_keys

new_root dnf "$C"
up_rpms "$T/up" 2
up_add_alloy_rpm "$T/up" "$UH" "$UK" 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0 1.6.0
up_rpm_publish "$T/up" "$UH" "$UK"
chain_sync rpm
for src in "$top" "$top/tests/fixtures/host-provides"; do
    "$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$src" >/dev/null
done
check "add alloy-journal-loki and publish" sh -c "'$P' repo add --root '$REPO' '$T'/pkgs/*.rpm >/dev/null && '$P' repo publish --root '$REPO' >/dev/null"
check "client-package" "$P" repo client-package --root "$REPO" --out "$T/client"
client_install dnf "$C" "$T/client"
check_eq "it pulled the newest mirrored alloy" 1.6.0-1 "$(chroot "$C" rpm -q --qf '%{VERSION}-%{RELEASE}' alloy)"
check "the installed alloy carries the upstream key's signature (mirrored bit for bit)" sh -c "chroot '$C' rpm -q --qf '%{RSAHEADER:pgpsig}' alloy | grep -qi 'Key ID $(echo "$UK" | tail -c 17 | tr 'A-F' 'a-f')'"
journal_shipping dnf "$C"
