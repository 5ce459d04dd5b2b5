# tests/lib/upstream.sh - a stand-in for Grafana's apt and rpm repositories
# (sourced after common.sh): generated packages, apt-ftparchive and
# createrepo_c indices, signed by a test "upstream" key with gpg.
: "${top:?}" "${T:?}"

# up_debs DIR NVERSIONS : filler products, in Grafana's pool layout.
up_debs() {
    python3 "$top/tests/lib/gen-upstream.py" "$1" "$2"
}

# up_rpms DIR NVERSIONS : filler rpms (x86_64 and aarch64), flat like
# rpm.grafana.com; one rpmbuild per version and architecture.
up_rpms() {
    _d=$1 _n=$2
    mkdir -p "$_d"
    for _v in $(seq 1 "$_n"); do
        for _a in x86_64 aarch64; do
            rpmbuild -bb --quiet --target "$_a" --define "_topdir $T/rpmbuild" \
                --define "upver 1.$_v.0" "$top/tests/lib/gen-upstream-rpms.spec" >/dev/null 2>&1 || return 1
        done
    done
    find "$T/rpmbuild/RPMS" -name '*.rpm' -exec mv {} "$_d/" \;
    rm -rf "$T/rpmbuild"
}

# up_add_alloy_deb DIR VERSION... : alloy stand-ins as Grafana names them.
up_add_alloy_deb() {
    _d=$1
    shift
    mkdir -p "$_d/pool/main/a/alloy" "$T/alloy-build"
    for _v in "$@"; do
        "$PKGSMITH" build --no-sign --format deb --set version="$_v" --out "$T/alloy-build" \
            "$top/tests/fixtures/alloy" >/dev/null || return 1
        mv "$T/alloy-build/alloy_${_v}-1_amd64.deb" "$_d/pool/main/a/alloy/alloy-${_v}-1.amd64.deb"
    done
}

# up_add_alloy_rpm DIR HOME FPR VERSION... : signed with the upstream key.
up_add_alloy_rpm() {
    _d=$1 _h=$2 _k=$3
    shift 3
    mkdir -p "$_d" "$T/alloy-build"
    for _v in "$@"; do
        GNUPGHOME=$_h "$PKGSMITH" build --key "$_k" --format rpm --set version="$_v" \
            --out "$T/alloy-build" "$top/tests/fixtures/alloy" >/dev/null || return 1
        mv "$T/alloy-build/alloy-${_v}-1.x86_64.rpm" "$_d/"
    done
}

# up_apt_publish DIR HOME FPR [VALID-UNTIL] : dists/stable for amd64 and
# arm64 with Acquire-By-Hash, InRelease and Release.gpg.
up_apt_publish() {
    _s=$1/dists/stable
    rm -rf "$_s"
    # (apt-ftparchive -a matches *_ARCH.deb names; Grafana's are *.ARCH.deb)
    (cd "$1" && apt-ftparchive packages pool) >"$T/Packages.all" 2>/dev/null
    for _a in amd64 arm64; do
        mkdir -p "$_s/main/binary-$_a"
        awk -v a="$_a" 'BEGIN { RS = ""; ORS = "\n\n" }
            $0 ~ ("\nArchitecture: (" a "|all)\n") { print }' "$T/Packages.all" >"$_s/main/binary-$_a/Packages"
    done
    up_apt_index "$@"
}

# up_apt_index DIR HOME FPR [VALID-UNTIL] : the compressed and by-hash
# copies of DIR's Packages files as they are now, then Release, InRelease
# and Release.gpg (for tests that edit a Packages file).
up_apt_index() {
    _d=$1 _h=$2 _k=$3 _vu=${4:-}
    _s=$_d/dists/stable
    for _a in amd64 arm64; do
        _b=$_s/main/binary-$_a
        rm -rf "$_b/by-hash" "$_b/Packages.xz" "$_b/Packages.gz"
        mkdir -p "$_b/by-hash/SHA256"
        # UP_XZ (a command, FILE as its argument, writing FILE.xz): how the
        # .xz is made; mirror_verify.sh makes multi-stream ones.
        ${UP_XZ:-xz -k -6} "$_b/Packages"
        gzip -9nk "$_b/Packages"
        for _f in Packages Packages.gz Packages.xz; do
            ln "$_b/$_f" "$_b/by-hash/SHA256/$(sha256sum "$_b/$_f" | cut -d' ' -f1)"
        done
    done
    up_apt_release "$@"
}

# up_apt_release DIR HOME FPR [VALID-UNTIL] : Release of the index files
# there are now, InRelease and Release.gpg.
up_apt_release() {
    _d=$1 _h=$2 _k=$3 _vu=${4:-}
    _s=$_d/dists/stable
    rm -f "$_s/Release" "$_s/InRelease" "$_s/Release.gpg"
    (cd "$_s" && apt-ftparchive -o APT::FTPArchive::Release::Origin=Grafana \
        -o APT::FTPArchive::Release::Label=Grafana -o APT::FTPArchive::Release::Suite=stable \
        -o APT::FTPArchive::Release::Codename=stable \
        -o APT::FTPArchive::Release::Architectures="amd64 arm64" \
        -o APT::FTPArchive::Release::Components=main release .) >"$T/Release.tmp"
    {
        sed -n '1,/^Date:/p' "$T/Release.tmp"
        [ -n "$_vu" ] && echo "Valid-Until: $_vu"
        echo "Acquire-By-Hash: yes"
        sed '1,/^Date:/d' "$T/Release.tmp"
    } >"$_s/Release"
    gpg --homedir "$_h" --batch --yes --quiet --local-user "$_k" --digest-algo SHA256 \
        --clearsign -o "$_s/InRelease" "$_s/Release"
    gpg --homedir "$_h" --batch --yes --quiet --local-user "$_k" --digest-algo SHA256 \
        -abs -o "$_s/Release.gpg" "$_s/Release"
}

# up_rpm_publish DIR HOME FPR : repodata/ and repomd.xml.asc.
up_rpm_publish() {
    createrepo_c --quiet --general-compress-type gz "$1" >/dev/null || return 1
    gpg --homedir "$2" --batch --yes --quiet --local-user "$3" --digest-algo SHA256 \
        --armor --detach-sign -o "$1/repodata/repomd.xml.asc" "$1/repodata/repomd.xml"
}

# mirror_conf FILE NAME TYPE URL KEYFILE FPR... : a mirror definition of
# alloy, keep 5, pinned to the fingerprints given.
mirror_conf() {
    _f=$1 _n=$2 _t=$3 _u=$4 _kf=$5
    shift 5
    {
        echo "Name: $_n"
        echo "Type: $_t"
        echo "URIs: $_u"
        if [ "$_t" = apt ]; then
            echo "Suites: stable"
            echo "Components: main"
            echo "Architectures: amd64 arm64"
            echo "Target: stable/main"
        else
            echo "Architectures: x86_64 aarch64"
            echo "Target: stable"
        fi
        echo "Signed-By: $_kf $*"
        echo "Include: alloy"
        echo "Keep-Versions: 5"
    } >"$_f"
}

# The whole-chain tests (mirror_apt.sh, mirror_dnf.sh), after common.sh,
# chroot.sh and nginx.sh.
# chain_keys : the upstream key (UH, UK, $T/upstream.asc) and ours (FPR,
# in GNUPGHOME); sets P, REPO and C.
# shellcheck disable=SC2034 # the variables are the sourcing test's
chain_keys() {
    P=$PKGSMITH
    UH=$T/up-gnupg
    UK=$(make_key "$UH" 'Upstream <up@example.test>')
    FPR=$(make_key "$T/gnupg" 'Repo Test <repo@example.test>')
    export GNUPGHOME="$T/gnupg"
    gpg --homedir "$UH" --batch --armor --export "$UK" >"$T/upstream.asc"
    REPO=$T/repo
    C=$T/root
}

# chain_sync TYPE : nginx for the upstream in $T/up (like a CDN) and for our
# repository, which is made (org acme), then `mirror sync` of alloy from
# it; sets UP_PIDFILE (the trap stops it), UP_URL and URL.
# shellcheck disable=SC2034 # UP_PIDFILE is the test's; NGINX_PLAIN nginx.sh's
chain_sync() {
    NGINX_PLAIN=1
    check "nginx serves the upstream" nginx_start "$T/up" "$T/nginx-up"
    UP_PIDFILE=$NGINX_PIDFILE UP_URL=http://127.0.0.1:$NGINX_PORT
    NGINX_PLAIN=
    check "nginx serves our repository" nginx_start "$REPO/public" "$T/nginx"
    URL=http://127.0.0.1:$NGINX_PORT
    "$P" repo init --root "$REPO" --key "$FPR" --org acme --url "$URL" >/dev/null
    mkdir -p "$T/mirrors.d"
    mirror_conf "$T/mirrors.d/grafana-$1.mirror" "grafana-$1" "$1" "$UP_URL" "$T/upstream.asc" "$UK"
    check "mirror sync" "$P" mirror sync --root "$REPO" --config "$T/mirrors.d"
}

# up_keys : the upstream key (UH, UK, $T/upstream.asc) and ours (OH, OURS);
# sets P.
# shellcheck disable=SC2034 # the variables are the sourcing test's
up_keys() {
    P=$PKGSMITH
    UH=$T/up-gnupg
    UK=$(make_key "$UH" 'Upstream <up@example.test>')
    OH=$T/our-gnupg
    OURS=$(make_key "$OH" 'Ours <ours@example.test>')
    gpg --homedir "$UH" --batch --armor --export "$UK" >"$T/upstream.asc" 2>/dev/null
}

# fault_server DIR ROOT : tests/lib/fault-http.py serving ROOT, its
# control file DIR/control.json (see faults), port DIR/port, log DIR/log;
# sets SRV (its PID, for the test's EXIT trap) and URL.
# shellcheck disable=SC2034 # the variables are the sourcing test's
fault_server() {
    mkdir -p "$1"
    printf '{"root": "%s", "rules": []}\n' "$2" >"$1/control.json"
    python3 "$top/tests/lib/fault-http.py" "$1/control.json" "$1/port" "$1/log" &
    SRV=$!
    _i=0
    while [ ! -s "$1/port" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
    URL=http://127.0.0.1:$(cat "$1/port" 2>/dev/null)
}
