#!/bin/sh
# dnf against a pkgsmith repository served by nginx on 127.0.0.1, with the
# client setup package's .repo (gpgcheck=1, repo_gpgcheck=1): install
# alloy-journal-loki, a tampered repomd.xml refused, and a key rotation
# (dual-signed repomd.xml.asc) accepted by clients knowing either key.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

chain_repo_keys

new_root dnf "$C"
check "nginx serves the repository on 127.0.0.1" nginx_start "$REPO/public" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT
for src in "$top" "$top/tests/fixtures/alloy" "$top/tests/fixtures/host-provides"; do
    "$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$src" >/dev/null
done
"$P" repo init --root "$REPO" --key "$FPR" --org acme --url "$URL" >/dev/null
"$P" repo add --root "$REPO" "$T"/pkgs/*.rpm >/dev/null
check "publish" "$P" repo publish --root "$REPO"
check "client-package builds acme-repo" "$P" repo client-package --root "$REPO" --out "$T/client"

cp "$T"/client/acme-repo-*.noarch.rpm "$C/tmp/"
# The setup package is the host's first rpm: nothing verifies it yet
# (the README's bootstrap checks the key's fingerprint first).
check "the setup package installs" in_root "$C" sh -c 'rpm -i --nodeps --nosignature /tmp/acme-repo-*.noarch.rpm'
check "its .repo checks package and metadata signatures" sh -c "grep -qx gpgcheck=1 '$C/etc/yum.repos.d/acme.repo' && grep -qx repo_gpgcheck=1 '$C/etc/yum.repos.d/acme.repo'"
rm -f "$C/etc/yum.repos.d/local.repo"
check "dnf installs host-provides from the repository" in_dnf "$C" install host-provides
check "dnf install -y alloy-journal-loki" in_dnf "$C" install alloy-journal-loki
check "alloy came along" in_root "$C" rpm -q alloy
check "rpm -K: the installed package's signature is ours" sh -c "chroot '$C' rpm -K /var/cache/dnf/*/packages/alloy-journal-loki-*.rpm 2>/dev/null | grep -q 'signatures OK' || chroot '$C' rpm -q --qf '%{SIGPGP:pgpsig}%{RSAHEADER:pgpsig}\n' alloy-journal-loki | grep -qi '$(echo "$FPR" | tail -c 17 | tr 'A-F' 'a-f')'"
check_eq "systemctl is-enabled alloy" enabled "$(in_root "$C" systemctl is-enabled alloy.service 2>/dev/null)"

# A tampered repomd.xml: its signature no longer matches.
X=$REPO/public/rpm/stable/repodata/repomd.xml
cp "$X" "$T/repomd.bak"
sed -i 's|<revision>|<revision>9|' "$X"
# (skip_if_unavailable=False: otherwise dnf only warns and goes on.)
check_fails "dnf refuses a tampered repomd.xml" 1 "GPG signature verification error|Bad GPG signature|signature" \
    in_dnf "$C" --setopt=skip_if_unavailable=False makecache
cp "$T/repomd.bak" "$X"
check "dnf accepts it again once restored" in_dnf "$C" makecache

# Key rotation: with Signing-Key listing two keys, repomd.xml.asc carries a
# signature by each, so dnf (repo_gpgcheck=1) accepts the metadata whether
# the client's .repo key file holds only the old key or only the new one.
# (An rpm header holds one OpenPGP signature: the packages stay signed by
# the first Signing-Key, which is why the client package ships every key.)
FPR2=$(make_key "$H" 'Next Key <next@example.test>')
sed -i "s/^Signing-Key: .*/Signing-Key: $FPR $FPR2/" "$REPO/repo.conf"
sleep 1
check "rotation: publish signed by both keys" "$P" repo publish --root "$REPO"
K=$C/etc/pki/rpm-gpg/RPM-GPG-KEY-acme
cp "$K" "$T/old-only.asc"
gpg --homedir "$H" --armor --export "$FPR2" >"$T/new-only.asc"
for k in old new; do
    cp "$T/$k-only.asc" "$K"
    rm -rf "$C"/var/cache/dnf/* "$C"/var/lib/dnf/repos
    check "rotation: dnf knowing only the $k key accepts the dual-signed metadata" \
        in_dnf "$C" --setopt=skip_if_unavailable=False makecache
done
check_eq "rotation: the client package ships both keys" 2 "$("$P" repo client-package --root "$REPO" --out "$T/client2" --version 1.1 >/dev/null &&
    rpm2cpio "$T"/client2/acme-repo-1.1*.noarch.rpm | cpio -i --quiet --to-stdout ./etc/pki/rpm-gpg/RPM-GPG-KEY-acme | gpg --show-keys --with-colons | grep -c '^pub')"
sed -i "s/^Signing-Key: .*/Signing-Key: $FPR/" "$REPO/repo.conf"
sleep 1
check "rotation: publish signed by the old key alone again" "$P" repo publish --root "$REPO"
rm -rf "$C"/var/cache/dnf/* "$C"/var/lib/dnf/repos
check_fails "... which dnf knowing only the new key refuses" 1 "GPG|signature|gpg" \
    in_dnf "$C" --setopt=skip_if_unavailable=False makecache
cp "$T/old-only.asc" "$K"
