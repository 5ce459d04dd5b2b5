#!/bin/sh
# Build once, promote the tested bytes (issue 19): one signed build of
# alloy-journal-loki in suite and rpm repo staging, `repo promote` to prod
# (one new generation, the same pool files), and prod's client package
# carrying prod's settings, which reach the rendered Alloy config in an
# apt and a dnf chroot without a rebuild.  Precedence: build defaults <
# environment settings < sysconfig/debconf < --set.  Base-URL is an
# internal name; the chroots reach it on 127.0.0.1 (as ci/smoke-test).
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

chain_repo_keys
gens() { "$P" repo generations --root "$REPO" | grep -c .; }
current() { "$P" repo generations --root "$REPO" | awk '$1 == "*" { print $2 }'; }

for src in "$top" "$top/tests/fixtures/alloy"; do
    "$P" build --key "$FPR" --out "$T/pkgs" "$src" >/dev/null
done
"$P" build --key "$FPR" --format rpm --out "$T/pkgs" "$top/tests/fixtures/host-provides" >/dev/null
"$P" repo init --root "$REPO" --key "$FPR" --suite staging --suite prod --rpm-repo staging \
    --rpm-repo prod --org acme --url http://repo.acme.internal >/dev/null
check "add the one build to staging" "$P" repo add --root "$REPO" --suite staging --rpm-repo staging "$T"/pkgs/*
check "publish staging" "$P" repo publish --root "$REPO"
check_eq "one generation before promoting" 1 "$(gens)"

# ---- promote ---------------------------------------------------------
check_fails "promote to a suite repo.conf does not have: exit 2, names it" 2 "'staging' and 'qa'" \
    "$P" repo promote --root "$REPO" --from staging --to qa
check_fails "promote of a package staging does not hold: exit 2, names it" 2 "no package nosuch in 'staging'" \
    "$P" repo promote --root "$REPO" --from staging --to prod nosuch
check_fails "promote without --to: exit 2" 2 "promote needs --from SUITE and --to SUITE" \
    "$P" repo promote --root "$REPO" --from staging
check_eq "refusals published nothing" 1 "$(gens)"
pool_before=$(find "$REPO/pool" -type f | sort | xargs sha256sum)
check "repo promote --from staging --to prod" sh -c "'$P' repo promote --root '$REPO' --from staging --to prod >'$T/promote.out'"
n=$(find "$T/pkgs" -name '*.deb' -o -name '*.rpm' | grep -c .)
check "it says what it promoted and the generation" grep -q "^promoted $n packages from staging to prod (0 there already); published generation 2$" "$T/promote.out"
check_eq "exactly one new generation" "2 2" "$(gens) $(current)"
check_eq "the pool is unchanged: no file copied or rewritten" "$pool_before" "$(find "$REPO/pool" -type f | sort | xargs sha256sum)"
check "repo verify" "$P" repo verify --root "$REPO"
# What clients download from each suite, compared with what was built.
D=$REPO/public/dists
for s in staging prod; do
    sed -n 's/^Filename: //p' "$D/$s/main/binary-amd64/Packages" | sort >"$T/files-$s"
    zcat "$REPO/public/rpm/$s/repodata/"*-primary.xml.gz | sed -n 's/.*<location href="\([^"]*\)".*/\1/p' | sort >"$T/rpms-$s"
done
check "prod's Packages name the same pool files as staging's" cmp "$T/files-staging" "$T/files-prod"
check "prod's repodata name the same pool files as staging's" cmp "$T/rpms-staging" "$T/rpms-prod"
deb=$(grep alloy-journal-loki_ "$T/files-prod")
check_eq "the deb served in prod is the built file, byte for byte" \
    "$(cat "$T"/pkgs/alloy-journal-loki_*_all.deb | sha256sum)" "$(sha256sum <"$REPO/public/$deb")"
check "promote again changes nothing but says so" sh -c "'$P' repo promote --root '$REPO' --from staging --to prod alloy-journal-loki | grep -q '^promoted 0 packages .*(2 there already)'"

# ---- prod's client package and its settings ----------------------------
printf '# prod\nLOKI_HOST=loki-prod.acme.internal\nLOKI_TENANT_ID=prod\nLOKI_LABELS=env=prod\n' >"$T/prod.env"
printf 'loki_host=x\n' >"$T/bad.env"
check_fails "client-package refuses a settings line that is not NAME=VALUE" 2 "bad.env:1: expected NAME=VALUE" \
    "$P" repo client-package --root "$REPO" --suite prod --settings "$T/bad.env" --out "$T/bad"
check_fails "client-package refuses a suite that is not configured" 2 "--suite 'qa' is not in Suites" \
    "$P" repo client-package --root "$REPO" --suite qa --out "$T/bad"
check "client-package --suite prod --settings prod.env" "$P" repo client-package --root "$REPO" --suite prod \
    --settings "$T/prod.env" --out "$T/client"
check "nginx serves the repository on 127.0.0.1" nginx_start "$REPO/public" "$T/nginx"
URL=http://127.0.0.1:$NGINX_PORT

# apt
new_root apt "$C"
cp "$T"/client/acme-repo_*_all.deb "$C/tmp/"
check "apt: the prod client package installs" in_root "$C" sh -c 'dpkg -i /tmp/acme-repo_*_all.deb'
check "apt: its source follows suite prod at the internal Base-URL" sh -c \
    "grep -qx 'Suites: prod' '$C/etc/apt/sources.list.d/acme.sources' && grep -qx 'URIs: http://repo.acme.internal' '$C/etc/apt/sources.list.d/acme.sources'"
check "apt: it ships the settings drop-in" test -s "$C/usr/share/alloy-journal-loki/environment.d/acme.conf"
sed -i "s|^URIs: .*|URIs: $URL|" "$C/etc/apt/sources.list.d/acme.sources"
check "apt: apt-get update" in_root "$C" apt-get update --error-on=any
check "apt: apt-get install -y alloy-journal-loki" in_root "$C" apt-get install -y alloy-journal-loki
check "apt: installed from suite prod" sh -c "chroot '$C' apt-cache policy alloy-journal-loki | grep -q '$URL prod/main'"
check "apt: the config ships to prod's Loki (environment over build default)" grep -q 'http://loki-prod.acme.internal:3100/' "$C/etc/alloy-journal-loki/config.alloy"
check "apt: prod's tenant" grep -Eq 'tenant_id += +"prod"' "$C/etc/alloy-journal-loki/config.alloy"
check "apt: prod's label" grep -Fq '"env" = "prod"' "$C/etc/alloy-journal-loki/config.alloy"
in_root "$C" sh -c 'echo "alloy-journal-loki alloy-journal-loki/loki_host string loki-web1.acme.internal" | debconf-set-selections'
check "apt: dpkg-reconfigure after a debconf answer" in_root "$C" dpkg-reconfigure -f noninteractive alloy-journal-loki
check "apt: the debconf answer wins over the environment" grep -q 'http://loki-web1.acme.internal:3100/' "$C/etc/alloy-journal-loki/config.alloy"
check "apt: the environment's tenant stays (not answered)" grep -Eq 'tenant_id += +"prod"' "$C/etc/alloy-journal-loki/config.alloy"
check "apt: --set wins over debconf" in_root "$C" alloy-journal-loki-configure --set LOKI_HOST=loki-cli.acme.internal
check "apt: the config names the --set host" grep -q 'http://loki-cli.acme.internal:3100/' "$C/etc/alloy-journal-loki/config.alloy"

# dnf
new_root dnf "$C.dnf"
cp "$T"/client/acme-repo-*.noarch.rpm "$C.dnf/tmp/"
check "dnf: the prod client package installs" in_root "$C.dnf" sh -c 'rpm -i --nodeps --nosignature /tmp/acme-repo-*.noarch.rpm'
check "dnf: the .repo follows rpm repo prod" grep -qx "baseurl=http://repo.acme.internal/rpm/prod/" "$C.dnf/etc/yum.repos.d/acme.repo"
check "dnf: the .repo sets metadata_expire=1h" grep -qx "metadata_expire=1h" "$C.dnf/etc/yum.repos.d/acme.repo"
sed -i "s|^baseurl=http://repo.acme.internal/|baseurl=$URL/|" "$C.dnf/etc/yum.repos.d/acme.repo"
check "dnf: install host-provides" in_dnf "$C.dnf" install host-provides
check "dnf: dnf install -y alloy-journal-loki" in_dnf "$C.dnf" install alloy-journal-loki
check "dnf: the config ships to prod's Loki (environment over build default)" grep -q 'http://loki-prod.acme.internal:3100/' "$C.dnf/etc/alloy-journal-loki/config.alloy"
check "dnf: prod's tenant" grep -Eq 'tenant_id += +"prod"' "$C.dnf/etc/alloy-journal-loki/config.alloy"
echo LOKI_HOST=loki-web2.acme.internal >>"$C.dnf/etc/sysconfig/alloy-journal-loki"
check "dnf: alloy-journal-loki-configure after a sysconfig change" in_root "$C.dnf" alloy-journal-loki-configure
check "dnf: sysconfig wins over the environment" grep -q 'http://loki-web2.acme.internal:3100/' "$C.dnf/etc/alloy-journal-loki/config.alloy"
check "dnf: --set wins over sysconfig" in_root "$C.dnf" alloy-journal-loki-configure --set LOKI_HOST=loki-cli.acme.internal
check "dnf: the config names the --set host" grep -q 'http://loki-cli.acme.internal:3100/' "$C.dnf/etc/alloy-journal-loki/config.alloy"
root_umount "$C"
root_umount "$C.dnf"
