#!/bin/sh
# pkgsmith mirror against a stand-in Grafana upstream (apt and rpm, a few
# hundred packages, signed with test "upstream" keys) served by nginx on
# 127.0.0.1 like a CDN (ETag, If-Modified-Since): keep-5 of alloy, the
# one conditional request of a no-op sync, a new upstream version, key
# rotation, an unpinned key, replay, Valid-Until, path traversal, a
# shrunken index, different bytes under one version, a damaged download,
# the lock, status, --json and the metrics file.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
trap 'nginx_stop; t_cleanup' EXIT

P=$PKGSMITH
UH=$T/up-gnupg
K1=$(make_key "$UH" 'Upstream One <up1@example.test>')
K2=$(make_key "$UH" 'Upstream Two <up2@example.test>')
K3=$(make_key "$UH" 'Upstream Unpinned <up3@example.test>')
OH=$T/our-gnupg
OURS=$(make_key "$OH" 'Our Repo <ours@example.test>')
gpg --homedir "$UH" --batch --armor --export "$K1" "$K2" "$K3" >"$T/upstream-keys.asc"
UP=$T/up
REPO=$T/repo
CONF=$T/mirrors.d
LOG=$T/access.log
mkdir -p "$CONF"

up_debs "$UP/apt" 15
up_add_alloy_deb "$UP/apt" 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0 1.6.0 1.7.0
up_apt_publish "$UP/apt" "$UH" "$K1"
up_rpms "$UP/rpm" 4 || echo "# rpmbuild of the filler failed"
up_add_alloy_rpm "$UP/rpm" "$UH" "$K1" 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0 1.6.0 1.7.0
up_rpm_publish "$UP/rpm" "$UH" "$K1"
n_apt=$(grep -c '^Package:' "$UP/apt/dists/stable/main/binary-amd64/Packages")
n_rpm=$(find "$UP/rpm" -name '*.rpm' | wc -l)
echo "# stand-in upstream: $n_apt amd64 Packages entries, $n_rpm rpms"
check "the stand-in upstream has a few hundred packages" test $((n_apt * 2 + n_rpm)) -ge 300

NGINX_PLAIN=1 NGINX_ACCESS_LOG=$LOG
check "nginx serves the upstream on 127.0.0.1" nginx_start "$UP" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT
mirror_conf "$CONF/grafana-apt.mirror" grafana-apt apt "$URL/apt" upstream-keys.asc "$K1" "$K2"
mirror_conf "$CONF/grafana-rpm.mirror" grafana-rpm rpm "$URL/rpm" upstream-keys.asc "$K1" "$K2"
cp "$T/upstream-keys.asc" "$CONF/"
"$P" repo init --root "$REPO" --key "$OURS" --gnupg-home "$OH" >/dev/null
M() { "$P" mirror "$@" --root "$REPO" --config "$CONF"; }
alloys() { "$P" repo list --root "$REPO" | awk -v k="$1" '$1 == k && $3 == "alloy" { print $4 }' | tr '\n' ' '; }

# ---- first sync ---------------------------------------------------------
check "first sync of both mirrors" M sync --metrics-file "$T/metrics.prom"
check_eq "apt: the newest 5 alloy versions" "1.3.0-1 1.4.0-1 1.5.0-1 1.6.0-1 1.7.0-1 " "$(alloys deb)"
check_eq "rpm: the newest 5 alloy versions" "1.3.0-1 1.4.0-1 1.5.0-1 1.6.0-1 1.7.0-1 " "$(alloys rpm)"
check_eq "nothing but alloy was taken" 10 "$("$P" repo list --root "$REPO" | wc -l)"
check "repo verify passes on what was published" "$P" repo verify --root "$REPO"
G=$(readlink "$REPO/public" | cut -d/ -f2)
check "the upstream InRelease is kept next to the generation" cmp "$UP/apt/dists/stable/InRelease" "$REPO/generations/$G/provenance/grafana-apt/stable.InRelease"
check "the upstream repomd.xml.asc is kept next to the generation" cmp "$UP/rpm/repodata/repomd.xml.asc" "$REPO/generations/$G/provenance/grafana-rpm/repomd.xml.asc"
check_eq "and the signer's fingerprint" "$K1" "$(cat "$REPO/generations/$G/provenance/grafana-apt/signer")"
check "our Release is signed with our key, not upstream's" sh -c "gpgv --keyring '$OH/pubring.kbx' '$REPO/public/dists/stable/InRelease' 2>&1 | grep -q 'Good signature'"
check "the metrics file has the last success time per mirror" grep -q '^pkgsmith_mirror_last_success_timestamp_seconds{mirror="grafana-apt"} [1-9]' "$T/metrics.prom"
check "the metrics file has the package count" grep -q '^pkgsmith_mirror_packages{mirror="grafana-rpm"} 5' "$T/metrics.prom"
check "status names the signer and the upstream Date" sh -c "M() { '$P' mirror \"\$@\" --root '$REPO' --config '$CONF'; }; M status grafana-apt | grep -q 'signed by:     $K1' && M status grafana-apt | grep -q 'upstream Date: .*20'"
check "status --json" sh -c "'$P' mirror status --json --root '$REPO' --config '$CONF' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] and len(d[\"mirrors\"]) == 2 and d[\"mirrors\"][0][\"packages\"] == 5'"

# ---- a no-op sync ----------------------------------------------------------
gen_before=$(readlink "$REPO/public")
: >"$LOG"
out=$(M sync --json)
check_eq "a no-op sync makes one request per mirror" 2 "$(wc -l <"$LOG")"
check_eq "both are conditional and answered 304" 2 "$(grep -c '" 304 ' "$LOG")"
check "--json says unchanged and nothing fetched" sh -c "echo '$out' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert all(m[\"unchanged\"] and m[\"fetched\"] == 0 for m in d[\"mirrors\"])'"
check_eq "and nothing was published" "$gen_before" "$(readlink "$REPO/public")"

# ---- upstream adds a version -----------------------------------------------
sleep 1 # a new Last-Modified second
up_add_alloy_deb "$UP/apt" 1.8.0
up_apt_publish "$UP/apt" "$UH" "$K1"
up_add_alloy_rpm "$UP/rpm" "$UH" "$K1" 1.8.0
up_rpm_publish "$UP/rpm" "$UH" "$K1"
: >"$LOG"
check "sync after upstream added alloy 1.8.0" M sync
check_eq "only the new .deb was downloaded" "/apt/pool/main/a/alloy/alloy-1.8.0-1.amd64.deb" "$(grep -o 'GET [^ ]*\.deb' "$LOG" | cut -d' ' -f2)"
check_eq "only the new .rpm was downloaded" "/rpm/alloy-1.8.0-1.x86_64.rpm" "$(grep -o 'GET [^ ]*\.rpm' "$LOG" | cut -d' ' -f2)"
check_eq "apt: 1.3.0 dropped, 1.8.0 in" "1.4.0-1 1.5.0-1 1.6.0-1 1.7.0-1 1.8.0-1 " "$(alloys deb)"
check_eq "rpm: 1.3.0 dropped, 1.8.0 in" "1.4.0-1 1.5.0-1 1.6.0-1 1.7.0-1 1.8.0-1 " "$(alloys rpm)"
check "apt-ftparchive-style Packages of ours lists 1.8.0" grep -q '^Version: 1.8.0-1' "$REPO/public/dists/stable/main/binary-amd64/Packages"

# ---- key rotation: upstream now signs with the second pinned key ----------
sleep 1
up_apt_publish "$UP/apt" "$UH" "$K2"
up_rpm_publish "$UP/rpm" "$UH" "$K2"
check "sync continues when upstream re-signs with the second pinned key" M sync
check_eq "status names the new signer" "$K2" "$("$P" mirror status --json --root "$REPO" --config "$CONF" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mirrors"][0]["signer"])')"

# ---- a key that is in the key file but not pinned ----------------------------
sleep 1
up_apt_publish "$UP/apt" "$UH" "$K3"
gen_before=$(readlink "$REPO/public")
check_fails "a signature by an unpinned key is refused, naming its fingerprint" 1 "$K3.*not pinned" M sync grafana-apt
check_eq "nothing was published" "$gen_before" "$(readlink "$REPO/public")"
check "status shows the failure" sh -c "'$P' mirror status grafana-apt --root '$REPO' --config '$CONF' | grep -q 'FAILED'"

# ---- replay: yesterday's InRelease comes back --------------------------------
sleep 1
up_apt_publish "$UP/apt" "$UH" "$K1"
cp "$UP/apt/dists/stable/InRelease" "$T/old-InRelease"
cp "$UP/apt/dists/stable/Release" "$T/old-Release"
check "a fresh upstream is accepted" M sync grafana-apt
sleep 1
up_apt_publish "$UP/apt" "$UH" "$K1"
check "and a newer one" M sync grafana-apt
sleep 1 # nginx's ETag is mtime and size: a new second makes it differ
cp "$T/old-InRelease" "$UP/apt/dists/stable/InRelease"
cp "$T/old-Release" "$UP/apt/dists/stable/Release"
touch "$UP/apt/dists/stable/InRelease"
check_fails "an older Date than last time is refused" 1 "older than the last accepted" M sync grafana-apt

# ---- Valid-Until in the past -------------------------------------------------
sleep 1
up_apt_publish "$UP/apt" "$UH" "$K1" "Mon, 01 Jan 2024 00:00:00 UTC"
check_fails "a passed Valid-Until is refused" 1 "Valid-Until .* has passed" M sync grafana-apt

# ---- InRelease and Release disagree -------------------------------------------
sleep 1
up_apt_publish "$UP/apt" "$UH" "$K1"
echo "X-Extra: 1" >>"$UP/apt/dists/stable/Release"
check_fails "InRelease and Release that disagree are refused" 1 "differs from the Release" M sync grafana-apt
up_apt_publish "$UP/apt" "$UH" "$K1"

# ---- path traversal in Filename ------------------------------------------------
sleep 1
cp -r "$UP/apt" "$UP/evil"
B=$UP/evil/dists/stable/main/binary-amd64
sed -i 's|^Filename: pool/main/a/alloy/alloy-1.8.0-1.amd64.deb|Filename: pool/../../../../tmp/evil.deb|' "$UP/evil/dists/stable/main/binary-"*/Packages
rm -f "$UP"/evil/dists/stable/main/binary-*/Packages.* "$UP"/evil/dists/stable/main/binary-*/by-hash/SHA256/*
(cd "$UP/evil/dists/stable" && apt-ftparchive release . >Release.new && mv Release.new Release)
gpg --homedir "$UH" --batch --yes --quiet --local-user "$K1" --clearsign -o "$UP/evil/dists/stable/InRelease" "$UP/evil/dists/stable/Release"
mirror_conf "$CONF/evil.mirror" evil apt "$URL/evil" upstream-keys.asc "$K1"
check_fails "a Filename with .. is refused" 1 "unsafe path 'pool/../../../../tmp/evil.deb'" M sync evil
check "and nothing was written outside" test ! -e /tmp/evil.deb
check "the evil grep is not a no-op (the sed matched)" grep -q 'tmp/evil.deb' "$B/Packages"
rm -f "$CONF/evil.mirror"

# ---- a shrunken index -----------------------------------------------------------
sleep 1
mkdir -p "$T/aside"
mv "$UP/apt/pool/main/g" "$UP/apt/pool/main/l" "$UP/apt/pool/main/m" "$UP/apt/pool/main/p" "$UP/apt/pool/main/t" "$UP/apt/pool/main/k" "$T/aside/"
up_apt_publish "$UP/apt" "$UH" "$K1"
check_fails "an index that lost most of its packages is refused" 1 "Max-Shrink is 50%.*--force" M sync grafana-apt
check "--force accepts it" M sync grafana-apt --force
mv "$T"/aside/* "$UP/apt/pool/main/"
up_apt_publish "$UP/apt" "$UH" "$K1"
check "and the full index again" M sync grafana-apt

# ---- different bytes under the same name and version --------------------------
sleep 1
mkdir -p "$T/mine"
"$P" build --no-sign --format deb --set version=1.9.0 --out "$T/mine" "$top/tests/fixtures/alloy" >/dev/null
"$P" repo add --root "$REPO" "$T/mine/alloy_1.9.0-1_amd64.deb" >/dev/null
sleep 1
cp -r "$top/tests/fixtures/alloy" "$T/alloy-other"
echo "// rebuilt upstream" >>"$T/alloy-other/files/config.alloy.in"
"$P" build --no-sign --format deb --set version=1.9.0 --out "$T/theirs" "$T/alloy-other" >/dev/null
cp "$T/theirs/alloy_1.9.0-1_amd64.deb" "$UP/apt/pool/main/a/alloy/alloy-1.9.0-1.amd64.deb"
up_apt_publish "$UP/apt" "$UH" "$K1"
check "the two 1.9.0 builds differ" sh -c "! cmp -s '$T/mine/alloy_1.9.0-1_amd64.deb' '$UP/apt/pool/main/a/alloy/alloy-1.9.0-1.amd64.deb'"
check_fails "alloy 1.9.0 with other bytes than ours is refused, naming both" 1 "alloy 1.9.0-1 \(amd64\).*already in the repository with other bytes" M sync grafana-apt
"$P" repo remove --root "$REPO" alloy=1.9.0-1 >/dev/null
rm -f "$UP/apt/pool/main/a/alloy/alloy-1.9.0-1.amd64.deb"
up_apt_publish "$UP/apt" "$UH" "$K1"

# ---- a damaged download -------------------------------------------------------------
sleep 1
up_add_alloy_deb "$UP/apt" 1.10.0
up_apt_publish "$UP/apt" "$UH" "$K1"
F=$UP/apt/pool/main/a/alloy/alloy-1.10.0-1.amd64.deb
printf '\001' | dd of="$F" bs=1 seek=200 conv=notrunc 2>/dev/null
check_fails "a package whose bytes do not match the index is refused, naming its URL" 1 "alloy-1.10.0-1.amd64.deb: SHA-256 mismatch" M sync grafana-apt
check_eq "and it never reached the pool" "" "$("$P" repo list --root "$REPO" | awk '$4 == "1.10.0-1"')"

# ---- the lock ---------------------------------------------------------------------------
mkdir -p "$REPO/mirrors/grafana-rpm"
flock "$REPO/mirrors/grafana-rpm/lock" sleep 5 &
sleep 0.5
check_fails "a second sync of the same mirror refuses clearly (75)" 75 "held by another" M sync grafana-rpm
wait

# ---- configuration errors -------------------------------------------------------------
mkdir -p "$T/bad"
printf 'Name: x\nType: apt\nURIs: %s\nSuites: stable\nComponents: main\nArchitectures: amd64\nTarget: stable\nSigned-By: k.asc\nKeep-Version: 5\n' "$URL" >"$T/bad/x.mirror"
check_fails "an unknown field is named with file:line" 2 "x.mirror:9: unknown field 'Keep-Version'" "$P" mirror sync --root "$REPO" --config "$T/bad"
printf 'Name: x\nType: apt\nURIs: %s\nSuites: stable\nComponents: main\nArchitectures: amd64\nTarget: stable\nSigned-By: %s\n' "$URL" "$K1" >"$T/bad/x.mirror"
check_fails "Signed-By without a key file is refused" 2 "Signed-By: name a key file" "$P" mirror sync --root "$REPO" --config "$T/bad"
check "mirror --help" sh -c "'$P' mirror --help | grep -q 'pkgsmith mirror sync'"

# ---- Follow-Dependencies ------------------------------------------------------------
{
    echo "Name: deps"
    echo "Type: apt"
    echo "URIs: $URL/apt"
    echo "Suites: stable"
    echo "Components: main"
    echo "Architectures: amd64"
    echo "Signed-By: upstream-keys.asc $K1 $K2"
    echo "Include: tempo"
    echo "Keep-Versions: 1"
    echo "Follow-Dependencies: yes"
    echo "Target: stable"
} >"$CONF/deps.mirror"
check "a mirror of tempo with Follow-Dependencies" M sync deps
check_eq "it took the newest tempo and the tempo-common it depends on" "tempo 1.15.0-1 tempo-common 1.15.0-1 " \
    "$("$P" repo list --root "$REPO" | awk '$3 ~ /^tempo/ { printf "%s %s ", $3, $4 }')"
sed -i 's/^Follow-Dependencies: yes/Follow-Dependencies: no/' "$CONF/deps.mirror"
check "without it, the dependency leaves at the next sync" M sync deps
check_eq "only tempo is left" "tempo " "$("$P" repo list --root "$REPO" | awk '$3 ~ /^tempo/ { printf "%s ", $3 }')"

# ---- kill -9 in the middle of a sync -----------------------------------------------------
# strace kills pkgsmith (not its gpg children: -f would wait for their
# agent) at the Nth rename (a download completing, the
# pool, the working set, the generation, the switch) or syncfs; each time
# the served generation must still verify, and the next sync complete.
sleep 1
up_add_alloy_deb "$UP/apt" 1.11.0 1.12.0
up_apt_publish "$UP/apt" "$UH" "$K1"
for point in rename:when=1 rename:when=3 syncfs:when=1 rename:when=6 rename:when=9; do
    sc=${point%%:*}
    served=$(readlink "$REPO/public")
    strace -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=SIGKILL:${point#*:}" \
        "$P" mirror sync grafana-apt --root "$REPO" --config "$CONF" >/dev/null 2>&1
    check "kill -9 at $point: the served generation still verifies" "$P" repo verify --root "$REPO"
    [ "$(readlink "$REPO/public")" = "$served" ] || echo "# (at $point the switch had already happened)"
done
check "the next sync completes without repair" M sync grafana-apt
check "and holds 1.12.0" sh -c "'$P' repo list --root '$REPO' | grep -q 'alloy  *1.12.0-1'"
check "what it published verifies" "$P" repo verify --root "$REPO"

# ---- Resign-Packages: the rpms signed with our key instead ----------------------------------
R2=$T/repo2
"$P" repo init --root "$R2" --key "$OURS" --gnupg-home "$OH" --org acme --url http://repo.example.test >/dev/null
mkdir -p "$T/conf2"
mirror_conf "$T/conf2/grafana-rpm.mirror" grafana-rpm rpm "$URL/rpm" "$CONF/upstream-keys.asc" "$K1" "$K2"
echo "Resign-Packages: yes" >>"$T/conf2/grafana-rpm.mirror"
check "a mirror with Resign-Packages: yes syncs" "$P" mirror sync --root "$R2" --config "$T/conf2"
f=$(find "$R2/pool" -name 'alloy-1.8.0-1.x86_64.rpm' | head -n 1)
ours16=$(echo "$OURS" | tail -c 17 | tr 'A-F' 'a-f')
check "the mirrored rpm now carries our signature" sh -c "rpm -qp --qf '%{RSAHEADER:pgpsig}' '$f' | grep -q 'Key ID $ours16'"
mkdir -p "$T/rpmdb"
gpg --homedir "$OH" --batch --armor --export "$OURS" >"$T/ours.asc"
rpm --dbpath "$T/rpmdb" --import "$T/ours.asc"
check "rpm -K with only our key: signatures OK" sh -c "rpm --dbpath '$T/rpmdb' -K '$f' | grep -q 'digests signatures OK'"
check_eq "its index entry has our bytes' digest" "$(sha256sum "$f" | cut -d' ' -f1)" "$(basename "$(dirname "$f")")"
sleep 1
up_rpm_publish "$UP/rpm" "$UH" "$K1"
: >"$LOG"
check "the next sync after an upstream change" "$P" mirror sync --root "$R2" --config "$T/conf2"
check_eq "downloads no package again (the re-signed ones are reused)" 0 "$(grep -c '\.rpm ' "$LOG")"
"$P" repo client-package --root "$R2" --out "$T/client2" >/dev/null
check "the client package then trusts our key only" sh -c "grep -qx 'gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-acme' '$R2/tmp/client-package/files/yum.repo' && ! test -e '$R2/tmp/client-package/files/upstream-keys.asc'"
printf 'Name: x\nType: apt\nURIs: %s\nSuites: stable\nComponents: main\nArchitectures: amd64\nTarget: stable\nSigned-By: k.asc\nResign-Packages: yes\n' "$URL" >"$T/bad/x.mirror"
check_fails "Resign-Packages on an apt mirror is refused" 2 "Resign-Packages: only rpm mirrors" "$P" mirror sync --root "$REPO" --config "$T/bad"

# ---- free space is checked before downloading ----------------------------------------------
mkdir -p "$T/small-fs"
if mount -t tmpfs -o size=40m tmpfs "$T/small-fs" 2>/dev/null; then
    "$P" repo init --root "$T/small-fs/repo" --key "$OURS" --gnupg-home "$OH" >/dev/null
    check_fails "a filesystem without room for the downloads (and 64 MiB spare) is refused first" 1 "not enough free space: the sync needs" \
        "$P" mirror sync grafana-apt --root "$T/small-fs/repo" --config "$CONF"
    check_eq "nothing was downloaded" "" "$(find "$T/small-fs/repo/mirrors/grafana-apt/download" -type f)"
    umount "$T/small-fs"
else
    not_ok "free space check" "cannot mount a tmpfs"
fi
