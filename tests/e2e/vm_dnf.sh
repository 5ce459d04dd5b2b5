#!/bin/sh
# alloy-journal-loki installed with dnf on a booted Debian 12 guest with
# systemd as PID 1 (issue 16 part 3, the RPM half), no systemctl shim.  On
# the host: our rpm, the stand-in alloy rpm and the test-only host-provides
# rpm are built and signed, the client package (acme-repo) is made and
# added, all published into a pkgsmith repository.  In the guest (qemu, no
# network device; an image of its own with dnf, rpm and gpg): the
# repository is served by the guest's stock nginx (workers as www-data)
# with the shipped site on its own loopback; the README's RHEL bootstrap
# runs as written (key fetched, fingerprint checked, bootstrap .repo with
# gpgcheck and repo_gpgcheck), then host-provides (Debian's files are not
# in its empty rpm database: test-environment.md), `dnf install -y
# acme-repo`, the bootstrap .repo removed, `dnf install -y
# alloy-journal-loki`.  Then what a user checks: alloy active and enabled,
# running our config as alloy with systemd-journal among its process
# groups, journalctl as alloy returns entries; `dnf remove
# alloy-journal-loki` leaves alloy installed and running on its own
# config, our files gone, the alloy user kept (install_dnf.sh's remove
# checks, with systemd live).  One boot: TCG boots are slow.
# dnf runs with --releasever=12 (Debian has no system-release package) and
# clean_requirements_on_remove=False (Debian's dnf.conf sets it True, and
# then `dnf remove` also takes alloy, as install_dnf.sh and lifecycle_dnf.sh
# avoid the same way).
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/vm.sh
. "$top/tests/lib/vm.sh"
trap 'vm_stop; t_cleanup' EXIT

P=$PKGSMITH
FPR=$(make_key "$T/gnupg" "Acme Repo <repo@acme.test>")
for src in "$top" "$top/tests/fixtures/alloy" "$top/tests/fixtures/host-provides"; do
    GNUPGHOME=$T/gnupg "$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$src" >/dev/null
done
"$P" repo init --root "$T/repo" --key "$FPR" --gnupg-home "$T/gnupg" --org acme --url http://127.0.0.1 >/dev/null
check "host: client-package" "$P" repo client-package --root "$T/repo" --out "$T/client"
# As the README says: acme-repo's packages go into the repository itself.
check "host: add our rpms, alloy, host-provides and acme-repo, publish" sh -c \
    "'$P' repo add --root '$T/repo' '$T'/pkgs/*.rpm '$T'/client/acme-repo-*.noarch.rpm >/dev/null && '$P' repo publish --root '$T/repo' >/dev/null"

# The guest's input disk: the repository root as pkgsmith left it (modes
# kept: what www-data may read is part of the test), the shipped nginx
# site, the key's fingerprint (known to the operator out of band), the
# script.
IN=$T/in
mkdir -p "$IN"
cp -a "$T/repo" "$IN/repo"
cp -a "$top/repo-tools/nginx" "$IN/nginx"
echo "$FPR" >"$IN/fpr"
cp "$top/tests/lib/vm-guest.sh" "$IN/guest.sh"
cat >"$IN/run.sh" <<'GUEST'
# Runs as root in the guest at boot; stdout is the results.
. /mnt/in/guest.sh
FPR=$(cat /mnt/in/fpr)
# dnf as Debian's needs it (see the host script's header).
dnf_() { dnf -y -q --releasever=12 --setopt=clean_requirements_on_remove=False "$@" </dev/null; }

echo "# $S: systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), dnf $(dnf --version 2>/dev/null | head -n 1), rpm $(rpm --version | cut -d' ' -f3), PID 1 is $(cat /proc/1/comm)"
check_eq "PID 1 is systemd" systemd "$(cat /proc/1/comm)"
serve_repo
check "nginx (www-data) serves the signed repomd.xml" curl -fsS -o /dev/null http://127.0.0.1/rpm/stable/repodata/repomd.xml.asc

# The README's RHEL / Fedora bootstrap, word for word but for the host name.
# (An RHEL host has /etc/yum.repos.d; Debian's dnf package does not make it.)
mkdir -p /etc/yum.repos.d
base=http://127.0.0.1
check "README bootstrap: key fetched, fingerprint checked, bootstrap .repo written" sh -c "curl -fsSo /tmp/k.asc $base/keys/acme-archive-keyring.asc && gpg --show-keys --with-colons /tmp/k.asc | grep -qx 'fpr:::::::::$FPR:' && install -Dm644 /tmp/k.asc /etc/pki/rpm-gpg/RPM-GPG-KEY-acme && printf '[acme]\nname=acme packages\nbaseurl=$base/rpm/stable/\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-acme\n' >/etc/yum.repos.d/acme-bootstrap.repo"
check "dnf install -y host-provides (what Debian's empty rpm database lacks)" dnf_ install host-provides
check "dnf install -y acme-repo" dnf_ install acme-repo
check "rm the bootstrap .repo" rm /etc/yum.repos.d/acme-bootstrap.repo
check "acme.repo checks package and metadata signatures" sh -c 'grep -qx gpgcheck=1 /etc/yum.repos.d/acme.repo && grep -qx repo_gpgcheck=1 /etc/yum.repos.d/acme.repo'
check "dnf install -y alloy-journal-loki" dnf_ --refresh install alloy-journal-loki
# gpg-pubkey-KEYID: dnf imported our key from gpgkey= to check the packages.
check "dnf checked the packages with our key (gpg-pubkey in the rpm database)" \
    rpm -q "gpg-pubkey-$(echo "$FPR" | tail -c 9 | tr 'A-F' 'a-f')"
check "alloy came from our repository (@acme)" sh -c 'dnf -q --releasever=12 list --installed alloy 2>/dev/null | grep -q "@acme"'
settle
check_eq "systemctl is-active alloy" active "$(systemctl is-active alloy.service)"
check_eq "systemctl is-enabled alloy" enabled "$(systemctl is-enabled alloy.service)"
check "id alloy lists systemd-journal" sh -c 'id -nG alloy | tr " " "\n" | grep -qx systemd-journal'
pid=$(mainpid)
check_eq "alloy's main process runs as alloy" alloy "$(uid_name "$pid")"
check "alloy's main process has systemd-journal among its groups" in_groups "$pid" systemd-journal
check "alloy runs our config" grep -q /etc/alloy-journal-loki/config.alloy "/proc/$pid/cmdline"
check "journalctl as alloy returns entries" sh -c 'test "$(runuser -u alloy -- journalctl -q --no-pager -n 5 | wc -l)" -gt 0'
check "journalctl as nobody returns none (the group is what reads it)" sh -c 'test "$(runuser -u nobody -- journalctl -q --no-pager -n 5 -u alloy.service 2>/dev/null | wc -l)" -eq 0'

check "dnf remove -y alloy-journal-loki" dnf_ remove alloy-journal-loki
settle
check "after remove: alloy-journal-loki is not installed" sh -c '! rpm -q alloy-journal-loki'
check "after remove: alloy stays installed" rpm -q alloy
check_eq "after remove: alloy still running" active "$(systemctl is-active alloy.service)"
pid=$(mainpid)
check "after remove: alloy runs its own config" grep -q /etc/alloy/config.alloy "/proc/$pid/cmdline"
check_eq "after remove: our enabling of alloy is undone (documented)" disabled "$(systemctl is-enabled alloy.service)"
check "after remove: our config and state are gone" sh -c '! ls -d /etc/alloy-journal-loki /var/lib/alloy-journal-loki 2>/dev/null'
check "after remove: our drop-in is gone from the running unit" sh -c '! systemctl show -p DropInPaths --value alloy.service | grep -q alloy-journal-loki'
check "after remove: the alloy user stays" id alloy
exit 0
GUEST

t0=$(date +%s)
img=$(vm_image bookworm dnf,rpm,gpg dnf) || {
    not_ok "bookworm-dnf: guest image" "mmdebstrap or mke2fs failed"
    exit 1
}
echo "# bookworm-dnf: image ready in $(($(date +%s) - t0))s ($img)"
W=$T/vm
vm_boot bookworm-dnf "$img" "$IN" "$W" 300
