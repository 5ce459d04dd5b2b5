/* pkgsmith repo */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_build.h"
#include "ps_repo.h"
#include "ps_repo_gc.h"
#include "ps_repo_push.h"
#include "ps_repo_snapshot.h"


typedef struct opts {
    const char *root, *key, *home, *origin, *label, *url, *org, *out, *version;
    const char *from, *to, *settings; /* promote; client-package */
    const char *snapshot; /* publish --snapshot */
    const char *target;   /* verify --target */
    int dry_run, unpin;
    ps_strv suites, components, archs, rpm_repos;
    long valid_days, keep, wait;
    long gen; /* rollback, verify: the GEN operand (0: none given) */
    char **args; /* the operands */
    int nargs;
    int json, no_sign;
} opts;

static const ps_opt OPTS[] = {
    PS_OPT_ROOT(opts, "repository state (default /var/lib/pkgsmith)"),
    PS_OPT_WAIT(opts, "wait this long for another pkgsmith's lock\n"
                      "(default 0: refuse at once; -1: for ever)"),
    PS_OPT_JSON(opts),
    PS_STRING_OPT(opts, "key", 0, key, "FPR", "init: signing key (default $PKGSMITH_SIGNING_KEY)"),
    PS_STRING_OPT(opts, "gnupg-home", 0, home, "DIR",
        "init: GnuPG home holding it (default: $GNUPGHOME)"),
    PS_LIST_OPT(opts, "suite", 0, suites, "S",
        "init: repeatable; add, remove: the target;\n"
        "client-package: the suite its hosts follow (and the rpm\n"
        "repo of that name, if any)"),
    PS_LIST_OPT(opts, "component", 0, components, "C", "init: repeatable; add: the target"),
    PS_LIST_OPT(opts, "arch", 0, archs, "A", "init: repeatable"),
    PS_LIST_OPT(opts, "rpm-repo", 0, rpm_repos, "NAME",
        "init: repeatable; add, remove, client-package: the target"),
    PS_NUMBER_OPT(opts, "valid-days", 0, valid_days, "N",
        "init: Valid-Until = publish time + N days (7)", 1, 2147483647L),
    PS_NUMBER_OPT(opts, "keep", 0, keep, "N", "init: generations kept (5)", 1, 2147483647L),
    PS_STRING_OPT(opts, "origin", 0, origin, "O", "init: the Origin field of Release"),
    PS_STRING_OPT(opts, "label", 0, label, "L", "init: the Label field of Release"),
    PS_STRING_OPT(opts, "url", 0, url, "URL", "init: base URL clients use"),
    PS_STRING_OPT(opts, "org", 0, org, "NAME", "init: name of the client package (NAME-repo)"),
    PS_STRING_OPT(opts, "out", 0, out, "DIR", "client-package: output directory (default: out)"),
    PS_STRING_OPT(opts, "version", 0, version, "V", "client-package: its version (default 1.0)"),
    PS_FLAG_OPT(opts, "no-sign", 0, no_sign,
        "client-package: unsigned (to compare two builds, then\n"
        "'pkgsmith sign'); SOURCE_DATE_EPOCH fixes its date"),
    PS_STRING_OPT(opts, "from", 0, from, "S", "promote: the suite (and rpm repo) to copy from"),
    PS_STRING_OPT(opts, "to", 0, to, "S", "promote: the suite (and rpm repo) to copy to"),
    PS_STRING_OPT(opts, "settings", 0, settings, "FILE",
        "client-package: the environment's settings (NAME=VALUE\n"
        "lines), installed as /usr/share/alloy-journal-loki/\n"
        "environment.d/ORG.conf"),
    PS_STRING_OPT(opts, "snapshot", 0, snapshot, "NAME",
        "publish: serve snapshot NAME under --suite S (and the rpm\n"
        "repo S) from now on"),
    PS_FLAG_OPT(opts, "unpin", 0, unpin, "publish: serve the working set under --suite S again"),
    PS_STRING_OPT(opts, "target", 0, target, "S3-TARGET",
        "verify: check what s3://BUCKET/PREFIX serves (at\n"
        "S3-Endpoint), with anonymous GETs as a client reads it"),
    PS_FLAG_OPT(opts, "dry-run", 0, dry_run,
        "gc: list what would be removed, with sizes; remove nothing"),
    PS_OPT_END};

static const ps_cli_spec SPEC = {
    "repo", "a signed apt + rpm repository, published atomically",
    "    pkgsmith repo init [--suite S]... [--component C]... [--arch A]...\n"
    "                       [--rpm-repo NAME]... [--key FPR] [--gnupg-home DIR]\n"
    "                       [--valid-days N] [--keep N] [--origin O] [--label L]\n"
    "                       [--url BASE-URL] [--org NAME]\n"
    "    pkgsmith repo add [--suite S] [--component C] [--rpm-repo NAME] FILE...\n"
    "    pkgsmith repo remove [--suite S] [--rpm-repo NAME] NAME[=VERSION]...\n"
    "    pkgsmith repo list\n"
    "    pkgsmith repo publish\n"
    "    pkgsmith repo promote --from S --to S [NAME[=VERSION]...]\n"
    "    pkgsmith repo publish [--suite S --snapshot NAME | --suite S --unpin]\n"
    "    pkgsmith repo snapshot create|show|drop NAME | list | diff A B\n"
    "    pkgsmith repo diff GEN-A GEN-B\n"
    "    pkgsmith repo gc [--dry-run]\n"
    "    pkgsmith repo generations\n"
    "    pkgsmith repo rollback [GEN]\n"
    "    pkgsmith repo verify [GEN | --target s3://BUCKET/PREFIX]\n"
    "    pkgsmith repo push [TARGET]\n"
    "    pkgsmith repo client-package [--out DIR] [--version V] [--no-sign]\n"
    "                       [--suite S] [--rpm-repo NAME] [--settings FILE]\n"
    "    (every subcommand also takes --root DIR, --json and --help; add,\n"
    "    remove, promote, publish, rollback and client-package take --wait\n"
    "    SECONDS)\n",
    "    The repository lives under --root (default /var/lib/pkgsmith, or\n"
    "    $PKGSMITH_REPO_ROOT).  init writes ROOT/repo.conf (deb822: suites,\n"
    "    components, architectures, rpm repos, Signing-Key, Valid-Days,\n"
    "    Keep-Generations, Package-Keys, Require-Signed-Packages, Base-URL, Org,\n"
    "    Maintainer of the client package).\n"
    "\n"
    "    add validates each package (control data or rpm header, digests, and\n"
    "    its signature when Package-Keys are configured) and stores it once in\n"
    "    a content-addressed pool.  The same name, version and architecture\n"
    "    with other bytes is refused; the same bytes again change nothing.\n"
    "    A batch is all or nothing: one refused file (or a full disk) leaves\n"
    "    pool/ and meta/ as they were.\n"
    "\n"
    "    publish writes a new generation: dists/SUITE/{Release,InRelease,\n"
    "    Release.gpg}, COMPONENT/binary-ARCH/Packages{,.gz,.xz} and by-hash/,\n"
    "    rpm/REPO/repodata/ with repomd.xml.asc, and keys/ORG-archive-keyring.asc.\n"
    "    It is signed completely before ROOT/public switches to it with one\n"
    "    rename(2); the hash-named files of the last Keep-Generations\n"
    "    generations stay reachable.  Only the index records of packages are\n"
    "    read, never the packages again.  Serve ROOT/public (see repo-tools/).\n"
    "\n"
    "    promote names the packages of suite --from (every component) and of\n"
    "    the rpm repo of that name in --to as well (NAME or NAME=VERSION: only\n"
    "    those), and publishes: one new generation.  Both suites then serve the\n"
    "    same pool files, byte for byte; nothing is rebuilt or read again.\n"
    "\n"
    "    generations lists the kept generations; rollback switches back to GEN\n"
    "    (default: the one before the current) and restores its package set,\n"
    "    as one step that the next writing command finishes after a crash;\n"
    "    verify checks every signature and hash of a generation against the\n"
    "    Signing-Key and names the first file that does not match.\n"
    "\n"
    "    snapshot create pins the working set as NAME (ROOT/snapshots/);\n"
    "    publish --snapshot NAME --suite S serves it under suite S (and the rpm\n"
    "    repo S) at this and every later publish, until --unpin.  A snapshot\n"
    "    that a suite serves cannot be dropped.  diff lists the packages added,\n"
    "    removed and changed (other versions or bytes) per name and\n"
    "    architecture between two snapshots or two generations.\n"
    "\n"
    "    gc removes the pool/ and meta/ files that neither the working set, a\n"
    "    kept generation nor a snapshot names (left by removed packages,\n"
    "    dropped snapshots, refused or crashed adds); publish removes at once\n"
    "    what its own pruning and Keep-Versions retired.  Keep-Versions: N (or\n"
    "    SUITE=N, RPM-REPO=N) in repo.conf keeps the newest N versions of each\n"
    "    added name and architecture, by dpkg's or rpm's version order.\n"
    "    Signing-Key may list several fingerprints (a key rotation): each\n"
    "    signs InRelease, Release.gpg and repomd.xml.asc, and the client\n"
    "    package ships them all.\n"
    "\n"
    "    verify --target checks what a Publish-To target serves the same way,\n"
    "    reading it with anonymous GETs as a client does.\n"
    "\n"
    "    push copies the served generation to object storage: every\n"
    "    Publish-To: s3://BUCKET/PREFIX of repo.conf (or TARGET alone), at\n"
    "    S3-Endpoint (path-style), S3-Region, signed with the access key and\n"
    "    secret of S3-Credentials-File (mode 0600).  It holds a lease object\n"
    "    while it runs, sends only what the bucket's manifest object lacks,\n"
    "    and uploads pool files, by-hash and repodata files, the other\n"
    "    indexes, Release, Release.gpg and InRelease last (repomd.xml, then\n"
    "    repomd.xml.asc), so clients never see an index before what it\n"
    "    names.  A pool key holding other bytes is refused, never\n"
    "    overwritten.  What no kept generation names is deleted from the\n"
    "    bucket S3-Delete-Grace-Seconds after a push found it so, never by\n"
    "    that push.  publish pushes too when Publish-To is set.\n"
    "\n"
    "    client-package builds ORG-repo (.deb and .rpm, signed) that installs\n"
    "    the public key, a deb822 .sources file (Signed-By) and a yum .repo\n"
    "    file (gpgcheck=1, repo_gpgcheck=1, metadata_expire=1h) pointing at\n"
    "    Base-URL, for --suite (default: the first suite) and --rpm-repo\n"
    "    (default: the one named like the suite, else the first): one per\n"
    "    environment.  --settings FILE ships that environment's settings\n"
    "    (LOKI_HOST, LOKI_TENANT_ID, LOKI_LABELS, ...), which\n"
    "    alloy-journal-loki-configure reads above its build defaults and below\n"
    "    sysconfig, debconf answers and --set.  Its maintainer is Maintainer\n"
    "    (default ORG repository <packages@ORG.invalid>).  With --no-sign only\n"
    "    the public key of Signing-Key is needed.\n",
    OPTS,
    "    0 success; 1 failure (verify: a mismatch, named on stderr); 2 bad\n"
    "    input or unusable key; 64 usage error; 75 the repository is locked.\n",
    "    pkgsmith repo init --root /srv/repo --key \"$FPR\" --url http://repo.example.com\n"
    "    pkgsmith repo add --root /srv/repo out/*.deb out/*.rpm\n"
    "    pkgsmith repo publish --root /srv/repo && pkgsmith repo verify --root /srv/repo\n",
    1};

static int fail(const ps_error *err, int json)
{
    return ps_cli_fail("repo", err, json);
}

static void json_kv(const char *k, const char *v, int comma)
{
    printf("%s\"%s\":", comma ? "," : "", k);
    ps_cli_json_string(stdout, v ? v : "");
}

/* One result line, as JSON or as text, from the same values (the JSON
 * format may leave the last ones out). */
static void report(const opts *o, const char *json, const char *text, ...)
{
    va_list ap;
    va_start(ap, text);
    vprintf(o->json ? json : text, ap);
    va_end(ap);
}

/* ---- subcommands --------------------------------------------------- */
/* Each gets its operands checked and the repository opened by run() below;
 * it prints on success and leaves a failure in ERR for run() to report. */

static ps_code do_init(opts *o, ps_repo *r, ps_error *err)
{
    (void)r;
    ps_repo_init_opts io = {
        (const char *const *)o->suites.v, o->suites.n, (const char *const *)o->components.v,
        o->components.n, (const char *const *)o->archs.v, o->archs.n,
        (const char *const *)o->rpm_repos.v, o->rpm_repos.n, o->key, o->home, o->valid_days,
        (int)o->keep, o->origin, o->label, o->url, o->org};
    if (ps_repo_init(o->root, &io, err) != PS_OK)
        return err->code;
    if (o->json) {
        printf("{\"ok\":true");
        json_kv("root", o->root, 1);
        printf("}\n");
    } else {
        printf("initialised %s (edit %s/repo.conf to change settings)\n", o->root, o->root);
    }
    return PS_OK;
}

static ps_repo_target target_of(const opts *o)
{
    return (ps_repo_target){o->suites.n ? o->suites.v[0] : NULL,
                            o->components.n ? o->components.v[0] : NULL,
                            o->rpm_repos.n ? o->rpm_repos.v[0] : NULL};
}

static void print_added(const opts *o, const ps_repo_added_list *l)
{
    if (o->json) {
        printf("{\"ok\":true,\"added\":[");
        for (size_t i = 0; i < l->n; i++) {
            const ps_repo_added *a = &l->v[i];
            printf("%s{", i ? "," : "");
            json_kv("file", a->path, 0), json_kv("name", a->name, 1);
            json_kv("version", a->version, 1), json_kv("arch", a->arch, 1);
            json_kv("target", a->target, 1), json_kv("href", a->href, 1);
            printf(",\"unchanged\":%s}", a->unchanged ? "true" : "false");
        }
        printf("]}\n");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        const ps_repo_added *a = &l->v[i];
        printf("%s %s %s %s -> %s%s\n", a->unchanged ? "unchanged" : "added", a->name, a->version,
               a->arch, a->target, a->unchanged ? " (same bytes already there)" : "");
    }
}

static ps_code do_add(opts *o, ps_repo *r, ps_error *err)
{
    ps_repo_added_list l = {0};
    ps_repo_target t = target_of(o);
    ps_code rc = ps_repo_add(r, (const char *const *)o->args, (size_t)o->nargs, &t, &l, err);
    if (rc == PS_OK)
        print_added(o, &l);
    ps_repo_added_list_free(&l);
    return rc;
}

static ps_code do_remove(opts *o, ps_repo *r, ps_error *err)
{
    ps_repo_target t = target_of(o);
    size_t total = 0, n = 0;
    for (int i = 0; i < o->nargs; i++) {
        if (ps_repo_remove(r, o->args[i], &t, &n, err) != PS_OK)
            return err->code;
        total += n;
    }
    report(o, "{\"ok\":true,\"removed\":%zu}\n",
           "removed %zu package%s (publish to make it visible)\n", total, total == 1 ? "" : "s");
    return PS_OK;
}

/* One package of a listing: the working set's rows (FULL) also say where
 * the file is and where it came from; a snapshot's do not. */
static void print_pkg(const opts *o, size_t i, const ps_repo_pkg *p, int full)
{
    if (!o->json) {
        if (full)
            printf("%-3s %-14s %-30s %-20s %-8s %s\n", p->kind, p->target, p->name, p->version,
                   p->arch, strcmp(p->source, "-") == 0 ? "added" : p->source);
        else
            printf("%-3s %-14s %-30s %-20s %s\n", p->kind, p->target, p->name, p->version,
                   p->arch);
        return;
    }
    printf("%s{", i ? "," : "");
    json_kv("kind", p->kind, 0), json_kv("target", p->target, 1);
    json_kv("name", p->name, 1), json_kv("version", p->version, 1);
    json_kv("arch", p->arch, 1), json_kv("sha256", p->sha256, 1);
    if (full)
        json_kv("href", p->href, 1), json_kv("source", p->source, 1);
    printf(",\"size\":%llu}", (unsigned long long)p->size);
}

/* The working set of R, or SET (a snapshot's or a generation's) if given. */
static void print_listing(const opts *o, const ps_repo *r, const ps_repo_set *set)
{
    size_t n = set ? ps_repo_set_count(set) : ps_repo_count(r);
    if (o->json)
        printf("{\"ok\":true,\"packages\":[");
    for (size_t i = 0; i < n; i++) {
        ps_repo_pkg p = set ? ps_repo_set_at(set, i) : ps_repo_pkg_at(r, i);
        print_pkg(o, i, &p, !set);
    }
    if (o->json)
        printf("]}\n");
}

static ps_code do_list(opts *o, ps_repo *r, ps_error *err)
{
    (void)err;
    print_listing(o, r, NULL);
    return PS_OK;
}

static void print_pushed(const opts *o, const ps_repo_pushed *p)
{
    report(o,
           "{\"ok\":true,\"generation\":%ld,\"targets\":%zu,\"objects\":%zu,"
           "\"uploaded\":%zu,\"unchanged\":%zu,\"deleted\":%zu,\"bytes\":%llu,"
           "\"requests\":%llu}\n",
           "pushed generation %ld to %zu target%s: %zu objects, %zu uploaded, %zu unchanged, "
           "%zu deleted, %llu bytes, %llu requests\n",
           p->generation, p->targets, p->targets == 1 ? "" : "s", p->objects, p->uploaded,
           p->unchanged, p->deleted, (unsigned long long)p->bytes,
           (unsigned long long)p->requests);
}

static ps_code do_publish(opts *o, ps_repo *r, ps_error *err)
{
    ps_repo_published p;
    if ((o->snapshot || o->unpin) && o->suites.n != 1)
        return ps_error_set(err, PS_EINPUT, "--snapshot and --unpin need one --suite S");
    if (o->snapshot && o->unpin)
        return ps_error_set(err, PS_EINPUT, "--snapshot and --unpin exclude each other");
    if ((o->snapshot || o->unpin) && ps_repo_pin(r, o->suites.v[0], o->snapshot, err) != PS_OK)
        return err->code;
    ps_repo_pushed pp;
    if (ps_repo_publish_push(r, &p, &pp, err) != PS_OK)
        return err->code;
    if (o->json) {
        printf("{\"ok\":true,\"generation\":%ld,\"packages\":%zu,\"pruned\":%zu,"
               "\"retired\":%zu,\"keys\":%zu", p.generation, p.packages, p.pruned, p.retired,
               p.nkeys);
        json_kv("date", p.date, 1), json_kv("valid_until", p.valid_until, 1);
        json_kv("signed_by", p.fpr, 1);
        if (pp.targets)
            printf(",\"pushed\":{\"targets\":%zu,\"objects\":%zu,\"uploaded\":%zu,"
                   "\"unchanged\":%zu,\"bytes\":%llu}", pp.targets, pp.objects, pp.uploaded,
                   pp.unchanged, (unsigned long long)pp.bytes);
        printf("}\n");
    } else {
        printf("published generation %ld: %zu packages, signed by %s%s, valid until %s\n",
               p.generation, p.packages, p.fpr, p.nkeys > 1 ? " and the other Signing-Keys" : "",
               p.valid_until);
        if (p.retired)
            printf("Keep-Versions retired %zu older package version%s\n", p.retired,
                   p.retired == 1 ? "" : "s");
        if (pp.targets)
            print_pushed(o, &pp);
    }
    return PS_OK;
}

static ps_code do_push(opts *o, ps_repo *r, ps_error *err)
{
    ps_repo_pushed p;
    if (o->nargs > 1)
        return ps_error_set(err, PS_EINPUT, "push takes at most one TARGET, not '%s'",
                            o->args[1]);
    if (ps_repo_push(r, o->nargs ? o->args[0] : NULL, &p, err) != PS_OK)
        return err->code;
    print_pushed(o, &p);
    return PS_OK;
}

static ps_code do_promote(opts *o, ps_repo *r, ps_error *err)
{
    size_t promoted = 0, unchanged = 0;
    ps_repo_published p;
    if (o->from == NULL || o->to == NULL)
        return ps_error_set(err, PS_EINPUT, "promote needs --from SUITE and --to SUITE");
    if (ps_repo_promote(r, o->from, o->to, (const char *const *)o->args, (size_t)o->nargs,
                        &promoted, &unchanged, err) != PS_OK ||
        ps_repo_publish(r, &p, err) != PS_OK)
        return err->code;
    report(o, "{\"ok\":true,\"promoted\":%zu,\"unchanged\":%zu,\"generation\":%ld}\n",
           "promoted %zu package%s from %s to %s (%zu there already); published generation "
           "%ld\n",
           promoted, promoted == 1 ? "" : "s", o->from, o->to, unchanged, p.generation);
    return PS_OK;
}

static ps_code do_generations(opts *o, ps_repo *r, ps_error *err)
{
    ps_repo_gen *g = NULL;
    size_t n = 0;
    if (ps_repo_generations(r, &g, &n, err) != PS_OK)
        return err->code;
    if (o->json)
        printf("{\"ok\":true,\"generations\":[");
    for (size_t i = 0; i < n; i++) {
        if (o->json) {
            printf("%s{\"generation\":%ld,\"current\":%s,\"packages\":%zu", i ? "," : "",
                   g[i].number, g[i].current ? "true" : "false", g[i].packages);
            json_kv("date", g[i].date, 1), json_kv("valid_until", g[i].valid_until, 1);
            printf("}");
        } else {
            printf("%c %6ld  %-31s  %6zu packages  valid until %s\n", g[i].current ? '*' : ' ',
                   g[i].number, g[i].date, g[i].packages, g[i].valid_until);
        }
    }
    if (o->json)
        printf("]}\n");
    free(g);
    return PS_OK;
}

static ps_code do_rollback(opts *o, ps_repo *r, ps_error *err)
{
    long to = 0, from = ps_repo_current(r);
    if (ps_repo_rollback(r, o->gen, &to, err) != PS_OK)
        return err->code;
    report(o, "{\"ok\":true,\"from\":%ld,\"generation\":%ld}\n",
           "rolled back from generation %ld to %ld\n", from, to);
    return PS_OK;
}

static ps_code do_verify(opts *o, ps_repo *r, ps_error *err)
{
    size_t checked = 0;
    long g = o->gen ? o->gen : ps_repo_current(r);
    if (o->target && o->gen)
        return ps_error_set(err, PS_EINPUT, "verify: --target checks what the target serves, "
                            "not generation %ld", o->gen);
    if (o->target) {
        ps_code rc = ps_repo_verify_target(r, o->target, &checked, err);
        if (rc == PS_OK)
            report(o, "{\"ok\":true,\"target\":\"%s\",\"checked\":%zu}\n",
                   "%s: %zu signatures and files verified\n", o->target, checked);
        return rc;
    }
    ps_code rc = ps_repo_verify(r, o->gen, &checked, err);
    if (rc == PS_OK)
        report(o, "{\"ok\":true,\"generation\":%ld,\"checked\":%zu}\n",
               "generation %ld: %zu signatures and files verified\n", g, checked);
    return rc;
}

static ps_code do_client(opts *o, ps_repo *r, ps_error *err)
{
    char *src = ps_strdupf("%s/tmp/client-package", o->root);
    ps_repo_client_opts co = {o->version ? o->version : "1.0", o->suites.n ? o->suites.v[0] : NULL,
                              o->rpm_repos.n ? o->rpm_repos.v[0] : NULL, o->settings};
    ps_strv outputs = {0};
    ps_build_opts b = {.srcdir = src, .outdir = o->out ? o->out : "out",
                       .key = o->no_sign ? NULL : ps_repo_key(r),
                       .gnupg_home = ps_repo_gnupg_home(r), .no_sign = o->no_sign};
    ps_code rc = src == NULL ? ps_error_set(err, PS_ENOMEM, "out of memory")
                             : ps_repo_client_source(r, src, &co, err);
    if (rc == PS_OK)
        rc = ps_build_run(&b, &outputs, err);
    if (rc == PS_OK && o->json) {
        printf("{\"ok\":true,\"outputs\":[");
        for (size_t i = 0; i < outputs.n; i++) {
            printf("%s", i ? "," : "");
            ps_cli_json_string(stdout, outputs.v[i]);
        }
        printf("]}\n");
    } else if (rc == PS_OK) {
        for (size_t i = 0; i < outputs.n; i++)
            printf("%s\n", outputs.v[i]);
    }
    ps_strv_free(&outputs);
    free(src);
    return rc;
}

/* ---- snapshots, diff, gc -------------------------------------------- */

static void print_diff(const opts *o, const ps_repo_diff *d)
{
    static const char *const what[] = {"added", "removed", "changed"};
    if (o->json)
        printf("{\"ok\":true,\"changes\":[");
    for (size_t i = 0; i < d->n; i++) {
        const ps_repo_change *c = &d->v[i];
        if (o->json) {
            printf("%s{", i ? "," : "");
            json_kv("change", what[c->change], 0), json_kv("kind", c->kind, 1);
            json_kv("target", c->target, 1), json_kv("name", c->name, 1);
            json_kv("arch", c->arch, 1), json_kv("from", c->from, 1), json_kv("to", c->to, 1);
            printf("}");
        } else {
            printf("%-7s %-3s %-14s %s %s%s%s%s(%s)\n", what[c->change], c->kind, c->target,
                   c->name, c->from ? c->from : "", c->from && c->to ? " -> " : "",
                   c->to ? c->to : "", " ", c->arch);
        }
    }
    if (o->json)
        printf("]}\n");
    else if (d->n == 0)
        printf("no differences\n");
}

static ps_code diff_and_print(const opts *o, ps_repo_set *a, ps_repo_set *b, ps_error *err)
{
    ps_repo_diff d = {0};
    ps_code rc = a && b ? ps_repo_diff_sets(a, b, &d, err) : err->code;
    if (rc == PS_OK)
        print_diff(o, &d);
    ps_repo_diff_free(&d);
    ps_repo_set_free(a), ps_repo_set_free(b);
    return rc;
}

static ps_code gen_operand(const char *s, long *g, ps_error *err)
{
    char *end = NULL;
    *g = strtol(s, &end, 10);
    return *g > 0 && *end == '\0'
               ? PS_OK
               : ps_error_set(err, PS_EINPUT, "'%s' is not a generation number", s);
}

static ps_code do_diff(opts *o, ps_repo *r, ps_error *err)
{
    long a = 0, b = 0;
    if (o->nargs != 2)
        return ps_error_set(err, PS_EINPUT, "diff needs two generations: GEN-A GEN-B");
    if (gen_operand(o->args[0], &a, err) != PS_OK || gen_operand(o->args[1], &b, err) != PS_OK)
        return err->code;
    ps_repo_set *sa = ps_repo_set_generation(r, a, err);
    ps_repo_set *sb = sa ? ps_repo_set_generation(r, b, err) : NULL;
    return diff_and_print(o, sa, sb, err);
}

static void print_snapshots(const opts *o, const ps_repo_snapshot *v, size_t n)
{
    if (o->json)
        printf("{\"ok\":true,\"snapshots\":[");
    for (size_t i = 0; i < n; i++) {
        if (o->json) {
            printf("%s{", i ? "," : "");
            json_kv("name", v[i].name, 0), json_kv("created", v[i].created, 1);
            printf(",\"packages\":%zu,\"generation\":%ld", v[i].packages, v[i].generation);
            json_kv("published_as", v[i].pinned, 1);
            printf("}");
        } else {
            printf("%-20s %-31s %6zu packages%s%s\n", v[i].name, v[i].created, v[i].packages,
                   v[i].pinned ? "  served as " : "", v[i].pinned ? v[i].pinned : "");
        }
    }
    if (o->json)
        printf("]}\n");
}

static ps_code do_snapshot(opts *o, ps_repo *r, ps_error *err)
{
    const char *verb = o->args[0], *name = o->nargs > 1 ? o->args[1] : NULL;
    int want = strcmp(verb, "list") == 0 ? 1 : strcmp(verb, "diff") == 0 ? 3 : 2;
    if (strcmp(verb, "create") && strcmp(verb, "show") && strcmp(verb, "drop") && want == 2)
        return ps_error_set(err, PS_EINPUT, "snapshot: unknown action '%s' (create, list, show, "
                            "diff, drop)", verb);
    if (o->nargs != want)
        return ps_error_set(err, PS_EINPUT, "snapshot %s takes %s", verb,
                            want == 1 ? "no NAME" : want == 2 ? "one NAME" : "two NAMEs");
    size_t n = 0;
    if (strcmp(verb, "create") == 0) {
        if (ps_repo_snapshot_create(r, name, &n, err) != PS_OK)
            return err->code;
        report(o, "{\"ok\":true,\"snapshot\":\"%s\",\"packages\":%zu}\n",
               "snapshot %s: %zu packages pinned\n", name, n);
    } else if (strcmp(verb, "drop") == 0) {
        if (ps_repo_snapshot_drop(r, name, err) != PS_OK)
            return err->code;
        report(o, "{\"ok\":true,\"dropped\":\"%s\"}\n",
               "dropped snapshot %s ('repo gc' reclaims its files)\n", name);
    } else if (strcmp(verb, "show") == 0) {
        ps_repo_set *set = ps_repo_set_snapshot(r, name, err);
        if (set == NULL)
            return err->code;
        print_listing(o, NULL, set);
        ps_repo_set_free(set);
    } else if (strcmp(verb, "diff") == 0) {
        ps_repo_set *a = ps_repo_set_snapshot(r, name, err);
        ps_repo_set *b = a ? ps_repo_set_snapshot(r, o->args[2], err) : NULL;
        return diff_and_print(o, a, b, err);
    } else {
        ps_repo_snapshot *v = NULL;
        if (ps_repo_snapshot_list(r, &v, &n, err) != PS_OK)
            return err->code;
        print_snapshots(o, v, n);
        ps_repo_snapshots_free(v, n);
    }
    return PS_OK;
}

static ps_code do_gc(opts *o, ps_repo *r, ps_error *err)
{
    ps_repo_gc_result g = {0};
    char human[32];
    if (ps_repo_gc(r, o->dry_run, &g, err) != PS_OK) {
        ps_repo_gc_result_free(&g);
        return err->code;
    }
    if (o->json)
        printf("{\"ok\":true,\"dry_run\":%s,\"files\":[", o->dry_run ? "true" : "false");
    for (size_t i = 0; i < g.n; i++) {
        if (o->json) {
            printf("%s{", i ? "," : "");
            json_kv("path", g.v[i].path, 0);
            printf(",\"size\":%llu}", (unsigned long long)g.v[i].size);
        } else {
            ps_cli_human(g.v[i].size, human, sizeof human);
            printf("%s %s (%s)\n", o->dry_run ? "would remove" : "removed", g.v[i].path, human);
        }
    }
    ps_cli_human(g.bytes, human, sizeof human);
    if (o->json)
        printf("],\"bytes\":%llu}\n", (unsigned long long)g.bytes);
    else
        printf("%s %zu unreferenced entr%s, %s\n", o->dry_run ? "would reclaim" : "reclaimed",
               g.n, g.n == 1 ? "y" : "ies", human);
    ps_repo_gc_result_free(&g);
    return PS_OK;
}

/* ---- dispatch ------------------------------------------------------ */

enum { NONE, SOME, GEN, ANY };              /* the operands a subcommand takes */
enum { NO_REPO, TO_READ, TO_CHANGE }; /* how it opens the repository */

typedef struct sub {
    const char *name;
    ps_code (*run)(opts *o, ps_repo *r, ps_error *err);
    int operands, open;
    const char *need; /* SOME: the message when there is none */
} sub;

static const sub SUBS[] = {{"init", do_init, NONE, NO_REPO, NULL},
                           {"add", do_add, SOME, TO_CHANGE, "add needs at least one FILE"},
                           {"remove", do_remove, SOME, TO_CHANGE, "remove needs NAME[=VERSION]"},
                           {"list", do_list, NONE, TO_READ, NULL},
                           {"publish", do_publish, NONE, TO_CHANGE, NULL},
                           {"promote", do_promote, ANY, TO_CHANGE, NULL},
                           {"snapshot", do_snapshot, SOME, TO_CHANGE,
                            "snapshot needs create, list, show, diff or drop"},
                           {"diff", do_diff, SOME, TO_READ, "diff needs GEN-A GEN-B"},
                           {"gc", do_gc, NONE, TO_CHANGE, NULL},
                           {"generations", do_generations, NONE, TO_READ, NULL},
                           {"rollback", do_rollback, GEN, TO_CHANGE, NULL},
                           {"verify", do_verify, GEN, TO_READ, NULL},
                           {"client-package", do_client, NONE, TO_CHANGE, NULL},
                           {"push", do_push, ANY, TO_CHANGE, NULL},
                           {NULL, NULL, NONE, NO_REPO, NULL}};

/* The operands S takes: -1 when they fit (GEN parsed into O), else 64. */
static int check_operands(const sub *s, opts *o, int argc, char **argv)
{
    char *end = NULL, msg[64];
    if (s->operands == NONE && argc != 0) {
        snprintf(msg, sizeof msg, "%s takes no arguments", s->name);
        return ps_cli_usage_error(&SPEC, msg, argv[0]);
    }
    if (s->operands == SOME && argc == 0)
        return ps_cli_usage_error(&SPEC, s->need, NULL);
    if (s->operands == GEN && argc > 1)
        return ps_cli_usage_error(&SPEC, "at most one GEN", argv[1]);
    if (s->operands == GEN && argc == 1 &&
        ((o->gen = strtol(argv[0], &end, 10)) <= 0 || *end != '\0'))
        return ps_cli_usage_error(&SPEC, "GEN must be a generation number", argv[0]);
    return -1;
}

static void opts_free(opts *o)
{
    ps_strv_free(&o->suites), ps_strv_free(&o->components);
    ps_strv_free(&o->archs), ps_strv_free(&o->rpm_repos);
}

static int run(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ps_cli_usage(&SPEC, argc < 2 ? stderr : stdout);
        return argc < 2 ? 64 : 0;
    }
    const sub *s = SUBS;
    while (s->name && strcmp(s->name, argv[1]) != 0)
        s++;
    if (s->name == NULL)
        return ps_cli_usage_error(&SPEC, "unknown subcommand", argv[1]);
    opts o = {.root = getenv("PKGSMITH_REPO_ROOT"), .key = getenv("PKGSMITH_SIGNING_KEY")};
    if (o.root == NULL || *o.root == '\0')
        o.root = PS_REPO_DEFAULT_ROOT;
    int first = 0, status = ps_cli_parse(&SPEC, argc - 1, argv + 1, &o, &first);
    int nargs = argc - 1 - first;
    char **args = argv + 1 + first;
    o.args = args, o.nargs = nargs;
    if (status < 0)
        status = check_operands(s, &o, nargs, args);
    if (status < 0) {
        /* only a change waits for (and takes) the lock */
        ps_error err = {0};
        ps_repo *r = NULL;
        if (s->open != NO_REPO)
            r = ps_repo_open(o.root, s->open == TO_CHANGE, s->open == TO_CHANGE ? (int)o.wait : 0,
                             &err);
        status = (s->open != NO_REPO && r == NULL) || s->run(&o, r, &err) != PS_OK
                     ? fail(&err, o.json)
                     : 0;
        ps_repo_free(r);
    }
    opts_free(&o);
    return status;
}

const ps_command ps_cmd_repo = {&SPEC, "a signed apt + rpm repository, published atomically",
                                run};
