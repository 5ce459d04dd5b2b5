#!/bin/sh
# apt against a pkgsmith repository served by nginx on 127.0.0.1: the
# client setup package, apt-get install alloy-journal-loki pulling alloy,
# a flipped byte in Packages, a repository signed by another key, and
# a key rotation (clients knowing only the old or only the new key), and
# apt-get update running while 20 publishes switch generations.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

chain_repo_keys
FPR2=$(make_key "$H" 'Other Key <other@example.test>')
echo "# our key $FPR, the other key $FPR2"

new_root apt "$C"
check "nginx serves the repository on 127.0.0.1" nginx_start "$REPO/public" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT
"$P" build --key "$FPR" --format deb --out "$T/pkgs" "$top" >/dev/null
"$P" build --key "$FPR" --format deb --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
"$P" repo init --root "$REPO" --key "$FPR" --org acme --url "$URL" >/dev/null
"$P" repo add --root "$REPO" "$T"/pkgs/*.deb >/dev/null
check "publish" "$P" repo publish --root "$REPO"
check "client-package builds acme-repo" "$P" repo client-package --root "$REPO" --out "$T/client"

cp "$T"/client/acme-repo_*_all.deb "$C/tmp/"
check "the setup package installs" in_root "$C" sh -c 'dpkg -i /tmp/acme-repo_*_all.deb'
check "it installs a deb822 source with Signed-By" grep -qx "Signed-By: /usr/share/keyrings/acme-archive-keyring.asc" "$C/etc/apt/sources.list.d/acme.sources"
check "apt-get update from the repository" in_root "$C" apt-get update
check "apt-get install -y alloy-journal-loki" in_root "$C" apt-get install -y alloy-journal-loki
check "alloy came from the same repository" sh -c "chroot '$C' apt-cache policy alloy | grep -q '$URL stable/main'"
check "id alloy includes systemd-journal" sh -c "chroot '$C' id -nG alloy | tr ' ' '\n' | grep -qx systemd-journal"
check_eq "systemctl is-enabled alloy" enabled "$(in_root "$C" systemctl is-enabled alloy.service 2>/dev/null)"

# A flipped byte in the published Packages files (in place: by-hash shares
# their inodes, as a corrupted disk or a tampering mirror would).
D=$REPO/public/dists/stable/main/binary-amd64
for f in Packages Packages.gz Packages.xz; do
    cp "$D/$f" "$T/$f.bak"
    printf '\001' | dd of="$D/$f" bs=1 seek=40 conv=notrunc 2>/dev/null
done
rm -rf "$C"/var/lib/apt/lists/*
check_fails "a flipped byte in Packages fails apt-get update with a hash error" 100 "Hash Sum mismatch|File has unexpected size" \
    in_root "$C" apt-get update
for f in Packages Packages.gz Packages.xz; do
    cat "$T/$f.bak" >"$D/$f"
done
check "apt-get update passes again once restored" in_root "$C" apt-get update

# The same repository signed by another key.
sed -i "s/^Signing-Key: .*/Signing-Key: $FPR2/" "$REPO/repo.conf"
sleep 1 # a new Last-Modified second, or apt may take InRelease as unchanged
check "publish signed by the other key" "$P" repo publish --root "$REPO"
check "InRelease is now signed by the other key" sh -c "curl -s '$URL/dists/stable/InRelease' | gpg --verify --status-fd 1 2>/dev/null | grep -q 'VALIDSIG $FPR2'"
# (apt-get update only warns about a bad signature and exits 0; --error-on=any
# is how a script makes it fail, and the old indices stay in use.)
check_fails "a repository signed by another key is refused (NO_PUBKEY)" 100 "NO_PUBKEY ${FPR2#????????????????????????}" \
    in_root "$C" apt-get update --error-on=any
sed -i "s/^Signing-Key: .*/Signing-Key: $FPR/" "$REPO/repo.conf"
check "publish signed by our key again" "$P" repo publish --root "$REPO"
check "apt-get update passes with the right key again" in_root "$C" apt-get update

# Key rotation: with Signing-Key listing both keys, a client that knows
# only the old key and one that knows only the new key both update (no
# warning: --error-on=any) and install; the client package ships both.
sed -i "s/^Signing-Key: .*/Signing-Key: $FPR $FPR2/" "$REPO/repo.conf"
sleep 1
check "rotation: publish signed by both keys" "$P" repo publish --root "$REPO"
K=$C/usr/share/keyrings/acme-archive-keyring.asc
cp "$K" "$T/old-only.asc"
gpg --homedir "$H" --armor --export "$FPR2" >"$T/new-only.asc"
for k in old new; do
    cp "$T/$k-only.asc" "$K"
    rm -rf "$C"/var/lib/apt/lists/*
    check "rotation: a client knowing only the $k key updates without a warning" in_root "$C" apt-get update --error-on=any
    check "rotation: a client knowing only the $k key installs" in_root "$C" apt-get install -y --reinstall alloy-journal-loki
done
check "rotation: client-package with both keys" "$P" repo client-package --root "$REPO" --out "$T/client2" --version 1.1
dpkg-deb -x "$T"/client2/acme-repo_1.1*_all.deb "$T/client2/x"
check_eq "rotation: the client package ships both keys" 2 "$(gpg --show-keys --with-colons "$T/client2/x/usr/share/keyrings/acme-archive-keyring.asc" | grep -c '^pub')"
cp "$T/old-only.asc" "$K"
sed -i "s/^Signing-Key: .*/Signing-Key: $FPR/" "$REPO/repo.conf"
check "rotation: publish signed by our key alone again" "$P" repo publish --root "$REPO"

# Atomicity: apt-get update in a loop while 20 publishes happen, each with
# one more package so every index changes.
build_versions deb "$top/tests/fixtures/alloy" "$T/versions" $(seq -f '1.17.%g' 1 20)
(
    for v in $(seq 1 20); do
        "$P" repo add --root "$REPO" "$T"/versions/alloy_1.17."$v"-1_amd64.deb >/dev/null &&
            "$P" repo publish --root "$REPO" --wait 30 >/dev/null || echo "publish $v failed"
        sleep 0.2
    done
    touch "$T/publishing-done"
) >"$T/publisher.log" 2>&1 &
publisher=$!
n=0 bad=0
while [ ! -e "$T/publishing-done" ] && [ $n -lt 100 ]; do
    n=$((n + 1))
    if ! in_root "$C" apt-get update --error-on=any >"$T/update.$n" 2>&1 ||
        grep -Eq 'Hash Sum mismatch|NO_PUBKEY|BADSIG|not signed|^Err:|^W: Failed|^E:' "$T/update.$n"; then
        bad=$((bad + 1))
        sed 's/^/#   /' "$T/update.$n" | head -n 10
    fi
done
wait "$publisher"
check_eq "20 publishes done" "" "$(cat "$T/publisher.log")"
check "apt-get update ran during the publishes (at least 3 times)" test "$n" -ge 3
check_eq "no update saw a hash mismatch or signature error ($n runs)" 0 "$bad"
in_root "$C" apt-get update >/dev/null 2>&1
check "the newest alloy is visible" sh -c "chroot '$C' apt-cache policy alloy | grep -q 'Candidate: 1.17.20-1'"
check "repo verify after the storm" "$P" repo verify --root "$REPO"
