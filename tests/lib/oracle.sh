# tests/lib/oracle.sh - build the same sources with the reference tools, as
# an oracle for pkgsmith (and as the peers of bench/build).  Independent of
# pkgsmith's C code: staging in shell, control file by dpkg-gencontrol,
# archive by dpkg-deb -b; rpms by rpmbuild -bb.

# oracle_settings SRC : "name value" lines: version, release, then the
# defaults of SRC/pkgsmith.settings.
oracle_settings() {
    _v=$(dpkg-parsechangelog -l "$1/debian/changelog" -S Version)
    echo "version ${_v%-*}"
    echo "release ${_v##*-}"
    [ -f "$1/pkgsmith.settings" ] &&
        sed -n 's/^\([a-z][a-z0-9_]*\): *\(.*\)$/\1 \2/p' "$1/pkgsmith.settings"
    return 0
}

# oracle_render SRC FILE : FILE with every @name@ replaced.
oracle_render() {
    oracle_settings "$1" | sed 's/[&|\\]/\\&/g; s/^\([^ ]*\) \(.*\)$/s|@\1@|\2|g/' >"$1.oracle.sed.$$"
    sed -f "$1.oracle.sed.$$" "$2"
    rm -f "$1.oracle.sed.$$"
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

# _oracle_put SRC FILE DEST : installs FILE (rendered if *.in) at DEST.
_oracle_put() {
    mkdir -p "$(dirname "$3")"
    case $2 in
    *.in) oracle_render "$1" "$2" >"$3" ;;
    *) cat "$2" >"$3" ;;
    esac
    if [ -x "$2" ]; then chmod 0755 "$3"; else chmod 0644 "$3"; fi
}

_oracle_install() { # SRC PKG FIRST STAGE
    _f=$(_oracle_pkgfile "$1" "$2" "$3" install)
    [ -n "$_f" ] || return 0
    grep -v '^[[:space:]]*\(#\|$\)' "$_f" | while read -r _s _d _p; do
        if [ "$_d" = "=>" ]; then
            _oracle_put "$1" "$1/$_s" "$4$_p"
            continue
        fi
        for _m in "$1"/$_s; do
            _b=$(basename "$_m" .in)
            if [ -n "$_d" ]; then
                _oracle_put "$1" "$_m" "$4/$_d/$_b"
            else
                _oracle_put "$1" "$_m" "$4/${_m#"$1"/}"
            fi
        done
    done
}

_oracle_control() { # SRC PKG FIRST STAGE
    mkdir -p "$4/DEBIAN"
    for _w in preinst postinst prerm postrm config templates; do
        _f=$(_oracle_pkgfile "$1" "$2" "$3" "$_w")
        [ -n "$_f" ] || continue
        oracle_render "$1" "$_f" >"$4/DEBIAN/$_w"
        if [ "$_w" = templates ]; then chmod 0644 "$4/DEBIAN/$_w"; else chmod 0755 "$4/DEBIAN/$_w"; fi
    done
    (cd "$4" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) >"$4/DEBIAN/conffiles"
    _f=$(_oracle_pkgfile "$1" "$2" "$3" conffiles)
    [ -n "$_f" ] && cat "$_f" >>"$4/DEBIAN/conffiles"
    [ -s "$4/DEBIAN/conffiles" ] || rm -f "$4/DEBIAN/conffiles"
    (cd "$4" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
        while read -r _x; do
            grep -qx "/$_x" DEBIAN/conffiles 2>/dev/null || md5sum "$_x"
        done) >"$4/DEBIAN/md5sums"
    _sv=$4.substvars
    : >"$_sv"
    [ -e "$4/DEBIAN/templates" ] && echo 'misc:Depends=debconf (>= 0.5) | debconf-2.0' >"$_sv"
    (cd "$1" && dpkg-gencontrol -p"$2" -P"$4" -T"$_sv" -f"$4.files" -O >"$4/DEBIAN/control.new") &&
        mv "$4/DEBIAN/control.new" "$4/DEBIAN/control"
    rm -f "$_sv" "$4.files"
}

# oracle_deb SRC OUT : one .deb per binary stanza of SRC/debian/control.
oracle_deb() {
    _first=1
    mkdir -p "$2"
    # shellcheck disable=SC2013 # package names are single words
    for _pkg in $(sed -n 's/^Package: *//p' "$1/debian/control"); do
        _st=$(mktemp -d "${TMPDIR:-/tmp}/oracle-deb.XXXXXX")
        chmod 0755 "$_st"
        _oracle_install "$1" "$_pkg" "$_first" "$_st"
        mkdir -p "$_st/usr/share/doc/$_pkg"
        cp "$(_oracle_pkgfile "$1" "$_pkg" 1 copyright)" "$_st/usr/share/doc/$_pkg/copyright"
        gzip -9nc "$1/debian/changelog" >"$_st/usr/share/doc/$_pkg/changelog.Debian.gz"
        chmod 0644 "$_st/usr/share/doc/$_pkg/"*
        _oracle_control "$1" "$_pkg" "$_first" "$_st"
        dpkg-deb --root-owner-group -Zxz -b "$_st" "$2" >/dev/null || return 1
        rm -rf "$_st"
        _first=0
    done
}

# oracle_rpm SRC OUT : rpmbuild -bb of every SRC/specs/*.spec.
oracle_rpm() {
    _top=$(mktemp -d "${TMPDIR:-/tmp}/oracle-rpm.XXXXXX")
    _src=$(cd "$1" && pwd)
    mkdir -p "$2"
    _out=$(cd "$2" && pwd)
    set -- --define "_topdir $_top" --define "_sourcedir $_src" --define "_rpmdir $_out" \
        --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
        --define '__spec_install_post %{nil}' --define '__os_install_post %{nil}' \
        --define '_binary_payload w6.xzdio' --define 'debug_package %{nil}'
    while read -r _n _val; do
        case $_n in
        version) set -- "$@" --define "pkgversion $_val" ;;
        release) set -- "$@" --define "pkgrelease $_val" ;;
        *) set -- "$@" --define "$_n $_val" ;;
        esac
    done <<EOF2
$(oracle_settings "$_src")
EOF2
    for _spec in "$_src"/specs/*.spec; do
        rpmbuild --quiet "$@" -bb "$_spec" >/dev/null || { rm -rf "$_top"; return 1; }
    done
    rm -rf "$_top"
}
