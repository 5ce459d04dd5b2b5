#!/bin/sh
# The repository as a stock Debian host serves it: nginx with Debian's own
# nginx.conf (workers as www-data) and the shipped site.  Every way a
# generation is published - mirror sync, bundle import, repo publish,
# repo rollback - is run by a publisher with umask 077, then every file
# under public/ is fetched (200, none refused in error.log) and apt and
# dnf read the repository.  Outside public/ the state keeps the modes the
# publisher's umask gave it.  (Before ps_repo_servable, generations/N was
# mkdtemp's 0700 and every request answered 403.)
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
# shellcheck source=tests/lib/airgap.sh
. "$top/tests/lib/airgap.sh"
UP_PIDFILE='' OFF_PIDFILE=''
trap 'nginx_stop; NGINX_PIDFILE=$OFF_PIDFILE nginx_stop; NGINX_PIDFILE=$UP_PIDFILE nginx_stop; t_cleanup' EXIT


# served LABEL ROOT URL NGINXDIR : every file public/ leads to answers 200
# through nginx, and nginx refused nothing.
served() {
    _n=0 _bad=0
    for _f in $(cd "$2/public/" && find -L . -type f | sed 's|^\./||'); do
        _c=$(curl -s -o /dev/null -w '%{http_code}' "$3/$_f")
        _n=$((_n + 1))
        [ "$_c" = 200 ] || { _bad=$((_bad + 1)); echo "#   $_c $3/$_f"; }
    done
    check_eq "$1: all $_n files under public/ answer 200 to www-data's nginx" 0 "$_bad"
    check_eq "$1: error.log has no 'Permission denied'" 0 "$(grep -c 'Permission denied' "$4/error.log")"
}

# modes LABEL ROOT : public/ as a web server needs it; the private state
# as the publisher's umask 077 made it (its files are reached by no one
# else through these 0700 directories).
modes() {
    check_eq "$1: under public/ every dir is 0755, every file 0644" "" \
        "$(find -L "$2/public/" \( -type d ! -perm 0755 \) -o \( -type f ! -perm 0644 \) | head -n 5)"
    check_eq "$1: ROOT, generations/ and the served generation are 0711" "711 711 711" \
        "$(stat -c %a "$2" "$2/generations" "$2/generations/$(readlink "$2/public" | cut -d/ -f2)" | tr '\n' ' ' | sed 's/ $//')"
    check_eq "$1: db/, meta/, tmp/, mirrors/ stay 0700, the lock 0600" "700 700 700 700 600" \
        "$(stat -c %a "$2/db" "$2/meta" "$2/tmp" "$2/mirrors" "$2/lock" | tr '\n' ' ' | sed 's/ $//')"
}

# A publisher with a strict umask: every mode public/ needs is set, not inherited.
printf '#!/bin/sh\numask 077\nexec "%s" "$@"\n' "$PKGSMITH" >"$T/pkgsmith-077"
chmod 0755 "$T/pkgsmith-077"

# ---- mirror sync (and repo publish) on the connected side ------------------------
airgap_setup
check_eq "the upstream's nginx.conf names no user root" 0 "$(grep -c '^user root;' "$T/nginx-up/nginx.conf")"
check "the upstream's workers run as www-data" sh -c "ps -o user= --ppid '$(cat "$UP_PIDFILE")' | grep -qx www-data"
P=$T/pkgsmith-077
check "nginx serves the connected repository" nginx_start "$REPO/public" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT
check "its workers run as www-data" sh -c "ps -o user= --ppid '$(cat "$NGINX_PIDFILE")' | grep -qx www-data"
airgap_resync 1.3.0
served "mirror sync" "$REPO" "$URL" "$T/nginx"
"$PKGSMITH" build --key "$FPR" --format deb --out "$T/pkgs" "$top" >/dev/null
check "repo add + repo publish (umask 077)" sh -c "'$P' repo add --root '$REPO' '$T'/pkgs/alloy-journal-loki_*.deb >/dev/null && '$P' repo publish --root '$REPO' >/dev/null"
served "repo publish" "$REPO" "$URL" "$T/nginx"
check_eq "repo publish: public/ dirs 0755, files 0644" "" \
    "$(find -L "$REPO/public/" \( -type d ! -perm 0755 \) -o \( -type f ! -perm 0644 \) | head -n 5)"
sed -i "s|^Base-URL:.*|Base-URL: $URL|" "$REPO/repo.conf"
check "client-package" "$P" repo client-package --root "$REPO" --out "$T/client"
A=$T/apt-root
new_root apt "$A"
client_install apt "$A" "$T/client"

# ---- bundle import on the offline side, all of it under umask 077 -------------
OFF=$T/offline
check "nginx serves the offline repository" nginx_start "$OFF/public" "$T/nginx-off"
OFF_PIDFILE=$NGINX_PIDFILE
OURL=http://127.0.0.1:$NGINX_PORT
offline_root "$OFF" "$OURL"
check "bundle export" "$PKGSMITH" bundle export --root "$REPO" --out "$T/full.tar"
check "bundle import (umask 077)" "$P" bundle import --root "$OFF" "$T/full.tar"
served "bundle import" "$OFF" "$OURL" "$T/nginx-off"
modes "bundle import" "$OFF"
GNUPGHOME=$T/off-gnupg "$PKGSMITH" build --key "$OFPR" --format rpm --out "$T/rpms" "$top" >/dev/null
GNUPGHOME=$T/off-gnupg "$PKGSMITH" build --key "$OFPR" --format rpm --out "$T/rpms" "$top/tests/fixtures/host-provides" >/dev/null
check "offline repo add + publish (umask 077)" sh -c "'$P' repo add --root '$OFF' '$T'/rpms/*.rpm >/dev/null && '$P' repo publish --root '$OFF' >/dev/null"
served "offline publish" "$OFF" "$OURL" "$T/nginx-off"
modes "offline publish" "$OFF"
check "offline client-package" "$P" repo client-package --root "$OFF" --out "$T/oclient"
D=$T/dnf-root
new_root dnf "$D"
client_install dnf "$D" "$T/oclient"

# ---- rollback serves the older generation again --------------------------------
# (its modes undone by hand, as a generation made before this fix has them)
chmod 0700 "$OFF/generations/1"
check "repo rollback (umask 077)" "$P" repo rollback --root "$OFF"
served "rollback" "$OFF" "$OURL" "$T/nginx-off"
modes "rollback" "$OFF"
