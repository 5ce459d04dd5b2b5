#!/bin/sh
# Bad input: one clear line naming the file (and line), exit status 2, and
# no output file.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/build.sh
. "$top/tests/lib/build.sh"

# bad NAME PATTERN [BUILD-ARGS...] : builds $T/src (prepared by the caller)
# and expects failure 2 with PATTERN, one line of error, and nothing in out/.
bad() {
    _n=$1 _p=$2
    shift 2
    rm -rf "$T/out"
    check_fails "bad input: $_n" 2 "$_p" "$PKGSMITH" build --out "$T/out" "$@" "$T/src"
    check_eq "bad input: $_n: one line on stderr" 1 "$(wc -l <"$T/.out")"
    check_eq "bad input: $_n: no output file" "" "$(ls "$T/out" 2>/dev/null)"
}

fresh() { rm -rf "$T/src" && copy_source "$T/src"; }

fresh
sed -i 's/^Package:/Pakage:/' "$T/src/debian/control"
line=$(grep -n '^Pakage:' "$T/src/debian/control" | cut -d: -f1)
bad "misspelled control field" "debian/control:$line: unknown field 'Pakage' \(did you mean 'Package'\?\)" --key "$FPR"

fresh
rm "$T/src/pkgsmith.settings"
line=$(grep -n '@loki_host@' "$T/src/package/defaults.in" | head -n 1 | cut -d: -f1)
bad "sources copied without pkgsmith.settings (literal @placeholders@ would ship)" "package/defaults.in:$line: @loki_host@ is not a declared setting, and .*/pkgsmith.settings, which declares them, is missing" --key "$FPR"

fresh
sed -i '/^Architecture:/d' "$T/src/debian/control"
bad "missing control field" "debian/control:[0-9]+: stanza has no 'Architecture' field" --key "$FPR"

fresh
printf '%%if 1\n' >>"$T/src/specs/alloy-journal-loki.spec"
bad "spec syntax error (unclosed %if)" "specs/alloy-journal-loki.spec(:[0-9]+)?: .*%if" --key "$FPR"

fresh
sed -i 's/^Summary:/Sumary:/' "$T/src/specs/alloy-journal-loki.spec"
line=$(grep -n '^Sumary:' "$T/src/specs/alloy-journal-loki.spec" | cut -d: -f1)
bad "spec unknown tag" "specs/alloy-journal-loki.spec:$line: " --key "$FPR"

fresh
script=$(awk '{print $1; exit}' "$T/src/debian/alloy-journal-loki.install")
rm "$T/src/$script"
bad "installed file missing (deb)" "debian/alloy-journal-loki.install:[0-9]+: '$script' does not exist" --key "$FPR"
bad "installed file missing (rpm)" "specs/alloy-journal-loki.spec" --key "$FPR" --format rpm

fresh
rm "$T/src/debian/postinst"
printf 'echo no shebang\n' >"$T/src/debian/postinst"
bad "maintainer script without #!" "debian/postinst:1: " --key "$FPR"

fresh
bad "unknown --set name" "--set loki_hots: unknown setting \(known: .*loki_host" --key "$FPR" --set loki_hots=x
bad "--set without =" "--set 'loki_host': expected NAME=VALUE" --key "$FPR" --set loki_host
bad "missing key" "no secret key 0000000000000000000000000000000000000000" --key 0000000000000000000000000000000000000000

pub=$T/pub-gnupg
mkdir -p "$pub" && chmod 700 "$pub"
gpg --homedir "$pub" --batch --quiet --import "$T/signing-key.asc" 2>/dev/null
bad "key without secret part" "no secret key $FPR in GnuPG home $pub" --key "$FPR" --gnupg-home "$pub"
bad "no key and no --no-sign" "no signing key"
