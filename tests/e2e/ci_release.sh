#!/bin/sh
# ci/release in a temporary clone, with a test key and a test tag: the
# artifacts, SHA256SUMS and its signature, the build-info, the published
# repository installing in apt and dnf chroots (ci/smoke-test), no key in
# a `sh -x` log, the key home wiped on interrupt, a re-run doing nothing,
# and the refusals: no key, a non-reproducible build, a different build of
# a published version.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

H=$T/gnupg
FPR=$(make_key "$H" 'Release Test <release@example.test>')
gpg --homedir "$H" --batch --pinentry-mode loopback --passphrase '' --armor \
    --export-secret-keys "$FPR" >"$T/release-key.asc" 2>/dev/null
gpg --homedir "$H" --batch --export "$FPR" >"$T/release-pub.gpg" 2>/dev/null
export GNUPGHOME="$H"
P=$PKGSMITH
R=$T/repo
mkdir -p "$T/tmp"

# The clone: this tree as it is (tracked and new files), committed and
# tagged.  The tool's objects are copied after the sources, so `make tool`
# in the clone has nothing to compile.
C=$T/clone
mkdir -p "$C"
(cd "$top" && git ls-files -co --exclude-standard | while read -r f; do
    [ -e "$f" ] && printf '%s\n' "$f"
done | tar -cf - -T -) | tar -C "$C" -xf -
[ -d "$top/build/rel" ] && mkdir -p "$C/build" && cp -r "$top/build/rel" "$C/build/"
commit_all() { # commit_all MESSAGE DATE
    (cd "$C" && git add -A && GIT_COMMITTER_DATE="$2" git -c user.name=Test -c user.email=t@example.test \
        commit -q --date="$2" -m "$1")
}
(cd "$C" && git init -q -b main)
commit_all "release test" "@1790000000 +0000"
(cd "$C" && git tag v1.2.3)

# The repository: suites for two environments plus stable, each holding
# the stand-in alloy (published once, as the mirror would have).
"$P" repo init --root "$R" --key "$FPR" --suite stable --suite prod --suite staging \
    --rpm-repo stable --rpm-repo prod --rpm-repo staging --org acme --url http://repo.example.test >/dev/null
"$P" build --key "$FPR" --out "$T/alloy" "$top/tests/fixtures/alloy" >/dev/null
for s in stable prod staging; do
    "$P" repo add --root "$R" --suite "$s" --rpm-repo "$s" "$T"/alloy/* >/dev/null
done
"$P" repo publish --root "$R" >/dev/null
gens() { "$P" repo generations --root "$R" | awk '$1 == "*" { print $2 }'; }
check_eq "the repository starts at generation 1" 1 "$(gens)"

release() { # release LOG ARGS... : ci/release in the clone, traced
    _log=$1
    shift
    (cd "$C" && env -u GNUPGHOME TMPDIR="$T/tmp" sh -x ci/release --repo "$R" --out "$T/dist" --skip-check "$@") >"$_log" 2>&1
}

# ---- a release without a key publishes nothing -----------------------
env -u PKGSMITH_SIGNING_KEY_FILE -u PKGSMITH_SIGNING_KEY sh -c \
    "cd '$C' && TMPDIR='$T/tmp' ci/release --repo '$R' --out '$T/dist' --skip-check" >"$T/nokey.log" 2>&1
check_eq "without a key: exit 2" 2 "$?"
check "without a key: the error says what to set" grep -q "no signing key: set PKGSMITH_SIGNING_KEY_FILE" "$T/nokey.log"
check "without a key: nothing was published" test "$(gens)" = 1
check "without a key: no artifacts" test ! -e "$T/dist/1.2.3"

# ---- the release -----------------------------------------------------
PKGSMITH_SIGNING_KEY_FILE=$T/release-key.asc
export PKGSMITH_SIGNING_KEY_FILE
release "$T/release.log" --env prod --env staging
rc=$?
check_eq "ci/release v1.2.3 --env prod --env staging: exit 0" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/release.log" | grep -v '^#   + ' | tail -n 40
n=0
for s in "1. Install dependencies" "2. Build the tool" "3. Run make check" "4. Build the packages" \
    "5. Build again in a clean directory and compare" "6. Sign and verify" "7. Publish" \
    "8. Smoke-test" "9. Write the release artifacts"; do
    grep -q "^==> $s" "$T/release.log" && n=$((n + 1))
done
check_eq "the log has the nine titled steps" 9 "$n"
check "step 5 compared every package" sh -c "test \$(grep -c '^identical: ' '$T/release.log') -eq 6"

D=$T/dist/1.2.3
for f in alloy-journal-loki_1.2.3-1+prod_all.deb alloy-journal-loki-1.2.3-1+prod.noarch.rpm \
    alloy-journal-loki_1.2.3-1+staging_all.deb alloy-journal-loki-1.2.3-1+staging.noarch.rpm \
    acme-repo_1.2.3-1_all.deb acme-repo-1.2.3-1.noarch.rpm; do
    check "artifact packages/$f" test -s "$D/packages/$f"
done
check "SHA256SUMS verifies" sh -c "cd '$D' && sha256sum --quiet -c SHA256SUMS"
check "SHA256SUMS lists every package" test "$(grep -c ' packages/' "$D/SHA256SUMS")" -eq 6
check "SHA256SUMS covers buildinfo and release.json" sh -c "grep -q '  buildinfo\$' '$D/SHA256SUMS' && grep -q '  release.json\$' '$D/SHA256SUMS'"
check "SHA256SUMS.asc is a good signature by the release key" \
    gpgv --keyring "$T/release-pub.gpg" "$D/SHA256SUMS.asc" "$D/SHA256SUMS"
rpm --dbpath "$T/rpmdb" --import "$D/signing-key.asc"
check_eq "rpm -K accepts the three released rpms" 3 "$(rpm --dbpath "$T/rpmdb" -K "$D"/packages/*.rpm 2>&1 | grep -c ': digests signatures OK$')"

# The build-info says what a rebuild needs, and a rebuild agrees.
bi() { sed -n "s/^$1: //p" "$D/buildinfo"; }
check_eq "buildinfo: Version" 1.2.3 "$(bi Version)"
check_eq "buildinfo: Commit" "$(cd "$C" && git rev-parse v1.2.3)" "$(bi Commit)"
check_eq "buildinfo: Source-Date-Epoch is the commit time" 1790000000 "$(bi Source-Date-Epoch)"
check_eq "buildinfo: Tag" v1.2.3 "$(bi Tag)"
check_eq "buildinfo: Signing-Key" "$FPR" "$(bi Signing-Key)"
check "buildinfo: the tool's version and hash" grep -q "^ pkgsmith 0.1.0 sha256:$(sha256sum "$C/bin/pkgsmith" | cut -d' ' -f1)\$" "$D/buildinfo"
check "buildinfo: library versions" grep -Eq '^ librpm9 [0-9]' "$D/buildinfo"
check "buildinfo: input hash of debian/control" grep -q "^ $(sha256sum "$C/debian/control" | cut -d' ' -f1)  debian/control\$" "$D/buildinfo"
SOURCE_DATE_EPOCH=1790000000 "$P" build --no-sign --set version=1.2.3 --set release=1+prod \
    --set loki_host=loki-prod.example.com --out "$T/rebuild" "$C" >/dev/null
check "buildinfo: a rebuild from the commit has the recorded unsigned hash" \
    grep -q "^ $(sha256sum "$T/rebuild/alloy-journal-loki_1.2.3-1+prod_all.deb" | cut -d' ' -f1)  prod/alloy-journal-loki_1.2.3-1+prod_all.deb\$" "$D/buildinfo"
check "release.json: version, generation, six packages, nine steps" python3 -c "
import json, sys
j = json.load(open('$D/release.json'))
assert j['version'] == '1.2.3' and j['generation'] == 2, j
assert len(j['packages']) == 6 and len(j['steps']) == 9, j
assert j['tests'] == 'skipped' and j['smoke_test'] == 'passed', j
assert j['environments'] == ['prod', 'staging'], j"

# Published, and installable (ci/smoke-test ran in step 8).
check "published as generation 2" test "$(gens)" = 2
check "repo list: 1.2.3-1+prod in suite prod" sh -c "'$P' repo list --root '$R' | grep -Eq '^deb +prod/main +alloy-journal-loki +1.2.3-1\\+prod '"
check "repo list: 1.2.3-1+staging in rpm repo staging" sh -c "'$P' repo list --root '$R' | grep -Eq '^rpm +staging +alloy-journal-loki +1.2.3-1\\+staging '"
check "repo verify" "$P" repo verify --root "$R"
for e in prod staging; do
    for m in apt dnf; do
        check "smoke test: $m installs from suite $e with loki-$e.example.com" \
            grep -q "^ci/smoke-test: ok: $m: the config ships logs to loki-$e.example.com" "$T/release.log"
    done
done
check "smoke test: systemctl is-enabled alloy" grep -q "^ci/smoke-test: ok: dnf: systemctl is-enabled alloy: enabled" "$T/release.log"

# The key never appears in the traced log; its temporary home is gone.
leak=0
for l in $(sed -n '5,60p' "$T/release-key.asc" | grep -E '^[A-Za-z0-9+/]{40,}' | head -n 20); do
    grep -qF -- "$l" "$T/release.log" && leak=$((leak + 1))
done
check_eq "no line of the secret key is in the sh -x log" 0 "$leak"
check "the log is a trace (sh -x)" grep -q '^+ ' "$T/release.log"
check_eq "the temporary GnuPG home and work directory are gone" "" "$(find "$T/tmp" -maxdepth 1 -name 'pkgsmith-*')"

# ---- re-running the same tag does nothing ----------------------------
sums=$(sha256sum "$D/SHA256SUMS")
release "$T/rerun.log" --env prod --env staging
check_eq "re-run of v1.2.3: exit 0" 0 "$?"
check "re-run: says there is nothing to do" grep -q "1.2.3 is already published with identical bytes: nothing to do" "$T/rerun.log"
check "re-run: no new generation" test "$(gens)" = 2
check_eq "re-run: the artifacts are untouched" "$sums" "$(sha256sum "$D/SHA256SUMS")"

# ---- a different build of a published version is refused --------------
echo "# changed after the release" >>"$C/package/defaults.in"
commit_all "change" "@1790000100 +0000"
(cd "$C" && git tag -f v1.2.3 >/dev/null 2>&1)
release "$T/diff.log" --env prod
rc=$?
check_eq "a different build of 1.2.3: exit 1" 1 "$rc"
check "it names the package and says it is published with other content" \
    grep -Eq "error: [a-z-]+[-_]1.2.3-1[^ ]* is already published with different content" "$T/diff.log"
check "different build: still generation 2" test "$(gens)" = 2

# ---- a build that is not reproducible fails step 5 --------------------
# (a build-time stamp: the classic unreproducible build)
sed -i -e '/^install -d -m 0755 %{buildroot}%{_datadir}/a date +%N >%{buildroot}%{_datadir}/alloy-journal-loki/build-stamp' \
    -e '/^%dir %{_datadir}\/alloy-journal-loki$/a %{_datadir}/alloy-journal-loki/build-stamp' \
    "$C/specs/alloy-journal-loki.spec"
commit_all "stamp the build" "@1790000200 +0000"
(cd "$C" && git tag v1.2.4)
release "$T/repro.log" --env prod
check_eq "a non-reproducible build: exit 1" 1 "$?"
check "step 5 names the file that differs" grep -q "FAILED in step 5.*nothing was published" "$T/repro.log"
check "the message names the rpm" grep -q "NOT REPRODUCIBLE: prod/alloy-journal-loki-1.2.4-1+prod.noarch.rpm differs" "$T/repro.log"
check "non-reproducible: still generation 2, no artifacts" sh -c "test $(gens) = 2 && test ! -e '$T/dist/1.2.4'"

# ---- interrupted in the smoke test: rolled back, key home wiped --------
git -C "$C" show v1.2.3:specs/alloy-journal-loki.spec >"$C/specs/alloy-journal-loki.spec"
commit_all "no stamp" "@1790000300 +0000"
(cd "$C" && exec env -u GNUPGHOME TMPDIR="$T/tmp" sh ci/release --repo "$R" --out "$T/dist" \
    --skip-check --version 1.2.5 --env prod >"$T/int.log" 2>&1) &
bg=$!
i=0
while ! grep -q '^==> 8\.' "$T/int.log" 2>/dev/null && [ $i -lt 1200 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 1
check_eq "while it runs, the key home has mode 700" 700 "$(stat -c %a "$T"/tmp/pkgsmith-release-gnupg.* 2>/dev/null)"
check "1.2.5 was published before the smoke test" test "$(gens)" = 3
# The release and the smoke test it runs, as a runner stops a job.
pkill -TERM -f -- "--skip-check --version 1.2.5"
pkill -TERM -f -- "ci/smoke-test --repo $R"
wait "$bg"
check_eq "interrupted: exit 143" 143 "$?"
check "interrupted: the log says it rolled back" grep -q "FAILED in step 8.*is back at generation 2" "$T/int.log"
check "interrupted: generation 2 is current again" test "$(gens)" = 2
check "interrupted: 1.2.5 is not in the working set" sh -c "! '$P' repo list --root '$R' | grep -q 1.2.5"
check_eq "interrupted: the key home is wiped" "" "$(find "$T/tmp" -maxdepth 1 -name 'pkgsmith-*')"
check "interrupted: no artifacts" test ! -e "$T/dist/1.2.5"
