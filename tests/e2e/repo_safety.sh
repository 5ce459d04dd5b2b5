#!/bin/sh
# Bugs of issue 19, each reproduced: client-package's Maintainer (lintian
# on an internal-domain and an IP Base-URL), client-package --no-sign with
# only the public key, PKGSMITH_SIGNING_KEY never conflicting with
# --no-sign, no socket directory left by verifier homes, repo add all or
# nothing (a bad file in the batch, a full disk, kill -9), and repo
# rollback as one crash-safe step.
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

H=$T/gnupg
FPR=$(make_key "$H" 'Repo Test <repo@example.test>')
export GNUPGHOME="$H"
P=$PKGSMITH
"$P" build --key "$FPR" --out "$T/pkgs" "$top" >/dev/null
"$P" build --key "$FPR" --out "$T/pkgs" "$top/tests/fixtures/alloy" >/dev/null

# ---- environment defaults never conflict with explicit options ---------
check "build --no-sign with PKGSMITH_SIGNING_KEY set builds unsigned" \
    env PKGSMITH_SIGNING_KEY="$FPR" "$P" build --no-sign --format deb --out "$T/nosign" "$top"
check "...and the .deb has no signature member" sh -c "! ar t '$T'/nosign/*.deb | grep -q _gpgorigin"
check_fails "--key with --no-sign is still a usage error" 64 "exclude each other" \
    "$P" build --key "$FPR" --no-sign --out "$T/x" "$top"

# ---- client-package: Maintainer, lintian, the public key alone ----------
for url in http://repo.acme.internal http://192.0.2.10:8080; do
    R=$T/client-$(echo "$url" | tr -c 'a-z0-9\n' '_')
    "$P" repo init --root "$R" --key "$FPR" --org acme --url "$url" >/dev/null
    check "client-package with Base-URL $url" "$P" repo client-package --root "$R" --out "$R/out"
    deb=$(ls "$R"/out/acme-repo_*.deb)
    check_eq "Base-URL $url: Maintainer is the repo.conf default" "acme repository <packages@acme.invalid>" \
        "$(dpkg-deb -f "$deb" Maintainer)"
    lintian --no-tag-display-limit "$deb" >"$R/lintian" 2>&1
    check "Base-URL $url: lintian reports no error (no bogus-mail-host)" sh -c "! grep '^E:' '$R/lintian'"
    grep '^E:' "$R/lintian" | sed 's/^/#   /'
done
printf 'Maintainer: Acme Ops <ops@acme.example>\n' >"$T/m.conf"
sed -i 's/^Maintainer:.*/Maintainer: Acme Ops <ops@acme.example>/' "$R/repo.conf"
check "client-package with a Maintainer setting" "$P" repo client-package --root "$R" --out "$R/out2"
check_eq "the setting is the package's Maintainer" "Acme Ops <ops@acme.example>" \
    "$(dpkg-deb -f "$(ls "$R"/out2/acme-repo_*.deb)" Maintainer)"
sed -i 's/^Maintainer:.*/Maintainer: nobody/' "$R/repo.conf"
check_fails "a Maintainer that is no address is refused, naming repo.conf" 2 "repo.conf: Maintainer 'nobody'" \
    "$P" repo client-package --root "$R" --out "$R/out3"
sed -i 's/^Maintainer:.*/Maintainer: Acme Ops <ops@acme.example>/' "$R/repo.conf"

HP=$T/gnupg-public-only
mkdir -p "$HP" && chmod 700 "$HP"
gpg --homedir "$H" --armor --export "$FPR" | gpg --homedir "$HP" --batch --quiet --import 2>/dev/null
check "client-package --no-sign with only the public key" env GNUPGHOME="$HP" \
    SOURCE_DATE_EPOCH=1700000000 "$P" repo client-package --root "$R" --no-sign --out "$T/pub"
check "client-package --no-sign with the secret key" env SOURCE_DATE_EPOCH=1700000000 \
    "$P" repo client-package --root "$R" --no-sign --out "$T/sec"
check "...both builds are the same bytes" sh -c "cmp '$T'/pub/acme-repo_*.deb '$T'/sec/acme-repo_*.deb && cmp '$T'/pub/acme-repo-*.rpm '$T'/sec/acme-repo-*.rpm"
check_fails "without --no-sign the public key alone is refused by name" 2 "no secret key $FPR" \
    env GNUPGHOME="$HP" "$P" repo client-package --root "$R" --out "$T/pub2"

# ---- verifier homes leave no socket directory --------------------------
# Other processes use /run/user/0/gnupg too, so the check follows our own
# mkdir and rmdir calls there instead of counting the directory.
RV=$T/verified
"$P" repo init --root "$RV" --key "$FPR" >/dev/null
gpg --homedir "$H" --armor --export "$FPR" >"$T/ours.asc"
printf 'Package-Keys: %s\n' "$T/ours.asc" >>"$RV/repo.conf"
"$P" repo add --root "$RV" "$T"/pkgs/alloy-journal-loki* >/dev/null
"$P" repo publish --root "$RV" >/dev/null
mkdir -p "$T/vtmp"
TMPDIR=$T/vtmp "$P" repo verify --root "$RV" >/dev/null
check_eq "verifier homes are removed" "" "$(ls "$T/vtmp")"
if [ -d /run/user/0 ]; then
    strace -f -qq -e trace=mkdir,rmdir -o "$T/sockdirs" "$P" repo verify --root "$RV" >/dev/null
    strace -f -qq -e trace=mkdir,rmdir -o "$T/sockdirs2" "$P" repo add --root "$RV" "$T"/pkgs/alloy_* >/dev/null
    made=$(cat "$T/sockdirs" "$T/sockdirs2" | grep -o 'mkdir("/run/user/0/gnupg/d\.[^"]*", [0-9]*) = 0' | cut -d'"' -f2 | sort)
    gone=$(cat "$T/sockdirs" "$T/sockdirs2" | grep -o 'rmdir("/run/user/0/gnupg/d\.[^"]*") = 0' | cut -d'"' -f2 | sort)
    check "repo verify and an add with Package-Keys make a socket directory (or the check is void)" test -n "$made"
    check_eq "...and remove every one they made" "$made" "$gone"
else
    # Without /run/user/0 gpg keeps the sockets in the home, removed above.
    echo "# skipped: the /run/user/0/gnupg checks (no /run/user/0 on this machine)"
fi

# ---- repo add: all or nothing ------------------------------------------
R=$T/repo
"$P" repo init --root "$R" --key "$FPR" >/dev/null
"$P" repo add --root "$R" "$T"/pkgs/alloy-journal-loki_* >/dev/null
files() { find "$1/pool" "$1/meta" -type f | sort; }
files "$R" >"$T/files.before"
echo "not a package" >"$T/junk.deb"
check_fails "a batch with one bad file is refused" 2 "junk.deb: neither" \
    "$P" repo add --root "$R" "$T"/pkgs/alloy_* "$T"/pkgs/alloy-1* "$T/junk.deb"
check_eq "...and leaves no file of the good ones in pool/ or meta/" "$(cat "$T/files.before")" "$(files "$R")"
check_eq "...nor anything staged in tmp/" "" "$(find "$R/tmp" -type f)"

# kill -9 while the batch is staged, and at its commit (the renames).
for point in write:when=20 rename:when=2; do
    sc=${point%%:*} when=${point#*:}
    strace -qq -f -o /dev/null -e trace="$sc" -e inject="$sc:signal=SIGKILL:$when" \
        "$P" repo add --root "$R" "$T"/pkgs/alloy_* "$T"/pkgs/alloy-1* >/dev/null 2>&1
    check "kill -9 at $point of add: publish completes" "$P" repo publish --root "$R"
    check "kill -9 at $point of add: verify passes" "$P" repo verify --root "$R"
done
check "after the kills the same add completes" "$P" repo add --root "$R" "$T"/pkgs/alloy_* "$T"/pkgs/alloy-1*
check "...and publishes" "$P" repo publish --root "$R"
check "...and verifies" "$P" repo verify --root "$R"

M=$T/small
mkdir -p "$M"
if mount -t tmpfs -o size=3m tmpfs "$M" 2>/dev/null; then
    "$P" repo init --root "$M/r" --key "$FPR" >/dev/null
    "$P" repo add --root "$M/r" "$T"/pkgs/alloy-journal-loki_* >/dev/null
    "$P" repo publish --root "$M/r" >/dev/null
    files "$M/r" >"$T/small.before"
    # Room for the first file of the batch (15 kB) and its record, not
    # for the second (17 kB).
    "$P" build --key "$FPR" --set version=1.0.1 --out "$T/big" "$top" >/dev/null
    first=$(stat -c %s "$T"/big/*.deb)
    avail=$(df --output=avail -B1 "$M" | tail -n1)
    head -c $((avail - first - 8192)) /dev/zero >"$M/fill"
    used=$(df --output=used "$M" | tail -n1)
    check_fails "a batch that does not fit fails with ENOSPC" 1 "No space left on device" \
        "$P" repo add --root "$M/r" "$T"/big/*.deb "$T"/big/*.rpm
    check_eq "ENOSPC: pool/ and meta/ are as before" "$(cat "$T/small.before")" "$(files "$M/r")"
    check_eq "ENOSPC: the space it took is free again" "$used" "$(df --output=used "$M" | tail -n1)"
    rm -f "$M/fill"
    check "ENOSPC: the next publish completes" "$P" repo publish --root "$M/r"
    check "ENOSPC: verify passes" "$P" repo verify --root "$M/r"
    umount "$M"
else
    not_ok "full disk" "cannot mount a small tmpfs here"
fi

# ---- repo rollback: one crash-safe step --------------------------------
R=$T/rb
"$P" repo init --root "$R" --key "$FPR" >/dev/null
"$P" repo add --root "$R" "$T"/pkgs/alloy-journal-loki_* >/dev/null
"$P" repo publish --root "$R" >/dev/null
"$P" repo add --root "$R" "$T"/pkgs/alloy_* >/dev/null
"$P" repo publish --root "$R" >/dev/null
set_of() { cut -f3,4 "$R/generations/$1/packages" | sort; }
# Every rename of rollback in turn: the intent, public, the working set.
for when in 1 2 3; do
    strace -qq -o /dev/null -e trace=rename -e inject="rename:signal=SIGKILL:$when" \
        "$P" repo rollback --root "$R" >/dev/null 2>&1
    served=$(readlink "$R/public" | sed 's|generations/\([0-9]*\)/tree|\1|')
    "$P" repo list --root "$R" | awk '{print $3 "\t" $4}' | sort >"$T/listed"
    check "kill -9 at rename $when of rollback: the next publish completes" "$P" repo publish --root "$R"
    new=$(readlink "$R/public" | sed 's|generations/\([0-9]*\)/tree|\1|')
    if [ -f "$R/db/rollback" ]; then not_ok "kill -9 at rename $when: intent finished" "db/rollback left"; else ok "kill -9 at rename $when: no unfinished rollback is left"; fi
    # Either the rollback happened (the set of the generation before) or
    # not at all (the set that was served): never a mix.
    check_eq "kill -9 at rename $when: list showed what the publish then published" \
        "$(cat "$T/listed")" "$(set_of "$new")"
    if [ "$(set_of "$new")" = "$(set_of "$served")" ] || [ -z "$served" ]; then
        ok "kill -9 at rename $when: the publish serves the set that was served after the crash"
    else
        not_ok "kill -9 at rename $when: the publish serves the set that was served after the crash" \
            "served gen $served, published gen $new with another set"
    fi
    "$P" repo add --root "$R" "$T"/pkgs/alloy_* >/dev/null
    "$P" repo publish --root "$R" >/dev/null
done
