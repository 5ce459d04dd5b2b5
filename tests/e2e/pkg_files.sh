#!/bin/sh
# pkgsmith's own packages (issue 20) as `make` builds them: `make install`
# and both packages carry the same files; the .deb's Depends are what
# dpkg-shlibdeps computes, the .rpm's Requires rpm's elfdeps names; the man
# pages, the completion and the (5) pages' fields match the tool's tables
# and parsers; lintian and rpmlint report no errors.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

P=$PKGSMITH
FPR=$(make_key "$T/gnupg" 'Acme Repo <repo@acme.test>')
# The release build, as `make` packs it (not the ASan one under SANITIZE=1).
make -C "$top" --no-print-directory install SANITIZE= DESTDIR="$T/root" PREFIX=/usr >/dev/null
check "build-packages builds pkgsmith's .deb and .rpm" sh -c \
    "cd '$top' && GNUPGHOME='$T/gnupg' scripts/build-packages '$T/out' '$P' '$FPR' '$T/root' >/dev/null 2>&1"
v=$("$P" --version | cut -d' ' -f2)
deb=$T/out/pkgsmith_$v-1_amd64.deb
rpmf=$T/out/pkgsmith-$v-1.x86_64.rpm
check "the .deb is pkgsmith_<--version>-1_amd64.deb" test -f "$deb"
check "the .rpm is pkgsmith-<--version>-1.x86_64.rpm" test -f "$rpmf"

(cd "$T/root" && find . -type f | sed 's|^\.||' | sort) >"$T/installed"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print substr($6, 2) }' |
    grep -v -e '^/usr/share/doc/pkgsmith/c' -e '^/usr/share/lintian/' | sort >"$T/deb-files"
check_eq "the .deb holds what make install installs" "" "$(diff "$T/installed" "$T/deb-files")"
rpm -qlp "$rpmf" 2>/dev/null | grep -v -e '^/usr/lib/.build-id' -e '^/usr/share/licenses/' | while read -r f; do
    [ -f "$T/root$f" ] && echo "$f"
done | sort >"$T/rpm-files"
check_eq "the .rpm holds what make install installs" "" "$(diff "$T/installed" "$T/rpm-files")"
for m in pkgsmith.1 pkgsmith-build.1 pkgsmith-repo.1 pkgsmith-mirror.1 pkgsmith-bundle.1 pkgsmith-sign.1 \
    pkgsmith.mirror.5 pkgsmith-repo.conf.5; do
    check "man page $m is installed (gzip)" test -s "$T/root/usr/share/man/man${m##*.}/$m.gz"
done
check "the units, site, snippet, examples and completion are installed" sh -c "cd '$T/root' && test -f usr/lib/systemd/system/pkgsmith-mirror.timer && test -f etc/nginx/sites-available/pkgsmith-repo.conf && test -f etc/nginx/snippets/pkgsmith-repo-locations.conf && test -f usr/share/doc/pkgsmith/examples/mirrors.d/grafana-apt.mirror && test -f usr/share/bash-completion/completions/pkgsmith"
check "no site is enabled" test ! -e "$T/root/etc/nginx/sites-enabled"
check "the completion offers repo's subcommands" sh -c "grep '^ *repo) words=' '$T/root/usr/share/bash-completion/completions/pkgsmith' | grep -q 'add client-package .*generations init .*publish'"

# Depends as dpkg-shlibdeps itself computes them for the same binary.
mkdir -p "$T/sd/debian"
printf 'Source: pkgsmith\n\nPackage: pkgsmith\nArchitecture: any\n' >"$T/sd/debian/control"
want=$(cd "$T/sd" && dpkg-shlibdeps -O "$T/root/usr/bin/pkgsmith" 2>/dev/null | sed 's/^shlibs:Depends=//')
check_eq "Depends: as dpkg-shlibdeps computes them, plus adduser and rpm" "$want, adduser, rpm" \
    "$(dpkg-deb -f "$deb" Depends)"
check "Requires: rpm's elfdeps names libc.so.6()(64bit) and librpm" sh -c \
    "rpm -qp --requires '$rpmf' 2>/dev/null | grep -qx 'libc.so.6()(64bit)' && rpm -qp --requires '$rpmf' 2>/dev/null | grep -q '^librpm.so'"
check_eq "/var/lib/pkgsmith in the .rpm: pkgsmith:pkgsmith 0755" "drwxr-xr-x pkgsmith pkgsmith" \
    "$(rpm -qlvp "$rpmf" 2>/dev/null | awk '$NF == "/var/lib/pkgsmith" { print $1, $3, $4 }')"

# The (5) pages name exactly the fields their parsers accept.
fields() { sed -n "/$2\\[\\] = {/,/NULL}/p" "$top/$1" | grep -o '"[A-Z][A-Za-z0-9-]*"' | tr -d '"' | sort; }
page() { sed -n '/^\.SH FIELDS/,/^\.SH EXAMPLE/p' "$top/$1" | sed -n 's/^\.B //p' | sort; }
check_eq "pkgsmith.mirror(5) documents ps_mirror_conf.c's FIELDS" "$(fields src/lib/mirror/ps_mirror_conf.c FIELDS)" \
    "$(page src/lib/mirror/pkgsmith.mirror.5)"
check_eq "pkgsmith-repo.conf(5) documents ps_repo.c's CONF_FIELDS" "$(fields src/lib/repo/ps_repo.c CONF_FIELDS)" \
    "$(page src/lib/repo/pkgsmith-repo.conf.5)"
check "man(1) pages render without warnings" sh -c \
    "for m in '$T'/root/usr/share/man/man*/*.gz; do w=\$(zcat \"\$m\" | LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l - 2>&1 >/dev/null); [ -z \"\$w\" ] || { echo \"\$m: \$w\"; exit 1; }; done"

lintian --tag-display-limit 0 "$deb" >"$T/lintian" 2>&1
check "lintian pkgsmith.deb: no errors" sh -c "! grep '^E:' '$T/lintian'"
check "lintian pkgsmith.deb: no warnings" sh -c "! grep '^W:' '$T/lintian'"
grep '^[EW]:' "$T/lintian" | sed 's/^/#   /'
rpmlint -c "$top/tests/rpmlint.toml" "$rpmf" >"$T/rpmlint" 2>&1
check "rpmlint pkgsmith.rpm: 0 errors, 0 warnings (the rest filtered with reasons)" grep -q " 0 errors, 0 warnings" "$T/rpmlint"
grep -E ': [EW]: ' "$T/rpmlint" | sed 's/^/#   /'
