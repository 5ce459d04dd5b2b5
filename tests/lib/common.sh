# tests/lib/common.sh - sourced by tests/e2e/*.sh.
# Assertions print "ok NAME" or "not ok NAME - why"; tests/run counts them.
# Every test gets a private $T directory, removed (with its gpg agents) on
# exit.

: "${PKGSMITH:?run through tests/run or make check}"
: "${top:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pkgsmith-test.XXXXXX")
# Searchable, not listable, by others: nginx's workers (www-data) reach a
# served tree below it, as they do below a real operator's /var/lib.
chmod 0711 "$T"
export LC_ALL=C.UTF-8

t_cleanup() {
    # Every GnuPG home the test made, however deep, has its agent stopped
    # by home (never by process name).
    find "$T" -maxdepth 3 -type d -name '*gnupg*' 2>/dev/null | while read -r h; do
        gpgconf --homedir "$h" --kill all >/dev/null 2>&1
    done
    # Mounts a test made under $T (chroot roots bound onto themselves, their
    # /proc), deepest first, so that rm never walks into one.
    awk -v d="$T" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts 2>/dev/null |
        sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    rm -rf "$T"
}
trap t_cleanup EXIT

# CHECK_PREFIX (lifecycle_releases.sh: the Debian release) starts every name.
ok() { echo "ok ${CHECK_PREFIX:-}$1"; }
not_ok() { echo "not ok ${CHECK_PREFIX:-}$1 - $2"; }

# check NAME CMD... : passes when CMD exits 0; shows its output otherwise.
check() {
    _name=$1
    shift
    if "$@" >"$T/.out" 2>&1; then
        ok "$_name"
    else
        not_ok "$_name" "exit $? from: $*"
        sed 's/^/#   /' "$T/.out" | head -n 40
    fi
}

# check_fails NAME STATUS PATTERN CMD... : CMD must exit with STATUS and
# print a line matching PATTERN (grep -E) on stdout or stderr.
check_fails() {
    _name=$1 _want=$2 _pat=$3
    shift 3
    "$@" >"$T/.out" 2>&1
    _got=$?
    if [ "$_got" -ne "$_want" ]; then
        not_ok "$_name" "exit $_got, expected $_want from: $*"
        sed 's/^/#   /' "$T/.out" | head -n 20
    elif ! grep -Eq -- "$_pat" "$T/.out"; then
        not_ok "$_name" "output does not match /$_pat/"
        sed 's/^/#   /' "$T/.out" | head -n 20
    else
        ok "$_name"
    fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "expected [$2], got [$3]"
    fi
}

# make_key HOME UID : an RSA signing key (what apt/rpm verify everywhere);
# prints its fingerprint.
make_key() {
    mkdir -p "$1" && chmod 700 "$1"
    echo "personal-digest-preferences SHA256" >"$1/gpg.conf"
    gpg --homedir "$1" --batch --quiet --passphrase '' \
        --quick-gen-key "$2" rsa3072 sign never >/dev/null 2>&1
    gpg --homedir "$1" --batch --with-colons --list-secret-keys "$2" |
        awk -F: '$1 == "fpr" { print $10; exit }'
}

# copy_source DIR : a private copy of the repository's package sources.
copy_source() {
    mkdir -p "$1"
    (cd "$top" && tar -cf - debian specs package pkgsmith.settings 2>/dev/null) |
        (cd "$1" && tar -xf -)
}

# dsv DEB : debsig-verify under the policies scripts/debsig-policy made in
# $T/debsig.
dsv() { debsig-verify --policies-dir "$T/debsig/policies" --keyrings-dir "$T/debsig/keyrings" "$1"; }
