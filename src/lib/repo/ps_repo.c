/* ps_repo.c - configuration, working set, pool: init, open, add, remove,
 * list, generations, rollback.  Publishing is in ps_publish.c,
 * verification in ps_repo_verify.c. */
#include "ps_repo_priv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "ps_pkginfo.h"

/* ---- small helpers ------------------------------------------------- */

char *ps_repo_path(const ps_repo *r, const char *rel)
{
    return ps_strdupf("%s/%s", r->root, rel);
}

char *ps_repo_meta_path(const ps_repo *r, const char *sha256)
{
    return ps_strdupf("%s/meta/%.2s/%s", r->root, sha256, sha256);
}

char *ps_repo_gen_path(const ps_repo *r, long gen)
{
    return ps_strdupf("%s/generations/%ld", r->root, gen);
}

/* Names that become path components: no '/', no leading dot. */
static int valid_name(const char *s)
{
    if (s == NULL || *s == '\0' || *s == '.' || *s == '-')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_' && *s != '+')
            return 0;
    return 1;
}

static ps_code split_words(const char *value, ps_strv *out, const char *what, ps_error *err)
{
    char *copy = strdup(value ? value : ""), *save = NULL;
    if (copy == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_code rc = PS_OK;
    for (char *w = strtok_r(copy, " \t\n,", &save); rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n,", &save))
        rc = valid_name(w) ? ps_strv_add(out, w, err)
                           : ps_error_set(err, PS_EINPUT, "%s: invalid name '%s'", what, w);
    free(copy);
    return rc;
}

static int strv_has(const ps_strv *sv, const char *s)
{
    for (size_t i = 0; s && i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

/* ---- entries (db/packages) ----------------------------------------- */

void ps_entry_free(ps_entry *x)
{
    free(x->kind), free(x->target), free(x->name), free(x->version);
    free(x->arch), free(x->sha256), free(x->href), free(x->source);
    memset(x, 0, sizeof *x);
}

void ps_entries_free(ps_entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        ps_entry_free(&e->v[i]);
    free(e->v);
    memset(e, 0, sizeof *e);
}

ps_code ps_entries_push(ps_entries *e, ps_entry *x, ps_error *err)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        ps_entry *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL)
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = *x;
    return PS_OK;
}

ps_code ps_entries_push_copy(ps_entries *e, const ps_repo_pkg *p, ps_error *err)
{
    ps_entry x = {strdup(p->kind), strdup(p->target), strdup(p->name), strdup(p->version),
                  strdup(p->arch), strdup(p->sha256), strdup(p->href), p->size,
                  strdup(p->source ? p->source : "-")};
    ps_code rc = PS_OK;
    if (!x.kind || !x.target || !x.name || !x.version || !x.arch || !x.sha256 || !x.href ||
        !x.source)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_entries_push(e, &x, err);
    if (rc != PS_OK)
        ps_entry_free(&x);
    return rc;
}

static ps_code parse_entry(char *line, const char *path, size_t lineno, ps_entry *x,
                           ps_error *err)
{
    char *f[9];
    size_t n = 0;
    for (char *p = line; n < 9 && p; n++)
        f[n] = strsep(&p, "\t");
    /* The ninth field (the source) came with mirrors; older lines lack it. */
    if (n < 8 || strlen(f[5]) != 64 || strncmp(f[6], "", 1) == 0)
        return ps_error_set(err, PS_EINPUT, "%s:%zu: damaged line (want 9 tab-separated fields)",
                            path, lineno);
    char *end = NULL;
    x->size = strtoull(f[6], &end, 10);
    x->kind = strdup(f[0]), x->target = strdup(f[1]), x->name = strdup(f[2]);
    x->version = strdup(f[3]), x->arch = strdup(f[4]), x->sha256 = strdup(f[5]);
    x->href = strdup(f[7]);
    x->source = strdup(n == 9 ? f[8] : "-");
    if (!x->kind || !x->target || !x->name || !x->version || !x->arch || !x->sha256 || !x->href ||
        !x->source)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

ps_code ps_entries_load(const char *path, ps_entries *out, ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = ps_path_exists(path) ? ps_file_read(path, &b, err) : PS_OK;
    char *save = NULL, *text = (char *)b.data;
    size_t lineno = 0;
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; rc == PS_OK && l;
         l = strtok_r(NULL, "\n", &save)) {
        ps_entry x = {0};
        lineno++;
        rc = parse_entry(l, path, lineno, &x, err);
        if (rc == PS_OK)
            rc = ps_entries_push(out, &x, err);
        if (rc != PS_OK)
            ps_entry_free(&x);
    }
    ps_buf_free(&b);
    return rc;
}

ps_code ps_entries_save(const char *path, const ps_entries *e, ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < e->n; i++) {
        const ps_entry *x = &e->v[i];
        rc = ps_buf_appendf(&b, err, "%s\t%s\t%s\t%s\t%s\t%s\t%llu\t%s\t%s\n", x->kind,
                            x->target, x->name, x->version, x->arch, x->sha256,
                            (unsigned long long)x->size, x->href, x->source ? x->source : "-");
    }
    if (rc == PS_OK)
        rc = ps_file_write_atomic(path, b.data ? (const void *)b.data : "", b.len, 0644, err);
    ps_buf_free(&b);
    return rc;
}

/* Kind, target, name, then (WITH_VERSION) version and arch, or arch
 * alone: a version group is every version of one name and arch. */
static int entry_order(const ps_entry *x, const ps_entry *y, int with_version)
{
    int c = strcmp(x->kind, y->kind);
    if (c == 0)
        c = strcmp(x->target, y->target);
    if (c == 0)
        c = strcmp(x->name, y->name);
    if (c == 0 && with_version)
        c = strcmp(x->version, y->version);
    if (c == 0)
        c = strcmp(x->arch, y->arch);
    return c;
}

int ps_entry_group_cmp(const ps_entry *x, const ps_entry *y) { return entry_order(x, y, 0); }

static int entry_cmp(const void *a, const void *b) { return entry_order(a, b, 1); }

void ps_entries_sort(ps_entries *e)
{
    if (e->n > 1)
        qsort(e->v, e->n, sizeof *e->v, entry_cmp);
}

/* ---- configuration ------------------------------------------------- */

static const char *const CONF_FIELDS[] = {
    "Origin", "Label", "Description", "Suites", "Components", "Architectures", "Rpm-Repos",
    "Signing-Key", "GnuPG-Home", "Valid-Days", "Keep-Generations", "Base-URL", "Org",
    "Package-Keys", "Require-Signed-Packages", "Transfer-Keys", "Maintainer", "Keep-Versions",
    "Publish-To", "S3-Endpoint", "S3-Region", "S3-Credentials-File", "S3-Storage-Class",
    "S3-Lease-Seconds", "S3-Delete-Grace-Seconds", NULL};

static ps_code conf_number(const ps_repo *r, const char *path, const char *field, long def,
                           long min, long *out, ps_error *err)
{
    const char *v = ps_deb822_get(r->conf, 0, field);
    char *end = NULL;
    *out = v ? strtol(v, &end, 10) : def;
    if (v && (end == v || *end != '\0' || *out < min))
        return ps_error_set(err, PS_EINPUT, "%s:%u: %s must be a number >= %ld, not '%s'", path,
                            ps_deb822_field_line(r->conf, 0, field), field, min, v);
    return PS_OK;
}

static ps_code conf_load(ps_repo *r, ps_error *err)
{
    char *path = ps_repo_path(r, "repo.conf");
    long keep = 0;
    ps_code rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && !ps_path_exists(path))
        rc = ps_error_set(err, PS_EINPUT, "%s: no repository here (run 'pkgsmith repo init')",
                          path);
    if (rc == PS_OK && (r->conf = ps_deb822_parse_file(path, err)) == NULL)
        rc = PS_EINPUT;
    if (rc == PS_OK && ps_deb822_count(r->conf) != 1)
        rc = ps_error_set(err, PS_EINPUT, "%s: want exactly one stanza", path);
    if (rc == PS_OK)
        rc = ps_deb822_check_fields(r->conf, 0, CONF_FIELDS, path, err);
    static const char *const required[] = {"Suites", "Components", "Architectures",
                                           "Signing-Key"};
    for (size_t i = 0; rc == PS_OK && i < 4; i++)
        if (ps_deb822_get(r->conf, 0, required[i]) == NULL)
            rc = ps_error_set(err, PS_EINPUT, "%s: field %s is missing", path, required[i]);
    if (rc == PS_OK)
        rc = split_words(ps_deb822_get(r->conf, 0, "Suites"), &r->suites, path, err);
    if (rc == PS_OK)
        rc = split_words(ps_deb822_get(r->conf, 0, "Components"), &r->components, path, err);
    if (rc == PS_OK)
        rc = split_words(ps_deb822_get(r->conf, 0, "Architectures"), &r->archs, path, err);
    if (rc == PS_OK)
        rc = split_words(ps_deb822_get(r->conf, 0, "Rpm-Repos"), &r->rpm_repos, path, err);
    if (rc == PS_OK)
        rc = split_words(ps_deb822_get(r->conf, 0, "Signing-Key"), &r->signing_keys, path, err);
    if (rc == PS_OK && r->signing_keys.n == 0)
        rc = ps_error_set(err, PS_EINPUT, "%s: Signing-Key needs a fingerprint", path);
    if (rc == PS_OK && (r->suites.n == 0 || r->components.n == 0 || r->archs.n == 0))
        rc = ps_error_set(err, PS_EINPUT, "%s: Suites, Components and Architectures need a value",
                          path);
    if (rc == PS_OK)
        rc = conf_number(r, path, "Valid-Days", 7, 1, &r->valid_secs, err);
    if (rc == PS_OK)
        rc = conf_number(r, path, "Keep-Generations", 5, 2, &keep, err);
    r->valid_secs *= 86400;
    r->keep = (int)keep;
    free(path);
    return rc;
}

/* Package-Keys: whitespace-separated key files (any path). */
static ps_code conf_package_keys(ps_repo *r, ps_error *err)
{
    const char *v = ps_deb822_get(r->conf, 0, "Package-Keys");
    const char *req = ps_deb822_get(r->conf, 0, "Require-Signed-Packages");
    r->require_signed = req && (strcasecmp(req, "yes") == 0 || strcasecmp(req, "true") == 0);
    char *copy = strdup(v ? v : ""), *save = NULL;
    ps_code rc = copy ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (char *w = copy ? strtok_r(copy, " \t\n", &save) : NULL; rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n", &save))
        rc = ps_strv_add(&r->package_keys, w, err);
    free(copy);
    if (rc == PS_OK && r->require_signed && r->package_keys.n == 0)
        rc = ps_error_set(err, PS_EINPUT,
                          "%s/repo.conf: Require-Signed-Packages needs Package-Keys", r->root);
    return rc;
}

/* ---- init ---------------------------------------------------------- */

static ps_code conf_list(ps_buf *b, const char *field, const char *const *v, size_t n,
                         const char *def, ps_error *err)
{
    ps_code rc = ps_buf_appendf(b, err, "%s:", field);
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        rc = valid_name(v[i]) ? ps_buf_appendf(b, err, " %s", v[i])
                              : ps_error_set(err, PS_EINPUT, "%s: invalid name '%s'", field, v[i]);
    if (rc == PS_OK && n == 0 && def)
        rc = ps_buf_appendf(b, err, " %s", def);
    return rc == PS_OK ? ps_buf_append(b, "\n", 1, err) : rc;
}

/* "ORG repository <packages@ORG.invalid>": .invalid (RFC 2606) is a
 * domain that lintian accepts and that says plainly there is no mailbox;
 * ORG is made a DNS label (lower case, [a-z0-9-]). */
void ps_repo_default_maintainer(const char *org, char *out, size_t n)
{
    char label[64];
    size_t k = 0;
    for (const char *s = org; *s && k < sizeof label - 1; s++)
        label[k++] = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : '-';
    label[k] = '\0';
    snprintf(out, n, "%s repository <packages@%s.invalid>", org,
             k && isalnum((unsigned char)label[0]) ? label : "pkgsmith");
}

static ps_code init_conf_text(const ps_repo_init_opts *o, ps_buf *b, ps_error *err)
{
    const char *org = o->org ? o->org : "pkgsmith";
    char maint[256];
    ps_repo_default_maintainer(org, maint, sizeof maint);
    ps_code rc = ps_buf_appendf(
        b, err,
        "# pkgsmith repository configuration (deb822); see 'pkgsmith help repo'.\n"
        "Origin: %s\nLabel: %s\n",
        o->origin ? o->origin : org, o->label ? o->label : org);
    if (rc == PS_OK)
        rc = conf_list(b, "Suites", o->suites, o->nsuites, "stable", err);
    if (rc == PS_OK)
        rc = conf_list(b, "Components", o->components, o->ncomponents, "main", err);
    if (rc == PS_OK)
        rc = conf_list(b, "Architectures", o->archs, o->narchs, "amd64 arm64", err);
    if (rc == PS_OK)
        rc = conf_list(b, "Rpm-Repos", o->rpm_repos, o->nrpm_repos,
                       o->nsuites ? o->suites[0] : "stable", err);
    if (rc == PS_OK)
        rc = ps_buf_appendf(b, err,
                            "# The OpenPGP key that signs Release, InRelease and repomd.xml.\n"
                            "Signing-Key: %s\n%s%s%s"
                            "# Release files expire this many days after a publish.\n"
                            "Valid-Days: %ld\n"
                            "# Published generations kept (for rollback and for by-hash).\n"
                            "Keep-Generations: %d\n"
                            "# Where clients reach public/ (for the client setup package).\n"
                            "Base-URL: %s\nOrg: %s\n"
                            "# Maintainer of the client package (a real address is better).\n"
                            "Maintainer: %s\n"
                            "# Keys that packages may be signed with, and whether they must be:\n"
                            "# Package-Keys: /etc/pkgsmith/keys/grafana.asc\n"
                            "# Require-Signed-Packages: no\n"
                            "# Keys whose signed bundles `pkgsmith bundle import` accepts:\n"
                            "# Transfer-Keys: /etc/pkgsmith/keys/transfer.asc\n",
                            o->key, o->gnupg_home ? "GnuPG-Home: " : "",
                            o->gnupg_home ? o->gnupg_home : "", o->gnupg_home ? "\n" : "",
                            o->valid_days > 0 ? o->valid_days : 7, o->keep > 0 ? o->keep : 5,
                            o->url ? o->url : "http://localhost", org, maint);
    return rc;
}

ps_code ps_repo_init(const char *root, const ps_repo_init_opts *o, ps_error *err)
{
    if (o->key == NULL || *o->key == '\0')
        return ps_error_set(err, PS_EKEY, "no signing key: pass --key FPR or set "
                                          "PKGSMITH_SIGNING_KEY");
    if (o->org && !valid_name(o->org))
        return ps_error_set(err, PS_EINPUT, "--org: invalid name '%s'", o->org);
    if (o->keep != 0 && o->keep < 2)
        return ps_error_set(err, PS_EINPUT, "--keep must be at least 2 (the current generation "
                                            "and one to roll back to)");
    char *conf = ps_strdupf("%s/repo.conf", root);
    ps_buf text = {0};
    ps_code rc = conf ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_path_exists(conf))
        rc = ps_error_set(err, PS_EINPUT, "%s already exists: this is a repository already",
                          conf);
    if (rc == PS_OK)
        rc = init_conf_text(o, &text, err);
    static const char *const dirs[] = {"db", "pool", "meta", "generations", "tmp"};
    for (size_t i = 0; rc == PS_OK && i < 5; i++) {
        char *d = ps_strdupf("%s/%s", root, dirs[i]);
        rc = d ? ps_mkdir_p(d, 0755, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        free(d);
    }
    if (rc == PS_OK)
        rc = ps_file_write_atomic(conf, text.data, text.len, 0644, err);
    ps_buf_free(&text);
    free(conf);
    return rc;
}

/* ---- open ---------------------------------------------------------- */

static ps_code clean_tmp(ps_repo *r, ps_error *err)
{
    char *tmp = ps_repo_path(r, "tmp");
    ps_code rc = tmp ? ps_rm_rf(tmp, err) : PS_ENOMEM;
    if (rc == PS_OK)
        rc = ps_mkdir_p(tmp, 0755, err);
    free(tmp);
    return rc;
}

static ps_code rollback_resume(ps_repo *r, int write, int *done, ps_error *err);

ps_repo *ps_repo_open(const char *root, int write, int wait_seconds, ps_error *err)
{
    ps_repo *r = calloc(1, sizeof *r);
    if (r == NULL || (r->root = strdup(root)) == NULL) {
        free(r);
        ps_error_set(err, PS_ENOMEM, "out of memory");
        return NULL;
    }
    r->lockfd = -1;
    ps_code rc = conf_load(r, err);
    if (rc == PS_OK)
        rc = conf_package_keys(r, err);
    if (rc == PS_OK && write) {
        char *lock = ps_repo_path(r, "lock");
        rc = lock ? ps_lock(lock, wait_seconds, &r->lockfd, err) : PS_ENOMEM;
        free(lock);
        if (rc == PS_OK)
            rc = clean_tmp(r, err);
    }
    int resumed = 0;
    if (rc == PS_OK)
        rc = rollback_resume(r, write, &resumed, err);
    char *db = rc == PS_OK && !resumed ? ps_repo_path(r, "db/packages") : NULL;
    if (rc == PS_OK && !resumed)
        rc = db ? ps_entries_load(db, &r->db, err) : PS_ENOMEM;
    free(db);
    return PS_BUILT(rc, r, ps_repo_free);
}

void ps_repo_free(ps_repo *r)
{
    if (r == NULL)
        return;
    if (r->lockfd >= 0)
        close(r->lockfd);
    ps_deb822_free(r->conf);
    ps_strv_free(&r->suites);
    ps_strv_free(&r->components);
    ps_strv_free(&r->archs);
    ps_strv_free(&r->rpm_repos);
    ps_strv_free(&r->package_keys);
    ps_strv_free(&r->signing_keys);
    ps_entries_free(&r->db);
    free(r->root);
    free(r);
}

const char *ps_repo_root(const ps_repo *r) { return r->root; }
const char *ps_repo_conf_get(const ps_repo *r, const char *f) { return ps_deb822_get(r->conf, 0, f); }
const char *ps_repo_key(const ps_repo *r) { return r->signing_keys.v[0]; }
const ps_strv *ps_repo_keys(const ps_repo *r) { return &r->signing_keys; }
const ps_strv *ps_repo_suites(const ps_repo *r) { return &r->suites; }
const ps_strv *ps_repo_components(const ps_repo *r) { return &r->components; }
const ps_strv *ps_repo_rpm_repos(const ps_repo *r) { return &r->rpm_repos; }

const char *ps_repo_gnupg_home(const ps_repo *r)
{
    const char *h = ps_deb822_get(r->conf, 0, "GnuPG-Home");
    return h && *h ? h : NULL;
}

size_t ps_repo_count(const ps_repo *r)
{
    return r->db.n;
}

ps_repo_pkg ps_entry_view(const ps_entry *x)
{
    return (ps_repo_pkg){x->kind, x->target, x->name, x->version, x->arch, x->sha256, x->href,
                         x->size, x->source};
}

ps_repo_pkg ps_repo_pkg_at(const ps_repo *r, size_t i)
{
    return ps_entry_view(&r->db.v[i]);
}

/* ---- add ----------------------------------------------------------- */

void ps_repo_added_list_free(ps_repo_added_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ps_repo_added *a = &l->v[i];
        free(a->path), free(a->name), free(a->version), free(a->arch);
        free(a->target), free(a->href);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static ps_code resolve_target(const ps_repo *r, const ps_pkginfo *p, const ps_repo_target *t,
                              char **out, ps_error *err)
{
    if (ps_pkginfo_kind(p) == PS_PKG_RPM) {
        const char *repo = t->rpm_repo ? t->rpm_repo : r->rpm_repos.n ? r->rpm_repos.v[0] : NULL;
        if (repo == NULL || !strv_has(&r->rpm_repos, repo))
            return ps_error_set(err, PS_EINPUT, "%s: rpm repo '%s' is not in Rpm-Repos of %s/repo.conf",
                                ps_pkginfo_filename(p), repo ? repo : "(none)", r->root);
        *out = strdup(repo);
    } else {
        const char *s = t->suite ? t->suite : r->suites.v[0];
        const char *c = t->component ? t->component : r->components.v[0];
        const char *a = ps_pkginfo_arch(p);
        if (!strv_has(&r->suites, s) || !strv_has(&r->components, c))
            return ps_error_set(err, PS_EINPUT, "suite '%s' or component '%s' is not in %s/repo.conf",
                                s, c, r->root);
        if (strcmp(a, "all") != 0 && !strv_has(&r->archs, a))
            return ps_error_set(err, PS_EINPUT,
                                "%s: architecture %s is not in Architectures of %s/repo.conf",
                                ps_pkginfo_filename(p), a, r->root);
        *out = ps_strdupf("%s/%s", s, c);
    }
    return *out ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
}

/* An add is all or nothing.  Each new file and its index record are
 * first staged under ROOT/tmp/add/ (which every writing open empties, so
 * a crash there leaves nothing), and renamed to pool/HH/SHA256/NAME and
 * meta/HH/SHA256 only once every file of the batch was accepted and
 * written; a failure then removes what the batch put there.  Nothing is
 * synced one by one: ps_repo_add syncs the filesystem once before the
 * working set (the commit point) names the files.  A pooled file that no
 * entry names may be a crash's unsynced leftover, so it is rewritten. */
typedef struct staged {
    char *from, *to;
    int existed; /* TO was there before (a kept generation may need it) */
    int moved;
} staged;

typedef struct stage {
    staged *v; /* grown by ps_array_reserve */
    size_t n;
} stage;

static void stage_free(stage *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].from), free(st->v[i].to);
    free(st->v);
    memset(st, 0, sizeof *st);
}

/* Takes FROM and TO (malloc'd, NULL on an earlier failure). */
static ps_code stage_push(stage *st, char *from, char *to, ps_error *err)
{
    if (from == NULL || to == NULL || ps_array_reserve(&st->v, st->n, sizeof *st->v, NULL)) {
        free(from), free(to);
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    st->v[st->n++] = (staged){from, to, 0, 0};
    return PS_OK;
}

static char *stage_dir(const ps_repo *r)
{
    return ps_strdupf("%s/tmp/add", r->root);
}

static ps_code pool_store(ps_repo *r, stage *st, const char *src, const char *sha256,
                          const char *href, ps_error *err)
{
    char *dir = stage_dir(r);
    char *tmp = dir ? ps_strdupf("%s/%s-%s", dir, sha256, strrchr(href, '/') + 1) : NULL;
    ps_code rc = tmp ? ps_mkdir_p(dir, 0755, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_copy_file(src, tmp, err);
    free(dir);
    return rc == PS_OK ? stage_push(st, tmp, ps_repo_path(r, href), err) : (free(tmp), rc);
}

static ps_code meta_store(ps_repo *r, stage *st, ps_pkginfo *p, const char *href, ps_error *err)
{
    const char *sha = ps_pkginfo_hashes(p)->sha256;
    char *dir = stage_dir(r), *tmp = dir ? ps_strdupf("%s/%s.meta", dir, sha) : NULL;
    ps_buf rec = {0};
    ps_code rc = tmp ? ps_pkginfo_record(p, href, &rec, err)
                     : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_file_write_unsynced(tmp, rec.data, rec.len, err);
    ps_buf_free(&rec);
    free(dir);
    return rc == PS_OK ? stage_push(st, tmp, ps_repo_meta_path(r, sha), err) : (free(tmp), rc);
}

/* Renames every staged file into place; on a failure, removes again the
 * ones that were not there before. */
static ps_code stage_commit(stage *st, ps_error *err)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < st->n; i++) {
        staged *x = &st->v[i];
        char *dir = strdup(x->to);
        rc = dir ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK) {
            *strrchr(dir, '/') = '\0';
            rc = ps_mkdir_p(dir, 0755, err);
        }
        x->existed = ps_path_exists(x->to);
        if (rc == PS_OK && rename(x->from, x->to) != 0)
            rc = ps_error_set(err, PS_EIO, "%s: %s", x->to, strerror(errno));
        x->moved = rc == PS_OK;
        free(dir);
    }
    for (size_t i = 0; rc != PS_OK && i < st->n; i++)
        if (st->v[i].moved && !st->v[i].existed)
            unlink(st->v[i].to);
    return rc;
}

/* Written in tmp/ and renamed into meta/, like pool files: a writer
 * killed mid-write leaves its temporary file in tmp/, which the next
 * writer's open empties, never a stray file beside the records. */
ps_code ps_repo_meta_write(ps_repo *r, const char *sha256, const void *rec, size_t len,
                           ps_error *err)
{
    char *path = ps_repo_meta_path(r, sha256);
    char *dir = path ? strdup(path) : NULL;
    char *tmp = ps_strdupf("%s/tmp/%s.meta", r->root, sha256);
    ps_code rc = dir && tmp ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK) {
        *strrchr(dir, '/') = '\0';
        rc = ps_mkdir_p(dir, 0755, err);
    }
    if (rc == PS_OK)
        rc = ps_file_write_unsynced(tmp, rec, len, err);
    if (rc == PS_OK && rename(tmp, path) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    free(path), free(dir), free(tmp);
    return rc;
}

typedef struct add_ctx {
    ps_repo *r;
    GHashTable *ident; /* "kind name version arch" -> ps_entry* (borrowed) */
    ps_pkgkeys *keys;
    ps_entries fresh;  /* entries of this add, committed at the end */
    stage staged;      /* its new pool and meta files, renamed at the end */
} add_ctx;

char *ps_repo_ident(const char *kind, const char *name, const char *version, const char *arch)
{
    return ps_strdupf("%s %s %s %s", kind, name, version, arch);
}

static ps_code check_conflict(add_ctx *c, const char *path, ps_pkginfo *p, const char *target,
                              const ps_entry *old, int *unchanged, ps_error *err)
{
    if (strcmp(old->sha256, ps_pkginfo_hashes(p)->sha256) != 0)
        return ps_error_set(err, PS_EINPUT,
                            "%s: %s %s (%s) is already in the repository with different "
                            "content: %s/%s",
                            path, ps_pkginfo_name(p), ps_pkginfo_version(p), ps_pkginfo_arch(p),
                            c->r->root, old->href);
    *unchanged = strcmp(old->target, target) == 0;
    return PS_OK;
}

static ps_code add_one(add_ctx *c, const char *path, const ps_repo_target *t,
                       ps_repo_added *out, ps_error *err)
{
    ps_pkginfo *p = ps_pkginfo_read(path, c->keys, c->r->require_signed, err);
    /* A package the signature policy (Package-Keys, Require-Signed-Packages)
     * does not accept is bad input to add: exit 2, as --help says. */
    if (p == NULL && err && err->code == PS_EVERIFY)
        err->code = PS_EINPUT;
    if (p == NULL)
        return err ? err->code : PS_EINPUT;
    const ps_hashes *h = ps_pkginfo_hashes(p);
    const char *kind = ps_pkginfo_kind(p) == PS_PKG_DEB ? "deb" : "rpm";
    char *target = NULL, *id = NULL;
    int unchanged = 0;
    ps_code rc = resolve_target(c->r, p, t, &target, err);
    char *href = ps_strdupf("pool/%.2s/%s/%s", h->sha256, h->sha256, ps_pkginfo_filename(p));
    if (rc == PS_OK && (href == NULL ||
                        (id = ps_repo_ident(kind, ps_pkginfo_name(p), ps_pkginfo_version(p),
                                       ps_pkginfo_arch(p))) == NULL))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    const ps_entry *old = rc == PS_OK ? g_hash_table_lookup(c->ident, id) : NULL;
    /* The same package may be in several suites, but only as one file. */
    for (size_t i = 0; rc == PS_OK && old && i < c->r->db.n + c->fresh.n && !unchanged; i++) {
        const ps_entry *e = i < c->r->db.n ? &c->r->db.v[i] : &c->fresh.v[i - c->r->db.n];
        if (strcmp(e->kind, kind) == 0 && strcmp(e->name, old->name) == 0 &&
            strcmp(e->version, old->version) == 0 && strcmp(e->arch, old->arch) == 0)
            rc = check_conflict(c, path, p, target, e, &unchanged, err);
    }
    /* Bytes some entry already names are in the pool, synced. */
    if (rc == PS_OK && old == NULL)
        rc = pool_store(c->r, &c->staged, path, h->sha256, href, err);
    if (rc == PS_OK && old == NULL)
        rc = meta_store(c->r, &c->staged, p, href, err);
    if (rc == PS_OK && !unchanged) {
        ps_repo_pkg x = {kind, target, ps_pkginfo_name(p), ps_pkginfo_version(p),
                         ps_pkginfo_arch(p), h->sha256, href, h->size, "-"};
        rc = ps_entries_push_copy(&c->fresh, &x, err);
        if (rc == PS_OK && !g_hash_table_contains(c->ident, id))
            g_hash_table_insert(c->ident, strdup(id), &c->fresh.v[c->fresh.n - 1]);
    }
    if (rc == PS_OK) {
        *out = (ps_repo_added){strdup(path), strdup(ps_pkginfo_name(p)),
                               strdup(ps_pkginfo_version(p)), strdup(ps_pkginfo_arch(p)),
                               target, href, unchanged};
        target = href = NULL;
    }
    free(target), free(href), free(id);
    ps_pkginfo_free(p);
    return rc;
}

/* The commit point: db/packages names the new entries (moved out of
 * FRESH).  On a failure the working set in memory stays as it was. */
static ps_code commit_entries(ps_repo *r, ps_entries *fresh, ps_error *err)
{
    ps_entries all = {0};
    char *db = ps_repo_path(r, "db/packages");
    ps_code rc = db ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && (all.v = malloc((r->db.n + fresh->n) * sizeof *all.v)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK) {
        all.cap = r->db.n + fresh->n;
        if (r->db.n) /* db.v is NULL in an empty repository */
            memcpy(all.v, r->db.v, r->db.n * sizeof *all.v);
        memcpy(all.v + r->db.n, fresh->v, fresh->n * sizeof *all.v);
        all.n = all.cap;
        ps_entries_sort(&all);
        rc = ps_entries_save(db, &all, err);
    }
    if (rc == PS_OK) { /* the strings now belong to ALL */
        free(r->db.v);
        r->db = all;
        fresh->n = 0;
    } else {
        free(all.v);
    }
    free(db);
    return rc;
}

/* A failed add leaves the pool as it found it: what it staged and what it
 * renamed into place (stage_commit removed those already when it failed
 * itself). */
static void undo_add(ps_repo *r, stage *st)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->v[i].moved && !st->v[i].existed)
            unlink(st->v[i].to);
    char *dir = stage_dir(r);
    if (dir)
        ps_rm_rf(dir, NULL);
    free(dir);
}

ps_code ps_repo_add(ps_repo *r, const char *const *files, size_t nfiles,
                    const ps_repo_target *t, ps_repo_added_list *out, ps_error *err)
{
    add_ctx c = {r, g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL), NULL, {0}, {0}};
    ps_code rc = PS_OK;
    /* The table holds pointers into db and fresh: neither may move while
     * it lives, so fresh is allocated for NFILES up front. */
    for (size_t i = 0; i < r->db.n; i++) {
        ps_entry *e = &r->db.v[i];
        char *id = ps_repo_ident(e->kind, e->name, e->version, e->arch);
        if (id && !g_hash_table_contains(c.ident, id))
            g_hash_table_insert(c.ident, id, e);
        else
            free(id);
    }
    if (r->package_keys.n > 0) {
        c.keys = ps_pkgkeys_new((const char *const *)r->package_keys.v, r->package_keys.n, err);
        rc = c.keys ? PS_OK : PS_EKEY;
    }
    if (rc == PS_OK && (out->v = calloc(nfiles ? nfiles : 1, sizeof *out->v)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    c.fresh.cap = nfiles;
    if (rc == PS_OK && nfiles && (c.fresh.v = calloc(nfiles, sizeof *c.fresh.v)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < nfiles; i++) {
        rc = add_one(&c, files[i], t, &out->v[i], err);
        if (rc == PS_OK)
            out->n++;
    }
    if (rc == PS_OK)
        rc = stage_commit(&c.staged, err);
    if (rc == PS_OK && c.fresh.n > 0)
        rc = ps_syncfs(r->root, err);
    if (rc == PS_OK && c.fresh.n > 0)
        rc = commit_entries(r, &c.fresh, err);
    if (rc != PS_OK)
        undo_add(r, &c.staged);
    stage_free(&c.staged);
    ps_entries_free(&c.fresh);
    g_hash_table_destroy(c.ident);
    ps_pkgkeys_free(c.keys);
    return rc;
}

/* ---- remove -------------------------------------------------------- */

static int matches(const ps_entry *e, const char *name, const char *version,
                   const ps_repo_target *t)
{
    if (strcmp(e->name, name) != 0 || (version && strcmp(e->version, version) != 0))
        return 0;
    if (t->suite && strcmp(e->kind, "deb") == 0 &&
        (strncmp(e->target, t->suite, strlen(t->suite)) != 0 || e->target[strlen(t->suite)] != '/'))
        return 0;
    if (t->rpm_repo && strcmp(e->kind, "rpm") == 0 && strcmp(e->target, t->rpm_repo) != 0)
        return 0;
    if ((t->suite && !t->rpm_repo && strcmp(e->kind, "rpm") == 0) ||
        (t->rpm_repo && !t->suite && strcmp(e->kind, "deb") == 0))
        return 0;
    return 1;
}

ps_code ps_repo_remove(ps_repo *r, const char *spec, const ps_repo_target *t, size_t *removed,
                       ps_error *err)
{
    char *name = strdup(spec);
    if (name == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    char *eq = strchr(name, '=');
    if (eq)
        *eq++ = '\0';
    size_t kept = 0;
    *removed = 0;
    for (size_t i = 0; i < r->db.n; i++) {
        if (matches(&r->db.v[i], name, eq, t)) {
            ps_entry_free(&r->db.v[i]);
            (*removed)++;
            continue;
        }
        r->db.v[kept++] = r->db.v[i];
    }
    r->db.n = kept;
    ps_code rc = PS_OK;
    if (*removed == 0)
        rc = ps_error_set(err, PS_EINPUT, "no package %s%s%s in %s", name, eq ? " version " : "",
                          eq ? eq : "", r->root);
    free(name);
    if (rc == PS_OK) {
        char *db = ps_repo_path(r, "db/packages");
        rc = db ? ps_entries_save(db, &r->db, err) : PS_ENOMEM;
        free(db);
    }
    return rc;
}

/* ---- generations --------------------------------------------------- */

static int long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

ps_code ps_repo_list_gens(const ps_repo *r, long **out, size_t *n, ps_error *err)
{
    char *dir = ps_repo_path(r, "generations");
    DIR *d = dir ? opendir(dir) : NULL;
    *out = NULL;
    *n = 0;
    if (d == NULL) {
        ps_code rc = errno == ENOENT ? PS_OK : ps_error_set(err, PS_EIO, "%s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    size_t cap = 0;
    ps_code rc = PS_OK;
    for (struct dirent *de; rc == PS_OK && (de = readdir(d));) {
        char *end = NULL;
        long g = strtol(de->d_name, &end, 10);
        if (!isdigit((unsigned char)de->d_name[0]) || *end != '\0' || g <= 0)
            continue; /* ".tmp-*" and the like: not complete generations */
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            long *v = realloc(*out, cap * sizeof *v);
            if (v == NULL) {
                rc = ps_error_set(err, PS_ENOMEM, "out of memory");
                break;
            }
            *out = v;
        }
        (*out)[(*n)++] = g;
    }
    closedir(d);
    free(dir);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, long_cmp);
    return rc;
}

long ps_repo_current(const ps_repo *r)
{
    char *link = ps_repo_path(r, "public");
    char target[4096];
    ssize_t n = link ? readlink(link, target, sizeof target - 1) : -1;
    free(link);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    long g = 0;
    return sscanf(target, "generations/%ld/tree", &g) == 1 ? g : 0;
}

ps_deb822 *ps_info_open(const char *path)
{
    ps_deb822 *d = path ? ps_deb822_parse_file(path, NULL) : NULL;
    if (d && ps_deb822_count(d) != 1) {
        ps_deb822_free(d);
        d = NULL;
    }
    return d;
}

void ps_info_str(const ps_deb822 *d, const char *field, char *dst, size_t size)
{
    const char *v = d ? ps_deb822_get(d, 0, field) : NULL;
    if (v)
        snprintf(dst, size, "%s", v);
}

long ps_info_num(const ps_deb822 *d, const char *field, long dflt)
{
    const char *v = d ? ps_deb822_get(d, 0, field) : NULL;
    return v ? strtol(v, NULL, 10) : dflt;
}

static void read_info(const ps_repo *r, long g, ps_repo_gen *out)
{
    char *path = ps_strdupf("%s/generations/%ld/info", r->root, g);
    ps_deb822 *d = ps_info_open(path);
    ps_info_str(d, "Date", out->date, sizeof out->date);
    ps_info_str(d, "Valid-Until", out->valid_until, sizeof out->valid_until);
    out->packages = (size_t)ps_info_num(d, "Packages", (long)out->packages);
    ps_deb822_free(d);
    free(path);
}

ps_code ps_repo_generations(ps_repo *r, ps_repo_gen **out, size_t *n, ps_error *err)
{
    long *gens = NULL;
    ps_code rc = ps_repo_list_gens(r, &gens, n, err);
    *out = NULL;
    if (rc == PS_OK && *n && (*out = calloc(*n, sizeof **out)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    long cur = ps_repo_current(r);
    for (size_t i = 0; rc == PS_OK && i < *n; i++) {
        (*out)[i].number = gens[i];
        (*out)[i].current = gens[i] == cur;
        read_info(r, gens[i], &(*out)[i]);
    }
    free(gens);
    return rc;
}

/* ---- serving ------------------------------------------------------ */

/* Sets MODE unless PATH has it already: an unneeded chmod would dirty
 * the inode (and the syncfs before the commit would write it back). */
static ps_code set_mode(const char *path, const struct stat *st, mode_t mode, ps_error *err)
{
    struct stat own;
    if (st == NULL) {
        if (stat(path, &own) != 0)
            return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
        st = &own;
    }
    if ((st->st_mode & 07777) != mode && chmod(path, mode) != 0)
        return ps_error_set(err, PS_EIO, "%s: chmod %04o: %s", path, (unsigned)mode,
                            strerror(errno));
    return PS_OK;
}

/* Adds search (x) permission for group and others: the directories above
 * the served files need no more, and may stay unlistable. */
static ps_code add_search(const char *path, ps_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    return set_mode(path, &st, (st.st_mode & 07777) | S_IXGRP | S_IXOTH, err);
}

/* nftw callback: the tree holds only directories, regular files (some
 * hard-linked) and our relative symlinks, which are left alone. */
static int servable_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    mode_t want = flag == FTW_D ? 0755 : flag == FTW_F && S_ISREG(st->st_mode) ? 0644 : 0;
    if (flag == FTW_DNR || flag == FTW_NS)
        return -1;
    if (want && (st->st_mode & 07777) != want && chmod(path, want) != 0)
        return -1;
    return 0;
}

ps_code ps_repo_servable(const ps_repo *r, const char *gendir, const ps_entries *set,
                         ps_error *err)
{
    char *gens = ps_repo_path(r, "generations"), *pool = ps_repo_path(r, "pool");
    char *tree = ps_strdupf("%s/tree", gendir);
    ps_code rc = gens && pool && tree ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = add_search(r->root, err);
    if (rc == PS_OK)
        rc = add_search(gens, err);
    /* Served as public/pool/ (the site lists directories). */
    if (rc == PS_OK)
        rc = set_mode(pool, NULL, 0755, err);
    /* mkdtemp made it 0700; its packages/info/hashfiles need not be listed. */
    if (rc == PS_OK)
        rc = set_mode(gendir, NULL, 0711, err);
    if (rc == PS_OK && nftw(tree, servable_one, 16, FTW_PHYS) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: cannot make it readable: %s", tree, strerror(errno));
    for (size_t i = 0; rc == PS_OK && i < set->n; i++) {
        const ps_entry *e = &set->v[i];
        char *file = ps_repo_path(r, e->href);
        char *dir = file ? strdup(file) : NULL;
        struct stat st;
        if (dir == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        /* A missing file is verify's finding to report, not ours. */
        else if (stat(file, &st) != 0)
            rc = errno == ENOENT ? PS_OK : ps_error_set(err, PS_EIO, "%s: %s", file, strerror(errno));
        else {
            rc = set_mode(file, &st, 0644, err);
            for (int up = 0; rc == PS_OK && up < 2; up++) { /* pool/HH/SHA256, pool/HH */
                *strrchr(dir, '/') = '\0';
                rc = set_mode(dir, NULL, 0755, err);
            }
        }
        free(file), free(dir);
    }
    free(gens), free(pool), free(tree);
    return rc;
}

/* db/rollback: "GEN\n" while a rollback to GEN is under way. */
static char *intent_path(const ps_repo *r)
{
    return ps_repo_path(r, "db/rollback");
}

static ps_code rollback_intent(ps_repo *r, long gen, ps_error *err)
{
    char *path = intent_path(r), text[32];
    int n = snprintf(text, sizeof text, "%ld\n", gen);
    ps_code rc = path ? ps_file_write_atomic(path, text, (size_t)n, 0644, err)
                      : ps_error_set(err, PS_ENOMEM, "out of memory");
    free(path);
    return rc;
}

/* The pending rollback's generation, 0 when there is none. */
static long rollback_pending(const ps_repo *r)
{
    char *path = intent_path(r);
    ps_buf b = {0};
    long gen = 0;
    if (path && ps_path_exists(path) && ps_file_read(path, &b, NULL) == PS_OK && b.data)
        gen = strtol((const char *)b.data, NULL, 10);
    ps_buf_free(&b);
    free(path);
    return gen > 0 ? gen : 0;
}

/* Both halves of rollback to GEN, whose package set is E, then the
 * intent goes: each half may run again after a crash. */
static ps_code rollback_finish(ps_repo *r, long gen, const ps_entries *e, ps_error *err)
{
    char *target = ps_strdupf("generations/%ld/tree", gen), *link = ps_repo_path(r, "public");
    char *db = ps_repo_path(r, "db/packages"), *intent = intent_path(r);
    char *dbdir = ps_repo_path(r, "db");
    ps_code rc = target && link && db && intent && dbdir
                     ? PS_OK
                     : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_symlink_replace(target, link, err);
    if (rc == PS_OK)
        rc = ps_entries_save(db, e, err);
    if (rc == PS_OK && unlink(intent) != 0 && errno != ENOENT)
        rc = ps_error_set(err, PS_EIO, "%s: %s", intent, strerror(errno));
    if (rc == PS_OK)
        rc = ps_fsync_dir(dbdir, err);
    free(target), free(link), free(db), free(intent), free(dbdir);
    return rc;
}

static ps_code gen_packages(const ps_repo *r, long gen, ps_entries *e, ps_error *err)
{
    char *snap = ps_strdupf("%s/generations/%ld/packages", r->root, gen);
    ps_code rc = snap ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && !ps_path_exists(snap))
        rc = ps_error_set(err, PS_EIO, "%s: missing (named by the unfinished rollback in "
                                       "%s/db/rollback)", snap, r->root);
    if (rc == PS_OK)
        rc = ps_entries_load(snap, e, err);
    free(snap);
    return rc;
}

/* Where a crashed rollback stopped: a writing open finishes it; a reading
 * one reads the working set it is making (*DONE: loaded into R->db). */
static ps_code rollback_resume(ps_repo *r, int write, int *done, ps_error *err)
{
    long gen = rollback_pending(r);
    *done = 0;
    if (gen == 0)
        return PS_OK;
    ps_code rc = gen_packages(r, gen, &r->db, err);
    if (rc == PS_OK && write)
        rc = rollback_finish(r, gen, &r->db, err);
    *done = rc == PS_OK;
    return rc;
}

ps_code ps_repo_rollback(ps_repo *r, long gen, long *to, ps_error *err)
{
    long *gens = NULL, cur = ps_repo_current(r);
    size_t n = 0;
    ps_code rc = ps_repo_list_gens(r, &gens, &n, err);
    if (rc == PS_OK && gen == 0) {
        for (size_t i = 0; i < n; i++)
            if (gens[i] < cur)
                gen = gens[i];
        if (gen == 0)
            rc = ps_error_set(err, PS_EINPUT, "no generation older than the current one (%ld) "
                                              "is kept in %s/generations", cur, r->root);
    }
    int found = 0;
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        found |= gens[i] == gen;
    if (rc == PS_OK && !found)
        rc = ps_error_set(err, PS_EINPUT, "generation %ld is not kept in %s/generations", gen,
                          r->root);
    free(gens);
    char *snap = rc == PS_OK ? ps_strdupf("%s/generations/%ld/packages", r->root, gen) : NULL;
    ps_entries e = {0};
    if (rc == PS_OK && !snap)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_entries_load(snap, &e, err);
    /* A generation published before servable modes existed, or whose
     * modes someone changed, is made readable before it is served again. */
    char *gendir = rc == PS_OK ? ps_repo_gen_path(r, gen) : NULL;
    if (rc == PS_OK)
        rc = gendir ? ps_repo_servable(r, gendir, &e, err) : PS_ENOMEM;
    free(gendir);
    /* One step: the intent (db/rollback) is durable first; switching
     * `public` and writing the working set follow, and a writing open
     * finishes them after a crash (rollback_resume), so the next publish
     * can never re-publish the set that was rolled back from. */
    if (rc == PS_OK)
        rc = rollback_intent(r, gen, err);
    if (rc == PS_OK)
        rc = rollback_finish(r, gen, &e, err);
    if (rc == PS_OK) {
        ps_entries_free(&r->db);
        r->db = e;
        memset(&e, 0, sizeof e);
        *to = gen;
    }
    ps_entries_free(&e);
    free(snap);
    return rc;
}
