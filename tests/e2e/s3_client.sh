#!/bin/sh
# The S3 client (src/lib/core/ps_s3) against a real Ceph radosgw on
# 127.0.0.1 (tests/lib/radosgw.sh; never a mock), through the test driver
# tests/tools/ps_s3_drv.c: a signed PUT read back by an anonymous GET, a
# key with + : ~ round-tripping, If-None-Match: * on an existing key, and
# the failures an operator meets (wrong secret, missing bucket, full
# quota, an endpoint that refuses connections), each named with its key;
# 20 parallel PUTs all land.  Every daemon is stopped by PID on exit.
# shellcheck disable=SC2016 # the sh -c scripts expand their own "$1" "$2"
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/radosgw.sh
. "$top/tests/lib/radosgw.sh"
trap 'rgw_stop; t_cleanup' EXIT

DRV=$(dirname "$PKGSMITH")/tools/ps_s3_drv
[ -x "$DRV" ] || { not_ok "ps_s3_drv is built" "$DRV missing (make check builds it)"; exit 1; }
SECRET=s3cr3t-never-shown
rgw_setup publisher AKIAPUBLISHER "$SECRET" pkgrepo
(umask 077 && printf 'AKIAPUBLISHER\nwrong-secret\n' >"$T/creds.wrong")
S3_ENDPOINT=$RGW_ENDPOINT S3_TARGET=s3://pkgrepo/apt S3_CREDENTIALS=$T/creds
export S3_ENDPOINT S3_TARGET S3_CREDENTIALS
ANON=$RGW_ENDPOINT/pkgrepo/apt

# ---- a PUT, read back as a client reads it --------------------------------
head -c 100000 /dev/urandom >"$T/blob"
check "PUT of a file" "$DRV" put dists/stable/Release "$T/blob" cache=max-age=60 type=text/plain
curl -sS -D "$T/headers" -o "$T/got" "$ANON/dists/stable/Release"
check "an anonymous GET returns the bytes" cmp "$T/blob" "$T/got"
check "the object carries its Cache-Control" grep -qi '^cache-control: max-age=60' "$T/headers"
check "the object carries its Content-Type" grep -qi '^content-type: text/plain' "$T/headers"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
check_eq "HEAD gives size and x-amz-meta-sha256" "100000 $want" \
    "$("$DRV" head dists/stable/Release | cut -d' ' -f1,3)"
check "a signed GET returns the bytes" sh -c '"$1" get dists/stable/Release | cmp - "$2"' \
    sh "$DRV" "$T/blob"
check_fails "HEAD of a missing key says missing" 3 '^missing$' "$DRV" head no/such/key

# ---- a package version's + : ~ in the key ---------------------------------
KEY='pool/main/a/alloy/alloy_1:1.2+3~rc1_amd64.deb'
printf 'version with plus and colon\n' >"$T/deb"
check "PUT of a key with + : ~" "$DRV" put "$KEY" "$T/deb"
check_eq "an anonymous GET of the encoded key returns it" "version with plus and colon" \
    "$(curl -fsS "$ANON/pool/main/a/alloy/alloy_1%3A1.2%2B3~rc1_amd64.deb")"
check_eq "a signed GET of the key returns it" "version with plus and colon" "$("$DRV" get "$KEY")"
check "DELETE of the key" "$DRV" delete "$KEY"
check_fails "a deleted key is missing" 3 '^missing$' "$DRV" head "$KEY"

# ---- If-None-Match: * -----------------------------------------------------
printf 'lease A\n' >"$T/leaseA"
printf 'lease B\n' >"$T/leaseB"
check "If-None-Match: * on a new key writes it" "$DRV" put lock "$T/leaseA" if-none-match
check_fails "If-None-Match: * on an existing key says exists" 3 '^exists lock$' \
    "$DRV" put lock "$T/leaseB" if-none-match
check_eq "... and leaves the object as it was" "lease A" "$(curl -fsS "$ANON/lock")"

# ---- the failures an operator meets ----------------------------------------
check_fails "a wrong secret names SignatureDoesNotMatch and the key" 2 \
    's3://pkgrepo/apt/pool/x\.deb: PUT .*HTTP 403 SignatureDoesNotMatch: the secret in .*creds\.wrong' \
    "$DRV" -c "$T/creds.wrong" put pool/x.deb "$T/deb"
cp "$T/.out" "$T/wrong.out"
check "the secret is never shown" sh -c '! grep -q -e "$1" -e wrong-secret "$2"' sh "$SECRET" "$T/wrong.out"
check_fails "an unknown access key names InvalidAccessKeyId" 2 'HTTP 403 InvalidAccessKeyId' \
    sh -c 'printf "AKIANOBODY x\n" >"$1/creds.none"; chmod 600 "$1/creds.none";
           "$2" -c "$1/creds.none" put pool/x.deb "$1/deb"' sh "$T" "$DRV"
check_fails "a missing bucket names NoSuchBucket and the key" 2 \
    's3://nosuchbucket/apt/pool/x\.deb: PUT .*HTTP 404 NoSuchBucket: bucket nosuchbucket does not exist' \
    "$DRV" -t s3://nosuchbucket/apt put pool/x.deb "$T/deb"
check_fails "a credentials file others can read is refused" 2 'mode 0644 .*chmod 600' \
    sh -c 'cp "$1/creds" "$1/creds.open"; chmod 644 "$1/creds.open";
           "$2" -c "$1/creds.open" put pool/x.deb "$1/deb"' sh "$T" "$DRV"

check "a user with a quota of 8 KiB" rgw_user small AKIASMALL smallsecret
check "... its own bucket" rgw_bucket smallrepo
check "... the quota set" rgw_quota small 8192
umask 077
printf 'AKIASMALL smallsecret\n' >"$T/creds.small"
umask 022
check_fails "a full quota names QuotaExceeded and the key" 1 \
    's3://smallrepo/pool/big\.deb: PUT .*HTTP 403 QuotaExceeded' \
    "$DRV" -c "$T/creds.small" -t s3://smallrepo put pool/big.deb "$T/blob"
check_fails "... and nothing is visible" 22 'error: 403' \
    curl -fsS -o /dev/null "$RGW_ENDPOINT/smallrepo/pool/big.deb"

DEAD=$(_rgw_free_port)
check_fails "an endpoint refusing connections is named, with the key" 1 \
    "s3://pkgrepo/apt/pool/x\.deb: PUT http://127\.0\.0\.1:$DEAD/pkgrepo/apt/pool/x\.deb: .*Connection refused.*after 3 attempts" \
    "$DRV" -e "http://127.0.0.1:$DEAD" -n 2 put pool/x.deb "$T/deb"

# ---- a multipart upload ------------------------------------------------------
head -c 12000000 /dev/urandom >"$T/big"
MP="-m 6000000 -p 5242880"
# shellcheck disable=SC2086 # $MP is two options
check "a 12 MB object goes up in parts" "$DRV" $MP put pool/big.bin "$T/big" cache=max-age=31536000
curl -sS -o "$T/big.got" "$ANON/pool/big.bin"
check "an anonymous GET returns its bytes" cmp "$T/big" "$T/big.got"
# shellcheck disable=SC2086
head_out=$("$DRV" $MP head pool/big.bin)
check_eq "HEAD: its size and x-amz-meta-sha256" "12000000 $(sha256sum <"$T/big" | cut -d' ' -f1)" \
    "$(echo "$head_out" | cut -d' ' -f1,3)"
check "... and a multipart ETag (3 parts)" sh -c 'echo "$1" | cut -d" " -f2 | grep -q -- "-3$"' sh "$head_out"
# shellcheck disable=SC2086
check_fails "If-None-Match on it says exists" 3 '^exists pool/big.bin$' \
    "$DRV" $MP put pool/big.bin "$T/blob" if-none-match

# ---- 20 PUTs at once -------------------------------------------------------
check_eq "20 parallel PUTs all land, one request each" "put 20 requests 20" \
    "$("$DRV" -j 8 putmany many 20)"
bad=0
i=0
while [ $i -lt 20 ]; do
    [ "$(curl -fsS "$ANON/many/$i")" = "object $i" ] || bad=$((bad + 1))
    i=$((i + 1))
done
check_eq "... each readable anonymously with its own bytes" 0 "$bad"

check "radosgw stops by PID" rgw_stop
check_eq "... no daemon of it is left" "" \
    "$(ls "$T/rgw/run/"*.pid 2>/dev/null)"
