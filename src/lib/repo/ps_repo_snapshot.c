/* ps_repo_snapshot.c - named snapshots, the pins that serve one under a
 * suite, and the difference of two package sets. */
#include "ps_repo_priv.h"
#include "ps_repo_snapshot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- names and paths ----------------------------------------------- */

/* A snapshot name becomes a file name: letters, digits, . - _ + only,
 * never a leading dot or dash. */
static ps_code check_name(const char *name, ps_error *err)
{
    int ok = name && *name && *name != '.' && *name != '-' && strlen(name) <= 200;
    for (const char *s = name; ok && *s; s++)
        ok = isalnum((unsigned char)*s) || strchr(".-_+", *s) != NULL;
    return ok ? PS_OK
              : ps_error_set(err, PS_EINPUT,
                             "snapshot name '%s': use letters, digits and . - _ + only, "
                             "not starting with . or -",
                             name ? name : "");
}

char *ps_repo_snapshot_path(const ps_repo *r, const char *name, const char *ext)
{
    return ps_strdupf("%s/snapshots/%s.%s", r->root, name, ext);
}

static int snapshot_exists(const ps_repo *r, const char *name)
{
    char *p = ps_repo_snapshot_path(r, name, "packages");
    int yes = p && ps_path_exists(p);
    free(p);
    return yes;
}

/* ---- pins ---------------------------------------------------------- */

ps_code ps_repo_pins_load(const ps_repo *r, ps_strv *suites, ps_strv *snaps, ps_error *err)
{
    char *path = ps_repo_path(r, "db/pins");
    ps_buf b = {0};
    ps_code rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_path_exists(path))
        rc = ps_file_read(path, &b, err);
    char *save = NULL;
    size_t lineno = 0;
    for (char *l = b.data ? strtok_r((char *)b.data, "\n", &save) : NULL; rc == PS_OK && l;
         l = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(l, '\t');
        lineno++;
        if (tab == NULL || tab == l || tab[1] == '\0') {
            rc = ps_error_set(err, PS_EINPUT, "%s:%zu: damaged line (want SUITE<TAB>SNAPSHOT)",
                              path, lineno);
            break;
        }
        *tab = '\0';
        rc = ps_strv_add(suites, l, err);
        if (rc == PS_OK)
            rc = ps_strv_add(snaps, tab + 1, err);
    }
    ps_buf_free(&b);
    free(path);
    return rc;
}

static ps_code pins_save(const ps_repo *r, const ps_strv *suites, const ps_strv *snaps,
                         ps_error *err)
{
    char *path = ps_repo_path(r, "db/pins");
    ps_buf b = {0};
    ps_code rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < suites->n; i++)
        rc = ps_buf_appendf(&b, err, "%s\t%s\n", suites->v[i], snaps->v[i]);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(path, b.data ? (const void *)b.data : "", b.len, 0644, err);
    ps_buf_free(&b);
    free(path);
    return rc;
}

static int strv_index(const ps_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return (int)i;
    return -1;
}

ps_code ps_repo_pin(ps_repo *r, const char *suite, const char *snapshot, ps_error *err)
{
    if (strv_index(&r->suites, suite) < 0 && strv_index(&r->rpm_repos, suite) < 0)
        return ps_error_set(err, PS_EINPUT, "--suite %s: no such suite or rpm repo in %s/repo.conf",
                            suite, r->root);
    ps_code rc = snapshot ? check_name(snapshot, err) : PS_OK;
    if (rc == PS_OK && snapshot && !snapshot_exists(r, snapshot))
        rc = ps_error_set(err, PS_EINPUT, "no snapshot %s in %s/snapshots", snapshot, r->root);
    ps_strv suites = {0}, snaps = {0};
    if (rc == PS_OK)
        rc = ps_repo_pins_load(r, &suites, &snaps, err);
    int at = rc == PS_OK ? strv_index(&suites, suite) : -1;
    if (rc == PS_OK && at >= 0 && snapshot) { /* re-pinned */
        free(snaps.v[at]);
        if ((snaps.v[at] = strdup(snapshot)) == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    } else if (rc == PS_OK && at >= 0) { /* unpinned: the last line moves here */
        free(suites.v[at]), free(snaps.v[at]);
        suites.v[at] = suites.v[--suites.n];
        snaps.v[at] = snaps.v[--snaps.n];
    } else if (rc == PS_OK && snapshot) {
        rc = ps_strv_add(&suites, suite, err);
        if (rc == PS_OK)
            rc = ps_strv_add(&snaps, snapshot, err);
    }
    if (rc == PS_OK)
        rc = pins_save(r, &suites, &snaps, err);
    ps_strv_free(&suites), ps_strv_free(&snaps);
    return rc;
}

/* Non-zero when E belongs to suite (or rpm repo) SUITE. */
static int in_suite(const ps_entry *e, const char *suite)
{
    size_t n = strlen(suite);
    if (strcmp(e->kind, "rpm") == 0)
        return strcmp(e->target, suite) == 0;
    return strncmp(e->target, suite, n) == 0 && e->target[n] == '/';
}

static ps_code entry_copy(const ps_entry *x, ps_entries *out, ps_error *err)
{
    ps_repo_pkg p = ps_entry_view(x);
    return ps_entries_push_copy(out, &p, err);
}

static int pinned_index(const ps_strv *suites, const ps_entry *e)
{
    for (size_t i = 0; i < suites->n; i++)
        if (in_suite(e, suites->v[i]))
            return (int)i;
    return -1;
}

ps_code ps_repo_served(const ps_repo *r, ps_entries *out, size_t *npins, ps_error *err)
{
    ps_strv suites = {0}, snaps = {0};
    ps_code rc = ps_repo_pins_load(r, &suites, &snaps, err);
    *npins = suites.n;
    for (size_t i = 0; rc == PS_OK && i < r->db.n; i++)
        if (pinned_index(&suites, &r->db.v[i]) < 0)
            rc = entry_copy(&r->db.v[i], out, err);
    for (size_t s = 0; rc == PS_OK && s < suites.n; s++) {
        char *path = ps_repo_snapshot_path(r, snaps.v[s], "packages");
        ps_entries snap = {0};
        rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK && !ps_path_exists(path))
            rc = ps_error_set(err, PS_EINPUT, "%s/db/pins: suite %s is pinned to snapshot %s, "
                              "which is gone (%s)", r->root, suites.v[s], snaps.v[s], path);
        if (rc == PS_OK)
            rc = ps_entries_load(path, &snap, err);
        for (size_t i = 0; rc == PS_OK && i < snap.n; i++)
            if (in_suite(&snap.v[i], suites.v[s]))
                rc = entry_copy(&snap.v[i], out, err);
        ps_entries_free(&snap);
        free(path);
    }
    ps_entries_sort(out);
    ps_strv_free(&suites), ps_strv_free(&snaps);
    return rc;
}

/* ---- create, drop, list -------------------------------------------- */

ps_code ps_repo_snapshot_create(ps_repo *r, const char *name, size_t *count, ps_error *err)
{
    ps_code rc = check_name(name, err);
    char *dir = rc == PS_OK ? ps_repo_path(r, "snapshots") : NULL;
    char *pk = rc == PS_OK ? ps_repo_snapshot_path(r, name, "packages") : NULL;
    char *info = rc == PS_OK ? ps_repo_snapshot_path(r, name, "info") : NULL;
    ps_buf b = {0};
    char date[64];
    if (rc == PS_OK && (!dir || !pk || !info))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_path_exists(pk))
        rc = ps_error_set(err, PS_EINPUT, "snapshot %s exists already (%s); drop it first",
                          name, pk);
    if (rc == PS_OK)
        rc = ps_mkdir_p(dir, 0755, err);
    ps_format_date((long)time(NULL), date, sizeof date);
    if (rc == PS_OK)
        rc = ps_buf_appendf(&b, err, "Snapshot: %s\nCreated: %s\nPackages: %zu\nGeneration: %ld\n",
                            name, date, r->db.n, ps_repo_current(r));
    /* The info first: without its .packages a snapshot does not exist,
     * so a crash in between leaves nothing that counts. */
    if (rc == PS_OK)
        rc = ps_file_write_atomic(info, b.data, b.len, 0644, err);
    if (rc == PS_OK)
        rc = ps_entries_save(pk, &r->db, err);
    if (rc == PS_OK)
        *count = r->db.n;
    ps_buf_free(&b);
    free(dir), free(pk), free(info);
    return rc;
}

ps_code ps_repo_snapshot_drop(ps_repo *r, const char *name, ps_error *err)
{
    ps_code rc = check_name(name, err);
    ps_strv suites = {0}, snaps = {0};
    if (rc == PS_OK && !snapshot_exists(r, name))
        rc = ps_error_set(err, PS_EINPUT, "no snapshot %s in %s/snapshots", name, r->root);
    if (rc == PS_OK)
        rc = ps_repo_pins_load(r, &suites, &snaps, err);
    int at = rc == PS_OK ? strv_index(&snaps, name) : -1;
    if (at >= 0)
        rc = ps_error_set(err, PS_EINPUT, "snapshot %s is published under suite %s; publish "
                          "another snapshot there or --unpin it first", name, suites.v[at]);
    char *pk = rc == PS_OK ? ps_repo_snapshot_path(r, name, "packages") : NULL;
    char *info = rc == PS_OK ? ps_repo_snapshot_path(r, name, "info") : NULL;
    char *dir = rc == PS_OK ? ps_repo_path(r, "snapshots") : NULL;
    if (rc == PS_OK && (!pk || !info || !dir))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    /* .packages is the commit point: once it is gone, so is the snapshot. */
    if (rc == PS_OK && unlink(pk) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", pk, strerror(errno));
    if (rc == PS_OK)
        rc = ps_fsync_dir(dir, err);
    if (rc == PS_OK)
        unlink(info);
    ps_strv_free(&suites), ps_strv_free(&snaps);
    free(pk), free(info), free(dir);
    return rc;
}

static void read_snapshot_info(const ps_repo *r, ps_repo_snapshot *s)
{
    char *path = ps_repo_snapshot_path(r, s->name, "info");
    ps_deb822 *d = ps_info_open(path);
    ps_info_str(d, "Created", s->created, sizeof s->created);
    s->packages = (size_t)ps_info_num(d, "Packages", (long)s->packages);
    s->generation = ps_info_num(d, "Generation", s->generation);
    ps_deb822_free(d);
    free(path);
}

static int snapshot_cmp(const void *a, const void *b)
{
    return strcmp(((const ps_repo_snapshot *)a)->name, ((const ps_repo_snapshot *)b)->name);
}

static ps_code add_pinned(ps_repo_snapshot *s, const ps_strv *suites, const ps_strv *snaps,
                          ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < snaps->n; i++)
        if (strcmp(snaps->v[i], s->name) == 0)
            rc = ps_buf_appendf(&b, err, "%s%s", b.len ? " " : "", suites->v[i]);
    if (rc == PS_OK && b.len)
        s->pinned = (char *)b.data, b.data = NULL;
    ps_buf_free(&b);
    return rc;
}

ps_code ps_repo_snapshot_list(const ps_repo *r, ps_repo_snapshot **out, size_t *n,
                              ps_error *err)
{
    char *dir = ps_repo_path(r, "snapshots");
    DIR *d = dir ? opendir(dir) : NULL;
    ps_strv suites = {0}, snaps = {0};
    ps_code rc = ps_repo_pins_load(r, &suites, &snaps, err);
    *out = NULL;
    *n = 0;
    for (struct dirent *de; rc == PS_OK && d && (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || !ps_str_ends_with(de->d_name, ".packages"))
            continue;
        rc = ps_array_reserve(out, *n, sizeof **out, err);
        ps_repo_snapshot *s = rc == PS_OK ? &(*out)[*n] : NULL;
        if (s) {
            memset(s, 0, sizeof *s);
            if ((s->name = strndup(de->d_name, len - strlen(".packages"))) == NULL)
                rc = ps_error_set(err, PS_ENOMEM, "out of memory");
            else
                (*n)++;
        }
        if (rc == PS_OK) {
            read_snapshot_info(r, s);
            rc = add_pinned(s, &suites, &snaps, err);
        }
    }
    if (d)
        closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, snapshot_cmp);
    ps_strv_free(&suites), ps_strv_free(&snaps);
    free(dir);
    return rc;
}

void ps_repo_snapshots_free(ps_repo_snapshot *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name), free(v[i].pinned);
    free(v);
}

/* ---- package sets -------------------------------------------------- */

static int entry_group_cmp(const void *a, const void *b);

struct ps_repo_set {
    ps_entries e;
};

static ps_repo_set *set_load(const char *path, const char *missing, ps_error *err)
{
    ps_repo_set *s = ps_zalloc(sizeof *s, err);
    ps_code rc = s && path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && !ps_path_exists(path))
        rc = ps_error_set(err, PS_EINPUT, "%s (%s)", missing, path);
    if (rc == PS_OK)
        rc = ps_entries_load(path, &s->e, err);
    if (rc == PS_OK && s->e.n > 1) /* by group, so that a diff walks both in step */
        qsort(s->e.v, s->e.n, sizeof *s->e.v, entry_group_cmp);
    return PS_BUILT(rc, s, ps_repo_set_free);
}

ps_repo_set *ps_repo_set_snapshot(const ps_repo *r, const char *name, ps_error *err)
{
    if (check_name(name, err) != PS_OK)
        return NULL;
    char *path = ps_repo_snapshot_path(r, name, "packages");
    char msg[300];
    snprintf(msg, sizeof msg, "no snapshot %s", name);
    ps_repo_set *s = set_load(path, msg, err);
    free(path);
    return s;
}

ps_repo_set *ps_repo_set_generation(const ps_repo *r, long gen, ps_error *err)
{
    if (gen == 0 && (gen = ps_repo_current(r)) == 0) {
        ps_error_set(err, PS_EINPUT, "%s: nothing is published yet", r->root);
        return NULL;
    }
    /* `served` exists when a suite was pinned; else the working set is
     * what was served. */
    char *served = ps_strdupf("%s/generations/%ld/served", r->root, gen);
    char *pk = ps_strdupf("%s/generations/%ld/packages", r->root, gen);
    char msg[100];
    snprintf(msg, sizeof msg, "generation %ld is not kept", gen);
    ps_repo_set *s = served && pk ? set_load(ps_path_exists(served) ? served : pk, msg, err)
                                  : set_load(NULL, msg, err);
    free(served), free(pk);
    return s;
}

size_t ps_repo_set_count(const ps_repo_set *s)
{
    return s->e.n;
}

ps_repo_pkg ps_repo_set_at(const ps_repo_set *s, size_t i)
{
    return ps_entry_view(&s->e.v[i]);
}

void ps_repo_set_free(ps_repo_set *s)
{
    if (s == NULL)
        return;
    ps_entries_free(&s->e);
    free(s);
}

/* ---- diff ---------------------------------------------------------- */

static int entry_group_cmp(const void *a, const void *b)
{
    const ps_entry *x = a, *y = b;
    int c = ps_entry_group_cmp(x, y);
    return c ? c : strcmp(x->version, y->version);
}

/* Length of the group starting at E[I]. */
static size_t group_len(const ps_entries *e, size_t i)
{
    size_t j = i + 1;
    while (j < e->n && ps_entry_group_cmp(&e->v[i], &e->v[j]) == 0)
        j++;
    return j - i;
}

/* Equal when both groups hold the same versions with the same bytes. */
static int group_same(const ps_entry *a, size_t na, const ps_entry *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].version, b[i].version) != 0 || strcmp(a[i].sha256, b[i].sha256) != 0)
            return 0;
    return 1;
}

static char *versions_of(const ps_entry *g, size_t n)
{
    ps_buf b = {0};
    for (size_t i = 0; i < n; i++)
        if (ps_buf_appendf(&b, NULL, "%s%s", i ? " " : "", g[i].version) != PS_OK) {
            ps_buf_free(&b);
            return NULL;
        }
    return (char *)b.data;
}

static ps_code diff_push(ps_repo_diff *d, ps_repo_change_kind k, const ps_entry *a, size_t na,
                         const ps_entry *b, size_t nb, ps_error *err)
{
    const ps_entry *g = na ? a : b;
    ps_code rc = ps_array_reserve(&d->v, d->n, sizeof *d->v, err);
    if (rc != PS_OK)
        return rc;
    ps_repo_change *c = &d->v[d->n];
    *c = (ps_repo_change){k, strdup(g->kind), strdup(g->target), strdup(g->name),
                          strdup(g->arch), na ? versions_of(a, na) : NULL,
                          nb ? versions_of(b, nb) : NULL};
    d->n++;
    if (!c->kind || !c->target || !c->name || !c->arch || (na && !c->from) || (nb && !c->to))
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

ps_code ps_repo_diff_sets(const ps_repo_set *sa, const ps_repo_set *sb, ps_repo_diff *out,
                          ps_error *err)
{
    const ps_entries *a = &sa->e, *b = &sb->e;
    memset(out, 0, sizeof *out);
    size_t i = 0, j = 0;
    ps_code rc = PS_OK;
    while (rc == PS_OK && (i < a->n || j < b->n)) {
        int c = i >= a->n ? 1 : j >= b->n ? -1 : ps_entry_group_cmp(&a->v[i], &b->v[j]);
        size_t na = c <= 0 ? group_len(a, i) : 0, nb = c >= 0 ? group_len(b, j) : 0;
        if (c < 0)
            rc = diff_push(out, PS_CHANGE_REMOVED, &a->v[i], na, NULL, 0, err);
        else if (c > 0)
            rc = diff_push(out, PS_CHANGE_ADDED, NULL, 0, &b->v[j], nb, err);
        else if (!group_same(&a->v[i], na, &b->v[j], nb))
            rc = diff_push(out, PS_CHANGE_CHANGED, &a->v[i], na, &b->v[j], nb, err);
        i += na, j += nb;
    }
    return rc;
}

void ps_repo_diff_free(ps_repo_diff *d)
{
    for (size_t i = 0; i < d->n; i++) {
        ps_repo_change *c = &d->v[i];
        free(c->kind), free(c->target), free(c->name), free(c->arch), free(c->from), free(c->to);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}
