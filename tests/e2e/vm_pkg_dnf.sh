#!/bin/sh
# The pkgsmith .rpm on a booted bookworm guest with dnf and systemd as PID 1
# (issue 20, the RPM half of vm_timers.sh): `dnf install` of the package as
# `make` builds it, then what an operator checks (pkgsmith --version,
# man -w, the user pkgsmith, owners and modes, the units' User=), the
# README's "Set up a repository server" on it (key and repository made as
# pkgsmith, a mirror file of a stand-in Grafana rpm upstream on the guest's
# loopback, pkgsmith-mirror.service started once: it must succeed as
# pkgsmith with its hardening; the client package and alloy-journal-loki
# added and published, the shipped nginx site enabled) and a client on the
# same guest that bootstraps from http://repo.acme.internal as the README's
# RHEL bootstrap says and installs alloy-journal-loki and the mirrored
# alloy.  Then `dnf upgrade` keeps the repository, the key and the mirror
# file; `dnf remove` keeps them and the user, and removes the user once
# /var/lib/pkgsmith is gone.
# Debian's rpm database is empty: what the Debian image has is declared to
# it by host-provides (the commands scriptlets use) and by host-libs, made
# in the guest from the guest's own library files with rpm's elfdeps (the
# generator that computes a RHEL library package's Provides).  So dnf
# resolves the pkgsmith .rpm's automatic Requires against the sonames the
# guest really has: a Requires no library there provides fails the install.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
# shellcheck source=tests/lib/vm.sh
. "$top/tests/lib/vm.sh"
trap 'vm_stop; t_cleanup' EXIT

P=$PKGSMITH
UH=$T/up-gnupg
UK=$(make_key "$UH" 'Upstream <up@example.test>')
FPR=$(make_key "$T/gnupg" 'Acme Build <build@acme.internal>')
gpg --homedir "$UH" --batch --armor --export "$UK" >"$T/upstream.asc"
up_add_alloy_rpm "$T/up" "$UH" "$UK" 1.1.0 1.2.0
up_rpm_publish "$T/up" "$UH" "$UK"

IN=$T/in
mkdir -p "$IN/mirrors.d" "$IN/next" "$IN/out"
cp -a "$T/up" "$IN/up"
cp "$T/upstream.asc" "$IN/grafana.asc"
mirror_conf "$IN/mirrors.d/grafana-rpm.mirror" grafana-rpm rpm http://127.0.0.1:8080 /etc/pkgsmith/keys/grafana.asc "$UK"
# The release build even under `make check SANITIZE=1` (vm_timers.sh says
# why).
make -C "$top" --no-print-directory install SANITIZE= DESTDIR="$T/root" PREFIX=/usr >/dev/null
check "host: the pkgsmith .rpm builds" sh -c "cd '$top' && GNUPGHOME='$T/gnupg' scripts/build-packages '$T/pk' '$P' '$FPR' '$T/root' >/dev/null 2>&1"
cp "$T"/pk/pkgsmith-*.rpm "$IN/"
GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --set release=2 --format rpm --out "$T/next" "$T/root.src" >/dev/null
cp "$T"/next/pkgsmith-*.rpm "$IN/next/"
GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --format rpm --out "$IN/out" "$top/tests/fixtures/host-provides" >/dev/null
# alloy-journal-loki's sources: the operator builds it in the guest, signed
# with the repository's key (dnf's gpgcheck=1 checks every package's
# signature against the keys acme.repo names).
mkdir -p "$IN/src"
cp -a "$top/debian" "$top/specs" "$top/package" "$top/pkgsmith.settings" "$IN/src/"
chmod -R a+rX "$IN"
cp "$top/tests/lib/vm-guest.sh" "$IN/guest.sh"
cat >"$IN/run.sh" <<'GUEST'
. /mnt/in/guest.sh
dnf_() { dnf -y -q --releasever=12 --setopt=clean_requirements_on_remove=False "$@" </dev/null; }
echo "# $S: dnf $(dnf --version 2>/dev/null | head -n 1), rpm $(rpm --version | cut -d' ' -f3), PID 1 is $(cat /proc/1/comm)"

# host-libs: the guest's libraries as rpm would describe them.  rtld and
# rpm-build are what RHEL's glibc and rpm-build provide by name (Debian's
# rpm package holds rpmbuild).
mkdir -p /tmp/hl/SPECS
{
    printf 'Name: host-libs\nVersion: 1.0\nRelease: 1\nSummary: Test-only: the guest libraries\nLicense: Apache-2.0\nBuildArch: noarch\n'
    printf 'Provides: rtld(GNU_HASH)\nProvides: rpm-build\n'
    find /usr/lib/x86_64-linux-gnu -maxdepth 1 -name 'lib*.so*' -type f | /usr/lib/rpm/elfdeps --provides | sort -u | sed 's/^/Provides: /'
    printf '%%description\nTest-only.\n%%files\n'
} >/tmp/hl/SPECS/host-libs.spec
check "host-libs: built from the guest's libraries" rpmbuild -bb --quiet --define '_topdir /tmp/hl' /tmp/hl/SPECS/host-libs.spec
check "dnf install the pkgsmith .rpm (with host-provides and host-libs)" \
    sh -c 'dnf -y -q --releasever=12 install /mnt/in/out/host-provides-*.rpm /tmp/hl/RPMS/noarch/host-libs-*.rpm /mnt/in/pkgsmith-*.rpm </dev/null'
check_eq "rpm -q pkgsmith: the version built" "$(rpm -qp --qf '%{VERSION}-%{RELEASE}' /mnt/in/pkgsmith-*.rpm)" "$(rpm -q --qf '%{VERSION}-%{RELEASE}' pkgsmith)"
check "pkgsmith runs (all its libraries there)" pkgsmith --version
check_eq "man -w pkgsmith-repo: the installed page" /usr/share/man/man1/pkgsmith-repo.1.gz "$(man -w pkgsmith-repo 2>&1)"
check_eq "man -w 5 pkgsmith-repo.conf" /usr/share/man/man5/pkgsmith-repo.conf.5.gz "$(man -w 5 pkgsmith-repo.conf 2>&1)"
check "the package made the system user pkgsmith" id pkgsmith
check_eq "/var/lib/pkgsmith: owner and mode" "pkgsmith:pkgsmith 755" "$(stat -c '%U:%G %a' /var/lib/pkgsmith)"
check_eq "/var/lib/pkgsmith/gnupg: owner and mode" "pkgsmith:pkgsmith 700" "$(stat -c '%U:%G %a' /var/lib/pkgsmith/gnupg)"
check_eq "the units: root-owned 0644" "root:root 644" "$(stat -c '%U:%G %a' /usr/lib/systemd/system/pkgsmith-mirror.service)"
check_eq "pkgsmith-mirror.service runs as pkgsmith" pkgsmith "$(systemctl show -p User --value pkgsmith-mirror.service)"
check "rpm -V pkgsmith: every file as packaged" rpm -V pkgsmith
check "the nginx site is in sites-available, not enabled" sh -c 'test -f /etc/nginx/sites-available/pkgsmith-repo.conf && test ! -e /etc/nginx/sites-enabled/pkgsmith-repo.conf'

# The README's "Set up a repository server".
G=/var/lib/pkgsmith/gnupg
check "the repository key, made as pkgsmith" as_ps gpg --batch --passphrase '' --quick-gen-key 'Acme Repo <repo@acme.internal>' rsa3072 sign never
FPR=$(as_ps gpg --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
check "repo init as pkgsmith" as_ps pkgsmith repo init --root /var/lib/pkgsmith --gnupg-home $G --key "$FPR" --org acme --url http://repo.acme.internal
install -d /etc/pkgsmith/keys /var/lib/prometheus/node-exporter
cp /mnt/in/grafana.asc /etc/pkgsmith/keys/
cp /mnt/in/mirrors.d/* /etc/pkgsmith/mirrors.d/
cp -a /mnt/in/up /srv/upstream
printf 'server {\n listen 127.0.0.1:8080;\n root /srv/upstream;\n}\n' >/etc/nginx/conf.d/upstream.conf
check "nginx serves the stand-in upstream" sh -c 'systemctl restart nginx && curl -fsS -o /dev/null http://127.0.0.1:8080/repodata/repomd.xml.asc'
g0=$(gens)
check "systemctl start pkgsmith-mirror.service" systemctl start pkgsmith-mirror.service
check_eq "pkgsmith-mirror.service Result" success "$(result pkgsmith-mirror.service)"
check "the sync published a generation" test "$(gens)" -gt "$g0"
check_eq "the repository's files belong to pkgsmith" "" "$(find /var/lib/pkgsmith ! -user pkgsmith | head -n 3)"
check "the mirror synced alloy 1.2.0" sh -c 'find -L /var/lib/pkgsmith/public -name "alloy-1.2.0-*.rpm" | grep -q .'
check "pkgsmith build alloy-journal-loki as pkgsmith, signed with the repository key" \
    as_ps pkgsmith build --key "$FPR" --format rpm --out /tmp/built /mnt/in/src
check "the built package carries a signature by that key" sh -c "rpm -qp --qf '%{RSAHEADER:pgpsig}' /tmp/built/alloy-journal-loki-*.rpm | grep -qi 'key id $(echo "$FPR" | tail -c 17)'"
check "repo client-package as pkgsmith" as_ps pkgsmith repo client-package --root /var/lib/pkgsmith --out /tmp/client
check "repo add the client package and alloy-journal-loki as pkgsmith" \
    sh -c 'runuser -u pkgsmith -- pkgsmith repo add --root /var/lib/pkgsmith /tmp/client/acme-repo-*.noarch.rpm /tmp/built/alloy-journal-loki-*.rpm'
check "repo publish as pkgsmith" as_ps pkgsmith repo publish --root /var/lib/pkgsmith
sed -i 's/repo.example.com/repo.acme.internal/' /etc/nginx/sites-available/pkgsmith-repo.conf
check "enable the shipped site, reload nginx" sh -c 'ln -s ../sites-available/pkgsmith-repo.conf /etc/nginx/sites-enabled/ && systemctl reload nginx'
workers() { for w in $(children "$(cat /run/nginx.pid)"); do uid_name "$w"; done | sort -u; }
i=0
while [ "$(workers)" != www-data ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
check_eq "nginx workers run as www-data" www-data "$(workers)"
echo '127.0.0.1 repo.acme.internal' >>/etc/hosts

# The README's RHEL / Fedora bootstrap, word for word.
mkdir -p /etc/yum.repos.d
check "client: README bootstrap (key fetched, fingerprint checked, bootstrap .repo)" sh -c "curl -fsSo /tmp/k.asc http://repo.acme.internal/keys/acme-archive-keyring.asc && gpg --show-keys --with-colons /tmp/k.asc | grep -qx 'fpr:::::::::$FPR:' && install -Dm644 /tmp/k.asc /etc/pki/rpm-gpg/RPM-GPG-KEY-acme && printf '[acme]\nname=acme packages\nbaseurl=http://repo.acme.internal/rpm/stable/\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-acme\n' >/etc/yum.repos.d/acme-bootstrap.repo"
check "client: dnf install -y acme-repo" dnf_ install acme-repo
rm /etc/yum.repos.d/acme-bootstrap.repo
check "client: dnf install -y alloy-journal-loki" dnf_ --refresh install alloy-journal-loki
check "client: alloy 1.2.0, which the mirror synced, from @acme" sh -c 'dnf -q --releasever=12 list --installed alloy 2>/dev/null | grep -E "1\.2\.0-1 .*@acme"'
check "client: alloy-journal-loki from @acme" sh -c 'dnf -q --releasever=12 list --installed alloy-journal-loki 2>/dev/null | grep -q "@acme"'
check "client: dnf checked them with the repository's key" rpm -q "gpg-pubkey-$(echo "$FPR" | tail -c 9 | tr 'A-F' 'a-f')"
settle
check_eq "client: systemctl is-active alloy" active "$(systemctl is-active alloy.service)"
[ "$(systemctl is-active alloy.service)" = active ] ||
    { systemctl status --no-pager alloy.service; journalctl --no-pager -n 30 -u alloy.service; } 2>&1 | sed 's/^/#   /'

# Upgrade: the repository, its key and the mirror file stay.
check "upgrade: dnf upgrade to the next release" dnf_ upgrade /mnt/in/next/pkgsmith-*.rpm
check_eq "upgrade: the release installed" 2 "$(rpm -q --qf '%{RELEASE}' pkgsmith)"
check "upgrade kept the key" as_ps gpg --list-secret-keys "$FPR"
check "upgrade kept the mirror file" test -f /etc/pkgsmith/mirrors.d/grafana-rpm.mirror
check "upgrade kept the repository: repo verify as pkgsmith" as_ps pkgsmith repo verify --root /var/lib/pkgsmith
check "after the upgrade pkgsmith-publish.service succeeds" systemctl start pkgsmith-publish.service
# Erase with the repository there: it stays, and so does its user.
as_ps gpgconf --kill all
check "dnf remove pkgsmith" dnf_ remove pkgsmith
check "remove kept the repository" test -s /var/lib/pkgsmith/repo.conf
check "remove kept the key" test -d /var/lib/pkgsmith/gnupg/private-keys-v1.d
check "remove kept the mirror file" test -f /etc/pkgsmith/mirrors.d/grafana-rpm.mirror
check "remove kept the user while /var/lib/pkgsmith exists" id pkgsmith
check "remove removed the units" test ! -e /usr/lib/systemd/system/pkgsmith-mirror.service
rm -r /var/lib/pkgsmith
check "reinstall, then remove with no repository" sh -c 'dnf -y -q --releasever=12 install /mnt/in/pkgsmith-*.rpm </dev/null && dnf -y -q --releasever=12 --setopt=clean_requirements_on_remove=False remove pkgsmith </dev/null'
check "remove took /var/lib/pkgsmith (only the empty GnuPG home was there)" test ! -e /var/lib/pkgsmith
check "remove took the user and group pkgsmith" sh -c '! getent passwd pkgsmith && ! getent group pkgsmith'
exit 0
GUEST

t0=$(date +%s)
img=$(vm_image bookworm "dnf,rpm,man-db,$VM_BOOKWORM_EXTRA" dnf-pkgsmith) || {
    not_ok "bookworm-dnf: guest image" "mmdebstrap or mke2fs failed"
    exit 1
}
echo "# bookworm-dnf: image ready in $(($(date +%s) - t0))s ($img)"
W=$T/vm
vm_boot bookworm-dnf "$img" "$IN" "$W" 400
