#!/bin/sh
# What `make` does after building the tool: with PKGSMITH_SIGNING_KEY it
# signs with that key; without, it makes a development key (once) in
# OUT/gnupg, says so on stderr, and uses it.  OUT/signing-key.asc is always
# the signer's public key.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

# fpr_of ASC : the fingerprint of the key in an armored file.
fpr_of() { gpg --batch --with-colons --show-keys "$1" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }'; }

cd "$top" || exit 2
unset GNUPGHOME
check_fails "make: without a key, a development key is made and announced" 0 \
    "WARNING: no signing key configured.*DEVELOPMENT key in $T/dev/gnupg" \
    scripts/build-packages "$T/dev" "$PKGSMITH" ""
check "make: packages built with the dev key" test -f "$T/dev/alloy-journal-loki_1.0.0-1_all.deb"
devfpr=$(fpr_of "$T/dev/signing-key.asc")
check "make: the dev key says it is for development" sh -c \
    "gpg --batch --with-colons --show-keys '$T/dev/signing-key.asc' | grep -q 'DEVELOPMENT key (not for production)'"
check_fails "make: a second run reuses the development key" 0 "signing with the DEVELOPMENT key" \
    scripts/build-packages "$T/dev" "$PKGSMITH" ""
check_eq "make: same dev key both times" "$devfpr" "$(fpr_of "$T/dev/signing-key.asc")"

mkdir -p "$T/org-gnupg" && chmod 700 "$T/org-gnupg"
GNUPGHOME=$T/org-gnupg
export GNUPGHOME
orgfpr=$(make_key "$GNUPGHOME" 'Org release key <release@example.org>')
check "make: PKGSMITH_SIGNING_KEY signs with that key" \
    scripts/build-packages "$T/org" "$PKGSMITH" "$orgfpr"
check_eq "make: signing-key.asc is that key's public part" "$orgfpr" "$(fpr_of "$T/org/signing-key.asc")"
check "make: no development key made when a key is given" test ! -e "$T/org/gnupg"
db=$T/rpmdb
mkdir -p "$db"
rpm --dbpath "$db" --import "$T/org/signing-key.asc"
check_fails "make: the rpm verifies with the exported key" 0 "digests signatures OK" \
    rpm --dbpath "$db" -K "$T/org/alloy-journal-loki-1.0.0-1.noarch.rpm"
