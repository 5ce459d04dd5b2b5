#!/bin/sh
# pkgsmith bundle: a connected repository mirrors a stand-in upstream
# (nginx, 127.0.0.1) and exports; offline repositories import.  Full and
# delta bundles, chunks, re-runs, kill -9 midway, and every tampering the
# issue names: each must publish nothing, leave the published tree byte
# for byte as it was, name the member, and let the genuine bundle in
# afterwards.  (The apt/dnf installs from the offline side are in
# bundle_install.sh.)
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"
# shellcheck source=tests/lib/airgap.sh
. "$top/tests/lib/airgap.sh"
mangle() { python3 "$top/tests/lib/tarmangle.py" "$@"; }
gens() { find "$1/generations" -mindepth 1 -maxdepth 1 | wc -l; }

airgap_setup
mkdir -p "$T/tmp"
export TMPDIR="$T/tmp"

# ---- usage -----------------------------------------------------------------
check "bundle --help" sh -c "'$P' bundle --help | grep -q 'bundle export'"
check "pkgsmith help bundle" sh -c "'$P' help bundle | grep -q 'Transfer-Keys'"
check_fails "export without --out is a usage error" 64 "needs --out" "$P" bundle export --root "$REPO"
check_fails "--full with --since is a usage error" 64 "exclude" "$P" bundle export --root "$REPO" --full --since 1 --out "$T/x.tar"
check_fails "--split below 64K is a usage error" 64 "bad option" "$P" bundle export --root "$REPO" --split 1K --out "$T/x.tar"
check_fails "--since an export that never happened" 2 "no export of generation 1 is recorded" "$P" bundle export --root "$REPO" --since 1 --out "$T/x.tar"
check_fails "a mirror that is not there" 2 "no mirror named 'nope'" "$P" bundle export --root "$REPO" --mirror nope --out "$T/x.tar"

# ---- full export, import into an empty offline root ------------------------
check "export (the first one is full)" "$P" bundle export --root "$REPO" --out "$T/full.tar"
check_eq "MANIFEST and MANIFEST.asc come first" "MANIFEST MANIFEST.asc" "$(tar -tf "$T/full.tar" | head -n 2 | tr '\n' ' ' | sed 's/ $//')"
tar -xf "$T/full.tar" -C "$T" MANIFEST MANIFEST.asc
gpg --batch --dearmor <"$T/transfer.asc" >"$T/transfer.gpg"
check "gpgv accepts the manifest's signature by the transfer key" gpgv --keyring "$T/transfer.gpg" "$T/MANIFEST.asc" "$T/MANIFEST"
check_eq "the full bundle carries the 4 package files" 4 "$(tar -tf "$T/full.tar" | grep -c '^pool/')"
check "the manifest lists every member with size and SHA-256" sh -c "tar -tf '$T/full.tar' | tail -n +3 | while read -r m; do grep -q \" [0-9]* \$m\$\" '$T/MANIFEST' || exit 1; done"
check "the manifest names generation, base and origin" sh -c "grep -q '^Generation: [0-9]' '$T/MANIFEST' && grep -qx 'Base: none' '$T/MANIFEST' && grep -q '^Origin: [0-9a-f]\{32\}$' '$T/MANIFEST'"

offline_root "$T/off"
check "import into an empty offline root" "$P" bundle import --root "$T/off" "$T/full.tar"
check "the offline generation verifies" "$P" repo verify --root "$T/off"
gpg --homedir "$T/off-gnupg" --batch --export "$OFPR" >"$T/off.gpg"
check "the offline InRelease is signed by the offline key" gpgv --keyring "$T/off.gpg" "$T/off/public/dists/stable/InRelease"
check_fails "... and not by the transfer key" 2 "." gpgv --keyring "$T/transfer.gpg" "$T/off/public/dists/stable/InRelease"
check "the offline Packages lists alloy 1.2.0" grep -qx 'Version: 1.2.0-1' "$T/off/public/dists/stable/main/binary-amd64/Packages"
check "the offline rpm repo lists alloy 1.2.0" sh -c "zcat '$T'/off/public/rpm/stable/repodata/*primary.xml.gz | grep -q 'ver=\"1.2.0\"'"
check "the upstream provenance came along" test -s "$T/off/mirrors/grafana-apt/provenance/stable.InRelease"
check "the upstream rpm key came along (for the client package)" test -s "$T/off/mirrors/grafana-rpm/client-keys/0.asc"
check "the offline provenance is published with the generation" test -s "$T/off/generations/1/provenance/grafana-rpm/repomd.xml"
check "nothing staged is left" sh -c "[ -z \"\$(ls -A '$T/off/bundles/incoming')\" ]"
check "nothing left in TMPDIR" sh -c "[ -z \"\$(ls -A '$T/tmp')\" ]"
off_tree=$(tree_of "$T/off")
check_fails "importing it again is a no-op" 0 "already imported" "$P" bundle import --root "$T/off" "$T/full.tar"
check_eq "... and publishes nothing" "$off_tree" "$(tree_of "$T/off")"
check "bundle list shows the export" sh -c "'$P' bundle list --root '$REPO' | grep -q '^export .* done .*full.tar'"
check "bundle list --json shows the import" sh -c "'$P' bundle list --root '$T/off' --json | python3 -c 'import json,sys; e=json.load(sys.stdin)[\"events\"]; assert e[0][\"kind\"]==\"import\" and e[0][\"status\"]==\"done\" and e[0][\"base\"]==0'"

# ---- the transfer key is pinned -------------------------------------------
"$P" repo init --root "$T/nokey" --key "$OFPR" --gnupg-home "$T/off-gnupg" >/dev/null
check_fails "no transfer key pinned: refused" 2 "no transfer key is pinned" "$P" bundle import --root "$T/nokey" "$T/full.tar"
make_key "$T/evil-gnupg" 'Evil <evil@example.test>' >/dev/null
gpg --homedir "$T/evil-gnupg" --batch --armor --export >"$T/evil.asc" 2>/dev/null
check_fails "a transfer key that did not sign it: refused" 1 "MANIFEST" "$P" bundle import --root "$T/nokey" --transfer-key "$T/evil.asc" "$T/full.tar"
check_eq "... and nothing was published" 0 "$(gens "$T/nokey")"
"$P" repo init --root "$T/prodonly" --suite prod --key "$OFPR" --gnupg-home "$T/off-gnupg" >/dev/null
check_fails "a target the offline repo lacks is named" 2 "stable/main.*does not have" "$P" bundle import --root "$T/prodonly" --transfer-key "$T/transfer.asc" "$T/full.tar"

# ---- delta -------------------------------------------------------------------
airgap_resync 1.3.0
check "export a delta (since the last export)" "$P" bundle export --root "$REPO" --out "$T/delta.tar"
check_eq "the delta carries only the 2 new package files" "alloy-1.3.0-1.x86_64.rpm alloy_1.3.0-1_amd64.deb" "$(tar -tf "$T/delta.tar" | grep '^pool/' | sed 's|.*/||' | sort | tr '\n' ' ' | sed 's/ $//')"
new_bytes=$(find "$REPO/pool" -name '*1.3.0*' -exec cat {} + | wc -c)
delta_bytes=$(wc -c <"$T/delta.tar")
check "the delta is the new files plus under 32 KiB of manifest, records and provenance ($delta_bytes bytes, $new_bytes new)" test "$delta_bytes" -lt $((new_bytes + 32768))
check "the delta is smaller than the full bundle" test "$delta_bytes" -lt "$(wc -c <"$T/full.tar")"
check "its manifest names the base" sh -c "tar -xOf '$T/delta.tar' MANIFEST | grep -qx 'Base: [0-9]*' && ! tar -xOf '$T/delta.tar' MANIFEST | grep -qx 'Base: none'"
check_fails "nothing new: nothing exported, exit 0" 0 "nothing to export" "$P" bundle export --root "$REPO" --out "$T/none.tar"
check "... and no file written" test ! -e "$T/none.tar"
offline_root "$T/fresh"
check_fails "a delta without its base: refused, naming the base generation" 2 "on top of generation [0-9]+ .*not imported here .*import the bundle of generation [0-9]+ first" "$P" bundle import --root "$T/fresh" "$T/delta.tar"
check_eq "... and nothing was published" 0 "$(gens "$T/fresh")"

# ---- tampering: each publishes nothing and names what failed ---------------
# tamper NAME PATTERN FILE : the import of FILE into $T/off fails (exit 1)
# with PATTERN; the published tree and the working set stay as they were.
tamper() {
    _before=$(tree_of "$T/off") _state=$(state_of "$T/off")
    check_fails "$1: refused" 1 "$2" "$P" bundle import --root "$T/off" "$3"
    check_eq "$1: the published tree is byte-identical" "$_before" "$(tree_of "$T/off")"
    check_eq "$1: the working set and pool are unchanged" "$_state" "$(state_of "$T/off")"
}
pool_deb=$(mangle first "$T/delta.tar" pool/ )
cp "$T/delta.tar" "$T/t.tar" && mangle flip "$T/t.tar" "$pool_deb"
tamper "a flipped byte in a package" "member [0-9]+ of [0-9]+ \($pool_deb\): SHA-256 .* altered" "$T/t.tar"
cp "$T/delta.tar" "$T/t.tar" && mangle flip "$T/t.tar" MANIFEST
tamper "a flipped byte in the manifest" "MANIFEST.*(bad|BAD|signature)" "$T/t.tar"
cp "$T/delta.tar" "$T/t.tar" && mangle drop "$T/t.tar" "$pool_deb"
tamper "a dropped member" "\($pool_deb\).*(in its place|ends before)" "$T/t.tar"
meta1=$(mangle first "$T/delta.tar" meta/)
cp "$T/delta.tar" "$T/t.tar" && mangle swap "$T/t.tar" "$meta1" "$pool_deb"
tamper "reordered members" "\($meta1\): the bundle has '$pool_deb' in its place" "$T/t.tar"
cp "$T/delta.tar" "$T/t.tar" && mangle append "$T/t.tar" pool/extra
tamper "an extra member" "member 'pool/extra' after the" "$T/t.tar"
tar -xOf "$T/delta.tar" MANIFEST >"$T/m.txt"
gpg --homedir "$T/evil-gnupg" --batch --yes --armor --detach-sign -o "$T/m.asc" "$T/m.txt" 2>/dev/null
cp "$T/delta.tar" "$T/t.tar" && mangle replace "$T/t.tar" MANIFEST.asc "$T/m.asc"
tamper "the manifest signed by another key" "MANIFEST.*(unknown|no public key|not)" "$T/t.tar"
head -c $(($(wc -c <"$T/delta.tar") / 2)) "$T/delta.tar" >"$T/t.tar"
tamper "a truncated bundle" "member [0-9]+ of [0-9]+ \(.*(ends before|[Tt]runcated|unreadable)" "$T/t.tar"
check "the staging of failed imports stays inside the repository root" sh -c "[ -z \"\$(ls -A '$T/tmp')\" ] || { ls -laR '$T/tmp' >&2; false; }"
check "after all that, the genuine delta imports" "$P" bundle import --root "$T/off" "$T/delta.tar"
check "the offline Packages now lists alloy 1.3.0" grep -qx 'Version: 1.3.0-1' "$T/off/public/dists/stable/main/binary-amd64/Packages"
check "the offline rpm repo lists alloy 1.3.0" sh -c "zcat '$T'/off/public/rpm/stable/repodata/*primary.xml.gz | grep -q 'ver=\"1.3.0\"'"
check "the offline generation verifies" "$P" repo verify --root "$T/off"

# ---- chunks ------------------------------------------------------------------
check "export --full --split 64K" "$P" bundle export --root "$REPO" --full --split 64K --out "$T/sp.tar"
check "it wrote two or more chunks, all but the last of exactly 64 KiB" sh -c "[ -f '$T/sp.tar.002' ] && [ \$(wc -c <'$T/sp.tar.001') -eq 65536 ] && [ ! -e '$T/sp.tar' ]"
check "the chunks joined are one tar" sh -c "cat '$T'/sp.tar.0* | tar -tf - | head -n 1 | grep -qx MANIFEST"
offline_root "$T/ref"
check "reference: the single-file full export of the same generation" "$P" bundle export --root "$REPO" --full --out "$T/full2.tar"
check "reference: imported" "$P" bundle import --root "$T/ref" "$T/full2.tar"
offline_root "$T/chunks"
check "import of the chunks (FILE.001 finds the rest)" "$P" bundle import --root "$T/chunks" "$T/sp.tar.001"
check_eq "the chunked import ends where the single file does" "$(state_of "$T/ref")" "$(state_of "$T/chunks")"
offline_root "$T/chunks2"
check "import of the chunks named one by one" sh -c "'$P' bundle import --root '$T/chunks2' '$T'/sp.tar.0*"

# ---- every export listed; verify; a missing chunk --------------------------
check_eq "bundle list: the delta, the split and the single-file export of the same generation are three rows" 3 "$("$P" bundle list --root "$REPO" --json | python3 -c "import json,sys; e=[x for x in json.load(sys.stdin)['events'] if x['kind']=='export']; g=e[-1]['generation']; print(sum(1 for x in e if x['generation']==g))")"
check "... naming delta.tar, sp.tar.001 and full2.tar" sh -c "'$P' bundle list --root '$REPO' >'$T/list.out' && grep -q 'delta.tar\$' '$T/list.out' && grep -q 'sp.tar.001\$' '$T/list.out' && grep -q 'full2.tar\$' '$T/list.out'"
npool=$(tar -tf "$T/full2.tar" | grep -c '^pool/')
check "bundle verify of a good bundle (the repository's Transfer-Keys)" sh -c "'$P' bundle verify --root '$T/ref' '$T/full2.tar' >'$T/v.out' 2>&1 && grep -q 'full2.tar: good: generation [0-9]* of origin [0-9a-f]* (full), [0-9]* members, $npool package files' '$T/v.out' || { cat '$T/v.out'; false; }"
check "bundle verify of the chunks, key given, no repository needed" "$P" bundle verify --root "$T/nowhere" --transfer-key "$T/transfer.asc" "$T/sp.tar.001"
check "... and it created nothing there" test ! -e "$T/nowhere"
check "bundle verify --json" sh -c "'$P' bundle verify --root '$T/ref' --json '$T/delta.tar' | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"ok\"] and r[\"command\"]==\"verify\" and r[\"base\"]>0 and r[\"files\"]==2'"
ref_tree=$(tree_of "$T/ref") ref_state=$(state_of "$T/ref")
cp "$T/full2.tar" "$T/bad.tar" && mangle flip "$T/bad.tar" "$(mangle first "$T/full2.tar" pool/)"
check_fails "bundle verify of a corrupt bundle names the member" 1 "member [0-9]+ of [0-9]+ \(pool/.*SHA-256 .* altered" "$P" bundle verify --root "$T/ref" "$T/bad.tar"
check_fails "bundle verify with a key that did not sign it" 1 "MANIFEST" "$P" bundle verify --root "$T/ref" --transfer-key "$T/evil.asc" "$T/full2.tar"
check_fails "bundle verify without a transfer key" 2 "no transfer key is pinned" "$P" bundle verify --root "$T/nokey" "$T/full2.tar"
check_eq "verify left the repository's tree as it was" "$ref_tree" "$(tree_of "$T/ref")"
check_eq "... and its working set and pool" "$ref_state" "$(state_of "$T/ref")"
check "... and staged nothing" sh -c "[ -z \"\$(ls -A '$T/ref/bundles/incoming' 2>/dev/null)\" ]"
# (the stand-in bundle takes two chunks of 64 KiB: .002 moved to .003
# leaves a gap with a chunk after it)
nchunks=$(find "$T" -maxdepth 1 -name 'sp.tar.0*' | wc -l)
mv "$T/sp.tar.002" "$T/sp.tar.003"
offline_root "$T/gap"
check_fails "a chunk missing before another is named before any member is read" 1 "sp.tar.002: no such file: the signed manifest lists [0-9]+ members, so the bundle has at least $nchunks chunks of 65536 bytes and 1 are here" "$P" bundle import --root "$T/gap" "$T/sp.tar.001"
check_eq "... nothing was published" 0 "$(gens "$T/gap")"
check "... nothing was staged" sh -c "[ -z \"\$(find '$T/gap/bundles/incoming' -type f 2>/dev/null)\" ]"
check_fails "bundle verify names it too" 1 "sp.tar.002: no such file" "$P" bundle verify --root "$T/gap" "$T/sp.tar.001"
mv "$T/sp.tar.003" "$T/splast.keep"
check_fails "a missing last chunk is named" 1 "sp.tar.002: no such file" "$P" bundle import --root "$T/gap" "$T/sp.tar.001"
cp "$T/sp.tar.001" "$T/part-a"
check_fails "chunks named one by one, the last left out: its number is named" 1 "chunk 2 of the bundle is not among the 1 files given" "$P" bundle import --root "$T/gap" "$T/part-a"
check_eq "... nothing was published" 0 "$(gens "$T/gap")"
mv "$T/splast.keep" "$T/sp.tar.002"
check "with every chunk back, the import succeeds" "$P" bundle import --root "$T/gap" "$T/sp.tar.001"
cp "$T/sp.tar.001" "$T/sp1.keep"
head -c 60000 "$T/sp1.keep" >"$T/sp.tar.001"
offline_root "$T/trunc"
check_fails "a truncated chunk is named" 1 "sp.tar.001: 60000 bytes, but the bundle was cut into chunks of 65536" "$P" bundle import --root "$T/trunc" "$T/sp.tar.001"
check_eq "... and nothing was published" 0 "$(gens "$T/trunc")"
mv "$T/sp1.keep" "$T/sp.tar.001"
last=$(find "$T" -maxdepth 1 -name 'sp.tar.0*' | sort | tail -n 1)
head -c 1000 "$last" >"$T/last.part" && mv "$T/last.part" "$last"
check_fails "a truncated last chunk: the member it cuts is named" 1 "member [0-9]+ of [0-9]+ \(.*(ends before|unreadable)" "$P" bundle import --root "$T/trunc" "$T/sp.tar.001"
check_eq "... and nothing was published" 0 "$(gens "$T/trunc")"
check "the next clean run succeeds" "$P" bundle import --root "$T/trunc" "$T/full2.tar"
check_fails "an older bundle after a newer one: refused (no going back)" 2 "generation [0-9]+ is already imported: refusing to go back" "$P" bundle import --root "$T/trunc" "$T/full.tar"

# ---- kill -9 midway, then run again ------------------------------------------
# Deterministic: the bundle arrives through a FIFO that stalls after
# 40000 bytes, so the import is stopped inside a package member.
mkfifo "$T/slow.tar"
offline_root "$T/killed"
python3 -c "import sys,time; d=open(sys.argv[1],'rb').read(); o=open(sys.argv[2],'wb'); o.write(d[:40000]); o.flush(); time.sleep(30)" "$T/full2.tar" "$T/slow.tar" &
feeder=$!
"$P" bundle import --root "$T/killed" "$T/slow.tar" >/dev/null 2>&1 &
imp=$!
i=0
while [ $i -lt 100 ] && [ -z "$(find "$T/killed/bundles/incoming" -name '*.part' 2>/dev/null)" ]; do sleep 0.05; i=$((i + 1)); done
check "the import is inside a member" test -n "$(find "$T/killed/bundles/incoming" -name '*.part' 2>/dev/null)"
kill -9 "$imp"
wait "$imp" 2>/dev/null
kill "$feeder" 2>/dev/null
wait "$feeder" 2>/dev/null
check_eq "killed midway: nothing was published" 0 "$(gens "$T/killed")"
check "re-run of the killed import" "$P" bundle import --root "$T/killed" "$T/full2.tar"
check_eq "it ends where an uninterrupted import does" "$(state_of "$T/ref")" "$(state_of "$T/killed")"
check "... and verifies" "$P" repo verify --root "$T/killed"
check "... and nothing staged is left" sh -c "[ -z \"\$(ls -A '$T/killed/bundles/incoming')\" ]"

# Random points (seeded, printed): kill -9 after a random delay within
# the time an import takes, then run it again.
t0=$(date +%s%N)
offline_root "$T/timed"
"$P" bundle import --root "$T/timed" "$T/full2.tar" >/dev/null 2>&1
took=$((($(date +%s%N) - t0) / 1000000))
seed=${BUNDLE_KILL_SEED:-$(date +%s)}
echo "# kill -9 seed: $seed (BUNDLE_KILL_SEED=$seed reproduces); an import takes ${took} ms"
delays=$(python3 -c "import random,sys; r=random.Random(int(sys.argv[1])); print(' '.join('%.3f' % r.uniform(0.005, int(sys.argv[2]) / 1000.0) for _ in range(12)))" "$seed" "$took")
n=0 same=0 early=0
for d in $delays; do
    n=$((n + 1))
    rm -rf "$T/k"
    offline_root "$T/k"
    "$P" bundle import --root "$T/k" "$T/full2.tar" >/dev/null 2>&1 &
    imp=$!
    sleep "$d"
    kill -9 "$imp" 2>/dev/null
    wait "$imp" 2>/dev/null
    grep -q 'done' "$T/k/bundles/log" 2>/dev/null || early=$((early + 1))
    "$P" bundle import --root "$T/k" "$T/full2.tar" >"$T/k.out" 2>&1 &&
        "$P" repo verify --root "$T/k" >/dev/null 2>&1 &&
        [ "$(state_of "$T/k")" = "$(state_of "$T/ref")" ] && same=$((same + 1))
done
echo "# $early of $n kills landed before the import finished"
check_eq "killed at $n random points, every re-run ends in the same verified state" "$n" "$same"
check "at least one kill landed midway" test "$early" -gt 0
