#!/bin/sh
# pkgsmith mirror against an upstream that misbehaves like a loaded CDN
# (tests/lib/flaky-http.py on 127.0.0.1): 429 with Retry-After on the
# signed entry points, 503 then a connection dropped half-way on every
# package.  The sync must wait as told, retry, resume with Range, and
# end with the same verified result; with retries off it must fail,
# naming the URL.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; t_cleanup' EXIT

P=$PKGSMITH
UH=$T/up-gnupg
UK=$(make_key "$UH" 'Upstream <up@example.test>')
OH=$T/our-gnupg
OURS=$(make_key "$OH" 'Ours <ours@example.test>')
gpg --homedir "$UH" --batch --armor --export "$UK" >"$T/upstream.asc"
up_debs "$T/up/apt" 2
up_add_alloy_deb "$T/up/apt" 1.1.0 1.2.0 1.3.0
up_apt_publish "$T/up/apt" "$UH" "$UK"
up_add_alloy_rpm "$T/up/rpm" "$UH" "$UK" 1.1.0 1.2.0
up_rpm_publish "$T/up/rpm" "$UH" "$UK"

python3 "$top/tests/lib/flaky-http.py" "$T/up" "$T/port" "$T/log" &
SRV=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the flaky server listens on 127.0.0.1" test -s "$T/port"
URL=http://127.0.0.1:$(cat "$T/port")
mkdir -p "$T/conf"
mirror_conf "$T/conf/apt.mirror" apt apt "$URL/apt" "$T/upstream.asc" "$UK"
mirror_conf "$T/conf/rpm.mirror" rpm rpm "$URL/rpm" "$T/upstream.asc" "$UK"
"$P" repo init --root "$T/repo" --key "$OURS" --gnupg-home "$OH" >/dev/null

check_fails "with retries off, a 429 fails the sync, naming the URL and status" 1 "$URL/apt/dists/stable/InRelease: HTTP 429" \
    "$P" mirror sync apt --retries 0 --root "$T/repo" --config "$T/conf"
: >"$T/log"
start=$(date +%s)
check "the sync succeeds through 429, 503 and dropped connections" "$P" mirror sync --root "$T/repo" --config "$T/conf"
took=$(($(date +%s) - start))
check "Retry-After: 1 was honoured (the sync took at least a second)" test "$took" -ge 1
check "each package was asked for again after a 503" sh -c "grep -c ' 503 ' '$T/log' | grep -qx 5"
check "a dropped package was resumed with a Range request" grep -q '\.deb 206 bytes=[1-9]' "$T/log"
check "an rpm was resumed with a Range request" grep -q '\.rpm 206 bytes=[1-9]' "$T/log"
check_eq "all packages arrived and were accepted" 5 "$("$P" repo list --root "$T/repo" | wc -l)"
check "what was published verifies" "$P" repo verify --root "$T/repo"
# A terminal gets a progress bar; cron gets silence.
"$P" repo init --root "$T/repo-tty" --key "$OURS" --gnupg-home "$OH" >/dev/null
script -qec "'$P' mirror sync apt --root '$T/repo-tty' --config '$T/conf'" /dev/null >"$T/tty.out" 2>&1
check "on a TTY: a progress bar with files, bytes, rate and ETA" grep -q 'apt \[#*\] 3/3 files .*/s  ETA' "$T/tty.out"
check "on a TTY: the summary line" grep -q '^apt: 3 packages' "$T/tty.out"
"$P" repo init --root "$T/repo-cron" --key "$OURS" --gnupg-home "$OH" >/dev/null
check_eq "under cron (no TTY): no output at all" "" "$("$P" mirror sync --root "$T/repo-cron" --config "$T/conf" 2>&1)"
check "--verbose prints the summary without a TTY" sh -c "'$P' mirror sync --verbose --root '$T/repo-cron' --config '$T/conf' | grep -q '^apt: '"
check "flaky server stopped by PID" sh -c "kill $SRV && sleep 0.2 && ! kill -0 $SRV 2>/dev/null"
SRV=
