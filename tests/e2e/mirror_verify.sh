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

# refused NAME MIRROR PATTERN : the sync of MIRROR fails (exit 1) with a
# message matching PATTERN, the published tree is unchanged, and after
# upstream is honest again the next sync succeeds and verifies.
refused() {
    _before=$(tree_of "$R")
    "$P" mirror sync --root "$R" --config "$CONF" "$2" >"$T/out" 2>&1
    _rc=$?
    _why=
    [ $_rc -eq 1 ] || _why="exit $_rc (want 1)"
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

# A larger skew in the mirror file lets the same Release through.
sleep 1
up_apt_index "$UP/apt" "$UH" "$UK"
AHEAD=$(LC_ALL=C date -u -R -d '+2 hours' | sed 's/+0000$/UTC/')
sed -i "s/^Date: .*/Date: $AHEAD/" "$UP/apt/dists/stable/Release"
resign_apt "$UH" "$UK" SHA256
echo "Max-Clock-Skew: 10800" >>"$CONF/apt.mirror"
check "Max-Clock-Skew: 10800 accepts a Release 2 hours ahead" "$P" mirror sync --root "$R" --config "$CONF" apt
echo "Max-Clock-Skew: 1h" >"$CONF/bad.mirror.tmp"
sed -i '/^Max-Clock-Skew/d' "$CONF/apt.mirror"
cp "$CONF/apt.mirror" "$CONF/bad.mirror" && sed -i 's/^Name: apt/Name: bad/' "$CONF/bad.mirror"
cat "$CONF/bad.mirror.tmp" >>"$CONF/bad.mirror" && rm -f "$CONF/bad.mirror.tmp"
"$P" mirror sync --root "$R" --config "$CONF" bad >"$T/out" 2>&1
check_eq "Max-Clock-Skew: 1h is a usage error (exit 2)" 2 $?
check "naming the file and field" grep -q "bad.mirror.*Max-Clock-Skew" "$T/out"
rm -f "$CONF/bad.mirror"
