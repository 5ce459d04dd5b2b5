#!/bin/sh
# Runs shellcheck on every shell script of the repository, one result each.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

cd "$top" || exit 2
for f in scripts/* ci/release ci/smoke-test tests/run tests/e2e/*.sh tests/lib/*.sh bench/build bench/repo bench/mirror .ci/run \
    package/alloy-journal-loki-configure package/alloy-journal-loki-doctor debian/config debian/postinst debian/prerm \
    debian/postrm tests/fixtures/alloy/files/*.sh tests/fixtures/alloy/files/alloy.in \
    tests/fixtures/alloy/debian/postinst tests/fixtures/alloy/debian/prerm; do
    check "shellcheck: $f" shellcheck -s sh -x "$f"
done
