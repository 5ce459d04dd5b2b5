#!/bin/sh
# pkgsmith sign: signing the bytes of an unsigned build gives packages that
# rpm -K and debsig-verify accept; --strip turns a signed build back into
# exactly the unsigned build; re-signing replaces the old signature; a
# damaged package or an unknown key is refused and nothing is written.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

H=$T/gnupg
FPR=$(make_key "$H" 'Sign Test <sign@example.test>')
FPR2=$(make_key "$H" 'Other Key <other@example.test>')
export GNUPGHOME="$H"
P=$PKGSMITH
export SOURCE_DATE_EPOCH=1700000000

"$P" build --no-sign --out "$T/u" "$top" >/dev/null
"$P" build --key "$FPR" --out "$T/s" "$top" >/dev/null
deb=$(basename "$T"/u/*.deb)
rpmf=$(basename "$T"/u/*.rpm)

check "sign --strip of the signed build" "$P" sign --strip --out "$T/x" "$T/s/$deb" "$T/s/$rpmf"
check "stripped signed .deb == unsigned build" cmp "$T/u/$deb" "$T/x/$deb"
check "stripped signed .rpm == unsigned build" cmp "$T/u/$rpmf" "$T/x/$rpmf"

cp -r "$T/u" "$T/z"
check "sign --key in place" "$P" sign --key "$FPR" "$T/z/$deb" "$T/z/$rpmf"
check_eq ".deb members after signing" "debian-binary control.tar.xz data.tar.xz _gpgorigin " \
    "$(ar t "$T/z/$deb" | tr '\n' ' ')"
gpg --batch --armor --export "$FPR" >"$T/key.asc" 2>/dev/null
gpg --batch --armor --export "$FPR2" >"$T/key2.asc" 2>/dev/null
rpm --dbpath "$T/rpmdb1" --import "$T/key.asc"
rpm --dbpath "$T/rpmdb2" --import "$T/key2.asc"
check "rpm -K accepts the signed rpm" sh -c "rpm --dbpath '$T/rpmdb1' -K '$T/z/$rpmf' | grep -q 'digests signatures OK'"
check_eq "rpm -Kv names our key" "$(echo "$FPR" | tail -c 9 | tr 'A-F' 'a-f')" \
    "$(rpm --dbpath "$T/rpmdb1" -Kv "$T/z/$rpmf" | sed -n 's/.*V4 RSA\/SHA256 Signature, key ID \([0-9a-f]*\): OK/\1/p' | sort -u)"

# debsig-verify under a policy for our key.
"$top/scripts/debsig-policy" "$T/debsig" "$FPR"
check "debsig-verify accepts the signed .deb" dsv "$T/z/$deb"
check "signing twice gives a package that strips to the same bytes" sh -c \
    "'$P' sign --strip --out '$T/y' '$T/z/$deb' '$T/z/$rpmf' >/dev/null && cmp '$T/y/$deb' '$T/u/$deb' && cmp '$T/y/$rpmf' '$T/u/$rpmf'"

# Re-signing with another key replaces the signature.
mkdir -p "$T/w" && cp "$T/z/$deb" "$T/z/$rpmf" "$T/w/"
check "re-sign with the other key" "$P" sign --key "$FPR2" "$T/w/$deb" "$T/w/$rpmf"
check_eq "still one _gpgorigin member" 1 "$(ar t "$T/w/$deb" | grep -c _gpgorigin)"
check_fails "debsig-verify: no policy for the new signer" 11 "Origin directory for $FPR2" dsv "$T/w/$deb"
check "rpm -K with only the other key accepts it" sh -c "rpm --dbpath '$T/rpmdb2' -K '$T/w/$rpmf' | grep -q 'digests signatures OK'"
check_fails "rpm -K with only the first key refuses it" 1 "SIGNATURES NOT OK" rpm --dbpath "$T/rpmdb1" -K "$T/w/$rpmf"

# Refusals: nothing is written.
cp "$T/u/$deb" "$T/bad.deb"
size=$(stat -c %s "$T/bad.deb")
printf '\377' | dd of="$T/bad.deb" bs=1 seek=$((size - 200)) conv=notrunc 2>/dev/null
cp "$T/bad.deb" "$T/bad.deb.orig"
check_fails "a damaged .deb is refused by name" 2 "bad.deb" "$P" sign --key "$FPR" "$T/bad.deb"
check "the damaged .deb is left as it was" cmp "$T/bad.deb" "$T/bad.deb.orig"
head -c 1000 "$T/u/$rpmf" >"$T/short.rpm"
check_fails "a truncated rpm is refused by name" 2 "short.rpm" "$P" sign --key "$FPR" "$T/short.rpm"
cp "$T/u/$rpmf" "$T/v.rpm"
check_fails "an unknown key is refused" 2 "0123456789ABCDEF0123456789ABCDEF01234567" \
    "$P" sign --key 0123456789ABCDEF0123456789ABCDEF01234567 "$T/v.rpm"
check "the package is left unsigned" cmp "$T/v.rpm" "$T/u/$rpmf"
check_fails "no key at all is a clear error" 2 "no signing key" env -u PKGSMITH_SIGNING_KEY "$P" sign "$T/v.rpm"
check_fails "--key and --strip exclude each other" 64 "exclude" "$P" sign --strip --key "$FPR" "$T/v.rpm"
check_fails "no file is a usage error" 64 "no package" "$P" sign --strip
check "sign --help" sh -c "'$P' sign --help | grep -q 'strip'"
check "sign --json lists the files" sh -c "'$P' sign --json --key '$FPR' '$T/v.rpm' | grep -q '\"files\":\\[\"$T/v.rpm\"\\]'"
