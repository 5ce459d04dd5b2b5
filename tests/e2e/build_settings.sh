#!/bin/sh
# Per-environment builds: --set values reach both packages (the defaults
# file, the debconf template default), --set version renames the outputs,
# and the build runs no dpkg-deb, rpmbuild, tar, ar or cpio.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

copy_source "$T/src"
check "settings: build with --set loki_host and --set version" \
    "$PKGSMITH" build --no-sign --out "$T/out" --set loki_host=loki-prod.example.com \
    --set loki_port=3200 --set version=2.5.0 "$T/src"
deb=$T/out/alloy-journal-loki_2.5.0-1_all.deb
rpmf=$T/out/alloy-journal-loki-2.5.0-1.noarch.rpm
check "settings: --set version names the deb" test -f "$deb"
check "settings: --set version names the rpm" test -f "$rpmf"
check_eq "settings: deb Version field" "2.5.0-1" "$(dpkg-deb --field "$deb" Version)"
check_eq "settings: rpm version" "2.5.0" "$(rpm -qp --qf '%{VERSION}' "$rpmf" 2>/dev/null)"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/alloy-journal-loki/defaults >"$T/deb-defaults"
rpm2cpio "$rpmf" | (cd "$T" && mkdir -p rpmx && cd rpmx && cpio -idm --quiet ./usr/share/alloy-journal-loki/defaults)
check "settings: the deb's defaults carry the host" grep -qx "LOKI_HOST=loki-prod.example.com" "$T/deb-defaults"
check "settings: the deb's defaults carry the port" grep -qx "LOKI_PORT=3200" "$T/deb-defaults"
check "settings: deb and rpm defaults are identical" cmp "$T/deb-defaults" "$T/rpmx/usr/share/alloy-journal-loki/defaults"
mkdir -p "$T/ctl" && dpkg-deb --control "$deb" "$T/ctl"
check "settings: debconf default is the build's host" \
    sh -c "grep -A2 '^Template: alloy-journal-loki/loki_host' '$T/ctl/templates' | grep -qx 'Default: loki-prod.example.com'"

# In process: trace every program the build starts.  The spec's %install
# runs its shell commands (install, mkdir...) - nothing else may appear.
strace -f -qq -e trace=execve -o "$T/trace" \
    "$PKGSMITH" build --no-sign --out "$T/out2" "$T/src" >/dev/null 2>&1
sed -n 's/.*execve("\([^"]*\)".*/\1/p' "$T/trace" | sort -u >"$T/programs"
check "in process: strace saw the build run" grep -q pkgsmith "$T/programs"
check "in process: no dpkg-deb, rpmbuild, tar, ar or cpio was run" \
    sh -c "! grep -E '/(dpkg-deb|rpmbuild|tar|ar|cpio|bsdtar|gzip|xz)$' '$T/programs'"
