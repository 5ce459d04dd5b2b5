#!/bin/sh
# pkgsmith repo lifecycle without a client: snapshots pinned and served
# under a suite, Keep-Versions by dpkg's and rpm's version order (~, +,
# epochs), gc (--dry-run, snapshots survive it, a refused add's leftovers
# go), repo diff, and a repository signed by two keys at once (a rotation),
# each signature checked by gpgv holding only one of the keys.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

H=$T/gnupg
OLD=$(make_key "$H" 'Old Repo Key <old@repo.acme.internal>')
NEW=$(make_key "$H" 'New Repo Key <new@repo.acme.internal>')
export GNUPGHOME="$H"
R=$T/repo
P=$PKGSMITH
for v in 1.0~rc1 1.0 1.0+b1; do
    "$P" build --key "$OLD" --set version="$v" --out "$T/pkgs" "$top" >/dev/null
done
"$P" build --key "$OLD" --format deb --set version=1:0.9 --out "$T/epoch" "$top" >/dev/null

"$P" repo init --root "$R" --key "$OLD" --org acme --url http://repo.acme.internal --suite prod --suite staging --rpm-repo prod --rpm-repo staging >/dev/null
"$P" repo add --root "$R" --suite prod --rpm-repo prod "$T"/pkgs/*1.0~rc1* >/dev/null
check "publish generation 1" "$P" repo publish --root "$R"

# ---- snapshots ---------------------------------------------------------
check_fails "snapshot create pins the working set" 0 "snapshot rc1: 2 packages pinned" "$P" repo snapshot create --root "$R" rc1
check_fails "the same name twice is refused" 2 "snapshot rc1 exists already" "$P" repo snapshot create --root "$R" rc1
check_fails "a name with a slash is refused" 2 "snapshot name '../x'" "$P" repo snapshot create --root "$R" ../x
"$P" repo add --root "$R" --suite prod --rpm-repo prod "$T"/pkgs/*_1.0-1_* "$T"/pkgs/*-1.0-1.* >/dev/null
"$P" repo snapshot create --root "$R" v1.0 >/dev/null
check_fails "snapshot list shows both" 0 "^v1.0 .* 4 packages" "$P" repo snapshot list --root "$R"
check_fails "snapshot show lists its packages" 0 "alloy-journal-loki +1.0~rc1-1" "$P" repo snapshot show --root "$R" rc1
check_fails "snapshot diff names the added versions" 0 "^changed deb prod/main +alloy-journal-loki 1.0~rc1-1 -> 1.0-1 1.0~rc1-1 \(all\)" "$P" repo snapshot diff --root "$R" rc1 v1.0
check_eq "snapshot diff --json counts one change per kind" 2 "$("$P" repo snapshot diff --root "$R" --json rc1 v1.0 | grep -o '"change":"changed"' | wc -l)"

check "publish --snapshot rc1 --suite staging" "$P" repo publish --root "$R" --snapshot rc1 --suite staging
check "staging serves the snapshot: empty, as staging was in rc1" sh -c "! grep -q '^Package:' '$R/public/dists/staging/main/binary-amd64/Packages'"
check "prod serves the working set meanwhile" grep -qx 'Version: 1.0-1' "$R/public/dists/prod/main/binary-amd64/Packages"
check "publish --snapshot v1.0 --suite prod" "$P" repo publish --root "$R" --snapshot v1.0 --suite prod
"$P" repo remove --root "$R" alloy-journal-loki >/dev/null
check "publish after removing everything from the working set" "$P" repo publish --root "$R"
check "prod still serves snapshot v1.0 (deb)" grep -qx 'Version: 1.0-1' "$R/public/dists/prod/main/binary-amd64/Packages"
check "prod still serves snapshot v1.0 (rpm)" sh -c "gzip -dc '$R'/public/rpm/prod/repodata/*-primary.xml.gz | grep -q 'ver=\"1.0\"'"
check_fails "a served snapshot cannot be dropped" 2 "snapshot v1.0 is published under suite prod" "$P" repo snapshot drop --root "$R" v1.0
check "verify the pinned generation" "$P" repo verify --root "$R"

# ---- gc ------------------------------------------------------------------
junk=$R/pool/ab/abababababababababababababababababababababababababababababababab
mkdir -p "$junk" && printf 'left by a crashed add\n' >"$junk/x_1_all.deb"
check_fails "gc --dry-run lists an unreferenced pool file with its size" 0 "would remove pool/ab/abab.* \(22 B\)" "$P" repo gc --root "$R" --dry-run
check "gc --dry-run removes nothing" test -f "$junk/x_1_all.deb"
check_fails "gc keeps every snapshot's files" 0 "reclaimed 1 unreferenced entry" "$P" repo gc --root "$R"
check "gc removed the leftover" test ! -e "$junk"
check "the snapshot's pool files survive gc" sh -c "ls '$R'/pool/*/*/alloy-journal-loki_1.0~rc1-1_all.deb >/dev/null"
check "publish --unpin --suite staging" "$P" repo publish --root "$R" --unpin --suite staging
check "snapshot drop rc1" "$P" repo snapshot drop --root "$R" rc1
for _ in 1 2 3 4 5; do "$P" repo publish --root "$R" >/dev/null; done
check_fails "after rc1 is dropped and its generations pruned, gc finds nothing more (publish collected it)" 0 '"files":\[\],"bytes":0' "$P" repo gc --root "$R" --json
check "v1.0 (which holds 1.0~rc1 too) keeps its files" sh -c "ls '$R'/pool/*/*/alloy-journal-loki_1.0-1_all.deb '$R'/pool/*/*/alloy-journal-loki_1.0~rc1-1_all.deb >/dev/null"
check "snapshot drop v1.0 once prod is unpinned" sh -c "'$P' repo publish --root '$R' --unpin --suite prod >/dev/null && '$P' repo snapshot drop --root '$R' v1.0"
for _ in 1 2 3 4 5; do "$P" repo publish --root "$R" >/dev/null; done
check "then nothing references 1.0~rc1 and publish collected it" sh -c "! ls '$R'/pool/*/*/alloy-journal-loki_1.0~rc1-1_all.deb 2>/dev/null"

# ---- retention -----------------------------------------------------------
R2=$T/keep
"$P" repo init --root "$R2" --key "$OLD" --org acme >/dev/null
printf 'Keep-Versions: 2\n' >>"$R2/repo.conf"
"$P" repo add --root "$R2" "$T"/pkgs/* >/dev/null
check_fails "publish retires the oldest by dpkg's and rpm's order" 0 "retired 2 older" "$P" repo publish --root "$R2"
check_eq "deb: 1.0+b1 and 1.0 kept, 1.0~rc1 (older by dpkg, newer by strcmp) retired" "1.0+b1-1 1.0-1" \
    "$(grep '^Version:' "$R2/public/dists/stable/main/binary-all/Packages" 2>/dev/null | cut -d' ' -f2 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')$(grep -h '^Version:' "$R2"/public/dists/stable/main/binary-amd64/Packages | cut -d' ' -f2 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "rpm: the same two kept" "1.0+b1-1 1.0-1" "$("$P" repo list --root "$R2" | awk '$1 == "rpm" { print $4 }' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
"$P" repo add --root "$R2" "$T"/epoch/*.deb >/dev/null
"$P" repo publish --root "$R2" >/dev/null
check_eq "an epoch wins: 1:0.9 is newer than 1.0+b1" "1.0+b1-1 1:0.9-1" "$("$P" repo list --root "$R2" | awk '$1 == "deb" { print $4 }' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check_fails "repo diff names the change between generations" 0 "^changed deb stable/main +alloy-journal-loki 1.0\+b1-1 1.0-1 -> 1.0\+b1-1 1:0.9-1 \(all\)" "$P" repo diff --root "$R2" 1 2
check_fails "repo diff --json" 0 '"change":"changed","kind":"deb"' "$P" repo diff --root "$R2" --json 1 2
sed -i 's/^Keep-Versions: 2$/Keep-Versions: nosuch=1/' "$R2/repo.conf"
check_fails "Keep-Versions naming no suite is refused with its line" 2 "repo.conf:[0-9]*: Keep-Versions: 'nosuch' is no suite" "$P" repo publish --root "$R2"

# ---- two signing keys ------------------------------------------------------
sed -i "s/^Signing-Key: .*/Signing-Key: $OLD $NEW/" "$R2/repo.conf"
sed -i 's/^Keep-Versions: .*$/Keep-Versions: 5/' "$R2/repo.conf"
check_fails "publish signs with both keys" 0 "and the other Signing-Keys" "$P" repo publish --root "$R2"
gpg --homedir "$H" --export "$OLD" >"$T/old.gpg"
gpg --homedir "$H" --export "$NEW" >"$T/new.gpg"
D=$R2/public/dists/stable
for k in old new; do
    # gpgv exits 2 for the signature it has no key for; apt and dnf accept
    # a file that one trusted key signed, so the good signature is checked.
    K=$(echo "$k" | sed 's/^./\u&/')
    check_fails "gpgv with only the $k key finds its good signature on InRelease" 2 "Good signature from \"$K Repo Key" gpgv --keyring "$T/$k.gpg" "$D/InRelease"
    check_fails "gpgv with only the $k key finds its good signature on Release.gpg" 2 "Good signature from \"$K Repo Key" gpgv --keyring "$T/$k.gpg" "$D/Release.gpg" "$D/Release"
    check_fails "gpgv with only the $k key finds its good signature on repomd.xml.asc" 2 "Good signature from \"$K Repo Key" gpgv --keyring "$T/$k.gpg" "$R2/public/rpm/stable/repodata/repomd.xml.asc" "$R2/public/rpm/stable/repodata/repomd.xml"
done
check_eq "InRelease carries two signatures" 2 "$(gpg --homedir "$H" --verify "$D/InRelease" 2>&1 | grep -c 'Good signature')"
check_eq "the published keyring holds both keys" 2 "$(gpg --show-keys --with-colons "$R2/public/keys/acme-archive-keyring.asc" | grep -c '^pub')"
check "verify accepts the dual-signed generation" "$P" repo verify --root "$R2"
