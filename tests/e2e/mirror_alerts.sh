#!/bin/sh
# repo-tools/prometheus: the example alert rules over the metrics that
# `pkgsmith mirror sync --metrics-file` writes ("upstream frozen for a
# day", "sync failing for 6 hours"), checked and unit-tested by promtool
# (Debian's prometheus package).  A rule changed to fire too late must
# make the same test fail: the test can fail.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

D=$top/repo-tools/prometheus
check "promtool accepts the rule file" promtool check rules "$D/pkgsmith-mirror-alerts.yml"
check "promtool test rules: both alerts fire when they should, and only then" \
    sh -c "cd '$D' && promtool test rules pkgsmith-mirror-alerts.test.yml"

# The same tests against rules that wait two days, and never look at the
# reason: promtool must report both as failures.
mkdir -p "$T/late"
sed 's/> 86400/> 2 * 86400/; s/6 \* 3600/12 * 3600/' "$D/pkgsmith-mirror-alerts.yml" \
    >"$T/late/pkgsmith-mirror-alerts.yml"
cp "$D/pkgsmith-mirror-alerts.test.yml" "$T/late/"
check_fails "rules that fire too late fail the same promtool test" 1 \
    'PkgsmithMirrorUpstreamFrozen.*' sh -c "cd '$T/late' && promtool test rules pkgsmith-mirror-alerts.test.yml"
cp "$T/.out" "$T/late.out"
check "... the sync-failing alert too" grep -q 'alertname: PkgsmithMirrorSyncFailing' "$T/late.out"
