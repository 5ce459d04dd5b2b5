#!/bin/sh
# An incremental publish (issue 21): the indexes whose packages did not
# change are the served generation's files, hard-linked (same inode), the
# changed one is rewritten (rpm repos are rebuilt each time); real apt and dnf clients read each such
# generation through nginx on 127.0.0.1, `repo verify` passes on it, and
# a flipped byte in a reused index fails verify naming the file.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

chain_repo_keys
DR=$T/dnfroot
new_root apt "$C"
new_root dnf "$DR"
check "nginx serves the repository on 127.0.0.1" nginx_start "$REPO/public" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT
"$P" build --key "$FPR" --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
"$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$top/tests/fixtures/host-provides" >/dev/null
"$P" build --key "$FPR" --set version=1.17.0+incr~1 --out "$T/next" "$top/tests/fixtures/alloy" >/dev/null
"$P" repo init --root "$REPO" --key "$FPR" --org acme --url "$URL" >/dev/null
"$P" repo add --root "$REPO" "$T"/pkgs/*.deb "$T"/pkgs/*.rpm >/dev/null
check "publish generation 1" "$P" repo publish --root "$REPO"
check "client-package builds acme-repo" "$P" repo client-package --root "$REPO" --out "$T/client"

cp "$T"/client/acme-repo_*_all.deb "$C/tmp/"
check "apt: the setup package installs" in_root "$C" sh -c 'dpkg -i /tmp/acme-repo_*_all.deb'
check "apt: apt-get update" in_root "$C" apt-get update --error-on=any
cp "$T"/client/acme-repo-*.noarch.rpm "$DR/tmp/"
check "dnf: the setup package installs" in_root "$DR" sh -c 'rpm -i --nodeps --nosignature /tmp/acme-repo-*.noarch.rpm'
rm -f "$DR/etc/yum.repos.d/local.repo"
check "dnf: install host-provides" in_dnf "$DR" install host-provides

G=$REPO/generations
# inode GEN FILE : the inode of FILE (tree-relative) in generation GEN.
inode() { stat -c %i "$G/$1/tree/$2"; }
AMD=dists/stable/main/binary-amd64
ARM=dists/stable/main/binary-arm64
MD=rpm/stable/repodata/repomd.xml

# ---- a .deb alone: the arm64 index is reused -----------------------------
"$P" repo add --root "$REPO" "$T"/next/alloy_1.17.0+incr~1-1_amd64.deb >/dev/null
sleep 1 # a new Last-Modified second for InRelease
check "publish generation 2 (one .deb more)" "$P" repo publish --root "$REPO"
check_eq "gen 2: binary-amd64/Packages.xz was rewritten" different \
    "$([ "$(inode 1 $AMD/Packages.xz)" = "$(inode 2 $AMD/Packages.xz)" ] && echo same || echo different)"
for f in Packages Packages.gz Packages.xz; do
    check_eq "gen 2: binary-arm64/$f is generation 1's file" "$(inode 1 $ARM/$f)" "$(inode 2 $ARM/$f)"
done
check "gen 2: the reused arm64 index is in InRelease's by-hash" \
    test -e "$G/2/tree/$ARM/by-hash/SHA256/$(sha256sum "$G/2/tree/$ARM/Packages.gz" | cut -d' ' -f1)"
check "repo verify on incremental generation 2" "$P" repo verify --root "$REPO"
check "apt: apt-get update of generation 2" in_root "$C" apt-get update --error-on=any
check "apt: the new alloy is the candidate" sh -c "chroot '$C' apt-cache policy alloy | grep -q 'Candidate: 1.17.0+incr~1-1'"
check "apt: install it" in_root "$C" apt-get install -y alloy
check "dnf: reads generation 2 and installs alloy" in_dnf "$DR" install alloy
check "dnf: alloy 1.16.1 (the rpm repo did not change)" sh -c "chroot '$DR' rpm -q alloy | grep -q '^alloy-1.16.1-1'"

# ---- an .rpm alone: the apt indexes are reused, InRelease re-signed -----
"$P" repo add --root "$REPO" "$T"/next/alloy-1.17.0+incr~1-1.x86_64.rpm >/dev/null
sleep 1
check "publish generation 3 (one .rpm more)" "$P" repo publish --root "$REPO"
check_eq "gen 3: binary-amd64/Packages.xz is generation 2's file" "$(inode 2 $AMD/Packages.xz)" "$(inode 3 $AMD/Packages.xz)"
check_eq "gen 3: binary-arm64/Packages is generation 1's file" "$(inode 1 $ARM/Packages)" "$(inode 3 $ARM/Packages)"
check_eq "gen 3: repomd.xml was rewritten" different \
    "$([ "$(inode 2 $MD)" = "$(inode 3 $MD)" ] && echo same || echo different)"
check "gen 3: InRelease is newer than generation 2's" sh -c "! cmp -s '$G/2/tree/dists/stable/InRelease' '$G/3/tree/dists/stable/InRelease'"
check "repo verify on incremental generation 3" "$P" repo verify --root "$REPO"
check "apt: apt-get update of generation 3" in_root "$C" apt-get update --error-on=any
check "dnf: upgrade alloy from generation 3" in_dnf "$DR" upgrade alloy
check "dnf: alloy 1.17.0+incr~1 is installed" sh -c "chroot '$DR' rpm -q alloy | grep -q '^alloy-1.17.0+incr~1-1'"

# ---- a reused file is shared: verify finds damage in it -----------------
F=$G/3/tree/$AMD/Packages
cp "$F" "$T/Packages.bak"
printf '\001' | dd of="$F" bs=1 seek=10 conv=notrunc 2>/dev/null
check_fails "repo verify fails on the damaged reused index, naming it" 1 "$AMD/Packages: SHA256 differs" \
    "$P" repo verify --root "$REPO"
cat "$T/Packages.bak" >"$F"
check "repo verify passes once it is restored" "$P" repo verify --root "$REPO"

# ---- a publish with nothing changed reuses everything ---------------------
sleep 1
check "publish generation 4 (nothing changed)" "$P" repo publish --root "$REPO"
check_eq "gen 4: binary-amd64/Packages.gz is generation 2's file" "$(inode 2 $AMD/Packages.gz)" "$(inode 4 $AMD/Packages.gz)"
check "repo verify on generation 4" "$P" repo verify --root "$REPO"
check "apt: apt-get update of generation 4" in_root "$C" apt-get update --error-on=any
