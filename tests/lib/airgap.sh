# tests/lib/airgap.sh - the two sides of an air gap for the bundle tests
# (sourced after common.sh, nginx.sh and upstream.sh).
: "${top:?}" "${T:?}"

# airgap_setup : a stand-in Grafana upstream with alloy 1.1.0 and 1.2.0 as
# .deb (apt, $T/up) and signed .rpm ($T/up/rpm), served by nginx
# (UP_PIDFILE); the connected repository $REPO (key FPR, GNUPGHOME
# $T/gnupg) with mirrors grafana-apt and grafana-rpm synced; the transfer
# key (the connected repository's) in $T/transfer.asc; the offline side's
# own key OFPR in $T/off-gnupg.  Sets P, UH, UK, REPO, UP_URL.
# shellcheck disable=SC2034 # the variables are the sourcing test's
airgap_setup() {
    P=$PKGSMITH
    UH=$T/up-gnupg
    UK=$(make_key "$UH" 'Upstream <up@example.test>')
    FPR=$(make_key "$T/gnupg" 'Connected <repo@example.test>')
    OFPR=$(make_key "$T/off-gnupg" 'Offline <offline@example.test>')
    export GNUPGHOME="$T/gnupg"
    gpg --homedir "$UH" --batch --armor --export "$UK" >"$T/upstream.asc" 2>/dev/null
    gpg --batch --armor --export "$FPR" >"$T/transfer.asc" 2>/dev/null
    up_add_alloy_deb "$T/up" 1.1.0 1.2.0
    up_apt_publish "$T/up" "$UH" "$UK"
    up_add_alloy_rpm "$T/up/rpm" "$UH" "$UK" 1.1.0 1.2.0
    up_rpm_publish "$T/up/rpm" "$UH" "$UK"
    NGINX_PLAIN=1
    check "nginx serves the upstream" nginx_start "$T/up" "$T/nginx-up"
    NGINX_PLAIN=
    UP_PIDFILE=$NGINX_PIDFILE UP_URL=http://127.0.0.1:$NGINX_PORT
    REPO=$T/repo
    "$P" repo init --root "$REPO" --key "$FPR" --org acme >/dev/null
    mkdir -p "$T/mirrors.d"
    mirror_conf "$T/mirrors.d/grafana-apt.mirror" grafana-apt apt "$UP_URL" "$T/upstream.asc" "$UK"
    mirror_conf "$T/mirrors.d/grafana-rpm.mirror" grafana-rpm rpm "$UP_URL/rpm" "$T/upstream.asc" "$UK"
    check "mirror sync (connected side)" "$P" mirror sync --root "$REPO" --config "$T/mirrors.d"
}

# airgap_resync VERSION : upstream gains alloy VERSION (.deb and .rpm);
# the connected side syncs it.
airgap_resync() {
    sleep 1 # nginx's ETag is mtime+size: a same-second rewrite could look unchanged
    up_add_alloy_deb "$T/up" "$1"
    up_apt_publish "$T/up" "$UH" "$UK"
    up_add_alloy_rpm "$T/up/rpm" "$UH" "$UK" "$1"
    up_rpm_publish "$T/up/rpm" "$UH" "$UK"
    check "mirror sync of alloy $1" "$P" mirror sync --root "$REPO" --config "$T/mirrors.d"
}

# offline_root DIR [URL] : an empty offline repository (org acme) signed
# by OFPR, trusting the transfer key through repo.conf.
offline_root() {
    "$P" repo init --root "$1" --key "$OFPR" --gnupg-home "$T/off-gnupg" --org acme \
        --url "${2:-http://localhost}" >/dev/null &&
        echo "Transfer-Keys: $T/transfer.asc" >>"$1/repo.conf"
}

# state_of ROOT : what an import decides (the working set, the pool, the
# records, the mirrors' state); equal for equal end states.
state_of() {
    (cd "$1" && cat db/packages && find pool meta mirrors -type f | sort |
        xargs -r sha256sum) | sha256sum | cut -d' ' -f1
}

# tree_of ROOT : a hash of the published tree, every byte of every file.
tree_of() {
    (cd "$1/public/" && find . -type f | sort | xargs -r sha256sum) | sha256sum | cut -d' ' -f1
}
