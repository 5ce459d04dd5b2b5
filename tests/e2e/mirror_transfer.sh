#!/bin/sh
# pkgsmith mirror: transfers and observability (issue 18).  A stand-in
# Grafana upstream (apt + rpm) is served by tests/lib/fault-http.py on
# 127.0.0.1, which sends no ETag and no Last-Modified, as Debian's own
# mirrors and many CDNs do.
#   - a server that trickles bytes trips the low-speed floor; a sync past
#     its Timeout (mirror file) or --timeout stops: the URL named, nothing
#     published, the partial download kept and resumed by the next run;
#   - a no-op sync against that server is one GET of the signed file and
#     a hash compare (the server's log), no generation;
#   - two mirrors changed in one run make one generation holding both;
#   - --metrics-file writes the upstream Date and Valid-Until, the last
#     attempt and the reason of the last failure;
#   - --dry-run lists what it would fetch and publish and changes nothing.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; t_cleanup' EXIT

up_keys
UP=$T/up
VU=$(date -u -d '+30 days' '+%a, %d %b %Y %H:%M:%S UTC')
up_debs "$UP/apt" 2
up_add_alloy_deb "$UP/apt" 1.1.0 1.2.0
up_apt_publish "$UP/apt" "$UH" "$UK" "$VU"
up_add_alloy_rpm "$UP/rpm" "$UH" "$UK" 1.1.0
up_rpm_publish "$UP/rpm" "$UH" "$UK"

mkdir -p "$T/tmp"
CTL=$T/srv/control.json
LOG=$T/srv/log
# faults RULES : what the server does from now on.
faults() { printf '{"root": "%s", "rules": %s}\n' "$UP" "$1" >"$CTL.tmp" && mv "$CTL.tmp" "$CTL"; }
fault_server "$T/srv" "$UP"
check "the fault server listens on 127.0.0.1" test -s "$T/srv/port"

R=$T/repo
CONF=$T/conf
mkdir -p "$CONF"
mirror_conf "$CONF/apt.mirror" apt apt "$URL/apt" "$T/upstream.asc" "$UK"
mirror_conf "$CONF/rpm.mirror" rpm rpm "$URL/rpm" "$T/upstream.asc" "$UK"
"$P" repo init --root "$R" --key "$OURS" --gnupg-home "$OH" >/dev/null
TMPDIR="$T/tmp"
export TMPDIR

# tree_sum : every file, link and directory of the repository root (the
# published tree, the pool, each mirror's state and caches), hashed.
tree_sum() {
    (cd "$R" && find . -type f -exec sha256sum {} + | sort
        find . -type l -exec sh -c 'for l; do echo "$l -> $(readlink "$l")"; done' sh {} + | sort
        find . -type d | sort) | sha256sum
}
gens() { find "$R/generations" -mindepth 1 -maxdepth 1 -type d | wc -l; }
pkgs_apt() { grep -c '^Package: alloy$' "$R/public/dists/stable/main/binary-amd64/Packages"; }
has_version() { "$P" repo list --root "$R" | grep -q "alloy.*$1"; }

# ---- --dry-run before the first sync: nothing at all is made ----------
before=$(tree_sum)
check_fails "--dry-run on a fresh repository lists the packages it would fetch" 0 \
    "^apt: would fetch alloy 1\.2\.0-1 amd64" "$P" mirror sync --dry-run --root "$R" --config "$CONF" apt
cp "$T/.out" "$T/dry.out"
check "... and says it would publish a first generation" grep -q "^apt: dry run: .* would publish generation 1" "$T/dry.out"
check_eq "... and changes nothing under the root (not even a mirror directory)" "$before" "$(tree_sum)"

# ---- a first sync of both, with metrics --------------------------------
check "a clean first sync of both mirrors" "$P" mirror sync --root "$R" --config "$CONF" \
    --metrics-file "$T/m.prom"
check_eq "one run, two mirrors, one generation" 1 "$(gens)"
M=$T/m.prom
DATE=$(sed -n 's/^Date: //p' "$UP/apt/dists/stable/Release")
check "the metrics give the upstream Date as a timestamp" \
    grep -qx "pkgsmith_mirror_upstream_date_timestamp_seconds{mirror=\"apt\"} $(date -u -d "$DATE" +%s).000" "$M"
check "the metrics give the upstream Valid-Until as a timestamp" \
    grep -qx "pkgsmith_mirror_upstream_valid_until_timestamp_seconds{mirror=\"apt\"} $(date -u -d "$VU" +%s).000" "$M"
check "no Valid-Until series for a repomd.xml without an expiry" \
    sh -c "! grep -q 'valid_until_timestamp_seconds{mirror=\"rpm\"}' '$M'"
check "the metrics give the last attempt" grep -Eq '^pkgsmith_mirror_last_attempt_timestamp_seconds\{mirror="rpm"\} [1-9][0-9]+' "$M"
check_eq "after a success, every failure reason is 0 (six reasons per mirror)" 12 \
    "$(grep -c '^pkgsmith_mirror_last_failure{mirror="\(apt\|rpm\)",reason="\(signature\|freshness\|transfer\|index\|disk\|config\)"} 0$' "$M")"
check "promtool accepts the metrics file" sh -c "promtool check metrics <'$M'"

# ---- a no-op sync without validators: one GET, a hash compare ----------
gen=$(readlink "$R/public")
before=$(tree_sum)
: >"$LOG"
check_fails "an unchanged upstream (no ETag, no Last-Modified) is a no-op" 0 "^apt: upstream unchanged" \
    "$P" mirror sync --verbose --root "$R" --config "$CONF" apt
check_eq "the no-op asked for the InRelease only" "GET /apt/dists/stable/InRelease 200" "$(cut -d' ' -f1-3 "$LOG")"
check_eq "no generation was made" "$gen" "$(readlink "$R/public")"
: >"$LOG"
check "the rpm no-op" "$P" mirror sync --root "$R" --config "$CONF" rpm
check_eq "... asked for repomd.xml only" "GET /rpm/repodata/repomd.xml 200" "$(cut -d' ' -f1-3 "$LOG")"
check_eq "... and made no generation" "$gen" "$(readlink "$R/public")"

# Release + Release.gpg (no InRelease): the Release alone is compared.
mirror_conf "$CONF/plain.mirror" plain apt "$URL/plain" "$T/upstream.asc" "$UK"
sed -i 's|^Target: .*|Target: stable/main|' "$CONF/plain.mirror"
cp -a "$UP/apt" "$UP/plain"
rm "$UP/plain/dists/stable/InRelease"
check "a mirror of an upstream without InRelease" "$P" mirror sync --root "$R" --config "$CONF" plain
gen=$(readlink "$R/public")
: >"$LOG"
check "its no-op sync" "$P" mirror sync --root "$R" --config "$CONF" plain
check_eq "... asked for InRelease (404) and Release, not Release.gpg nor an index" \
    "GET /plain/dists/stable/InRelease 404
GET /plain/dists/stable/Release 200" "$(cut -d' ' -f1-3 "$LOG")"
check_eq "... and made no generation" "$gen" "$(readlink "$R/public")"
rm "$CONF/plain.mirror"

# ---- the low-speed floor ------------------------------------------------
up_add_alloy_deb "$UP/apt" 1.3.0
up_apt_publish "$UP/apt" "$UH" "$UK" "$VU"
{ echo "Low-Speed-Limit: 1K"; echo "Low-Speed-Time: 2"; } >>"$CONF/apt.mirror"
faults '[{"match": "alloy-1.3.0", "fault": "trickle", "rate": 20}]'
before=$(tree_sum)
check_fails "a package trickling at 20 bytes/s trips Low-Speed-Limit, naming the URL" 1 \
    "$URL/apt/pool/main/a/alloy/alloy-1\.3\.0-1\.amd64\.deb: .*(too slow|Less than 1024 bytes/sec)" \
    "$P" mirror sync --retries 0 --root "$R" --config "$CONF" apt --metrics-file "$M"
check "... and nothing was published" test "$(readlink "$R/public")" = "$gen"
check "... the failure's reason is transfer" \
    grep -qx 'pkgsmith_mirror_last_failure{mirror="apt",reason="transfer"} 1' "$M"
check "... the last sync is not ok" grep -qx 'pkgsmith_mirror_last_sync_ok{mirror="apt"} 0.000' "$M"
metric() { sed -n "s/^$1{mirror=\"apt\"} \([0-9]*\).*/\1/p" "$M"; }
check "... the last attempt is recorded, and not before the last success" \
    test "$(metric pkgsmith_mirror_last_attempt_timestamp_seconds)" -ge \
    "$(metric pkgsmith_mirror_last_success_timestamp_seconds)"
check "... and status names the reason's message" sh -c "'$P' mirror status --root '$R' --config '$CONF' apt | grep -q 'last error:.*alloy-1.3.0'"
sed -i '/^Low-Speed-/d' "$CONF/apt.mirror"

# ---- Timeout (mirror file): stopped, nothing published, partial kept ----
echo "Timeout: 3" >>"$CONF/apt.mirror"
faults '[{"match": "alloy-1.3.0", "fault": "pause", "bytes": 1500, "seconds": 30}]'
pub=$(readlink "$R/public")
pubsum=$(cd "$R/public/" && find . -type f -exec sha256sum {} + | sort | sha256sum)
check_fails "a sync past Timeout: 3 stops, naming the URL and the time limit" 1 \
    "$URL/apt/pool/main/a/alloy/alloy-1\.3\.0-1\.amd64\.deb: the time limit was reached .*kept for the next run" \
    "$P" mirror sync --root "$R" --config "$CONF" apt
check_eq "... nothing was published" "$pub" "$(readlink "$R/public")"
check_eq "... the published tree is byte-identical" "$pubsum" \
    "$(cd "$R/public/" && find . -type f -exec sha256sum {} + | sort | sha256sum)"
part=$(find "$R/mirrors/apt/download" -name '*.part' -size +0c | head -n1)
check "... the partial download is kept" test -n "$part"
check "... the state records a transfer failure" grep -qx 'Last-Failure-Reason: transfer' "$R/mirrors/apt/state"
sed -i '/^Timeout:/d' "$CONF/apt.mirror"
faults '[{"match": "alloy-1.3.0", "fault": "ranged"}]'
: >"$LOG"
check "the next clean sync succeeds" "$P" mirror sync --root "$R" --config "$CONF" apt
check "... resuming the partial download with a Range request" \
    grep -Eq '^GET /apt/pool/main/a/alloy/alloy-1\.3\.0-1\.amd64\.deb 206 ranged bytes=[1-9][0-9]*-$' "$LOG"
check "... and publishes 1.3.0" has_version 1.3.0
check "... which verifies" "$P" repo verify --root "$R"

# ---- --timeout on the command line ---------------------------------------
faults '[{"match": "/rpm/repodata/repomd.xml", "fault": "stall", "seconds": 30}]'
pub=$(readlink "$R/public")
check_fails "--timeout 2 stops a stalled repomd.xml, naming it" 1 \
    "$URL/rpm/repodata/repomd\.xml: the time limit was reached" \
    "$P" mirror sync --timeout 2 --root "$R" --config "$CONF" rpm
check_eq "... nothing was published" "$pub" "$(readlink "$R/public")"
check_fails "--timeout 0 is a usage error naming the option" 64 "timeout" \
    "$P" mirror sync --timeout 0 --root "$R" --config "$CONF" rpm
faults '[]'
check "a bad Timeout in the mirror file is refused naming file, line and field" sh -c "
    cp '$CONF/apt.mirror' '$T/bad.mirror' && echo 'Timeout: soon' >>'$T/bad.mirror' && mkdir -p '$T/badconf' &&
    mv '$T/bad.mirror' '$T/badconf/' && ! '$P' mirror sync --root '$R' --config '$T/badconf' 2>'$T/bad.err' &&
    grep -q 'bad.mirror:[0-9]*: Timeout: want a whole number' '$T/bad.err'"

# ---- --dry-run: the packages listed, nothing changed ---------------------
up_add_alloy_deb "$UP/apt" 1.4.0
up_apt_publish "$UP/apt" "$UH" "$UK" "$VU"
up_add_alloy_rpm "$UP/rpm" "$UH" "$UK" 1.2.0
up_rpm_publish "$UP/rpm" "$UH" "$UK"
before=$(tree_sum)
check_fails "--dry-run lists what it would fetch" 0 "^apt: would fetch alloy 1\.4\.0-1 amd64" \
    "$P" mirror sync --dry-run --root "$R" --config "$CONF"
cp "$T/.out" "$T/dry.out"
check "... and the rpm it would fetch" grep -q "^rpm: would fetch alloy 1\.2\.0-1 x86_64" "$T/dry.out"
check "... and that it would publish" grep -q "^apt: dry run: .* would publish generation" "$T/dry.out"
check_eq "... and changes nothing: tree, pool, state and caches byte-identical" "$before" "$(tree_sum)"
"$P" mirror sync --dry-run --json --root "$R" --config "$CONF" >"$T/dry.json"
check "--dry-run --json lists the changes per mirror" python3 -c "
import json, sys
d = json.load(open('$T/dry.json'))
m = {x['name']: x for x in d['mirrors']}
assert d['ok'] and m['apt']['dry_run'] and m['apt']['published'], d
assert {'action': 'fetch', 'name': 'alloy', 'version': '1.4.0-1', 'arch': 'amd64'}.items() <= \
    next(c for c in m['apt']['changes'] if c['action'] == 'fetch').items(), m['apt']
assert any(c['version'] == '1.2.0-1' for c in m['rpm']['changes']), m['rpm']
"
check_eq "... and changes nothing either" "$before" "$(tree_sum)"

# ---- two mirrors changed, one run: one generation with both -------------
n=$(gens)
check "one sync of both changed mirrors" "$P" mirror sync --root "$R" --config "$CONF"
check_eq "... made exactly one generation" $((n + 1)) "$(gens)"
check "... which holds the apt update (alloy 1.4.0)" \
    grep -q '^Version: 1.4.0-1$' "$R/public/dists/stable/main/binary-amd64/Packages"
check "... and the rpm update (alloy 1.2.0)" sh -c "zcat '$R/public/rpm/stable/repodata/'*primary.xml.gz 2>/dev/null | grep -q 'ver=\"1.2.0\"' ||
    '$P' repo list --root '$R' | grep -q 'rpm.*alloy.*1.2.0'"
check "... and verifies" "$P" repo verify --root "$R"
check_fails "a --dry-run now finds the upstream unchanged" 0 "^apt: dry run: upstream unchanged" \
    "$P" mirror sync --dry-run --root "$R" --config "$CONF" apt

check "fault server stopped by PID" sh -c "kill $SRV && sleep 0.2 && ! kill -0 $SRV 2>/dev/null"
SRV=
