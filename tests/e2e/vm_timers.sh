#!/bin/sh
# The repo-tools units on a booted bookworm guest with systemd as PID 1
# (issue 16 part 3), installed by the pkgsmith .deb (issue 20: the user
# pkgsmith, owners and modes; the key made and the repository initialised
# as pkgsmith at /var/lib/pkgsmith with the key in /var/lib/pkgsmith/gnupg;
# then upgrade and purge), the mirror definition in /etc/pkgsmith/mirrors.d
# pointing at a stand-in Grafana upstream served by the guest's nginx on
# its loopback, the units from repo-tools/systemd in /etc/systemd/system.
# Both timers enabled; each service started once must succeed
# (Result=success) with its hardening, and write only where ReadWritePaths
# allows: a write elsewhere, added by a drop-in, must fail.  Then the
# README's "Set up a repository server" to its end (man -w, the client
# package and alloy-journal-loki added and published as pkgsmith, the
# shipped nginx site enabled with only its server_name set) and a client
# on the same guest that bootstraps from http://repo.acme.internal (the
# loopback in /etc/hosts) and installs alloy-journal-loki and the mirrored
# alloy from it, verified with our key.
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
FPR=$(make_key "$T/gnupg" 'Acme Repo <repo@acme.test>')
gpg --homedir "$UH" --batch --armor --export "$UK" >"$T/upstream.asc"
up_debs "$T/up" 2
up_add_alloy_deb "$T/up" 1.1.0 1.2.0
up_apt_publish "$T/up" "$UH" "$UK"

IN=$T/in
mkdir -p "$IN/mirrors.d"
cp -a "$T/up" "$IN/up"
cp "$T/upstream.asc" "$IN/grafana.asc"
mirror_conf "$IN/mirrors.d/grafana-apt.mirror" grafana-apt apt http://127.0.0.1:8080 /etc/pkgsmith/keys/grafana.asc "$UK"
# The pkgsmith package, as `make` builds it (issue 20): the tool, the
# units, the user pkgsmith.
# Always the release build, even under `make check SANITIZE=1`: an ASan
# build depends on libasan8, which a stock host does not have (and
# should not get) - the package the users install is what is tested.
make -C "$top" --no-print-directory install SANITIZE= DESTDIR="$T/root" PREFIX=/usr >/dev/null
check "host: the pkgsmith .deb builds" sh -c "cd '$top' && GNUPGHOME='$T/gnupg' scripts/build-packages '$T/pk' '$P' '$FPR' '$T/root' >/dev/null 2>&1"
cp "$T"/pk/pkgsmith_*.deb "$IN/"
# The next release of the same package, for the upgrade.
mkdir -p "$IN/next"
GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --set release=2 --format deb --out "$T/next" "$T/root.src" >/dev/null
cp "$T"/next/pkgsmith_*.deb "$IN/next/"
# Our package, where the README's step 5 takes it from (out/ of the
# checkout), for the repository the guest serves.
mkdir -p "$IN/out"
GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --format deb --out "$IN/out" "$top" >/dev/null
chmod -R a+rX "$IN"
cp "$top/tests/lib/vm-guest.sh" "$IN/guest.sh"
cat >"$IN/run.sh" <<'GUEST'
. /mnt/in/guest.sh
# result UNIT: its Result after a run.

# As the README: apt-get install (its Depends are in the image: no network).
check "apt-get install the pkgsmith package and nginx" sh -c 'apt-get install -y /mnt/in/pkgsmith_*.deb nginx </dev/null'
check "pkgsmith runs in the guest (all its libraries there)" pkgsmith --version
check_eq "man -w pkgsmith-repo: the installed page" /usr/share/man/man1/pkgsmith-repo.1.gz "$(man -w pkgsmith-repo 2>&1)"
check "the package made the system user pkgsmith" id pkgsmith
check_eq "/var/lib/pkgsmith: owner and mode" "pkgsmith:pkgsmith 755" "$(stat -c '%U:%G %a' /var/lib/pkgsmith)"
check_eq "/var/lib/pkgsmith/gnupg: owner and mode" "pkgsmith:pkgsmith 700" "$(stat -c '%U:%G %a' /var/lib/pkgsmith/gnupg)"
check_eq "the units: root-owned 0644" "root:root 644" "$(stat -c '%U:%G %a' /usr/lib/systemd/system/pkgsmith-mirror.service)"
check_eq "pkgsmith-mirror.service runs as pkgsmith" pkgsmith "$(systemctl show -p User --value pkgsmith-mirror.service)"
# As the README's "Set up a repository server": the key made as the user
# pkgsmith in its GnuPG home, the repository initialised as pkgsmith.
G=/var/lib/pkgsmith/gnupg
check "the repository key, made as pkgsmith" as_ps gpg --batch --passphrase '' --quick-gen-key 'Acme Repo <repo@acme.internal>' rsa3072 sign never
FPR=$(as_ps gpg --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
check "repo init as pkgsmith" as_ps pkgsmith repo init --root /var/lib/pkgsmith --gnupg-home $G --key "$FPR" --org acme --url http://repo.acme.internal
check_eq "the GnuPG home stays private" "pkgsmith:pkgsmith 700" "$(stat -c '%U:%G %a' $G)"
install -d /etc/pkgsmith/keys /var/lib/prometheus/node-exporter
cp /mnt/in/grafana.asc /etc/pkgsmith/keys/
cp -r /mnt/in/mirrors.d /etc/pkgsmith/
# The stand-in upstream on the guest's loopback, by the stock nginx.
cp -a /mnt/in/up /srv/upstream
printf 'server {\n listen 127.0.0.1:8080;\n root /srv/upstream;\n}\n' >/etc/nginx/conf.d/upstream.conf
check "nginx serves the stand-in upstream" sh -c 'systemctl restart nginx && curl -fsS -o /dev/null http://127.0.0.1:8080/dists/stable/InRelease'

check "systemctl enable --now both timers" systemctl enable --now pkgsmith-mirror.timer pkgsmith-publish.timer
for u in pkgsmith-mirror.timer pkgsmith-publish.timer; do
    check_eq "$u is enabled" enabled "$(systemctl is-enabled $u)"
    check_eq "$u is active (waiting)" active "$(systemctl is-active $u)"
done
check "the mirror timer has a next run" sh -c 'test -n "$(systemctl show -p NextElapseUSecMonotonic --value pkgsmith-mirror.timer)"'
echo "# exposure: $(systemd-analyze security pkgsmith-mirror.service 2>/dev/null | tail -n 1)"

touch /tmp/stamp
g0=$(gens)
check "systemctl start pkgsmith-mirror.service" systemctl start pkgsmith-mirror.service
check_eq "pkgsmith-mirror.service Result" success "$(result pkgsmith-mirror.service)"
check_eq "the repository's new files belong to pkgsmith" "" "$(find /var/lib/pkgsmith ! -user pkgsmith | head -n 3)"
check "the mirror synced alloy 1.2.0 into the repository" sh -c 'find -L /var/lib/pkgsmith/public/pool -name "alloy*1.2.0*" | grep -q .'
check "it wrote the metrics file" test -s /var/lib/prometheus/node-exporter/pkgsmith-mirror.prom
check "the sync published a generation" test "$(gens)" -gt "$g0"
g1=$(gens)
check "systemctl start pkgsmith-publish.service" systemctl start pkgsmith-publish.service
check_eq "pkgsmith-publish.service Result" success "$(result pkgsmith-publish.service)"
check "the publish made a new generation" test "$(gens)" -gt "$g1"
# What changed on the root file system in these runs, outside the
# ReadWritePaths and what systemd and the journal keep themselves.
check_eq "nothing written outside ReadWritePaths" "" "$(find / -xdev -newer /tmp/stamp ! -type d \
    ! -path '/var/lib/pkgsmith/*' ! -path '/var/lib/prometheus/*' ! -path '/var/log/*' \
    ! -path '/var/lib/systemd/*' ! -path '/tmp/*' ! -path '/var/tmp/*' 2>/dev/null | head -n 5)"

# The hardening holds: the same unit, with a drop-in that writes inside
# its ReadWritePaths (succeeds), then outside them (must fail).
mkdir -p /etc/systemd/system/pkgsmith-publish.service.d
printf '[Service]\nExecStartPost=/bin/sh -c "echo x >/var/lib/pkgsmith/escape"\n' \
    >/etc/systemd/system/pkgsmith-publish.service.d/escape.conf
systemctl daemon-reload
systemctl start pkgsmith-publish.service 2>/dev/null
check_eq "a drop-in writing under /var/lib/pkgsmith: Result" success "$(result pkgsmith-publish.service)"
check "... and it wrote there" test -e /var/lib/pkgsmith/escape
# A directory the user pkgsmith owns outside ReadWritePaths: only the
# hardening stops the write, not the file modes.
install -d -o pkgsmith -g pkgsmith /srv/pkgsmith-escape
printf '[Service]\nExecStartPost=/bin/sh -c "echo x >/srv/pkgsmith-escape/x"\n' \
    >/etc/systemd/system/pkgsmith-publish.service.d/escape.conf
systemctl daemon-reload
systemctl start pkgsmith-publish.service 2>/dev/null
check_eq "a write outside ReadWritePaths, to a directory pkgsmith owns, fails (ProtectSystem=strict)" exit-code "$(result pkgsmith-publish.service)"
check "... and /srv/pkgsmith-escape/x was not written" test ! -e /srv/pkgsmith-escape/x
rm -r /etc/systemd/system/pkgsmith-publish.service.d
systemctl daemon-reload
systemctl reset-failed pkgsmith-publish.service
check_eq "the state is private (db/: umask 077 of init and the units)" 700 "$(stat -c %a /var/lib/pkgsmith/db)"

# The README's steps 5 and 6: our packages and the client package added
# and published as pkgsmith, the shipped site enabled with its server_name
# set (nothing else changed: the stock default site stays, and nginx picks
# ours by name).
cd /mnt/in || exit 1
check "repo client-package as pkgsmith" as_ps pkgsmith repo client-package --root /var/lib/pkgsmith --out /tmp/client
check "repo add the client package and alloy-journal-loki as pkgsmith" as_ps pkgsmith repo add --root /var/lib/pkgsmith /tmp/client/acme-repo* out/alloy-journal-loki*
check "repo publish as pkgsmith" as_ps pkgsmith repo publish --root /var/lib/pkgsmith
cd / || exit 1
sed -i 's/repo.example.com/repo.acme.internal/' /etc/nginx/sites-available/pkgsmith-repo.conf
check "enable the shipped site, reload nginx" sh -c 'ln -s ../sites-available/pkgsmith-repo.conf /etc/nginx/sites-enabled/ && systemctl reload nginx'
# (reload is asynchronous: the new workers come a moment later)
workers() { for w in $(children "$(cat /run/nginx.pid)"); do uid_name "$w"; done | sort -u; }
i=0
while [ "$(workers)" != www-data ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
check_eq "nginx workers run as www-data" www-data "$(workers)"
# repo.acme.internal: the guest's loopback, as DNS would name the server.
echo '127.0.0.1 repo.acme.internal' >>/etc/hosts
# A client on the same guest, as the README's "Bootstrap of a new host".
K=/usr/share/keyrings/acme-archive-keyring.asc
check "client: the key from http://repo.acme.internal/keys/ has our fingerprint" sh -c "curl -fsSo /tmp/k.asc http://repo.acme.internal/keys/acme-archive-keyring.asc && gpg --show-keys --with-colons /tmp/k.asc | grep -qx 'fpr:::::::::$FPR:'"
install -Dm644 /tmp/k.asc $K
printf 'Types: deb\nURIs: http://repo.acme.internal\nSuites: stable\nComponents: main\nSigned-By: %s\n' $K >/etc/apt/sources.list.d/acme-bootstrap.sources
check "client: apt-get update (bootstrap source)" apt-get update --error-on=any
check "client: apt-get install -y acme-repo" sh -c 'apt-get install -y acme-repo </dev/null'
rm /etc/apt/sources.list.d/acme-bootstrap.sources
check "client: apt-get install -y alloy-journal-loki" sh -c 'apt-get install -y alloy-journal-loki </dev/null'
check_eq "client: alloy-journal-loki installed, the version we built" "install ok installed $(dpkg-deb -f /mnt/in/out/alloy-journal-loki_*.deb Version)" "$(dpkg-query -W -f '${Status} ${Version}' alloy-journal-loki)"
# from_us PKG: the installed version's source in apt-cache policy is ours.
from_us() { apt-cache policy "$1" | grep -A1 '^ \*\*\*' | grep -q ' http://repo.acme.internal stable/main '; }
check "client: apt-cache policy: alloy-journal-loki came from http://repo.acme.internal" from_us alloy-journal-loki
check "client: alloy 1.2.0 installed, which the mirror synced" sh -c "dpkg-query -W -f '\${Version}' alloy | grep -q '^1.2.0-'"
check "client: alloy from http://repo.acme.internal" from_us alloy
check "client: acme-repo's source is signed by our key file" grep -qx "Signed-By: $K" /etc/apt/sources.list.d/acme.sources
# apt-get update verified InRelease with that key: the file it keeps
# verifies with our key alone, signed by $FPR.
kv() { _h=$(mktemp -d) && gpg -q --homedir "$_h" --import "$K" 2>/dev/null && gpg --homedir "$_h" --status-fd 1 --verify /var/lib/apt/lists/repo.acme.internal_dists_stable_InRelease 2>/dev/null | grep -q "^\[GNUPG:\] VALIDSIG .*$FPR"; }
check "client: apt-get update verified InRelease with our key ($FPR)" kv

# Upgrade: the repository, its key and the mirror file stay.
check "upgrade: dpkg -i the next release" dpkg -i /mnt/in/next/pkgsmith_*.deb
check_eq "upgrade: the version installed" "$(dpkg-deb -f /mnt/in/next/pkgsmith_*.deb Version)" "$(dpkg-query -W -f '${Version}' pkgsmith)"
check "upgrade kept the key" as_ps gpg --list-secret-keys "$FPR"
check "upgrade kept the mirror file" test -f /etc/pkgsmith/mirrors.d/grafana-apt.mirror
check "upgrade kept the repository: repo verify as pkgsmith" as_ps pkgsmith repo verify --root /var/lib/pkgsmith
check "after the upgrade pkgsmith-publish.service still succeeds" systemctl start pkgsmith-publish.service
# Purge with the repository there: it stays, and so does its user.
as_ps gpgconf --kill all
check "dpkg --purge pkgsmith" dpkg --purge pkgsmith
check "purge kept the repository" test -s /var/lib/pkgsmith/repo.conf
check "purge kept the mirror file" test -f /etc/pkgsmith/mirrors.d/grafana-apt.mirror
check "purge kept the user while /var/lib/pkgsmith exists" id pkgsmith
check "purge removed the units" test ! -e /usr/lib/systemd/system/pkgsmith-mirror.service
# With the state directory gone, a purge removes the user too.
rm -r /var/lib/pkgsmith
check "reinstall, then purge with no repository" sh -c 'dpkg -i /mnt/in/pkgsmith_*.deb && dpkg --purge pkgsmith'
check "purge removed /var/lib/pkgsmith (only the empty GnuPG home was there)" test ! -e /var/lib/pkgsmith
check "purge removed the user and group pkgsmith" sh -c '! getent passwd pkgsmith && ! getent group pkgsmith'
exit 0
GUEST

# man-db for `man -w`, rpm for the package's Depends: an image of its own
# (vm-bookworm-timers.img), so that vm_alloy's does not change.
img=$(vm_image bookworm "$VM_BOOKWORM_EXTRA,man-db,rpm" timers) || {
    not_ok "bookworm: guest image" "mmdebstrap or mke2fs failed"
    exit 1
}
W=$T/vm
check "bookworm: the guest ran the test and powered off by itself" vm_run "$img" "$IN" "$W" 300
echo "# bookworm: accel $VM_ACCEL, boot and test in $(cat "$W/seconds")s"
grep -E '^(ok|not ok|#)' "$W/results" | tr -d '\r'
check "bookworm: the run ended" grep -q '^# guest boot 1: run.sh exited 0' "$W/results"
