#!/bin/sh
# valgrind memcheck over the rest of the chain (build_valgrind.sh covers
# build): mirror sync (apt and rpm, from a stand-in upstream on
# 127.0.0.1), repo add + publish, bundle export and import.  No invalid
# access, no "definitely lost" leak (library one-time state is suppressed
# in tests/valgrind.supp with its reason).
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
# shellcheck source=tests/lib/airgap.sh
. "$top/tests/lib/airgap.sh"

if [ "${SANITIZE:-}" = 1 ]; then
    echo "# skipped under SANITIZE=1: valgrind cannot run ASan binaries"
    exit 0
fi
UP_PIDFILE=
trap 'NGINX_PIDFILE=$UP_PIDFILE nginx_stop; t_cleanup' EXIT
airgap_setup

# vg NAME CMD... : CMD under memcheck; on failure, valgrind's findings.
vg() {
    _n=$1
    shift
    if valgrind --log-file="$T/vg-$_n.log" -q --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --error-exitcode=9 \
        --suppressions="$top/tests/valgrind.supp" "$@" >"$T/.out" 2>&1; then
        ok "valgrind: $_n is clean"
    else
        not_ok "valgrind: $_n is clean" "exit $? from: $*"
        sed 's/^/#   /' "$T/vg-$_n.log" "$T/.out" | head -n 40
    fi
}

sleep 1 # nginx's ETag is mtime+size: a same-second rewrite could look unchanged
up_add_alloy_deb "$T/up" 1.3.0
up_apt_publish "$T/up" "$UH" "$UK"
up_add_alloy_rpm "$T/up/rpm" "$UH" "$UK" 1.3.0
up_rpm_publish "$T/up/rpm" "$UH" "$UK"
vg mirror-sync "$P" mirror sync --root "$REPO" --config "$T/mirrors.d"
check_eq "the sync under valgrind brought alloy 1.3.0" 2 "$("$P" repo list --root "$REPO" | grep -c '1\.3\.0')"
"$P" build --key "$FPR" --out "$T/pkgs" "$top" >/dev/null
vg repo-add "$P" repo add --root "$REPO" "$T"/pkgs/alloy-journal-loki*
vg repo-publish "$P" repo publish --root "$REPO"
vg repo-verify "$P" repo verify --root "$REPO"
vg bundle-export "$P" bundle export --root "$REPO" --split 64K --out "$T/b.tar"
offline_root "$T/off"
vg bundle-import "$P" bundle import --root "$T/off" "$T/b.tar.001"
check "the offline repository verifies" "$P" repo verify --root "$T/off"
