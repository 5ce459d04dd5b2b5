#!/bin/sh
# pkgsmith repo push (issue 22) to a real Ceph radosgw on 127.0.0.1
# (tests/lib/radosgw.sh, never a mock): the bucket serves, to anonymous
# GETs, the same signed tree as the local generation; a second push sends
# nothing; publish pushes by itself when Publish-To is set, sending only
# what changed; a lease another push holds refuses the push, an expired
# one is taken over; a pool key holding other bytes is refused and not
# overwritten; a bad secret is named.  Every daemon is stopped by PID.
# shellcheck disable=SC2016 # the sh -c scripts expand their own "$1" "$2"
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/radosgw.sh
. "$top/tests/lib/radosgw.sh"
trap 'rgw_stop; t_cleanup' EXIT

P=$PKGSMITH
R=$T/repo
export GNUPGHOME="$T/gnupg"
FPR=$(make_key "$GNUPGHOME" 'Push Test <push@example.test>')
rgw_setup publisher AKIAPUSH pushsecret pkgrepo

"$P" build --key "$FPR" --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null
"$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$top/tests/fixtures/host-provides" >/dev/null
"$P" build --key "$FPR" --set version=1.17.0+s3~1 --out "$T/next" "$top/tests/fixtures/alloy" >/dev/null
check "init" "$P" repo init --root "$R" --key "$FPR" --org acme --url "$RGW_ENDPOINT/pkgrepo/prod"
check "add" "$P" repo add --root "$R" "$T"/pkgs/*.deb "$T"/pkgs/*.rpm
check "publish, no target yet" "$P" repo publish --root "$R"
cat >>"$R/repo.conf" <<CONF
Publish-To: s3://pkgrepo/prod
S3-Endpoint: $RGW_ENDPOINT
S3-Region: us-east-1
S3-Credentials-File: $T/creds
CONF
ANON=$RGW_ENDPOINT/pkgrepo/prod

# ---- the first push --------------------------------------------------------
check "push" "$P" repo push --root "$R"
cp "$T/.out" "$T/push1.out"
sed 's/^/# /' "$T/push1.out"
check "... reports that it uploaded every object" \
    grep -Eq '^pushed generation 1 to 1 target: ([0-9]+) objects, \1 uploaded, 0 unchanged' "$T/push1.out"

# Every regular file of the local tree (not the pool links) and every
# pool file, read back anonymously as a client reads them.
PUB=$R/public
bad=0 n=0
# same_anon KEY FILE : the bucket serves FILE's bytes under KEY.
same_anon() { curl -fsS -o "$T/got" "$ANON/$1" && cmp -s "$T/got" "$2"; }
for f in $(cd "$PUB" && find . -path ./pool -prune -o -path './rpm/*/pool' -prune -o -type f -print | sed 's|^\./||'); do
    n=$((n + 1))
    if ! same_anon "$f" "$PUB/$f"; then bad=$((bad + 1)); echo "# differs: $f"; fi
done
for f in $(cd "$R" && find pool -type f); do
    n=$((n + 1))
    if ! same_anon "$f" "$R/$f"; then bad=$((bad + 1)); echo "# differs: $f"; fi
done
check "the bucket serves the tree byte for byte ($n files)" test "$bad" -eq 0 -a "$n" -gt 10
rpmfile=$(cd "$R" && find pool -name '*.rpm' | head -n 1)
check "an rpm is served under rpm/stable/ too (its repodata hrefs)" \
    sh -c 'curl -fsS "$1/rpm/stable/$2" | cmp - "$3/$2"' sh "$ANON" "$rpmfile" "$R"
gpg --batch --quiet --export "$FPR" >"$T/keyring.gpg"
curl -fsS -o "$T/InRelease" "$ANON/dists/stable/InRelease"
check "InRelease from the bucket verifies" gpgv --keyring "$T/keyring.gpg" "$T/InRelease"
check_fails "repo verify --target checks the bucket as a client reads it" 0 \
    '^s3://pkgrepo/prod: [0-9]+ signatures and files verified' \
    "$P" repo verify --root "$R" --target s3://pkgrepo/prod
curl -fsS -D "$T/h" -o /dev/null "$ANON/dists/stable/InRelease"
check "InRelease is short-lived in caches" grep -qi '^cache-control: max-age=60' "$T/h"
curl -fsS -D "$T/h" -o /dev/null "$ANON/$rpmfile"
check "pool files are immutable in caches" grep -qi '^cache-control: max-age=31536000, immutable' "$T/h"
check "the lease is released" sh -c '! curl -fsS -o /dev/null "$1/.pkgsmith/lease" 2>/dev/null' sh "$ANON"

# ---- nothing changed: nothing sent ---------------------------------------
check_fails "a second push uploads nothing" 0 ' 0 uploaded, ' "$P" repo push --root "$R"

# ---- publish pushes by itself, only what changed ---------------------------
check "add a new version" "$P" repo add --root "$R" "$T"/next/*.deb
check "publish pushes generation 2" "$P" repo publish --root "$R"
sed 's/^/# /' "$T/.out"
up=$(sed -n 's/^pushed generation 2 .* objects, \([0-9]*\) uploaded.*/\1/p' "$T/.out")
total=$(sed -n 's/^pushed generation 2 .*: \([0-9]*\) objects.*/\1/p' "$T/.out")
check "... uploading fewer objects than it has ($up of $total)" test -n "$up" -a "${up:-0}" -lt "${total:-0}"
curl -fsS -o "$T/InRelease" "$ANON/dists/stable/InRelease"
check "... the bucket serves generation 2's InRelease" cmp "$T/InRelease" "$R/public/dists/stable/InRelease"
check "... which verifies" gpgv --keyring "$T/keyring.gpg" "$T/InRelease"
check "... and names the new version" sh -c 'curl -fsS "$1/dists/stable/main/binary-amd64/Packages" | grep -q "^Version: 1.17.0+s3~1"' sh "$ANON"

# bucket_consistent : what a client sees in the bucket holds together:
# InRelease verifies, every index it lists is served under by-hash with
# that SHA-256 (apt asks by-hash: Acquire-By-Hash), every package those
# Packages name is served with its SHA256; repomd.xml.asc verifies
# repomd.xml and every repodata file it names is served.
bucket_consistent() {
    curl -fsS -o "$T/c.InRelease" "$ANON/dists/stable/InRelease" || return 1
    gpgv --keyring "$T/keyring.gpg" "$T/c.InRelease" 2>/dev/null || { echo "InRelease does not verify"; return 1; }
    awk '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s { print $1, $3 }' "$T/c.InRelease" >"$T/c.list"
    while read -r h f; do
        u=$ANON/dists/stable/$(dirname "$f")/by-hash/SHA256/$h
        got=$(curl -fsS "$u" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$h" ] || { echo "by-hash of $f: got $got"; return 1; }
        case $f in */Packages)
            curl -fsS "$u" | awk '/^Filename:/ { f = $2 } /^SHA256:/ { print $2, f }' >"$T/c.pool"
            while read -r ph pf; do
                [ "$(curl -fsS "$ANON/$pf" | sha256sum | cut -d' ' -f1)" = "$ph" ] || { echo "$pf"; return 1; }
            done <"$T/c.pool" ;;
        esac
    done <"$T/c.list"
    if ! { curl -fsS -o "$T/c.repomd" "$ANON/rpm/stable/repodata/repomd.xml" &&
        curl -fsS -o "$T/c.asc" "$ANON/rpm/stable/repodata/repomd.xml.asc" &&
        gpgv --keyring "$T/keyring.gpg" "$T/c.asc" "$T/c.repomd" 2>/dev/null; }; then
        echo "repomd.xml.asc does not verify repomd.xml"
        return 1
    fi
    sed -n 's/.*<location href="\([^"]*\)".*/\1/p' "$T/c.repomd" >"$T/c.rpmlist"
    while read -r l; do
        curl -fsS -o /dev/null "$ANON/rpm/stable/$l" || { echo "rpm/stable/$l"; return 1; }
    done <"$T/c.rpmlist"
}
check "the bucket is consistent for clients" bucket_consistent

# ---- kill -9 at several points of a push -----------------------------------
# strace sends SIGKILL at pkgsmith's Nth sendto(2), the start of its Nth
# HTTP request: the lease, the manifest, then the phases.  The publish
# itself is done by then (it sends nothing); its push is what dies.
i=0
for when in 2 4 8 12 15; do
    i=$((i + 1))
    "$P" build --key "$FPR" --set version=1.18.$i --out "$T/k$i" "$top/tests/fixtures/alloy" >/dev/null
    "$P" repo add --root "$R" "$T/k$i"/*.deb >/dev/null
    strace -qq -o /dev/null -e trace=sendto -e inject=sendto:signal=SIGKILL:when=$when \
        "$P" repo publish --root "$R" >/dev/null 2>&1
    check "kill -9 at request $when: the bucket is consistent" bucket_consistent
    check "kill -9 at request $when: repo verify --target passes" \
        "$P" repo verify --root "$R" --target s3://pkgrepo/prod
    check "kill -9 at request $when: the next push completes" "$P" repo push --root "$R"
    cp "$T/.out" "$T/k.out"
    sed 's/^/# /' "$T/k.out"
    up=$(sed -n 's/^pushed .* objects, \([0-9]*\) uploaded.*/\1/p' "$T/k.out")
    total=$(sed -n 's/^pushed .*: \([0-9]*\) objects.*/\1/p' "$T/k.out")
    check "... sending only what was missing ($up of $total)" test "${up:-99999}" -lt "${total:-0}"
    check "... and the bucket serves the new generation" \
        sh -c 'curl -fsS "$1/dists/stable/InRelease" | cmp - "$2"' sh "$ANON" "$R/public/dists/stable/InRelease"
    check "... consistently" bucket_consistent
done

# ---- garbage: deleted after the grace period, never at once ---------------
printf 'S3-Delete-Grace-Seconds: 2\n' >>"$R/repo.conf"
gone=$(cd "$R" && find pool -name 'alloy_1.18.1-1_amd64.deb')
check "a version is removed" "$P" repo remove --root "$R" alloy=1.18.1-1
deleted=0
for n in 1 2 3 4 5 6; do
    "$P" repo publish --root "$R" >"$T/pub.out" 2>&1 || cat "$T/pub.out"
    d=$(sed -n 's/.* \([0-9]*\) deleted,.*/\1/p' "$T/pub.out")
    deleted=$((deleted + ${d:-0}))
    if [ "$n" -le 4 ]; then
        # A kept generation (Keep-Generations: 5) still names it.
        check "publish $n: the removed version is still served" same_anon "$gone" "$R/$gone"
    fi
done
sleep 3
check "a push after the grace period" "$P" repo push --root "$R"
cp "$T/.out" "$T/gc.out"
sed 's/^/# /' "$T/gc.out"
d=$(sed -n 's/.* \([0-9]*\) deleted,.*/\1/p' "$T/gc.out")
deleted=$((deleted + ${d:-0}))
check "... deleted what no kept generation names ($deleted objects)" test "$deleted" -gt 0
check "... the removed version among them" sh -c '! curl -fsS -o /dev/null "$1/$2" 2>/dev/null' sh "$ANON" "$gone"
check "... and the bucket is still consistent" bucket_consistent
check "... repo verify --target passes" "$P" repo verify --root "$R" --target s3://pkgrepo/prod

# ---- the lease ---------------------------------------------------------------
# A second publisher (another repository, the same target) while a real
# push holds the lease: strace holds the push's third request 3 s.
R2=$T/repo2
"$P" repo init --root "$R2" --key "$FPR" --org other >/dev/null
"$P" repo add --root "$R2" "$T"/pkgs/*.deb >/dev/null
"$P" repo publish --root "$R2" >/dev/null
sed -n '/^Publish-To:/,$p' "$R/repo.conf" >>"$R2/repo.conf"
# (LeakSanitizer cannot run under ptrace: under make check SANITIZE=1 it
# would fail this push at exit; leaks are checked by every other run.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -qq -o /dev/null -e trace=sendto -e inject=sendto:delay_enter=3000000:when=3 \
    "$P" repo push --root "$R" >"$T/first.out" 2>&1 &
FIRST=$!
sleep 1.5
check_fails "a second publisher is refused while a push holds the lease" 75 \
    'another push holds the lease \([^ ]+ pid [0-9]+\) for [0-9]+ more seconds' \
    "$P" repo push --root "$R2"
wait "$FIRST"
first_rc=$?
check_eq "... and the first push completes" 0 "$first_rc"
[ "$first_rc" -eq 0 ] || sed 's/^/#   /' "$T/first.out"
check "... the bucket still serves the first repository" \
    sh -c 'curl -fsS "$1/dists/stable/InRelease" | cmp - "$2"' sh "$ANON" "$R/public/dists/stable/InRelease"
now=$(date +%s)
printf 'holder other-host pid 42\nexpires %s\n' $((now + 600)) >"$T/lease"
check "another publisher's lease" rgw_curl PUT /pkgrepo/prod/.pkgsmith/lease "$T/lease"
check_fails "a push is refused while the lease is held" 75 \
    's3://pkgrepo/prod/\.pkgsmith/lease: another push holds the lease \(other-host pid 42\)' \
    "$P" repo push --root "$R"
check_eq "... and leaves the lease alone" "holder other-host pid 42" \
    "$(curl -fsS "$ANON/.pkgsmith/lease" | head -n 1)"
printf 'holder other-host pid 42\nexpires %s\n' $((now - 5)) >"$T/lease"
check "an expired lease" rgw_curl PUT /pkgrepo/prod/.pkgsmith/lease "$T/lease"
check "a push takes over an expired lease" "$P" repo push --root "$R"

# ---- an existing key with other bytes ---------------------------------------
printf 'not the package\n' >"$T/impostor"
check "a pool key gets other bytes behind our back" rgw_curl PUT "/pkgrepo/prod/$rpmfile" "$T/impostor"
check "... and the manifest is lost" rgw_curl DELETE /pkgrepo/prod/.pkgsmith/manifest
check_fails "push refuses the key holding other bytes" 1 \
    "s3://pkgrepo/prod/$rpmfile: the bucket has this key with other content .*refused, never overwritten" \
    "$P" repo push --root "$R"
check_eq "... and does not overwrite it" "not the package" "$(curl -fsS "$ANON/$rpmfile")"
debfile=$(cd "$R" && find pool -name 'alloy_1.18.2*.deb' | head -n 1)
check "a .deb in the bucket is damaged behind our back" rgw_curl PUT "/pkgrepo/prod/$debfile" "$T/impostor"
check_fails "repo verify --target names it" 1 "/pkgrepo/prod/$debfile: size differs" \
    "$P" repo verify --root "$R" --target s3://pkgrepo/prod
rgw_curl DELETE "/pkgrepo/prod/$debfile" >/dev/null
check_fails "a key a client cannot get is named by its URL" 1 "/pkgrepo/prod/$debfile: HTTP 403" \
    "$P" repo verify --root "$R" --target s3://pkgrepo/prod

# ---- the configuration ---------------------------------------------------------
check_fails "an unknown TARGET is named" 2 's3://other/x is not in Publish-To' \
    "$P" repo push --root "$R" s3://other/x
(umask 077 && printf 'AKIAPUSH wrong\n' >"$T/creds")
check_fails "a wrong secret is named, with the key" 2 \
    's3://pkgrepo/prod/\.pkgsmith/lease: PUT .*SignatureDoesNotMatch' "$P" repo push --root "$R"

(umask 077 && printf 'AKIAPUSH pushsecret\n' >"$T/creds")

# set_conf FIELD VALUE : replaces FIELD's line in repo.conf.
set_conf() {
    sed "s|^$1: .*|$1: $2|" "$R/repo.conf" >"$T/conf.new" && cat "$T/conf.new" >"$R/repo.conf"
}
set_conf Publish-To s3://nosuchbucket/prod
check_fails "a missing bucket is named, with the key" 2 \
    's3://nosuchbucket/prod/\.pkgsmith/lease: PUT .*NoSuchBucket: bucket nosuchbucket does not exist' \
    "$P" repo push --root "$R"

check "a user with a quota of 64 KiB" rgw_user small AKIASMALL smallsecret
check "... its own bucket" rgw_bucket smallrepo
check "... the quota set" rgw_quota small 65536
(umask 077 && printf 'AKIASMALL smallsecret\n' >"$T/creds.small")
set_conf Publish-To s3://smallrepo/prod
set_conf S3-Credentials-File "$T/creds.small"
check_fails "a full quota is named, with the key" 1 \
    's3://smallrepo/prod/[^ ]+: PUT .*HTTP 403 QuotaExceeded' "$P" repo push --root "$R"
check "... and nothing is half-visible: no InRelease, no Release" sh -c \
    '! curl -fsS -o /dev/null "$1/dists/stable/InRelease" 2>/dev/null &&
     ! curl -fsS -o /dev/null "$1/dists/stable/Release" 2>/dev/null' sh "$RGW_ENDPOINT/smallrepo/prod"

DEAD=$(_rgw_free_port)
set_conf S3-Endpoint "http://127.0.0.1:$DEAD"
check_fails "an endpoint refusing connections is named, with the key" 1 \
    "s3://smallrepo/prod/\.pkgsmith/lease: PUT http://127\.0\.0\.1:$DEAD/.*Connection refused" \
    "$P" repo push --root "$R"

check "radosgw stops by PID" rgw_stop
