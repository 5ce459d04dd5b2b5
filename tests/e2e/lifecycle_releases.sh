#!/bin/sh
# The full apt and dnf lifecycles (lifecycle_apt.sh, lifecycle_dnf.sh) on
# Debian 11 (bullseye: apt 2.2, rpm 4.16, dnf 4.5) and 13 (trixie: apt
# 3.0, rpm 4.20, dnf 4.23); tests/run runs them on bookworm by their own
# names.  Every step runs on every release (about 15 s each with cached
# bases, well inside make check's 30 minutes): each check's name starts
# with its release, so a failure names it.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
rc=0
for rel in bullseye trixie; do
    for t in lifecycle_apt lifecycle_dnf; do
        CHROOT_RELEASE=$rel CHECK_PREFIX="$rel: " sh "$top/tests/e2e/$t.sh" || rc=1
    done
done
exit $rc
