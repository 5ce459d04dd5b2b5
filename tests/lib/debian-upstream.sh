# shellcheck shell=sh
# tests/lib/debian-upstream.sh - a real, signed upstream nobody here wrote:
# Debian's bookworm InRelease and main/amd64 Packages as the host's apt
# fetched them (/var/lib/apt/lists/), and the real .debs of a selection
# (apt-get download), laid out as the InRelease names them, to be served
# on 127.0.0.1.  Used by tests/e2e/mirror_debian.sh and bench/mirror.
# Needs $T.
: "${T:?}"
DEB_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# deb_lists : sets DEB_PACKAGES_LIST and DEB_INRELEASE_LIST, the host's
# copies (apt may keep Packages compressed, e.g. .lz4); with none, runs
# apt-get update (under the host's apt lock) once.  Fails, saying why,
# when they still are not there.
deb_lists() {
    # shellcheck disable=SC2016 # apt's own $(FILENAME) placeholder
    _f='$(FILENAME)'
    _q() {
        apt-get indextargets --format "$_f" 'Identifier: Packages' 'Codename: bookworm' \
            'Component: main' 'Architecture: amd64' 2>/dev/null | head -n 1
    }
    DEB_PACKAGES_LIST=$(_q)
    if [ -z "$DEB_PACKAGES_LIST" ] || [ ! -f "$DEB_PACKAGES_LIST" ]; then
        echo "# no bookworm lists in /var/lib/apt/lists: running apt-get update" >&2
        flock /tmp/apt.lock apt-get update -qq >&2 || true
        DEB_PACKAGES_LIST=$(_q)
    fi
    DEB_INRELEASE_LIST=$(printf '%s\n' "$DEB_PACKAGES_LIST" | sed 's,_main_binary-amd64_Packages[^/]*$,_InRelease,')
    if [ -z "$DEB_PACKAGES_LIST" ] || [ ! -f "$DEB_PACKAGES_LIST" ] || [ ! -f "$DEB_INRELEASE_LIST" ]; then
        echo "deb_lists: no Debian bookworm main/amd64 InRelease and Packages in /var/lib/apt/lists" \
            "even after apt-get update (is bookworm in the host's apt sources?)" >&2
        return 1
    fi
}

# deb_dists DIR : DIR/dists/bookworm with the InRelease and the unpacked
# Packages (the only form whose hash the InRelease lists that apt's copy
# gives back), also by-hash as Debian serves it.
deb_dists() {
    _b=$1/dists/bookworm/main/binary-amd64
    mkdir -p "$_b/by-hash/SHA256"
    cp "$DEB_INRELEASE_LIST" "$1/dists/bookworm/InRelease"
    /usr/lib/apt/apt-helper cat-file "$DEB_PACKAGES_LIST" >"$_b/Packages" || return 1
    ln "$_b/Packages" "$_b/by-hash/SHA256/$(sha256sum <"$_b/Packages" | cut -d' ' -f1)"
}

# deb_apt DIR URI : a private apt (its own lists, cache and an EMPTY dpkg
# status: a system with nothing installed) whose only source is URI;
# sets APT_CONFIG for the caller's apt commands.
deb_apt() {
    _a=$1
    mkdir -p "$_a/lists/partial" "$_a/cache/archives/partial" "$_a/etc/apt.conf.d" \
        "$_a/etc/preferences.d" "$_a/etc/sources.list.d"
    : >"$_a/status"
    echo "deb [signed-by=$DEB_KEYRING] $2 bookworm main" >"$_a/etc/sources.list"
    cat >"$_a/apt.conf" <<EOF
Dir::State "$_a";
Dir::State::Lists "$_a/lists";
Dir::State::status "$_a/status";
Dir::Cache "$_a/cache";
Dir::Etc "$_a/etc";
Dir::Etc::sourcelist "$_a/etc/sources.list";
Dir::Etc::sourceparts "$_a/etc/sources.list.d";
Dir::Etc::parts "$_a/etc/apt.conf.d";
Dir::Etc::preferencesparts "$_a/etc/preferences.d";
APT::Architecture "amd64";
APT::Architectures "amd64";
APT::Install-Recommends "false";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
    APT_CONFIG=$_a/apt.conf
    export APT_CONFIG
}

# deb_closure URL PKG... : NAME=VERSION lines (sorted) of what a real
# `apt-get install --simulate` installs on an empty system, against the
# upstream at URL.  Leaves APT_CONFIG unset.
deb_closure() {
    _d=$1
    shift
    deb_apt "$T/deb-apt" "$_d"
    apt-get update -qq >&2 && apt-get install --simulate "$@" 2>/dev/null |
        sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' | sort
    _rc=$?
    unset APT_CONFIG
    return $_rc
}

# deb_pool DIR CACHE CLOSURE-FILE : the real .debs of the closure under
# DIR/pool/ by each stanza's Filename, fetched once with the host's apt
# into CACHE and checked against the stanza's SHA256.
deb_pool() {
    _d=$1 _c=$2
    mkdir -p "$_c"
    # shellcheck disable=SC2046 # one word per package
    (cd "$_c" && flock /tmp/apt.lock apt-get download -qq -o APT::Sandbox::User=root $(cat "$3")) >&2 || return 1
    APT_CONFIG=$T/deb-apt/apt.conf
    export APT_CONFIG
    # shellcheck disable=SC2046
    apt-cache show $(cat "$3") | awk '/^Filename:/ { f = $2 } /^SHA256:/ { print $2, f }' >"$T/deb-files"
    unset APT_CONFIG
    while read -r _h _f; do
        _got=
        for _deb in "$_c"/*.deb; do
            [ "$(sha256sum <"$_deb" | cut -d' ' -f1)" = "$_h" ] && _got=$_deb && break
        done
        [ -n "$_got" ] || { echo "deb_pool: no download with SHA256 $_h for $_f" >&2; return 1; }
        mkdir -p "$_d/$(dirname "$_f")"
        cp "$_got" "$_d/$_f"
    done <"$T/deb-files"
    chmod -R a+rX "$_d"
}

# deb_pins : the primary fingerprints of Debian's archive keyring.
deb_pins() {
    gpg --show-keys --with-colons "$DEB_KEYRING" 2>/dev/null |
        awk -F: '$1 == "pub" { p = 1; next } p && $1 == "fpr" { printf "%s ", $10; p = 0 }'
}

# deb_mirror_conf FILE URL PINS : hello and jq with their dependencies.
deb_mirror_conf() {
    cat >"$1" <<EOF
Name: debian
Type: apt
URIs: $2
Suites: bookworm
Components: main
Architectures: amd64
Target: bookworm/main
Signed-By: $DEB_KEYRING $3
Include: hello jq
Follow-Dependencies: yes
Keep-Versions: 1
EOF
}
