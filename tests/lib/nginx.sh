# tests/lib/nginx.sh - nginx on 127.0.0.1 serving a directory with the
# rules of repo-tools/nginx, for tests.  Started and stopped by PID.

# nginx_start DOCROOT WORKDIR : sets NGINX_PORT and NGINX_PIDFILE.  With
# NGINX_PLAIN=1 it serves like a plain static site or CDN (ETag and
# If-Modified-Since on), as the stand-in upstream of the mirror tests.
: "${top:?}"
nginx_start() {
    _root=$1 _w=$2
    _inc="include $top/repo-tools/nginx/pkgsmith-repo-locations.conf;"
    [ -n "${NGINX_PLAIN:-}" ] && _inc=""
    mkdir -p "$_w/tmp"
    # NGINX_FIXED_PORT: bench/mirror's apt-mirror cannot use host:port URLs.
    NGINX_PORT=${NGINX_FIXED_PORT:-}
    [ -n "$NGINX_PORT" ] || NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    NGINX_PIDFILE=$_w/nginx.pid
    cat >"$_w/nginx.conf" <<CONF
daemon on;
user root;
worker_processes 1;
pid $NGINX_PIDFILE;
error_log $_w/error.log;
events { worker_connections 64; }
http {
    access_log ${NGINX_ACCESS_LOG:-off};
    client_body_temp_path $_w/tmp/body;
    proxy_temp_path $_w/tmp/proxy;
    fastcgi_temp_path $_w/tmp/fastcgi;
    uwsgi_temp_path $_w/tmp/uwsgi;
    scgi_temp_path $_w/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $_root;
        disable_symlinks off;
        $_inc
    }
}
CONF
    nginx -c "$_w/nginx.conf" -p "$_w" || return 1
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
