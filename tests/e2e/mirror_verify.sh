#!/bin/sh
# Issue 18, Verification: a mirror never publishes what apt or rpm would
# refuse.  Upstreams (apt and rpm, served by stock nginx on 127.0.0.1)
# signed with a SHA-1 digest or with a 1024-bit RSA key, on InRelease,
# Release.gpg, repomd.xml.asc and rpm packages.  Each scenario asserts
# the exit status, a message naming the file/URL, the key and the
# algorithm, the published tree byte-identical to before, and a clean
# next sync once upstream is honest again.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"
# shellcheck source=tests/lib/airgap.sh
. "$top/tests/lib/airgap.sh"

P=$PKGSMITH
UH=$T/up-gnupg
UK=$(make_key "$UH" 'Upstream <up@example.test>')
# A 1024-bit RSA key, pinned too: gpg still makes one; apt and rpm refuse it.
WH=$T/weak-gnupg
mkdir -p "$WH" && chmod 700 "$WH"
gpg --homedir "$WH" --batch --quiet --passphrase '' \
    --quick-gen-key 'Weak <weak@example.test>' rsa1024 sign never >/dev/null 2>&1
WK=$(gpg --homedir "$WH" --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
check "gpg made a 1024-bit RSA key" test -n "$WK"
OH=$T/our-gnupg
OURS=$(make_key "$OH" 'Ours <ours@example.test>')
{
    gpg --homedir "$UH" --batch --armor --export "$UK"
    gpg --homedir "$WH" --batch --armor --export "$WK"
} >"$T/upstream.asc" 2>/dev/null

UP=$T/up
up_debs "$UP/apt" 2
up_add_alloy_deb "$UP/apt" 1.1.0
up_apt_publish "$UP/apt" "$UH" "$UK"
up_add_alloy_rpm "$UP/rpm" "$UH" "$UK" 1.1.0
up_rpm_publish "$UP/rpm" "$UH" "$UK"

NGINX_PLAIN=1
check "nginx serves the upstream" nginx_start "$UP" "$T/nginx-up"
UP_PIDFILE=$NGINX_PIDFILE
URL=http://127.0.0.1:$NGINX_PORT
R=$T/repo
CONF=$T/conf
mkdir -p "$CONF"
mirror_conf "$CONF/apt.mirror" apt apt "$URL/apt" "$T/upstream.asc" "$UK" "$WK"
mirror_conf "$CONF/rpm.mirror" rpm rpm "$URL/rpm" "$T/upstream.asc" "$UK" "$WK"
"$P" repo init --root "$R" --key "$OURS" --gnupg-home "$OH" >/dev/null
check "a clean first sync" "$P" mirror sync --root "$R" --config "$CONF"

# honest : upstream republishes with a newer Date, signed as it should be.
honest() {
    sleep 1
    rm -f "$UP/rpm/"alloy-9.*.rpm
    up_apt_publish "$UP/apt" "$UH" "$UK"
    up_rpm_publish "$UP/rpm" "$UH" "$UK"
}
# resign_apt HOME KEY DIGEST : InRelease and Release.gpg signed again.
resign_apt() {
    _s=$UP/apt/dists/stable
    gpg --homedir "$1" --batch --yes --quiet --local-user "$2" --digest-algo "$3" \
        --clearsign -o "$_s/InRelease" "$_s/Release"
    gpg --homedir "$1" --batch --yes --quiet --local-user "$2" --digest-algo "$3" \
        -abs -o "$_s/Release.gpg" "$_s/Release"
}
resign_rpm() {
    gpg --homedir "$1" --batch --yes --quiet --local-user "$2" --digest-algo "$3" \
        --armor --detach-sign -o "$UP/rpm/repodata/repomd.xml.asc" "$UP/rpm/repodata/repomd.xml"
}

# refused NAME MIRROR PATTERN [RC] : the sync of MIRROR fails (exit RC,
# default 1: verification; 2: bad input) with a
# message matching PATTERN, the published tree is unchanged, and after
# upstream is honest again the next sync succeeds and verifies.
refused() {
    _before=$(tree_of "$R")
    "$P" mirror sync --root "$R" --config "$CONF" "$2" >"$T/out" 2>&1
    _rc=$?
    _why=
    [ $_rc -eq "${4:-1}" ] || _why="exit $_rc (want ${4:-1})"
    [ -z "$_why" ] && ! grep -Eq -- "$3" "$T/out" && _why="no message matching /$3/"
    [ -z "$_why" ] && [ "$(tree_of "$R")" != "$_before" ] && _why="the published tree changed"
    honest
    if [ -z "$_why" ] && ! { "$P" mirror sync --root "$R" --config "$CONF" >"$T/next" 2>&1 &&
        "$P" repo verify --root "$R" >>"$T/next" 2>&1; }; then
        _why="the next clean sync failed: $(tail -n 2 "$T/next" | tr '\n' ' ')"
    fi
    if [ -z "$_why" ]; then
        ok "$1"
    else
        not_ok "$1" "$_why"
        sed 's/^/#   /' "$T/out" | head -n 8
    fi
}

sleep 1
up_apt_index "$UP/apt" "$UH" "$UK"
resign_apt "$UH" "$UK" SHA1
refused "InRelease signed with a SHA-1 digest is refused" apt \
    "InRelease: signature by $UK uses SHA1 digest, which apt and rpm refuse"

sleep 1
up_apt_index "$UP/apt" "$UH" "$UK"
resign_apt "$WH" "$WK" SHA256
refused "InRelease signed by a 1024-bit RSA key is refused" apt \
    "InRelease: signature by $WK uses a 1024-bit RSA key, which apt and rpm refuse"

sleep 1
up_rpm_publish "$UP/rpm" "$UH" "$UK"
resign_rpm "$UH" "$UK" SHA1
refused "repomd.xml.asc with a SHA-1 digest is refused" rpm \
    "repomd.xml.*: signature by $UK uses SHA1 digest, which apt and rpm refuse"

sleep 1
up_add_alloy_rpm "$UP/rpm" "$WH" "$WK" 9.1.0
up_rpm_publish "$UP/rpm" "$UH" "$UK"
refused "an rpm signed by a 1024-bit RSA key is refused" rpm \
    "alloy-9\.1\.0-1\.x86_64\.rpm.*signature by $WK uses a 1024-bit RSA key"

sleep 1
up_add_alloy_rpm "$UP/rpm" "$UH" "$UK" 9.2.0
check "rpmsign re-signs an rpm with SHA-1" rpmsign --define "__gpg /usr/bin/gpg" --define "_gpg_name $UK" \
    --define "_gpg_path $UH" --define "_gpg_digest_algo sha1" --resign "$UP/rpm/alloy-9.2.0-1.x86_64.rpm"
check "it is an RSA/SHA1 signature" sh -c "rpm -qp --qf '%{SIGPGP:pgpsig}%{RSAHEADER:pgpsig}' '$UP/rpm/alloy-9.2.0-1.x86_64.rpm' | grep -q SHA1"
up_rpm_publish "$UP/rpm" "$UH" "$UK"
refused "an rpm signed with a SHA-1 digest is refused" rpm \
    "alloy-9\.2\.0-1\.x86_64\.rpm.*signature by $UK uses SHA1 digest"

# ---- a future Date: refused beyond Max-Clock-Skew, never a floor -----------
sleep 1
up_apt_index "$UP/apt" "$UH" "$UK"
AHEAD=$(LC_ALL=C date -u -R -d '+2 days' | sed 's/+0000$/UTC/')
sed -i "s/^Date: .*/Date: $AHEAD/" "$UP/apt/dists/stable/Release"
resign_apt "$UH" "$UK" SHA256
refused "a Release dated 2 days ahead is refused (Max-Clock-Skew)" apt \
    "dists/stable/Release: Date $AHEAD is [0-9]+ s ahead of this host's clock .*more than Max-Clock-Skew \\(3600 s\\)"
check "the honest Date was recorded as the floor, not the future one" \
    sh -c "! grep -q '^Date-stable: $(date -u -d "$AHEAD" +%s)\$' '$R/mirrors/apt/state'"

sleep 1
createrepo_c --quiet --general-compress-type gz --revision "$(date -u -d '+2 days' +%s)" \
    --set-timestamp-to-revision "$UP/rpm" >/dev/null
resign_rpm "$UH" "$UK" SHA256
refused "repodata timestamped 2 days ahead is refused (Max-Clock-Skew)" rpm \
    "repomd.xml: Date .* ahead of this host's clock .*Max-Clock-Skew"

echo "Max-Clock-Skew: 1h" >"$CONF/bad.mirror.tmp"
sed -i '/^Max-Clock-Skew/d' "$CONF/apt.mirror"
cp "$CONF/apt.mirror" "$CONF/bad.mirror" && sed -i 's/^Name: apt/Name: bad/' "$CONF/bad.mirror"
cat "$CONF/bad.mirror.tmp" >>"$CONF/bad.mirror" && rm -f "$CONF/bad.mirror.tmp"
"$P" mirror sync --root "$R" --config "$CONF" bad >"$T/out" 2>&1
check_eq "Max-Clock-Skew: 1h is a usage error (exit 2)" 2 $?
check "naming the file and field" grep -q "bad.mirror.*Max-Clock-Skew" "$T/out"
rm -f "$CONF/bad.mirror"

# ---- multi-stream indices, and the uncompressed entry of Release ---------
# xz_two FILE : FILE reordered so that alloy comes last, and FILE.xz as
# two xz streams, alloy only in the second.
xz_two() {
    awk -v f="$T/s1" -v g="$T/s2" 'BEGIN { RS = ""; ORS = "\n\n" }
        { print > (/^Package: alloy\n/ ? g : f) }' "$1"
    cat "$T/s1" "$T/s2" >"$1"
    { xz -c "$T/s1"; xz -c "$T/s2"; } >"$1.xz"
}
# xz_more FILE : FILE.xz with a second stream FILE does not have.
xz_more() {
    { xz -c "$1"; printf 'Package: alloy\nVersion: 9.9.9-1\nArchitecture: amd64\nFilename: pool/x.deb\nSize: 1\nSHA256: %064d\n\n' 0 | xz -c; } >"$1.xz"
}

sleep 1
up_add_alloy_deb "$UP/apt" 1.2.0
(cd "$UP/apt" && apt-ftparchive packages pool) 2>/dev/null |
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /\nArchitecture: (amd64|all)\n/' >"$UP/apt/dists/stable/main/binary-amd64/Packages"
UP_XZ=xz_two up_apt_index "$UP/apt" "$UH" "$UK"
check "the upstream Packages.xz has two streams" sh -c "xz --robot --list '$UP/apt/dists/stable/main/binary-amd64/Packages.xz' | grep -q '^totals	2	'"
check "a two-stream Packages.xz syncs" "$P" mirror sync --root "$R" --config "$CONF" apt
check "alloy 1.2.0, only in the second stream, is published" grep -q '^Version: 1.2.0-1$' "$R/public/dists/stable/main/binary-amd64/Packages"

sleep 1
UP_XZ=xz_more up_apt_index "$UP/apt" "$UH" "$UK"
refused "a Packages.xz that unpacks to other bytes than Release's Packages is refused" apt \
    "(Packages.xz|by-hash/SHA256/[0-9a-f]+): unpacks to more than the [0-9]+ bytes Release \\(main/binary-amd64/Packages\\) lists for the uncompressed index"

# ---- what Release offers: weak hashes only, other compressions ----------
# only_as EXT CMD : every Packages index only as Packages.EXT (CMD makes it
# from stdin), then Release again.
only_as() {
    for _a in amd64 arm64; do
        _b=$UP/apt/dists/stable/main/binary-$_a
        cp "$_b/Packages" "$T/P.$_a"
        rm -rf "$_b/by-hash" "$_b"/Packages*
        $2 <"$T/P.$_a" >"$_b/Packages$1"
    done
    up_apt_release "$UP/apt" "$UH" "$UK"
}
sleep 1
up_add_alloy_deb "$UP/apt" 1.3.0
up_apt_publish "$UP/apt" "$UH" "$UK"
only_as .bz2 "bzip2 -c"
check "an upstream with Packages.bz2 only syncs" "$P" mirror sync --root "$R" --config "$CONF" apt
check "and publishes alloy 1.3.0 from it" grep -q '^Version: 1.3.0-1$' "$R/public/dists/stable/main/binary-amd64/Packages"
honest
sleep 1
up_add_alloy_deb "$UP/apt" 1.4.0
up_apt_publish "$UP/apt" "$UH" "$UK"
only_as .lz4 "lz4 -c"
check "an upstream with Packages.lz4 only syncs" "$P" mirror sync --root "$R" --config "$CONF" apt
check "and publishes alloy 1.4.0 from it" grep -q '^Version: 1.4.0-1$' "$R/public/dists/stable/main/binary-amd64/Packages"
honest
# gz_two : stdin as two gzip members, alloy only in the second.
gz_two() {
    awk -v f="$T/s1" -v g="$T/s2" 'BEGIN { RS = ""; ORS = "\n\n" }
        { print > (/^Package: alloy\n/ ? g : f) }'
    gzip -c "$T/s1"
    gzip -c "$T/s2"
}
sleep 1
up_add_alloy_deb "$UP/apt" 1.5.0
up_apt_publish "$UP/apt" "$UH" "$UK"
only_as .gz gz_two
check "an upstream with a two-member Packages.gz only syncs" "$P" mirror sync --root "$R" --config "$CONF" apt
check "and publishes alloy 1.5.0 from the second member" grep -q '^Version: 1.5.0-1$' "$R/public/dists/stable/main/binary-amd64/Packages"
honest
sleep 1
only_as .Z "gzip -c"
refused "indices only as Packages.Z: the message names the compression" apt \
    "Release lists the Packages index for main/amd64 only as main/binary-amd64/Packages.Z, a compression pkgsmith does not read" 2

sleep 1
up_apt_index "$UP/apt" "$UH" "$UK"
awk '/^(SHA1|SHA256|SHA512):/ { skip = 1; next } /^ / && skip { next } { skip = 0; print }' \
    "$UP/apt/dists/stable/Release" >"$T/Release.md5" && cp "$T/Release.md5" "$UP/apt/dists/stable/Release"
resign_apt "$UH" "$UK" SHA256
refused "a Release with MD5Sum only is refused as weak" apt \
    "dists/stable/Release lists no SHA256 hashes, only MD5Sum/SHA1: it provides only weak security information"

# ---- repodata: open-size and open-checksum bind the unpacked primary -----
sleep 1
up_add_alloy_rpm "$UP/rpm" "$UH" "$UK" 9.3.0 # a new primary, not the cached one
up_rpm_publish "$UP/rpm" "$UH" "$UK"
python3 - "$UP/rpm/repodata/repomd.xml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
i = s.index('<data type="primary">')
j = s.index('</data>', i)
part = re.sub(r'<open-size>(\d+)</open-size>', lambda m: '<open-size>%d</open-size>' % (int(m.group(1)) + 7), s[i:j])
open(p, 'w').write(s[:i] + part + s[j:])
PY
resign_rpm "$UH" "$UK" SHA256
refused "a primary that unpacks to other than repomd.xml's open-size is refused" rpm \
    "primary\.xml\.gz: unpacks to [0-9]+ bytes, repomd.xml lists [0-9]+ for the uncompressed index"

# Last, as its floor is 2 hours ahead: a larger skew in the mirror file lets the same Release through.
sleep 1
up_apt_index "$UP/apt" "$UH" "$UK"
AHEAD=$(LC_ALL=C date -u -R -d '+2 hours' | sed 's/+0000$/UTC/')
sed -i "s/^Date: .*/Date: $AHEAD/" "$UP/apt/dists/stable/Release"
resign_apt "$UH" "$UK" SHA256
echo "Max-Clock-Skew: 10800" >>"$CONF/apt.mirror"
check "Max-Clock-Skew: 10800 accepts a Release 2 hours ahead" "$P" mirror sync --root "$R" --config "$CONF" apt
