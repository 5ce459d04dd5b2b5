#!/bin/sh
# ci/release in a temporary clone, with a test key and a test tag: the
# artifacts, SHA256SUMS and its signature, the build-info, the published
# repository installing in apt and dnf chroots (ci/smoke-test), no key in
# a `sh -x` log, the key home wiped on interrupt, a re-run doing nothing,
# and the refusals: no key, a non-reproducible build, a different build of
# a published version.  Two environments (staging, then prod) with an
# internal-domain Base-URL: alloy-journal-loki is built once, published to
# staging and smoke-tested there, then the same pool file is promoted to
# prod and smoke-tested again; each environment's Loki host reaches its
# hosts through its own client package.
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
    --rpm-repo stable --rpm-repo prod --rpm-repo staging --org acme --url http://repo.acme.internal >/dev/null
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

# ---- --dry-run: every step up to publishing ---------------------------
release "$T/dry.log" --env staging --env prod --dry-run
check_eq "--dry-run: exit 0" 0 "$?"
check "--dry-run: steps 1-6 ran" sh -c "grep -q '^==> 5. Build again' '$T/dry.log' && grep -q '^==> 6. Sign and verify' '$T/dry.log'"
check "--dry-run: no step 7" sh -c "! grep -q '^==> 7\.' '$T/dry.log'"
check "--dry-run: it says nothing was published" grep -q "dry run: 1.2.3 built, compared, signed and checked; nothing published" "$T/dry.log"
check "--dry-run: still generation 1" test "$(gens)" = 1
check "--dry-run: no artifacts" test ! -e "$T/dist/1.2.3"

# ---- the release -----------------------------------------------------
release "$T/release.log" --env staging --env prod
rc=$?
check_eq "ci/release v1.2.3 --env staging --env prod: exit 0" 0 "$rc"
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
for f in alloy-journal-loki_1.2.3-1_all.deb alloy-journal-loki-1.2.3-1.noarch.rpm \
    acme-repo_1.2.3-1+staging_all.deb acme-repo-1.2.3-1+staging.noarch.rpm \
    acme-repo_1.2.3-1+prod_all.deb acme-repo-1.2.3-1+prod.noarch.rpm; do
    check "artifact packages/$f" test -s "$D/packages/$f"
done
check_eq "alloy-journal-loki was built once: one deb and one rpm of it" 2 "$(find "$D/packages" -name 'alloy-journal-loki*' | wc -l)"
check "SHA256SUMS verifies" sh -c "cd '$D' && sha256sum --quiet -c SHA256SUMS"
check "SHA256SUMS lists every package" test "$(grep -c ' packages/' "$D/SHA256SUMS")" -eq 6
BI=$D/alloy-journal-loki_1.2.3-1_all.buildinfo
check "SHA256SUMS covers the .buildinfo and release.json" sh -c "grep -q '  alloy-journal-loki_1.2.3-1_all.buildinfo\$' '$D/SHA256SUMS' && grep -q '  release.json\$' '$D/SHA256SUMS'"
check "SHA256SUMS.asc is a good signature by the release key" \
    gpgv --keyring "$T/release-pub.gpg" "$D/SHA256SUMS.asc" "$D/SHA256SUMS"
rpm --dbpath "$T/rpmdb" --import "$D/signing-key.asc"
check_eq "rpm -K accepts the three released rpms" 3 "$(rpm --dbpath "$T/rpmdb" -K "$D"/packages/*.rpm 2>&1 | grep -c ': digests signatures OK$')"

# The .buildinfo is Debian's format (dpkg's own parser reads it as one)
# and says what a rebuild needs; a rebuild agrees.
# shellcheck disable=SC2016 # (perl code)
check "dpkg's parser reads the .buildinfo (Dpkg::Control, CTRL_FILE_BUILDINFO)" perl -MDpkg::Control -e '
my $c = Dpkg::Control->new(type => CTRL_FILE_BUILDINFO);
$c->load($ARGV[0]) or die "not parsed\n";
for my $f (qw(Format Source Binary Architecture Version Checksums-Sha256 Build-Architecture Build-Date Installed-Build-Depends Environment)) {
    die "no $f\n" unless defined $c->{$f};
}
die "Format $c->{Format}\n" unless $c->{Format} eq "1.0";' "$BI"
bi() { sed -n "s/^$1: //p" "$BI"; }
check_eq ".buildinfo: Source" alloy-journal-loki "$(bi Source)"
check_eq ".buildinfo: Version" 1.2.3-1 "$(bi Version)"
check_eq ".buildinfo: Binary" "acme-repo alloy-journal-loki" "$(bi Binary)"
check_eq ".buildinfo: X-Pkgsmith-Commit" "$(cd "$C" && git rev-parse v1.2.3)" "$(bi X-Pkgsmith-Commit)"
check ".buildinfo: SOURCE_DATE_EPOCH is the commit time" grep -qx ' SOURCE_DATE_EPOCH="1790000000"' "$BI"
check_eq ".buildinfo: X-Pkgsmith-Tag" v1.2.3 "$(bi X-Pkgsmith-Tag)"
check_eq ".buildinfo: X-Pkgsmith-Signing-Key" "$FPR" "$(bi X-Pkgsmith-Signing-Key)"
check ".buildinfo: the tool's version and hash" grep -qx "X-Pkgsmith-Tool: pkgsmith 0.1.0 sha256:$(sha256sum "$C/bin/pkgsmith" | cut -d' ' -f1)" "$BI"
check ".buildinfo: Installed-Build-Depends has librpm9 (= VERSION)" grep -Eq '^ librpm9 \(= [0-9][^)]*\),?$' "$BI"
check ".buildinfo: input hash of debian/control" grep -q "^ $(sha256sum "$C/debian/control" | cut -d' ' -f1)  debian/control\$" "$BI"
SOURCE_DATE_EPOCH=1790000000 "$P" build --no-sign --set version=1.2.3 --out "$T/rebuild" "$C" >/dev/null
rb=$T/rebuild/alloy-journal-loki_1.2.3-1_all.deb
check "a rebuild from the commit has the .buildinfo's Checksums-Sha256" \
    grep -qx " $(sha256sum "$rb" | cut -d' ' -f1) $(stat -c %s "$rb") alloy-journal-loki_1.2.3-1_all.deb" "$BI"
check "... and the released deb is that rebuild plus a signature" sh -c "'$P' sign --strip --out '$T/stripped' '$D/packages/alloy-journal-loki_1.2.3-1_all.deb' >/dev/null && cmp '$T/stripped/alloy-journal-loki_1.2.3-1_all.deb' '$rb'"
check "release.json: version, generation, six packages, nine steps" python3 -c "
import json, sys
j = json.load(open('$D/release.json'))
assert j['version'] == '1.2.3' and j['generation'] == 3, j
assert len(j['packages']) == 6 and len(j['steps']) == 9, j
assert j['tests'] == 'skipped' and j['smoke_test'] == 'passed', j
assert j['environments'] == ['staging', 'prod'], j"

# Published to staging (generation 2), promoted to prod (generation 3),
# and installable in both (ci/smoke-test ran in step 8).
check "published to staging, then promoted: generation 3" test "$(gens)" = 3
check "the staging smoke test ran before the promotion to prod" sh -c "sed -n '/^--> smoke test of staging/,\$p' '$T/release.log' | grep -q '^--> promote alloy-journal-loki 1.2.3-1 from staging to prod'"
check "... and the prod smoke test after it" sh -c "sed -n '/^--> promote alloy-journal-loki/,\$p' '$T/release.log' | grep -q '^--> smoke test of prod'"
for e in staging prod; do
    check "repo list: alloy-journal-loki 1.2.3-1 in suite $e" sh -c "'$P' repo list --root '$R' | grep -Eq '^deb +$e/main +alloy-journal-loki +1.2.3-1 '"
    check "repo list: alloy-journal-loki 1.2.3-1 in rpm repo $e" sh -c "'$P' repo list --root '$R' | grep -Eq '^rpm +$e +alloy-journal-loki +1.2.3-1 '"
done
# The bytes prod serves are the bytes staging tested: one pool file.
field() { awk -v p=alloy-journal-loki -v f="$2" '$1 == "Package:" { on = $2 == p } on && $1 == f":" { print $2 }' "$R/public/dists/$1/main/binary-amd64/Packages"; }
check_eq "apt: prod and staging name the same pool file" "$(field staging Filename)" "$(field prod Filename)"
check_eq "apt: ... with the released deb's SHA-256" "$(sha256sum "$D/packages/alloy-journal-loki_1.2.3-1_all.deb" | cut -d' ' -f1)" "$(field prod SHA256)"
rpm_href() { zcat "$R"/public/rpm/"$1"/repodata/*primary.xml.gz | tr '<' '\n' | awk '$0 == "name>alloy-journal-loki" { on = 1 } on && /^location href="/ { split($0, h, "\""); print h[2]; exit }'; }
check "rpm: prod's alloy-journal-loki is byte for byte staging's and the release's" sh -c "cmp '$R/public/rpm/staging/$(rpm_href staging)' '$R/public/rpm/prod/$(rpm_href prod)' && cmp '$R/public/rpm/prod/$(rpm_href prod)' '$D/packages/alloy-journal-loki-1.2.3-1.noarch.rpm'"
check "repo verify" "$P" repo verify --root "$R"
for e in staging prod; do
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
release "$T/rerun.log" --env staging --env prod
check_eq "re-run of v1.2.3: exit 0" 0 "$?"
check "re-run: says there is nothing to do" grep -q "1.2.3 is already published with identical bytes: nothing to do" "$T/rerun.log"
check "re-run: no new generation" test "$(gens)" = 3
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
check "different build: still generation 3" test "$(gens)" = 3

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
check "the message names the rpm" grep -q "NOT REPRODUCIBLE: pkg/alloy-journal-loki-1.2.4-1.noarch.rpm differs" "$T/repro.log"
check "non-reproducible: still generation 3, no artifacts" sh -c "test $(gens) = 3 && test ! -e '$T/dist/1.2.4'"

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
check "1.2.5 was published before the smoke test" test "$(gens)" = 4
# The release and the smoke test it runs, as a runner stops a job.
pkill -TERM -f -- "--skip-check --version 1.2.5"
pkill -TERM -f -- "ci/smoke-test --repo $R"
wait "$bg"
check_eq "interrupted: exit 143" 143 "$?"
check "interrupted: the log says it rolled back" grep -q "FAILED in step 8.*is back at generation 3" "$T/int.log"
check "interrupted: generation 3 is current again" test "$(gens)" = 3
check "interrupted: 1.2.5 is not in the working set" sh -c "! '$P' repo list --root '$R' | grep -q 1.2.5"
check_eq "interrupted: the key home is wiped" "" "$(find "$T/tmp" -maxdepth 1 -name 'pkgsmith-*')"
check "interrupted: no artifacts" test ! -e "$T/dist/1.2.5"

# ---- an environment file with a build-setting name is refused -----------
printf 'loki_host=loki-qa.example.com\n' >"$C/ci/environments/qa.env"
commit_all "qa" "@1790000400 +0000"
"$P" repo init --root "$T/qa-repo" --key "$FPR" --suite qa --rpm-repo qa --org acme --url http://10.20.0.5 >/dev/null
(cd "$C" && env -u GNUPGHOME TMPDIR="$T/tmp" ci/release --repo "$T/qa-repo" --out "$T/dist" --skip-check --version 1.2.6 --env qa) >"$T/qa.log" 2>&1
check_eq "an environment file with a lower-case name: exit 2" 2 "$?"
check "... naming the file and line" grep -q "ci/environments/qa.env:1: expected NAME=VALUE with NAME in capitals" "$T/qa.log"
