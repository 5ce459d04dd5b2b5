#!/bin/sh
# repo-tools/: the nginx rules (cache lifetimes, the symlink swap seen at
# once, dotfiles refused) and the systemd units.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
trap 'nginx_stop; t_cleanup' EXIT

# The site file itself parses, with its snippet where it expects it.
mkdir -p "$T/site/snippets" "$T/site/logs"
cp "$top/repo-tools/nginx/pkgsmith-repo-locations.conf" "$T/site/snippets/"
sed "s|/etc/nginx/snippets/|$T/site/snippets/|; s|listen 80;|listen 127.0.0.1:1;|; /listen \[::\]/d" \
    "$top/repo-tools/nginx/pkgsmith-repo.conf" >"$T/site/site.conf"
printf 'pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp { access_log off; include %s; }\n' \
    "$T/site" "$T/site" "$T/site/site.conf" >"$T/site/nginx.conf"
check "nginx -t accepts the site" nginx -t -q -c "$T/site/nginx.conf" -p "$T/site"

for g in 1 2; do
    d=$T/gens/$g
    mkdir -p "$d/dists/stable/main/binary-amd64/by-hash/SHA256" "$d/pool/ab/abc" "$d/rpm/r/repodata"
    echo "gen $g" >"$d/dists/stable/InRelease"
    echo p >"$d/dists/stable/main/binary-amd64/Packages"
    echo h >"$d/dists/stable/main/binary-amd64/by-hash/SHA256/abc"
    echo deb >"$d/pool/ab/abc/x.deb"
    echo m >"$d/rpm/r/repodata/repomd.xml"
    echo x >"$d/rpm/r/repodata/0000000000000000000000000000000000000000000000000000000000000000-primary.xml.gz"
    echo secret >"$d/.hidden"
done
ln -s gens/1 "$T/public"
check "nginx starts on 127.0.0.1" nginx_start "$T/public" "$T/nginx"
u=http://127.0.0.1:$NGINX_PORT
cc() { curl -sI "$u/$1" | tr -d '\r' | awk -F': ' 'tolower($1) == "cache-control" { print $2 }'; }
short="max-age=60, must-revalidate"
long="max-age=31536000, immutable"
check_eq "InRelease: short cache" "$short" "$(cc dists/stable/InRelease)"
check_eq "Packages: short cache" "$short" "$(cc dists/stable/main/binary-amd64/Packages)"
check_eq "repomd.xml: short cache" "$short" "$(cc rpm/r/repodata/repomd.xml)"
check_eq "by-hash: long cache" "$long" "$(cc dists/stable/main/binary-amd64/by-hash/SHA256/abc)"
check_eq "pool: long cache" "$long" "$(cc pool/ab/abc/x.deb)"
check_eq "hash-named repodata: long cache" "$long" "$(cc rpm/r/repodata/0000000000000000000000000000000000000000000000000000000000000000-primary.xml.gz)"
check_eq "dotfiles are refused" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$u/.hidden")"
check_eq "serves generation 1" "gen 1" "$(curl -s "$u/dists/stable/InRelease")"
ln -s gens/2 "$T/public.new" && mv -T "$T/public.new" "$T/public"
check_eq "the swapped symlink is served at once" "gen 2" "$(curl -s "$u/dists/stable/InRelease")"
pid=$(cat "$NGINX_PIDFILE")
nginx_stop
check "nginx stopped by PID" sh -c "[ -n \"$pid\" ] && ! kill -0 $pid 2>/dev/null"

if systemd-analyze --help >/dev/null 2>&1; then
    # verify wants the ExecStart binary to exist; point it at a stand-in.
    mkdir -p "$T/units"
    sed "s|/usr/bin/pkgsmith|$PKGSMITH|g" "$top/repo-tools/systemd/pkgsmith-publish.service" >"$T/units/pkgsmith-publish.service"
    cp "$top/repo-tools/systemd/pkgsmith-publish.timer" "$T/units/"
    check "systemd-analyze verify accepts the units" sh -c "cd '$T/units' && systemd-analyze verify ./pkgsmith-publish.timer ./pkgsmith-publish.service 2>&1 | { ! grep -v -e 'Failed to connect' -e 'bus' -e '^$' ; }"
fi
check "the timer runs daily, persistently" sh -c "grep -qx 'OnCalendar=daily' '$top/repo-tools/systemd/pkgsmith-publish.timer' && grep -qx 'Persistent=true' '$top/repo-tools/systemd/pkgsmith-publish.timer'"
check "the service publishes with the lock waited for" grep -q 'repo publish --root /var/lib/pkgsmith --wait' "$top/repo-tools/systemd/pkgsmith-publish.service"

# The mirror units and the shipped mirror definitions.
if systemd-analyze --help >/dev/null 2>&1; then
    mkdir -p "$T/munits"
    sed "s|/usr/bin/pkgsmith|$PKGSMITH|g" "$top/repo-tools/systemd/pkgsmith-mirror.service" >"$T/munits/pkgsmith-mirror.service"
    cp "$top/repo-tools/systemd/pkgsmith-mirror.timer" "$T/munits/"
    check "systemd-analyze verify accepts the mirror units" sh -c "cd '$T/munits' && systemd-analyze verify ./pkgsmith-mirror.timer ./pkgsmith-mirror.service 2>&1 | { ! grep -v -e 'Failed to connect' -e 'bus' -e '^$' ; }"
fi
check "the mirror service syncs with the lock waited for and writes metrics" grep -q 'mirror sync --root /var/lib/pkgsmith --config /etc/pkgsmith/mirrors.d --wait 600 --metrics-file' "$top/repo-tools/systemd/pkgsmith-mirror.service"
check "the shipped mirror definitions parse" "$PKGSMITH" mirror status --root "$T/mroot" --config "$top/repo-tools/mirrors.d"
for m in apt rpm; do
    f=$top/repo-tools/mirrors.d/grafana-$m.mirror
    check "grafana-$m.mirror: alloy only, last 5, pinned to Grafana's key" sh -c "grep -qx 'Include: alloy' '$f' && grep -qx 'Keep-Versions: 5' '$f' && grep -qx ' B53AE77BADB630A683046005963FA27710458545' '$f'"
done
check "grafana-apt.mirror: amd64 and arm64" grep -qx 'Architectures: amd64 arm64' "$top/repo-tools/mirrors.d/grafana-apt.mirror"
check "grafana-rpm.mirror: x86_64 and aarch64" grep -qx 'Architectures: x86_64 aarch64' "$top/repo-tools/mirrors.d/grafana-rpm.mirror"
