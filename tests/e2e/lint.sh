#!/bin/sh
# Runs shellcheck on every shell script of the repository, one result each.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

cd "$top" || exit 2
for f in scripts/* ci/release ci/smoke-test tests/run tests/e2e/*.sh tests/lib/*.sh bench/build bench/repo bench/mirror .ci/run \
    package/alloy-journal-loki-configure package/alloy-journal-loki-doctor debian/config debian/postinst debian/prerm \
    debian/postrm packaging/pkgsmith/debian/postinst packaging/pkgsmith/debian/postrm tests/fixtures/alloy/files/*.sh tests/fixtures/alloy/files/alloy.in \
    tests/fixtures/alloy/debian/postinst tests/fixtures/alloy/debian/prerm; do
    check "shellcheck: $f" shellcheck -s sh -x "$f"
done

# The layers of src/lib/README: what the tree holds passes, and an upward
# include (core naming a repo header), a peer's (mirror naming bundle's)
# or another folder's private header, in a copy of src/, is refused.
check "layers: no file of src/ includes a header of a layer above it" scripts/check-layers
L=$T/layers
mkdir "$L" && cp -R src "$L/src"
printf '#include "ps_repo.h"\n' >>"$L/src/lib/core/ps_error.h"
check_fails "layers: core including a repo header is refused" 1 \
    'ps_error.h: includes ps_repo.h of repo/' scripts/check-layers "$L"
cp src/lib/core/ps_error.h "$L/src/lib/core/ps_error.h"
printf '#include "ps_bundle.h"\n#include "ps_repo_priv.h"\n' >>"$L/src/lib/mirror/ps_mirror.c"
check_fails "layers: mirror including bundle's header is refused" 1 \
    'ps_mirror.c: includes ps_bundle.h of bundle/' scripts/check-layers "$L"
check_fails "layers: another folder's private header is refused" 1 \
    'ps_mirror.c: includes ps_repo_priv.h, the private header of repo/' scripts/check-layers "$L"

