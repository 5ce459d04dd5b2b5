#!/bin/sh
# chain.sh - the preamble of the end-to-end chain tests (mirror_*, repo_*,
# bundle): the shared libraries, and the one EXIT trap that stops, by PID,
# every nginx such a test starts - ours (NGINX_PIDFILE) and the stand-in
# upstream's (UP_PIDFILE, set by chain_sync or airgap_setup) - before $T
# goes.  Sourced after the test's own check for $top.
: "${top:?}"
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"
# shellcheck source=tests/lib/chroot.sh
. "$top/tests/lib/chroot.sh"
# shellcheck source=tests/lib/nginx.sh
. "$top/tests/lib/nginx.sh"
# shellcheck source=tests/lib/upstream.sh
. "$top/tests/lib/upstream.sh"
UP_PIDFILE=
trap 'nginx_stop; NGINX_PIDFILE=$UP_PIDFILE nginx_stop; t_cleanup' EXIT

# chain_repo_keys : our signing key FPR in H ($GNUPGHOME), and P, REPO, C
# for a test that serves a repository of its own (no upstream).
# shellcheck disable=SC2034 # P, REPO and C are the test's
chain_repo_keys() {
    H=$T/gnupg
    FPR=$(make_key "$H" 'Repo Test <repo@example.test>')
    export GNUPGHOME="$H"
    P=$PKGSMITH
    REPO=$T/repo
    C=$T/root
}
