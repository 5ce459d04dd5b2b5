#!/bin/sh
# pkgsmith repo without a client: init, add (validation, conflicts,
# signatures), publish (layout, signatures checked by gpgv, incremental),
# verify, rollback, the lock, a key without its secret part, a full disk,
# and kill -9 at several points of publish.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

H=$T/gnupg
FPR=$(make_key "$H" 'Repo Test <repo@example.test>')
export GNUPGHOME="$H"
R=$T/repo
P=$PKGSMITH

"$P" build --key "$FPR" --out "$T/pkgs" "$top" >/dev/null
"$P" build --key "$FPR" --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null

# ---- init and add ------------------------------------------------------
check "init" "$P" repo init --root "$R" --key "$FPR" --org acme --url http://127.0.0.1:1 --keep 3
check "init wrote repo.conf naming the key" grep -qx "Signing-Key: $FPR" "$R/repo.conf"
check_fails "init refuses an existing repository" 2 "already exists" "$P" repo init --root "$R" --key "$FPR"
check "add four packages" "$P" repo add --root "$R" "$T"/pkgs/*
check_eq "list shows them" 4 "$("$P" repo list --root "$R" | wc -l)"
check_fails "the same bytes again are a no-op" 0 "^unchanged alloy 1.16.1-1 amd64" "$P" repo add --root "$R" "$T/pkgs/alloy_1.16.1-1_amd64.deb"
check_eq "pool holds each file once" 4 "$(find "$R/pool" -type f | wc -l)"

# Same name, version and architecture, other bytes (unsigned rebuild).
"$P" build --no-sign --format deb --out "$T/other" "$top/tests/fixtures/alloy" >/dev/null
check_fails "other bytes under the same name+version+arch are refused, naming both files" 2 \
    "other/alloy_1.16.1-1_amd64.deb: alloy 1.16.1-1 \(amd64\) is already in the repository with different content: .*/pool/.*/alloy_1.16.1-1_amd64.deb" \
    "$P" repo add --root "$R" "$T/other/alloy_1.16.1-1_amd64.deb"

cp "$T/pkgs/alloy_1.16.1-1_amd64.deb" "$T/trunc.deb"
truncate -s 3000 "$T/trunc.deb"
check_fails "a truncated .deb is refused" 2 "trunc.deb: damaged" "$P" repo add --root "$R" "$T/trunc.deb"
cp "$T/pkgs/alloy_1.16.1-1_amd64.deb" "$T/flip.deb"
# A byte in the middle of the data.tar member.
off=$(grep -bao 'data.tar' "$T/flip.deb" | head -n1 | cut -d: -f1)
printf '\377' | dd of="$T/flip.deb" bs=1 seek=$((off + 60 + 300)) conv=notrunc 2>/dev/null
check_fails "a .deb with a flipped data byte is refused" 2 "flip.deb: damaged data.tar" "$P" repo add --root "$R" "$T/flip.deb"
cp "$T/pkgs/alloy-1.16.1-1.x86_64.rpm" "$T/flip.rpm"
size=$(stat -c %s "$T/flip.rpm")
printf '\377' | dd of="$T/flip.rpm" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
check_fails "an rpm with a flipped payload byte is refused" 2 "flip.rpm: damaged rpm: payload digest mismatch" "$P" repo add --root "$R" "$T/flip.rpm"
cp "$T/pkgs/alloy-1.16.1-1.x86_64.rpm" "$T/hdr.rpm"
printf '\377' | dd of="$T/hdr.rpm" bs=1 seek=2000 conv=notrunc 2>/dev/null
check_fails "an rpm with a flipped header byte is refused" 2 "hdr.rpm: damaged" "$P" repo add --root "$R" "$T/hdr.rpm"
echo "not a package" >"$T/junk.deb"
check_fails "a file that is no package is refused" 2 "junk.deb: neither a .deb nor an .rpm" "$P" repo add --root "$R" "$T/junk.deb"
check "a failed add adds nothing" test "$("$P" repo list --root "$R" | wc -l)" -eq 4

# ---- package signatures ------------------------------------------------
H2=$T/gnupg-other
FPR2=$(make_key "$H2" 'Someone Else <else@example.test>')
GNUPGHOME=$H2 "$P" build --key "$FPR2" --format deb,rpm --set version=1.0.1 --out "$T/foreign" "$top" >/dev/null 2>&1 ||
    GNUPGHOME=$H2 "$P" build --key "$FPR2" --out "$T/foreign" "$top" >/dev/null
gpg --homedir "$H" --armor --export "$FPR" >"$T/ours.asc"
R2=$T/repo-signed
"$P" repo init --root "$R2" --key "$FPR" >/dev/null
printf 'Package-Keys: %s\nRequire-Signed-Packages: yes\n' "$T/ours.asc" >>"$R2/repo.conf"
check "Package-Keys: packages signed by our key are accepted" "$P" repo add --root "$R2" "$T"/pkgs/alloy-journal-loki*
check_fails "Package-Keys: a .deb signed by another key is refused (exit 2, bad input), naming it" 2 "signed by key $FPR2, which is not a trusted key" \
    "$P" repo add --root "$R2" "$T"/foreign/*.deb
check_fails "Package-Keys: an rpm signed by another key is refused (exit 2)" 2 "signed by key ID .*not in Package-Keys" \
    "$P" repo add --root "$R2" "$T"/foreign/*.rpm
check_fails "Require-Signed-Packages: an unsigned package is refused (exit 2)" 2 "unsigned package" \
    "$P" repo add --root "$R2" "$T/other/alloy_1.16.1-1_amd64.deb"

# ---- publish -----------------------------------------------------------
check "publish" "$P" repo publish --root "$R"
D=$R/public/dists/stable
check "Release has by-hash, Date and Valid-Until" sh -c "grep -qx 'Acquire-By-Hash: yes' '$D/Release' && grep -q '^Valid-Until: ' '$D/Release' && grep -q '^Date: ' '$D/Release'"
gpg --homedir "$H" --export "$FPR" >"$T/ours.gpg"
check "gpgv accepts InRelease" gpgv --keyring "$T/ours.gpg" "$D/InRelease"
check "gpgv accepts Release.gpg" gpgv --keyring "$T/ours.gpg" "$D/Release.gpg" "$D/Release"
check "gpgv accepts repomd.xml.asc" gpgv --keyring "$T/ours.gpg" "$R/public/rpm/stable/repodata/repomd.xml.asc" "$R/public/rpm/stable/repodata/repomd.xml"
check "the all package is listed under every architecture" sh -c "grep -q '^Package: alloy-journal-loki' '$D/main/binary-amd64/Packages' && grep -q '^Package: alloy-journal-loki' '$D/main/binary-arm64/Packages'"
check "Packages.xz and .gz hold Packages" sh -c "xz -dc '$D/main/binary-amd64/Packages.xz' | cmp - '$D/main/binary-amd64/Packages' && gzip -dc '$D/main/binary-amd64/Packages.gz' | cmp - '$D/main/binary-amd64/Packages'"
sha=$(sha256sum "$D/main/binary-amd64/Packages" | cut -d' ' -f1)
check "by-hash/SHA256 holds Packages" cmp "$D/main/binary-amd64/by-hash/SHA256/$sha" "$D/main/binary-amd64/Packages"
check "the pool file of Packages' Filename exists" sh -c "f=\$(awk '/^Filename:/{print \$2; exit}' '$D/main/binary-amd64/Packages'); test -s '$R/public/'\"\$f\""
check "createrepo_c's parser reads the repodata (dnf's library)" sh -c "zcat '$R'/public/rpm/stable/repodata/*-primary.xml.gz | grep -q '<name>alloy-journal-loki</name>'"
check_fails "publish --json" 0 '"ok":true,"generation":2' "$P" repo publish --root "$R" --json
check "verify" "$P" repo verify --root "$R"
check "by-hash of the previous generation stays reachable" test -f "$R/generations/2/tree/dists/stable/main/binary-amd64/by-hash/SHA256/$sha"

# Incremental: publishing reads index records, never the package files.
"$P" repo add --root "$R" "$T/foreign/alloy-journal-loki_1.0.1-1_all.deb" >/dev/null 2>&1 ||
    "$P" repo add --root "$R" --suite stable "$T"/foreign/*.deb >/dev/null 2>&1
strace -qq -e trace=open,openat -o "$T/strace" "$P" repo publish --root "$R" >/dev/null 2>&1
check_eq "publish opens no package file" "" "$(grep -E '\.(deb|rpm)"' "$T/strace" | grep -v ENOENT)"

# ---- verify catches tampering -----------------------------------------
f=$R/public/dists/stable/main/binary-amd64/Packages
cp "$f" "$T/Packages.bak"
sed -i 's/^Priority: optional/Priority: extra/' "$f"
check_fails "verify names a tampered Packages" 1 "binary-amd64/Packages: (SHA256|size) differs" "$P" repo verify --root "$R"
cp "$T/Packages.bak" "$f"
cp "$R/public/rpm/stable/repodata/repomd.xml" "$T/repomd.bak"
sed -i 's/<revision>/<revision>1/' "$R/public/rpm/stable/repodata/repomd.xml"
check_fails "verify names a tampered repomd.xml" 1 "repomd.xml.asc: BAD signature" "$P" repo verify --root "$R"
cp "$T/repomd.bak" "$R/public/rpm/stable/repodata/repomd.xml"
check "verify passes again" "$P" repo verify --root "$R"

# ---- rollback ----------------------------------------------------------
cur=$("$P" repo generations --root "$R" --json | python3 -c 'import json,sys; print([g["generation"] for g in json.load(sys.stdin)["generations"] if g["current"]][0])')
prev=$((cur - 1))
snap() { (cd "$R/generations/$1/tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
snap "$prev" >"$T/prev.sums"
check "rollback" "$P" repo rollback --root "$R"
check_eq "public now points at the previous generation" "generations/$prev/tree" "$(readlink "$R/public")"
check_eq "rollback restores exactly the previous generation's bytes" "$(cat "$T/prev.sums")" "$(cd "$R/public" && find . -type f -print0 | sort -z | xargs -0 sha256sum)"
check "the working set follows the rollback" sh -c "! '$P' repo list --root '$R' | grep -q 1.0.1"
check "verify after rollback" "$P" repo verify --root "$R"

# ---- remove ------------------------------------------------------------
check "remove NAME=VERSION" "$P" repo remove --root "$R" alloy=1.16.1-1
check_fails "remove of an absent package fails" 2 "no package nosuch" "$P" repo remove --root "$R" nosuch
check "publish after remove" "$P" repo publish --root "$R"
check "alloy is gone from Packages" sh -c "! grep -q '^Package: alloy\$' '$R/public/dists/stable/main/binary-amd64/Packages'"
gens=$(find "$R/generations" -mindepth 1 -maxdepth 1 -name '[0-9]*' | wc -l)
check_eq "Keep-Generations: 3 generations kept" 3 "$gens"

# ---- the lock ----------------------------------------------------------
flock "$R/lock" sleep 3 &
holder=$!
sleep 0.5
check_fails "a second writer refuses with exit 75 while the lock is held" 75 "held by another pkgsmith" "$P" repo publish --root "$R"
check "with --wait it waits for the lock and publishes" "$P" repo publish --root "$R" --wait 20
wait "$holder"

# ---- a key without its secret part ------------------------------------
H3=$T/gnupg-public-only
mkdir -p "$H3" && chmod 700 "$H3"
gpg --homedir "$H3" --batch --quiet --import "$T/ours.asc" 2>/dev/null
before=$(readlink "$R/public")
check_fails "a key without its secret part is refused by name" 2 "no secret key $FPR" env GNUPGHOME="$H3" "$P" repo publish --root "$R"
check_eq "...and the published generation is untouched" "$before" "$(readlink "$R/public")"

# ---- kill -9 at several points of publish -----------------------------
# strace injects SIGKILL at the Nth call of a syscall of pkgsmith itself:
# while writing indices, renaming repodata, before the sync, when the new
# generation is renamed into place, and at the switch of `public`.
for point in write:when=3 rename:when=2 syncfs:when=1 rename:when=4 symlink:when=3; do
    sc=${point%%:*} when=${point#*:}
    before=$(readlink "$R/public")
    strace -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=SIGKILL:$when" "$P" repo publish --root "$R" >/dev/null 2>&1
    check_eq "kill -9 at $point: the previous generation is still served" "$before" "$(readlink "$R/public")"
    check "kill -9 at $point: verify passes" "$P" repo verify --root "$R"
    check "kill -9 at $point: the next publish completes" "$P" repo publish --root "$R"
    check_eq "kill -9 at $point: no temporary generation is left" "" "$(find "$R/generations" -maxdepth 1 -name '.tmp-*')"
done

# ---- a full disk -------------------------------------------------------
M=$T/small
mkdir -p "$M"
if mount -t tmpfs -o size=4m tmpfs "$M" 2>/dev/null; then
    "$P" repo init --root "$M/r" --key "$FPR" >/dev/null
    "$P" repo add --root "$M/r" "$T"/pkgs/*.deb >/dev/null
    "$P" repo publish --root "$M/r" >/dev/null
    before=$(readlink "$M/r/public")
    dd if=/dev/zero of="$M/fill" bs=64k 2>/dev/null
    check_fails "a full disk fails publish with a clear error" 1 "No space left on device" "$P" repo publish --root "$M/r"
    check_eq "full disk: the published generation is untouched" "$before" "$(readlink "$M/r/public")"
    check "full disk: verify passes" "$P" repo verify --root "$M/r"
    rm -f "$M/fill"
    check "full disk: the next publish completes" "$P" repo publish --root "$M/r"
    check_eq "full disk: no temporary generation is left" "" "$(find "$M/r/generations" -maxdepth 1 -name '.tmp-*')"
    umount "$M"
else
    not_ok "full disk" "cannot mount a small tmpfs here"
fi
