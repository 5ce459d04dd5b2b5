# tests/lib/chroot.sh - Debian 11, 12 and 13 chroots for end-to-end tests
# with the real package managers.  The base tarballs are made once per
# release by mmdebstrap (from the mirror the host's apt uses) and cached in
# $PKGSMITH_CHROOT_CACHE.

# The releases the chroot tests run on (README: supported targets).
# shellcheck disable=SC2034 # read by the tests that source this
CHROOT_RELEASES="bullseye bookworm trixie"

: "${PKGSMITH_CHROOT_CACHE:=/var/cache/pkgsmith-tests}"

# debian_mirror : the Debian mirror the host's apt uses, read at run time
# (test-environment.md: no address written in the code).
debian_mirror() {
    # shellcheck disable=SC2016 # apt's own $(URI) placeholder
    apt-get indextargets --format '$(URI)' 2>/dev/null |
        sed -n 's,/dists/.*,/,p' | head -n 1
}

# chroot_base NAME PACKAGES [RELEASE] : path of the cached base tarball
# NAME.tar of RELEASE (bookworm by default) with PACKAGES (comma-separated)
# included; made on first use, under a lock so that parallel tests make it
# once.
chroot_base() {
    _rel=${3:-bookworm}
    _tar=$PKGSMITH_CHROOT_CACHE/$1.tar
    mkdir -p "$PKGSMITH_CHROOT_CACHE"
    (
        flock 9
        if [ ! -f "$_tar" ] || [ ! -s "$_tar" ]; then
            # A directory left where the tarball belongs (an interrupted or
            # older run) is not a base: make it again.
            rm -rf "$_tar" "$_tar.tmp"
            # --format: mmdebstrap guesses from the name, and "x.tar.tmp"
            # would make a directory.
            # bookworm with mmdebstrap's own default mirror (as before);
            # the other releases from the mirror the host's apt uses.
            if [ "$_rel" = bookworm ]; then _m=; else _m=$(debian_mirror); fi
            # shellcheck disable=SC2086 # no mirror: no argument
            mmdebstrap --quiet --variant=apt --format=tar --include="$2" "$_rel" "$_tar.tmp" $_m >&2 &&
                mv "$_tar.tmp" "$_tar"
        fi
    ) 9>"$_tar.lock"
    [ -f "$_tar" ] && [ -s "$_tar" ] && echo "$_tar"
}

# chroot_new TAR DIR : a fresh root in DIR, with no network sources: the
# test's own repository is the only one.
chroot_new() {
    mkdir -p "$2"
    tar -C "$2" -xf "$1"
    rm -f "$2/etc/apt/sources.list" "$2"/etc/apt/sources.list.d/*
}

# in_root DIR CMD... : runs CMD in the chroot with a clean environment.
in_root() {
    _r=$1
    shift
    chroot "$_r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

# apt_repo ROOT DEB... : a flat local apt repository at ROOT/srv/repo with
# the given packages, as the chroot's only source.
apt_repo() {
    _r=$1
    shift
    mkdir -p "$_r/srv/repo"
    cp "$@" "$_r/srv/repo/"
    (cd "$_r/srv/repo" && apt-ftparchive packages . >Packages 2>/dev/null)
    echo "deb [trusted=yes] file:/srv/repo ./" >"$_r/etc/apt/sources.list.d/local.list"
}

# effective_config ROOT : the CONFIG_FILE alloy.service would run with:
# the unit file, then its drop-ins in name order, each EnvironmentFile
# read in order, later values winning (systemd's rules, read offline
# because `systemctl cat` needs a running systemd).
effective_config() {
    _unit=$1/usr/lib/systemd/system/alloy.service
    {
        cat "$_unit"
        for _d in "$1"/usr/lib/systemd/system/alloy.service.d/*.conf \
            "$1"/etc/systemd/system/alloy.service.d/*.conf; do
            [ -f "$_d" ] && cat "$_d"
        done
    } | sed -n 's/^EnvironmentFile=-\{0,1\}//p' | while read -r _f; do
        [ -f "$1$_f" ] && sed -n 's/^CONFIG_FILE=//p' "$1$_f" | tr -d '"'
    done | tail -n 1
}

# dnf_repo ROOT RPM... : a local rpm repository (createrepo_c) at
# ROOT/srv/repo as the chroot's only dnf repository.
dnf_repo() {
    _r=$1
    shift
    mkdir -p "$_r/srv/repo" "$_r/etc/yum.repos.d"
    cp "$@" "$_r/srv/repo/"
    createrepo_c --quiet "$_r/srv/repo" >/dev/null
    printf '[local]\nname=local test repository\nbaseurl=file:///srv/repo\ngpgcheck=0\nenabled=1\n' \
        >"$_r/etc/yum.repos.d/local.repo"
}

# in_dnf ROOT ARGS... : dnf in the chroot, as the quirks of dnf on Debian
# need it (test-environment.md): releasever, fresh metadata, no plugin
# writing to the host, keep dependencies on remove.
in_dnf() {
    _r=$1
    shift
    in_root "$_r" dnf -y -q --releasever="$(root_release "$_r")" --refresh --disableplugin=generate_completion_cache \
        --setopt=clean_requirements_on_remove=False "$@" </dev/null
}

# effective_command ROOT : the command line alloy.service would run: the
# last ExecStart of the unit and its drop-ins (an empty one resets), with
# $VAR and ${VAR} replaced from the EnvironmentFiles, read in order, later
# values winning; words that expand to nothing are dropped, as systemd
# does for $VAR.
effective_command() {
    {
        cat "$1/usr/lib/systemd/system/alloy.service"
        for _d in "$1"/usr/lib/systemd/system/alloy.service.d/*.conf \
            "$1"/etc/systemd/system/alloy.service.d/*.conf; do
            [ -f "$_d" ] && cat "$_d"
        done
    } >"$1/.unit-resolved"
    _exec=$(sed -n 's/^ExecStart=//p' "$1/.unit-resolved" | tail -n 1)
    _env=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$1/.unit-resolved" | while read -r _f; do
        [ -f "$1$_f" ] && grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$1$_f"
    done)
    rm -f "$1/.unit-resolved"
    for _w in $_exec; do
        case $_w in
        \$*)
            _n=${_w#\$}
            _n=${_n#\{}
            _n=${_n%\}}
            _v=$(printf '%s\n' "$_env" | sed -n "s/^$_n=//p" | tail -n 1 | tr -d '"')
            [ -n "$_v" ] && printf '%s ' "$_v"
            ;;
        *) printf '%s ' "$_w" ;;
        esac
    done | sed 's/ $//'
}

# new_root apt|dnf DIR [RELEASE] : a fresh Debian root of RELEASE
# (bullseye, bookworm - the default - or trixie) in DIR with apt (debconf,
# adduser) or dnf and rpm, from the cached base tarball.  Without one, the
# test reports the failure and ends.  CHROOT_RELEASE sets the default
# (run any chroot test on another release by hand).
#
# What a real host has and a bare chroot lacks, where a release needs it
# (test-environment.md), mounted here and unmounted by t_cleanup:
# - trixie: rpm 4.20 runs scriptlets through its unshare plugin, which
#   fails ("failed to change mount propagation", exit 126, while dnf still
#   exits 0) unless the root is a mount point: the root is bind-mounted
#   onto itself.  (Disabling the plugin by macro would test less than a
#   real host runs.)
# - bullseye: util-linux 2.36's setpriv (our configure script runs alloy
#   validate as the alloy user with it) fails without /proc ("activate
#   capabilities"): /proc is mounted.
new_root() {
    _nrel=${3:-${CHROOT_RELEASE:-bookworm}}
    case $_nrel in bullseye | bookworm | trixie) ;; *)
        not_ok "$1 chroot" "unknown release '$_nrel'"
        exit 1
        ;;
    esac
    case $1 in
    apt) _b=$(chroot_base "$_nrel-apt" systemd,debconf,passwd,adduser "$_nrel") ;;
    dnf) _b=$(chroot_base "$_nrel-dnf" systemd,dnf,rpm,passwd "$_nrel") ;;
    esac || {
        not_ok "$_nrel: $1 chroot" "mmdebstrap could not make the base tarball"
        exit 1
    }
    chroot_new "$_b" "$2"
    case $_nrel in
    trixie) mount --bind "$2" "$2" ;;
    bullseye) mount -t proc proc "$2/proc" ;;
    esac
}

# root_umount DIR : unmounts what new_root mounted in DIR (deepest first),
# before DIR is removed or made again.
root_umount() {
    _d=$(cd "$1" 2>/dev/null && pwd -P) || return 0
    awk -v d="$_d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts |
        sort -r | while read -r _m; do umount "$_m" || umount -l "$_m"; done
}

# root_release DIR : the Debian major version of the root in DIR (11, 12,
# 13): dnf's releasever.
root_release() {
    cut -d. -f1 "$1/etc/debian_version"
}

# build_versions FORMAT SRC OUT VERSION... : unsigned pkgsmith builds of
# SRC at each VERSION (--set version=...), into OUT.
build_versions() {
    _fmt=$1 _src=$2 _out=$3
    shift 3
    for _v in "$@"; do
        "$PKGSMITH" build --no-sign --format "$_fmt" --set version="$_v" --out "$_out" "$_src" >/dev/null
    done
}

# client_install apt|dnf ROOT CLIENTDIR : installs the acme setup package
# from CLIENTDIR (made by `repo client-package`), then alloy-journal-loki
# from the repository it points at (on dnf host-provides first: the
# host's files are not in the rpm database).  After common.sh.
client_install() {
    _c=$2
    if [ "$1" = apt ]; then
        cp "$3"/acme-repo_*_all.deb "$_c/tmp/"
        check "apt: the setup package installs" in_root "$_c" sh -c 'dpkg -i /tmp/acme-repo_*_all.deb'
        check "apt: apt-get update from our repository" in_root "$_c" apt-get update --error-on=any
        check "apt: apt-get install -y alloy-journal-loki" in_root "$_c" apt-get install -y alloy-journal-loki
        return
    fi
    cp "$3"/acme-repo-*.noarch.rpm "$_c/tmp/"
    check "dnf: the setup package installs" in_root "$_c" sh -c 'rpm -i --nodeps --nosignature /tmp/acme-repo-*.noarch.rpm'
    check "dnf: the .repo trusts our key and the mirror's pinned upstream key" grep -qx "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-acme file:///etc/pki/rpm-gpg/RPM-GPG-KEY-acme-upstream" "$_c/etc/yum.repos.d/acme.repo"
    rm -f "$_c/etc/yum.repos.d/local.repo"
    check "dnf: install host-provides from our repository" in_dnf "$_c" install host-provides
    check "dnf: dnf install -y alloy-journal-loki" in_dnf "$_c" install alloy-journal-loki
}

# journal_shipping LABEL ROOT : what a user checks of a host that ships
# its journal: alloy in systemd-journal, alloy.service enabled.
journal_shipping() {
    check "$1: id alloy includes systemd-journal" sh -c "chroot '$2' id -nG alloy | tr ' ' '\n' | grep -qx systemd-journal"
    check_eq "$1: systemctl is-enabled alloy" enabled "$(in_root "$2" systemctl is-enabled alloy.service 2>/dev/null)"
}
