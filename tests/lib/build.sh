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
    python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
PY
}

# member_offset DEB NAME : byte offset of the data of ar member NAME.
member_offset() {
    python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    if name == sys.argv[2]:
        print(pos + 60)
        break
    pos += 60 + size + (size & 1)
PY
}
