/* ps_repo_source.c - the packages a mirror contributes to the working set
 * (ps_repo_set_source in ps_repo.h). */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_repo_priv.h"

char *ps_repo_pool_href(const char *sha256, const char *filename)
{
    return ps_strdupf("pool/%.2s/%s/%s", sha256, sha256, filename);
}

const char *ps_repo_pooled(const ps_repo *r, const char *sha256)
{
    for (size_t i = 0; i < r->db.n; i++)
        if (strcmp(r->db.v[i].sha256, sha256) == 0)
            return r->db.v[i].href;
    return NULL;
}

ps_code ps_repo_record(const ps_repo *r, const char *sha256, ps_buf *out, ps_error *err)
{
    char *path = ps_repo_meta_path(r, sha256);
    ps_code rc = path ? ps_file_read(path, out, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    free(path);
    return rc;
}

static int listed(const ps_strv *l, const char *s, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == n && strncmp(l->v[i], s, n) == 0)
            return 1;
    return 0;
}

int ps_repo_has_target(const ps_repo *r, const char *kind, const char *target)
{
    if (strcmp(kind, "rpm") == 0)
        return listed(&r->rpm_repos, target, strlen(target));
    const char *slash = strchr(target, '/');
    size_t n = slash ? (size_t)(slash - target) : strlen(target);
    return listed(&r->suites, target, n) &&
           (slash == NULL || listed(&r->components, slash + 1, strlen(slash + 1)));
}

/* Same identity, other bytes: the one case that is never resolved
 * silently (the same name and version must mean the same file). */
static ps_code check_conflicts(const ps_repo *r, const char *source, const ps_repo_item *items,
                               size_t n, ps_error *err)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    ps_code rc = PS_OK;
    for (size_t i = 0; i < r->db.n; i++) {
        const ps_entry *e = &r->db.v[i];
        if (strcmp(e->source, source) == 0)
            continue;
        char *k = ps_repo_ident(e->kind, e->name, e->version, e->arch);
        if (k)
            g_hash_table_replace(seen, k, (gpointer)e->href);
    }
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        const ps_repo_item *it = &items[i];
        char *k = ps_repo_ident(it->kind, it->name, it->version, it->arch);
        const char *other = k ? g_hash_table_lookup(seen, k) : NULL;
        if (k == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        else if (other && strstr(other, it->sha256) == NULL)
            rc = ps_error_set(err, PS_EVERIFY,
                              "%s: %s %s (%s) has SHA-256 %s upstream, but %s/%s is already in "
                              "the repository with other bytes: refused",
                              source, it->name, it->version, it->arch, it->sha256, r->root, other);
        else if (other == NULL)
            g_hash_table_replace(seen, k, (gpointer)it->href), k = NULL;
        free(k);
    }
    g_hash_table_destroy(seen);
    return rc;
}

/* The file into pool/..., the record into meta/...; synced later, once. */
static ps_code store(ps_repo *r, const ps_repo_item *it, ps_error *err)
{
    char *dst = ps_repo_path(r, it->href), *dir = dst ? strdup(dst) : NULL;
    ps_code rc = dir ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && it->file) {
        *strrchr(dir, '/') = '\0';
        rc = ps_mkdir_p(dir, 0755, err);
        if (rc == PS_OK && rename(it->file, dst) != 0)
            rc = errno == EXDEV ? ps_copy_file(it->file, dst, err)
                                : ps_error_set(err, PS_EIO, "%s: %s", dst, strerror(errno));
    }
    if (rc == PS_OK && it->record)
        rc = ps_repo_meta_write(r, it->sha256, it->record, it->record_len, err);
    free(dst), free(dir);
    return rc;
}

static ps_code push_item(ps_entries *e, const char *source, const ps_repo_item *it,
                         ps_error *err)
{
    ps_repo_pkg x = {it->kind, it->target, it->name, it->version, it->arch, it->sha256,
                     it->href, it->size, source};
    return ps_entries_push_copy(e, &x, err);
}

static ps_code copy_entry(ps_entries *e, const ps_entry *y, ps_error *err)
{
    ps_repo_pkg x = ps_entry_view(y);
    return ps_entries_push_copy(e, &x, err);
}

/* "TARGET SHA256" of every entry of SOURCE (mine) and of every other
 * entry (theirs): an item already there under another source is not
 * listed twice. */
static void index_entries(const ps_repo *r, const char *source, GHashTable *mine,
                          GHashTable *theirs)
{
    for (size_t i = 0; i < r->db.n; i++) {
        const ps_entry *e = &r->db.v[i];
        char *k = ps_strdupf("%s %s", e->target, e->sha256);
        if (k)
            g_hash_table_add(strcmp(e->source, source) == 0 ? mine : theirs, k);
    }
}

ps_code ps_repo_set_source(ps_repo *r, const char *source, const ps_repo_item *items, size_t n,
                           size_t *added, size_t *removed, int *changed, ps_error *err)
{
    GHashTable *mine = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    GHashTable *theirs = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    ps_entries next = {0};
    size_t kept = 0;
    *added = *removed = 0;
    *changed = 0;
    if (r->lockfd < 0)
        return ps_error_set(err, PS_EINPUT, "the repository is not opened for writing");
    ps_code rc = check_conflicts(r, source, items, n, err);
    index_entries(r, source, mine, theirs);
    for (size_t i = 0; rc == PS_OK && i < r->db.n; i++)
        if (strcmp(r->db.v[i].source, source) != 0)
            rc = copy_entry(&next, &r->db.v[i], err);
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        char *k = ps_strdupf("%s %s", items[i].target, items[i].sha256);
        if (k == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        else if (g_hash_table_contains(mine, k))
            kept++;
        else if (!g_hash_table_contains(theirs, k))
            (*added)++;
        if (rc == PS_OK)
            rc = store(r, &items[i], err);
        if (rc == PS_OK && !g_hash_table_contains(theirs, k))
            rc = push_item(&next, source, &items[i], err);
        free(k);
    }
    *removed = g_hash_table_size(mine) - kept;
    *changed = *added || *removed;
    if (rc == PS_OK && *changed)
        rc = ps_syncfs(r->root, err);
    if (rc == PS_OK && *changed) {
        char *db = ps_repo_path(r, "db/packages");
        ps_entries_sort(&next);
        rc = db ? ps_entries_save(db, &next, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        free(db);
    }
    if (rc == PS_OK && *changed) {
        ps_entries old = r->db;
        r->db = next;
        next = old;
    }
    ps_entries_free(&next);
    g_hash_table_destroy(mine);
    g_hash_table_destroy(theirs);
    return rc;
}
