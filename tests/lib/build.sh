# tests/lib/build.sh - sourced after common.sh by the build tests: a test
# signing key and a signed build of this repository's packages in $T/out.

KEYHOME=$T/gnupg
FPR=$(make_key "$KEYHOME" 'pkgsmith test key <test@pkgsmith.invalid>')
export GNUPGHOME="$KEYHOME"
gpg --batch --armor --export "$FPR" >"$T/signing-key.asc"

# build_signed SRC OUT [ARGS...] : a signed build; prints nothing.
build_signed() {
    _src=$1 _out=$2
    shift 2
    "$PKGSMITH" build --out "$_out" --key "$FPR" "$@" "$_src" >/dev/null
}

# flip_byte FILE OFFSET : inverts one byte in place.
flip_byte() {
    _b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059 # the format is the octal escape we build
    printf "\\$(printf '%03o' $((_b ^ 255)))" |
        dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# member_offset DEB NAME : byte offset of the data of ar member NAME
# (8-byte magic, then 60-byte headers, members padded to even sizes).
member_offset() {
    ar tv "$1" | awk -v want="$2" '
        BEGIN { off = 8 }
        { size = $3; name = $NF
          if (name == want) { print off + 60; exit }
          off += 60 + size + size % 2 }'
}
