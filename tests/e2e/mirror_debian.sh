#!/bin/sh
# A real upstream on loopback: Debian's own signed bookworm InRelease and
# main/amd64 Packages (63,000+ entries, several signatures by subkeys of
# Debian's archive keys) and the real .debs, served by stock nginx on
# 127.0.0.1 -> pkgsmith mirror sync of hello and jq with their
# dependencies -> our repository (the shipped nginx site) -> apt-get
# install jq in a Debian chroot.  The selection must be what a real
# apt-get install --simulate computes for a system with nothing installed.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"
# shellcheck source=tests/lib/debian-upstream.sh
. "$top/tests/lib/debian-upstream.sh"

P=$PKGSMITH
FPR=$(make_key "$T/gnupg" 'Repo Test <repo@example.test>')
export GNUPGHOME="$T/gnupg"
REPO=$T/repo C=$T/root UP=$T/up/debian

if ! deb_lists 2>"$T/lists.err"; then
    not_ok "Debian's bookworm lists are on this machine" "$(cat "$T/lists.err")"
    exit 1
fi
ok "Debian's bookworm lists are on this machine"
check "the upstream dists/ from apt's copies" deb_dists "$UP"
check "the InRelease is Debian's, signed by its archive keys (gpgv)" \
    gpgv --keyring "$DEB_KEYRING" "$UP/dists/bookworm/InRelease"
sum=$(sha256sum <"$UP/dists/bookworm/main/binary-amd64/Packages" | cut -d' ' -f1)
check "the unpacked Packages has the SHA256 the InRelease lists" \
    grep -q " $sum .* main/binary-amd64/Packages\$" "$UP/dists/bookworm/InRelease"
entries=$(grep -c '^Package:' "$UP/dists/bookworm/main/binary-amd64/Packages")
check "more than 60,000 index entries ($entries)" test "$entries" -gt 60000

new_root apt "$C"
NGINX_PLAIN=1
check "nginx serves the Debian upstream" nginx_start "$T/up" "$T/nginx-up"
UP_PIDFILE=$NGINX_PIDFILE UP_URL=http://127.0.0.1:$NGINX_PORT/debian
deb_closure "$UP_URL" hello jq >"$T/closure"
check "apt-get install --simulate hello jq (empty system) computes a closure" \
    sh -c "grep -q '^hello=' '$T/closure' && grep -q '^jq=' '$T/closure' && grep -q '^libc6=' '$T/closure'"
sed 's/^/# closure: /' "$T/closure"
# Everything below compares against it: without one, stop here.
[ -s "$T/closure" ] || exit 1
check "the real .debs, under pool/ by Filename" \
    deb_pool "$UP" "$PKGSMITH_CHROOT_CACHE/debian-bookworm-debs" "$T/closure"

NGINX_PLAIN=
check "nginx serves our repository (shipped site)" nginx_start "$REPO/public" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT
"$P" repo init --root "$REPO" --key "$FPR" --org acme --url "$URL" --suite bookworm --arch amd64 >/dev/null

# Pinned to a Debian key that did not sign this InRelease: refused.
mkdir -p "$T/wrong" "$T/mirrors.d"
deb_mirror_conf "$T/wrong/debian.mirror" "$UP_URL" 05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0
check_fails "pinned to the security key only: refused, naming the signer" 1 \
    "dists/bookworm/InRelease: signed by key [0-9A-F]{40}, which is not pinned" \
    "$P" mirror sync --root "$REPO" --config "$T/wrong"
check "nothing was published" test ! -e "$REPO/public/dists/bookworm/main/binary-amd64/Packages"

deb_mirror_conf "$T/mirrors.d/debian.mirror" "$UP_URL" "$(deb_pins)"
check "mirror sync of hello jq with dependencies" \
    /usr/bin/time -v -o "$T/sync.time" "$P" mirror sync --root "$REPO" --config "$T/mirrors.d"
rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$T/sync.time")
idx=$(($(wc -c <"$UP/dists/bookworm/main/binary-amd64/Packages") / 1024))
echo "# peak RSS of the sync: $rss KiB (the unpacked index it reads: $idx KiB)"
# The README's claim: indices are read one stanza at a time, so the sync
# holds less than the index.  (ASan's shadow memory and quarantine are
# no measure of ours.)
if [ "${SANITIZE:-}" != 1 ]; then
    check "peak RSS below the size of the unpacked index" test "$rss" -lt "$idx"
fi

PUB=$REPO/public/dists/bookworm/main/binary-amd64/Packages
awk '/^Package:/ { n = $2 } /^Version:/ { print n "=" $2 }' "$PUB" | sort >"$T/selection"
check_eq "the selection is apt's closure" "$(cat "$T/closure")" "$(cat "$T/selection")"
# shellcheck disable=SC2016 # awk's $2
fields='/^Package:/ { n = $2 } /^Version:/ { v = $2 } /^SHA256:/ { s[n "=" v] = $2 } END { for (k in s) print k, s[k] }'
awk "$fields" "$PUB" | sort >"$T/pub.sums"
awk "$fields" "$UP/dists/bookworm/main/binary-amd64/Packages" | sort |
    awk 'NR == FNR { w[$1] = 1; next } ($1 in w)' "$T/closure" - >"$T/up.sums"
check_eq "every published .deb is Debian's bytes (SHA256 of its stanza)" "$(cat "$T/up.sums")" "$(cat "$T/pub.sums")"
gen=$(sed -n 's/^Generation: //p' "$REPO/mirrors/debian/state")
check "provenance keeps Debian's InRelease byte for byte" \
    cmp "$UP/dists/bookworm/InRelease" "$REPO/generations/$gen/provenance/debian/bookworm.InRelease"
check "the next sync is clean and changes nothing" "$P" mirror sync --root "$REPO" --config "$T/mirrors.d"
check_eq "... same generation" "$gen" "$(sed -n 's/^Generation: //p' "$REPO/mirrors/debian/state")"

check "client-package" "$P" repo client-package --root "$REPO" --out "$T/client"
cp "$T"/client/acme-repo_*_all.deb "$C/tmp/"
check "apt: the setup package installs" in_root "$C" sh -c 'dpkg -i /tmp/acme-repo_*_all.deb'
check "apt: apt-get update from our repository" in_root "$C" apt-get update --error-on=any
in_root "$C" apt-get install --simulate jq 2>/dev/null | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' | sort >"$T/chroot-inst"
check "apt in the chroot wants only packages of our selection" \
    sh -c "test -s '$T/chroot-inst' && ! grep -v -x -F -f '$T/selection' '$T/chroot-inst'"
check "apt: apt-get install -y jq" in_root "$C" apt-get install -y jq
# shellcheck disable=SC2016 # ${Version} is dpkg-query's
check_eq "jq is the mirrored version" "$(grep '^jq=' "$T/closure")" "jq=$(chroot "$C" dpkg-query -W -f '${Version}' jq)"
check "apt-cache policy shows jq from our repository" sh -c "chroot '$C' apt-cache policy jq | grep -q '$URL bookworm/main'"
check_eq "jq runs" 3 "$(echo '{"a":[1,2,3]}' | chroot "$C" jq '.a | length')"

# The InRelease carries three signatures; one by a pinned key is enough,
# as for apt: pinned to the third signer (Debian's stable release key,
# Ed25519) only, it syncs and records that signer.
third=$(gpgv --keyring "$DEB_KEYRING" --status-fd 1 "$UP/dists/bookworm/InRelease" 2>/dev/null |
    awk '$2 == "VALIDSIG" { f = $NF } END { print f }')
mkdir -p "$T/third"
deb_mirror_conf "$T/third/debian.mirror" "$UP_URL" "$third"
"$P" repo init --root "$T/repo3" --key "$FPR" --suite bookworm --arch amd64 >/dev/null
check "pinned to the last of the three signers only: the sync succeeds" \
    "$P" mirror sync --root "$T/repo3" --config "$T/third"
check_eq "... and records that signer" "Signer: $third" "$(grep '^Signer:' "$T/repo3/mirrors/debian/state")"
