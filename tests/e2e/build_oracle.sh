#!/bin/sh
# Equivalence oracle: the same sources built by dpkg-deb -b and rpmbuild -bb
# (tests/lib/oracle.sh) and by pkgsmith give the same file lists, modes,
# owners, scripts and dependencies, as dpkg-deb and rpm -qp report them.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/oracle.sh
. "$top/tests/lib/oracle.sh"

# deb_facts DEB : what a user can query of a .deb, normalised.
deb_facts() {
    dpkg-deb --contents "$1" | awk '{ print $1, $2, $6 }'
    for f in Package Version Architecture Depends Pre-Depends Recommends Conflicts Provides; do
        printf '%s: %s\n' "$f" "$(dpkg-deb --field "$1" "$f")"
    done
    mkdir -p "$T/ctl" && rm -rf "$T/ctl"/*
    dpkg-deb --control "$1" "$T/ctl"
    for f in "$T/ctl"/*; do
        echo "== $(basename "$f") $(stat -c %a "$f")"
        cat "$f"
    done
}

# rpm_facts RPM : the same for an .rpm.
rpm_facts() {
    rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]' "$1"
    rpm -qp --scripts "$1"
    echo "== requires"
    rpm -qpR "$1" | sort
    echo "== provides"
    rpm -qp --provides "$1" | sort
    rpm -qp --qf 'NVRA %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\nSUMMARY %{SUMMARY}\nLICENSE %{LICENSE}\n' "$1"
}

for tree in "$top" "$top/tests/fixtures/alloy"; do
    name=$(basename "$tree")
    mkdir -p "$T/src-$name"
    (cd "$tree" && tar -cf - debian specs package files pkgsmith.settings 2>/dev/null) |
        (cd "$T/src-$name" && tar -xf -)
    check "oracle ($name): dpkg-deb -b and rpmbuild -bb build" \
        sh -c ". '$top/tests/lib/oracle.sh' && oracle_deb '$T/src-$name' '$T/ref-$name' && oracle_rpm '$T/src-$name' '$T/ref-$name'"
    check "oracle ($name): pkgsmith builds" \
        "$PKGSMITH" build --no-sign --out "$T/ps-$name" "$T/src-$name"
    for ref in "$T/ref-$name"/*; do
        pkg=$T/ps-$name/$(basename "$ref")
        case $ref in
        *.deb) deb_facts "$ref" >"$T/want" 2>&1; deb_facts "$pkg" >"$T/got" 2>&1 ;;
        *.rpm) rpm_facts "$ref" >"$T/want" 2>&1; rpm_facts "$pkg" >"$T/got" 2>&1 ;;
        esac
        if diff -u "$T/want" "$T/got" >"$T/diff"; then
            ok "oracle: $(basename "$ref") matches the reference tool's"
        else
            not_ok "oracle: $(basename "$ref") matches the reference tool's" "differences:"
            sed 's/^/#   /' "$T/diff" | head -40
        fi
    done
done
