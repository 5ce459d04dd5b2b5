# tests/lib/oracle.sh - builds a pkgsmith source tree with the reference
# tools, as an oracle for pkgsmith (and as the peers of bench/build).
# Independent of pkgsmith's C code: the staging tree is made here in shell,
# the control file by dpkg-gencontrol, the .deb by dpkg-deb -b, the .rpm by
# rpmbuild -bb.  POSIX sh; sourced, so every helper name starts with
# "oracle_" or "_oracle_" and every variable with "_"; safe under set -eu
# (bench/build).
#
#   oracle_deb SRC OUT   one .deb per binary stanza of SRC/debian/control
#   oracle_rpm SRC OUT   one .rpm per package of each SRC/specs/*.spec
#
# The conventions (pkgsmith's, see src/lib/build/ps_deb.h, ps_rpm.h, ps_source.h):
# version and release from the top entry of debian/changelog; build
# settings and their defaults from SRC/pkgsmith.settings; a "*.in" source is
# rendered (@name@ -> value) and installed without the suffix; maintainer
# scripts, config and templates are rendered too; executable sources get
# 0755, other files 0644, directories 0755, everything root:root;
# debian/changelog and debian/copyright go to /usr/share/doc/P/; files
# under /etc are conffiles; ${misc:Depends} is the debconf dependency when
# the package has templates.

# oracle_settings SRC : "name value" lines: version, release, then the
# defaults of SRC/pkgsmith.settings.
oracle_settings() {
    _v=$(dpkg-parsechangelog -l "$1/debian/changelog" -S Version) || return 1
    echo "version ${_v%-*}"
    echo "release ${_v##*-}"
    [ -f "$1/pkgsmith.settings" ] &&
        sed -n 's/^\([a-z][a-z0-9_]*\): *\(.*\)$/\1 \2/p' "$1/pkgsmith.settings"
    return 0
}

# oracle_epoch SRC : $SOURCE_DATE_EPOCH, else the date of the top changelog
# entry (pkgsmith's default, and dpkg-buildpackage's).
oracle_epoch() {
    if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
        echo "$SOURCE_DATE_EPOCH"
    else
        dpkg-parsechangelog -l "$1/debian/changelog" -S Timestamp
    fi
}

# oracle_render SRC FILE : FILE with every @name@ of a setting replaced.
oracle_render() {
    _sed=$(mktemp "${TMPDIR:-/tmp}/oracle-sed.XXXXXX") || return 1
    oracle_settings "$1" | sed 's/[&|\\]/\\&/g; s/^\([^ ]*\) \(.*\)$/s|@\1@|\2|g/' >"$_sed" &&
        sed -f "$_sed" "$2"
    _rc=$?
    rm -f "$_sed"
    return $_rc
}

# _oracle_pkgfile SRC PKG FIRST WHAT : debian/PKG.WHAT, or debian/WHAT for
# the first package (debhelper's rule).
_oracle_pkgfile() {
    if [ -e "$1/debian/$2.$4" ]; then
        echo "$1/debian/$2.$4"
    elif [ "$3" = 1 ] && [ -e "$1/debian/$4" ]; then
        echo "$1/debian/$4"
    fi
}

# _oracle_put SRC FILE DEST : installs FILE (rendered if *.in) at DEST,
# 0755 if FILE is executable, else 0644.
_oracle_put() {
    mkdir -p "$(dirname "$3")" || return 1
    case $2 in
    *.in) oracle_render "$1" "$2" >"$3" ;;
    *) cat "$2" >"$3" ;;
    esac || return 1
    if [ -x "$2" ]; then chmod 0755 "$3"; else chmod 0644 "$3"; fi
}

# _oracle_install SRC PKG FIRST STAGE : the lines of debian/PKG.install,
# "SRC [DESTDIR]" as dh_install (SRC may be a glob) or "SRC => /DEST".
_oracle_install() {
    _f=$(_oracle_pkgfile "$1" "$2" "$3" install)
    [ -n "$_f" ] || return 0
    grep -v '^[[:space:]]*\(#\|$\)' "$_f" | {
        while read -r _s _d _p; do
            if [ "$_d" = "=>" ]; then
                _oracle_put "$1" "$1/$_s" "$4$_p" || exit 1
                continue
            fi
            for _m in "$1"/$_s; do
                [ -e "$_m" ] || { echo "oracle: $_f: no file $_s" >&2; exit 1; }
                _b=$(basename "$_m" .in)
                if [ -n "$_d" ]; then
                    _oracle_put "$1" "$_m" "$4/$_d/$_b" || exit 1
                else
                    _oracle_put "$1" "$_m" "$4/$(dirname "${_m#"$1"/}")/$_b" || exit 1
                fi
            done
        done
    }
}

# _oracle_control SRC PKG FIRST STAGE : STAGE/DEBIAN: maintainer scripts,
# config and templates (rendered), conffiles, md5sums (conffiles excluded,
# as dh_md5sums does) and control (dpkg-gencontrol).
_oracle_control() {
    find "$4" -type d -exec chmod 0755 {} + || return 1
    mkdir -p "$4/DEBIAN" && chmod 0755 "$4/DEBIAN" || return 1
    for _w in preinst postinst prerm postrm config templates; do
        _f=$(_oracle_pkgfile "$1" "$2" "$3" "$_w")
        [ -n "$_f" ] || continue
        oracle_render "$1" "$_f" >"$4/DEBIAN/$_w" || return 1
        if [ "$_w" = templates ]; then chmod 0644 "$4/DEBIAN/$_w"; else chmod 0755 "$4/DEBIAN/$_w"; fi
    done
    _f=$(_oracle_pkgfile "$1" "$2" "$3" conffiles)
    {
        (cd "$4" && find etc -type f 2>/dev/null | sed 's|^|/|' | LC_ALL=C sort)
        [ -z "$_f" ] || grep -v '^[[:space:]]*$' "$_f"
    } | awk '!seen[$0]++' >"$4/DEBIAN/conffiles"
    if [ -s "$4/DEBIAN/conffiles" ]; then
        chmod 0644 "$4/DEBIAN/conffiles"
    else
        rm -f "$4/DEBIAN/conffiles"
    fi
    (cd "$4" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
        while read -r _x; do
            grep -qxF "/$_x" DEBIAN/conffiles 2>/dev/null || md5sum "$_x" || exit 1
        done) >"$4/DEBIAN/md5sums" || return 1
    chmod 0644 "$4/DEBIAN/md5sums"
    _sv=$4.substvars
    : >"$_sv"
    [ ! -e "$4/DEBIAN/templates" ] || echo 'misc:Depends=debconf (>= 0.5) | debconf-2.0' >"$_sv"
    (cd "$1" && dpkg-gencontrol -p"$2" -P"$4" -T"$_sv" -f"$4.files" -O >"$4/DEBIAN/control.new") &&
        mv "$4/DEBIAN/control.new" "$4/DEBIAN/control" && chmod 0644 "$4/DEBIAN/control"
    _rc=$?
    rm -f "$_sv" "$4.files" "$4/DEBIAN/control.new"
    return $_rc
}

# oracle_deb SRC OUT : one .deb per binary stanza of SRC/debian/control,
# by dpkg-deb -b (xz, root:root, mtimes clamped to oracle_epoch).
oracle_deb() {
    _first=1
    mkdir -p "$2" || return 1
    _sde=$(oracle_epoch "$1") || return 1
    # shellcheck disable=SC2013 # package names are single words
    for _pkg in $(sed -n 's/^Package: *//p' "$1/debian/control"); do
        _st=$(mktemp -d "${TMPDIR:-/tmp}/oracle-deb.XXXXXX") || return 1
        if ! _oracle_stage_deb "$1" "$_pkg" "$_first" "$_st" ||
            ! SOURCE_DATE_EPOCH=$_sde dpkg-deb --root-owner-group -Zxz -b "$_st" "$2" >/dev/null; then
            rm -rf "$_st"
            return 1
        fi
        rm -rf "$_st"
        _first=0
    done
}

_oracle_stage_deb() { # SRC PKG FIRST STAGE
    _oracle_install "$1" "$2" "$3" "$4" || return 1
    _doc=$4/usr/share/doc/$2
    mkdir -p "$_doc" || return 1
    cat "$(_oracle_pkgfile "$1" "$2" 1 copyright)" >"$_doc/copyright" || return 1
    gzip -9nc "$1/debian/changelog" >"$_doc/changelog.Debian.gz" || return 1
    chmod 0644 "$_doc/copyright" "$_doc/changelog.Debian.gz"
    _oracle_control "$1" "$2" "$3" "$4"
}

# oracle_rpm SRC OUT : rpmbuild -bb of every SRC/specs/*.spec into OUT,
# with pkgsmith's macros (_sourcedir, pkgversion, pkgrelease, one per
# setting) and without brp post-processing, as pkgsmith builds; build time
# and mtimes from oracle_epoch.
oracle_rpm() {
    _src=$(cd "$1" && pwd) || return 1
    _sde=$(oracle_epoch "$_src") || return 1
    mkdir -p "$2" || return 1
    _out=$(cd "$2" && pwd) || return 1
    _top=$(mktemp -d "$_out/.oracle-rpmbuild.XXXXXX") || return 1
    set -- --define "_topdir $_top" --define "_sourcedir $_src" --define "_rpmdir $_out" \
        --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
        --define '__spec_install_post %{nil}' --define '__os_install_post %{nil}' \
        --define '_binary_payload w6.xzdio' --define 'debug_package %{nil}' \
        --define 'use_source_date_epoch_as_buildtime 1' --define 'clamp_mtime_to_source_date_epoch 1' \
        --define '_buildhost pkgsmith'
    while read -r _n _val; do
        [ -n "$_val" ] || _val='%{nil}'
        case $_n in
        version) set -- "$@" --define "pkgversion $_val" ;;
        release) set -- "$@" --define "pkgrelease $_val" ;;
        *) set -- "$@" --define "$_n $_val" ;;
        esac
    done <<EOF2
$(oracle_settings "$_src")
EOF2
    for _spec in "$_src"/specs/*.spec; do
        if ! SOURCE_DATE_EPOCH=$_sde rpmbuild --quiet "$@" -bb "$_spec" >/dev/null; then
            rm -rf "$_top"
            return 1
        fi
    done
    rm -rf "$_top"
}
