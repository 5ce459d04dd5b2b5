/* ps_repo_gc.c - what references pooled files, `repo gc`, and the
 * Keep-Versions retention that publish applies. */
#include "ps_repo_priv.h"
#include "ps_repo_gc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <rpm/rpmver.h>

/* ---- references ---------------------------------------------------- */

static void refs_add(ps_refs *refs, const ps_entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        g_hash_table_add(refs->shas, g_strdup(e->v[i].sha256));
        g_hash_table_add(refs->hrefs, g_strdup(e->v[i].href));
    }
}

static ps_code refs_add_file(ps_refs *refs, char *path, ps_error *err)
{
    ps_entries e = {0};
    ps_code rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_path_exists(path))
        rc = ps_entries_load(path, &e, err);
    if (rc == PS_OK)
        refs_add(refs, &e);
    ps_entries_free(&e);
    free(path);
    return rc;
}

static ps_code refs_snapshots(const ps_repo *r, ps_refs *refs, ps_error *err)
{
    char *dir = ps_repo_path(r, "snapshots");
    DIR *d = dir ? opendir(dir) : NULL;
    ps_code rc = dir ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && d == NULL && errno != ENOENT)
        rc = ps_error_set(err, PS_EIO, "%s: %s", dir, strerror(errno));
    for (struct dirent *de; rc == PS_OK && d && (de = readdir(d));)
        if (de->d_name[0] != '.' && ps_str_ends_with(de->d_name, ".packages"))
            rc = refs_add_file(refs, ps_strdupf("%s/%s", dir, de->d_name), err);
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

void ps_refs_free(ps_refs *refs)
{
    if (refs->shas)
        g_hash_table_destroy(refs->shas);
    if (refs->hrefs)
        g_hash_table_destroy(refs->hrefs);
    refs->shas = refs->hrefs = NULL;
}

ps_code ps_repo_refs(const ps_repo *r, ps_refs *refs, ps_error *err)
{
    refs->shas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    refs->hrefs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    refs_add(refs, &r->db);
    long *gens = NULL;
    size_t n = 0;
    ps_code rc = ps_repo_list_gens(r, &gens, &n, err);
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        rc = refs_add_file(refs, ps_strdupf("%s/generations/%ld/packages", r->root, gens[i]), err);
        if (rc == PS_OK)
            rc = refs_add_file(refs, ps_strdupf("%s/generations/%ld/served", r->root, gens[i]),
                               err);
    }
    free(gens);
    if (rc == PS_OK)
        rc = refs_snapshots(r, refs, err);
    return rc;
}

/* ---- collecting ---------------------------------------------------- */

void ps_repo_gc_result_free(ps_repo_gc_result *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].path);
    free(g->v);
    memset(g, 0, sizeof *g);
}

/* Bytes under PATH (a file or a directory tree; symlinks not followed). */
static uint64_t du(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint64_t sum = 0;
    DIR *d = opendir(path);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = ps_strdupf("%s/%s", path, de->d_name);
        sum += sub ? du(sub) : 0;
        free(sub);
    }
    if (d)
        closedir(d);
    return sum;
}

typedef struct gc_ctx {
    ps_repo *r;
    ps_refs refs;
    int dry_run;
    ps_repo_gc_result *out;
    ps_error *err;
} gc_ctx;

/* Records REL (relative to ROOT) as garbage and, unless a dry run,
 * removes it. */
static ps_code collect(gc_ctx *c, char *rel)
{
    char *path = rel ? ps_repo_path(c->r, rel) : NULL;
    ps_code rc = path ? ps_array_reserve(&c->out->v, c->out->n, sizeof *c->out->v, c->err)
                      : ps_error_set(c->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK) {
        uint64_t size = du(path);
        c->out->v[c->out->n++] = (ps_repo_garbage){rel, size};
        c->out->bytes += size;
        rel = NULL;
        if (!c->dry_run)
            rc = ps_rm_rf(path, c->err);
    }
    free(rel), free(path);
    return rc;
}

/* Calls EACH for every entry of ROOT/REL but . and .. (sorted, so the
 * listing reads the same every time). */
static ps_code each_entry(gc_ctx *c, const char *rel,
                          ps_code (*each)(gc_ctx *c, const char *rel, const char *name))
{
    char *dir = ps_repo_path(c->r, rel);
    DIR *d = dir ? opendir(dir) : NULL;
    ps_strv names = {0};
    ps_code rc = dir ? PS_OK : ps_error_set(c->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && d == NULL && errno != ENOENT)
        rc = ps_error_set(c->err, PS_EIO, "%s: %s", dir, strerror(errno));
    for (struct dirent *de; rc == PS_OK && d && (de = readdir(d));)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = ps_strv_add(&names, de->d_name, c->err);
    if (d)
        closedir(d);
    ps_strv_sort(&names);
    for (size_t i = 0; rc == PS_OK && i < names.n; i++)
        rc = each(c, rel, names.v[i]);
    ps_strv_free(&names);
    free(dir);
    return rc;
}

/* pool/HH/SHA256/FILE: kept only when an entry names exactly it. */
static ps_code pool_file(gc_ctx *c, const char *rel, const char *name)
{
    char *href = ps_strdupf("%s/%s", rel, name);
    if (href && g_hash_table_contains(c->refs.hrefs, href)) {
        free(href);
        return PS_OK;
    }
    return collect(c, href);
}

static ps_code pool_sha(gc_ctx *c, const char *rel, const char *name)
{
    char *sub = ps_strdupf("%s/%s", rel, name);
    char *path = sub ? ps_repo_path(c->r, sub) : NULL;
    ps_code rc = path ? PS_OK : ps_error_set(c->err, PS_ENOMEM, "out of memory");
    int dir = path && ps_path_is_dir(path);
    free(path);
    if (rc == PS_OK && (!dir || !g_hash_table_contains(c->refs.shas, name)))
        return collect(c, sub);
    if (rc == PS_OK)
        rc = each_entry(c, sub, pool_file);
    free(sub);
    return rc;
}

static ps_code meta_file(gc_ctx *c, const char *rel, const char *name)
{
    if (g_hash_table_contains(c->refs.shas, name))
        return PS_OK;
    return collect(c, ps_strdupf("%s/%s", rel, name));
}

/* An emptied pool/HH or meta/HH goes too (best effort: a dry run or a
 * concurrent reader keeps it, and an empty directory costs nothing). */
static ps_code prefix_dir(gc_ctx *c, const char *rel, const char *name,
                          ps_code (*each)(gc_ctx *c, const char *rel, const char *name))
{
    char *sub = ps_strdupf("%s/%s", rel, name);
    char *path = sub ? ps_repo_path(c->r, sub) : NULL;
    if (path == NULL) {
        free(sub);
        return ps_error_set(c->err, PS_ENOMEM, "out of memory");
    }
    if (!ps_path_is_dir(path)) { /* nothing we write: a stray file */
        free(path);
        return collect(c, sub);
    }
    ps_code rc = each_entry(c, sub, each);
    if (rc == PS_OK && !c->dry_run)
        rmdir(path);
    free(sub), free(path);
    return rc;
}

static ps_code pool_prefix(gc_ctx *c, const char *rel, const char *name)
{
    return prefix_dir(c, rel, name, pool_sha);
}

static ps_code meta_prefix(gc_ctx *c, const char *rel, const char *name)
{
    return prefix_dir(c, rel, name, meta_file);
}

static ps_code stale_gen(gc_ctx *c, const char *rel, const char *name)
{
    return strncmp(name, ".tmp-", 5) == 0 ? collect(c, ps_strdupf("%s/%s", rel, name)) : PS_OK;
}

ps_code ps_repo_gc(ps_repo *r, int dry_run, ps_repo_gc_result *out, ps_error *err)
{
    gc_ctx c = {r, {NULL, NULL}, dry_run, out, err};
    memset(out, 0, sizeof *out);
    if (r->lockfd < 0)
        return ps_error_set(err, PS_EINPUT, "gc needs the repository opened for writing");
    ps_code rc = ps_repo_refs(r, &c.refs, err);
    if (rc == PS_OK)
        rc = each_entry(&c, "pool", pool_prefix);
    if (rc == PS_OK)
        rc = each_entry(&c, "meta", meta_prefix);
    if (rc == PS_OK)
        rc = each_entry(&c, "generations", stale_gen);
    ps_refs_free(&c.refs);
    return rc;
}

ps_code ps_repo_collect(ps_repo *r, const ps_strv *shas, ps_error *err)
{
    ps_refs refs = {NULL, NULL};
    ps_code rc = shas->n ? ps_repo_refs(r, &refs, err) : PS_OK;
    for (size_t i = 0; rc == PS_OK && i < shas->n; i++) {
        const char *sha = shas->v[i];
        if (g_hash_table_contains(refs.shas, sha))
            continue;
        char *dir = ps_strdupf("%s/pool/%.2s/%s", r->root, sha, sha);
        char *meta = ps_repo_meta_path(r, sha);
        if (dir)
            ps_rm_rf(dir, NULL); /* best effort: `repo gc` collects what stays */
        if (meta)
            unlink(meta);
        free(dir), free(meta);
    }
    ps_refs_free(&refs);
    return rc;
}

/* ---- retention ----------------------------------------------------- */

/* TARGET's suite (the part before '/') or rpm repo. */
static int target_is(const char *kind, const char *target, const char *name)
{
    size_t n = strlen(name);
    if (strcmp(kind, "rpm") == 0)
        return strcmp(target, name) == 0;
    return strncmp(target, name, n) == 0 && target[n] == '/';
}

static int strv_has(const ps_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

/* One word of Keep-Versions: N (into *DEF) or NAME=N (into *NAMED when
 * NAME is TARGET's suite or rpm repo). */
static ps_code keep_word(const ps_repo *r, char *w, const char *kind, const char *target,
                         long *def, long *named, ps_error *err)
{
    char *eq = strchr(w, '='), *end = NULL;
    const char *num = eq ? eq + 1 : w;
    long v = strtol(num, &end, 10);
    if (eq)
        *eq = '\0';
    unsigned line = ps_deb822_field_line(r->conf, 0, "Keep-Versions");
    if (end == num || *end != '\0' || v < 1)
        return ps_error_set(err, PS_EINPUT,
                            "%s/repo.conf:%u: Keep-Versions: want N or SUITE=N with N >= 1, "
                            "not '%s%s%s'",
                            r->root, line, eq ? w : "", eq ? "=" : "", num);
    if (eq && !strv_has(&r->suites, w) && !strv_has(&r->rpm_repos, w))
        return ps_error_set(err, PS_EINPUT,
                            "%s/repo.conf:%u: Keep-Versions: '%s' is no suite or rpm repo of "
                            "this repository",
                            r->root, line, w);
    if (!eq)
        *def = v;
    else if (target && target_is(kind, target, w))
        *named = v;
    return PS_OK;
}

ps_code ps_repo_keep_versions(const ps_repo *r, const char *kind, const char *target, long *n,
                              ps_error *err)
{
    const char *v = ps_repo_conf_get(r, "Keep-Versions");
    char *copy = strdup(v ? v : ""), *save = NULL;
    ps_code rc = copy ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    long def = 0, named = 0; /* a named value wins over the default, in any order */
    for (char *w = copy ? strtok_r(copy, " \t\n,", &save) : NULL; rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n,", &save))
        rc = keep_word(r, w, kind, target, &def, &named, err);
    *n = named ? named : def;
    free(copy);
    return rc;
}

static int version_cmp(const char *kind, const char *a, const char *b)
{
    if (strcmp(kind, "deb") == 0)
        return ps_apt_version_cmp(a, b);
    rpmver x = rpmverParse(a), y = rpmverParse(b);
    int c = x && y ? rpmverCmp(x, y) : strcmp(a, b);
    rpmverFree(x);
    rpmverFree(y);
    return c;
}

/* Same kind, target, name and arch; then the newest version first. */
static int retain_cmp(const void *pa, const void *pb)
{
    const ps_entry *x = *(const ps_entry *const *)pa, *y = *(const ps_entry *const *)pb;
    int c = ps_entry_group_cmp(x, y);
    return c ? c : -version_cmp(x->kind, x->version, y->version);
}

/* Marks in GONE (indexed as R's working set) the hand-added entries
 * beyond Keep-Versions; V is them sorted by retain_cmp. */
static ps_code retain_mark(ps_repo *r, ps_entry **v, size_t n, unsigned char *gone,
                           ps_strv *retired, ps_error *err)
{
    ps_code rc = PS_OK;
    long keep = 0, rank = 0;
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        if (i == 0 || ps_entry_group_cmp(v[i - 1], v[i]) != 0) {
            rank = 0;
            rc = ps_repo_keep_versions(r, v[i]->kind, v[i]->target, &keep, err);
        }
        if (rc == PS_OK && keep > 0 && ++rank > keep) {
            rc = ps_strv_add(retired, v[i]->sha256, err);
            gone[v[i] - r->db.v] = 1;
        }
    }
    return rc;
}

ps_code ps_repo_retain(ps_repo *r, ps_strv *retired, ps_error *err)
{
    long any = 0;
    ps_code rc = ps_repo_keep_versions(r, "deb", NULL, &any, err);
    if (rc != PS_OK || ps_repo_conf_get(r, "Keep-Versions") == NULL || r->db.n == 0)
        return rc;
    ps_entry **v = calloc(r->db.n, sizeof *v);
    unsigned char *gone = calloc(r->db.n, 1);
    size_t n = 0, before = retired->n;
    if (v == NULL || gone == NULL) {
        free(v), free(gone);
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->db.n; i++)
        if (r->db.v[i].source == NULL || strcmp(r->db.v[i].source, "-") == 0)
            v[n++] = &r->db.v[i];
    qsort(v, n, sizeof *v, retain_cmp);
    rc = retain_mark(r, v, n, gone, retired, err);
    free(v);
    size_t kept = 0;
    for (size_t i = 0; i < r->db.n; i++) {
        if (rc == PS_OK && gone[i]) {
            ps_entry_free(&r->db.v[i]);
            continue;
        }
        r->db.v[kept++] = r->db.v[i];
    }
    r->db.n = kept;
    free(gone);
    char *db = rc == PS_OK && retired->n > before ? ps_repo_path(r, "db/packages") : NULL;
    if (db)
        rc = ps_entries_save(db, &r->db, err);
    free(db);
    return rc;
}
