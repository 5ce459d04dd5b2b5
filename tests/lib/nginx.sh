# tests/lib/nginx.sh - nginx on 127.0.0.1 as Debian deploys it, for tests.
# The config is Debian's own /etc/nginx/nginx.conf (workers as www-data,
# its defaults) with only the paths a test must own changed (pid, logs,
# temp dirs) and, instead of sites-enabled/, the shipped
# repo-tools/nginx/pkgsmith-repo.conf with only listen and root changed
# (and its snippet included from this checkout).  A served file that
# www-data cannot read answers 403 here, as on a real host.  Started and
# stopped by PID.

# nginx_start DOCROOT WORKDIR : sets NGINX_PORT and NGINX_PIDFILE.  With
# NGINX_PLAIN=1 it serves like a plain static site or CDN (ETag and
# If-Modified-Since on), as the stand-in upstream of the mirror tests;
# with NGINX_NO_VALIDATORS=1 like a server that sends neither.
: "${top:?}"
: "${NGINX_STOCK_CONF:=/etc/nginx/nginx.conf}"
nginx_start() {
    _root=$1 _w=$2
    mkdir -p "$_w/tmp"
    # NGINX_FIXED_PORT: bench/mirror's apt-mirror cannot use host:port URLs.
    NGINX_PORT=${NGINX_FIXED_PORT:-}
    [ -n "$NGINX_PORT" ] || NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    NGINX_PIDFILE=$_w/nginx.pid
    if [ -n "${NGINX_NO_VALIDATORS:-}" ]; then
        # As Debian's mirrors reach us (test-environment.md): a reverse
        # proxy that sends no ETag or Last-Modified, so every conditional
        # request gets a full 200.
        _back=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat >"$_w/site.conf" <<SITE
server {
    listen 127.0.0.1:$NGINX_PORT;
    if_modified_since off;
    location / {
        proxy_pass http://127.0.0.1:$_back;
        proxy_hide_header ETag;
        proxy_hide_header Last-Modified;
        proxy_set_header If-None-Match "";
        proxy_set_header If-Modified-Since "";
        proxy_buffering off;
    }
}
server {
    listen 127.0.0.1:$_back;
    root $_root;
    disable_symlinks off;
}
SITE
    elif [ -n "${NGINX_PLAIN:-}" ]; then
        cat >"$_w/site.conf" <<SITE
server {
    listen 127.0.0.1:$NGINX_PORT;
    root $_root;
    disable_symlinks off;
}
SITE
    else
        _site=$top/repo-tools/nginx/pkgsmith-repo.conf
        sed -e "s|^\( *\)listen 80;|\1listen 127.0.0.1:$NGINX_PORT;|" \
            -e '/^ *listen \[::\]:80;/d' \
            -e "s|^\( *\)root /var/lib/pkgsmith/public;|\1root $_root;|" \
            -e "s|include /etc/nginx/snippets/pkgsmith-repo-locations.conf;|include $top/repo-tools/nginx/pkgsmith-repo-locations.conf;|" \
            "$_site" >"$_w/site.conf"
        # Exactly these lines changed: a shipped site that no longer has
        # them must fail here, not be served by something else.
        _d=$(diff "$_site" "$_w/site.conf" | grep -c '^[<>]')
        if [ "$_d" -ne 7 ]; then
            echo "nginx_start: $_site no longer has the listen/root/include lines to adapt" >&2
            diff "$_site" "$_w/site.conf" >&2
            return 1
        fi
    fi
    # Debian's config, paths moved into WORKDIR; the temp paths are ones
    # nginx makes itself (and hands to its worker user) at start.
    sed -e "s|^pid .*;|pid $NGINX_PIDFILE;|" \
        -e "s|^error_log .*;|error_log $_w/error.log;|" \
        -e "s|^\([[:space:]]*\)access_log .*;|\1access_log ${NGINX_ACCESS_LOG:-off};|" \
        -e "s|^\([[:space:]]*\)include /etc/nginx/conf.d/\*.conf;|\1client_body_temp_path $_w/tmp/body; proxy_temp_path $_w/tmp/proxy; fastcgi_temp_path $_w/tmp/fastcgi; uwsgi_temp_path $_w/tmp/uwsgi; scgi_temp_path $_w/tmp/scgi;|" \
        -e "s|^\([[:space:]]*\)include /etc/nginx/sites-enabled/\*;|\1include $_w/site.conf;|" \
        "$NGINX_STOCK_CONF" >"$_w/nginx.conf"
    if ! grep -q "include $_w/site.conf;" "$_w/nginx.conf" || grep -q '^user root;' "$_w/nginx.conf"; then
        echo "nginx_start: $NGINX_STOCK_CONF is not Debian's stock config" >&2
        return 1
    fi
    # No -p: Debian's modules-enabled/ names modules relative to nginx's
    # own prefix; every path a test owns is absolute above.
    nginx -c "$_w/nginx.conf" || return 1
    _i=0
    while [ $_i -lt 50 ]; do
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# nginx_stop : stops the nginx of the last nginx_start, by PID.
nginx_stop() {
    [ -f "${NGINX_PIDFILE:-}" ] || return 0
    _pid=$(cat "$NGINX_PIDFILE")
    kill "$_pid" 2>/dev/null
    _i=0
    while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
}
