/* ps_repo_promote.c - `pkgsmith repo promote`: the packages a suite (and
 * the rpm repo of the same name) holds, named in a second one.
 *
 * The pool is content-addressed, so promoting copies working-set entries,
 * never a file: both suites name the same pool/HH/SHA256/FILE and its
 * index record in meta/, and the next publish reads neither package.  What
 * production serves is then byte for byte what staging served. */
#include "ps_repo_priv.h"

#include <stdlib.h>
#include <string.h>

static int has(const ps_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

/* The entry's place in TO when it is in FROM: "TO/COMPONENT" for a deb of
 * suite FROM, "TO" for an rpm of rpm repo FROM; NULL otherwise. */
static char *moved_target(const ps_entry *e, const char *from, const char *to, int debs,
                          int rpms)
{
    size_t n = strlen(from);
    if (debs && strcmp(e->kind, "deb") == 0 && strncmp(e->target, from, n) == 0 &&
        e->target[n] == '/')
        return ps_strdupf("%s%s", to, e->target + n);
    if (rpms && strcmp(e->kind, "rpm") == 0 && strcmp(e->target, from) == 0)
        return strdup(to);
    return NULL;
}

/* Non-zero when E is one of SPECS (NAME or NAME=VERSION); every spec that
 * matches is marked in USED.  No specs: every package. */
static int wanted(const ps_entry *e, const char *const *specs, size_t nspecs, char *used)
{
    int hit = nspecs == 0;
    for (size_t i = 0; i < nspecs; i++) {
        const char *eq = strchr(specs[i], '=');
        size_t n = eq ? (size_t)(eq - specs[i]) : strlen(specs[i]);
        if (strlen(e->name) == n && strncmp(e->name, specs[i], n) == 0 &&
            (eq == NULL || strcmp(e->version, eq + 1) == 0))
            hit = used[i] = 1;
    }
    return hit;
}

static int in_set(const ps_entries *set, const ps_entry *e, const char *target)
{
    for (size_t i = 0; i < set->n; i++) {
        const ps_entry *x = &set->v[i];
        if (strcmp(x->kind, e->kind) == 0 && strcmp(x->target, target) == 0 &&
            strcmp(x->name, e->name) == 0 && strcmp(x->version, e->version) == 0 &&
            strcmp(x->arch, e->arch) == 0)
            return 1;
    }
    return 0;
}

static ps_code check_names(const ps_repo *r, const char *from, const char *to, int *debs,
                           int *rpms, ps_error *err)
{
    *debs = has(&r->suites, from) && has(&r->suites, to);
    *rpms = has(&r->rpm_repos, from) && has(&r->rpm_repos, to);
    if (strcmp(from, to) == 0)
        return ps_error_set(err, PS_EINPUT, "--from and --to are both '%s'", from);
    if (!*debs && !*rpms)
        return ps_error_set(err, PS_EINPUT,
                            "neither suites nor rpm repos '%s' and '%s' are both in %s/repo.conf",
                            from, to, r->root);
    return PS_OK;
}

/* Appends to FRESH a copy of every wanted entry of FROM not yet in TO. */
static ps_code collect(const ps_repo *r, const char *from, const char *to, int debs, int rpms,
                       const char *const *specs, size_t nspecs, char *used, ps_entries *fresh,
                       size_t *matched, ps_error *err)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < r->db.n; i++) {
        const ps_entry *e = &r->db.v[i];
        char *target = moved_target(e, from, to, debs, rpms);
        if (target == NULL || !wanted(e, specs, nspecs, used)) {
            free(target);
            continue;
        }
        (*matched)++;
        if (in_set(&r->db, e, target) || in_set(fresh, e, target)) {
            free(target);
            continue;
        }
        ps_repo_pkg x = ps_entry_view(e);
        x.target = target;
        rc = ps_entries_push_copy(fresh, &x, err);
        free(target);
    }
    for (size_t i = 0; rc == PS_OK && i < nspecs; i++)
        if (!used[i])
            rc = ps_error_set(err, PS_EINPUT, "no package %s in '%s' of %s", specs[i], from,
                              r->root);
    if (rc == PS_OK && *matched == 0)
        rc = ps_error_set(err, PS_EINPUT, "'%s' of %s holds no package to promote", from,
                          r->root);
    return rc;
}

ps_code ps_repo_promote(ps_repo *r, const char *from, const char *to, const char *const *specs,
                        size_t nspecs, size_t *promoted, size_t *unchanged, ps_error *err)
{
    int debs = 0, rpms = 0;
    size_t matched = 0;
    ps_entries fresh = {0};
    char *used = calloc(nspecs ? nspecs : 1, 1);
    *promoted = *unchanged = 0;
    ps_code rc = used ? check_names(r, from, to, &debs, &rpms, err)
                      : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = collect(r, from, to, debs, rpms, specs, nspecs, used, &fresh, &matched, err);
    for (size_t i = 0; rc == PS_OK && i < fresh.n; i++) {
        rc = ps_entries_push(&r->db, &fresh.v[i], err);
        if (rc == PS_OK)
            memset(&fresh.v[i], 0, sizeof fresh.v[i]);
    }
    /* The pool files and records are there already, synced by the add
     * that brought them: the working set is the only write. */
    if (rc == PS_OK && fresh.n > 0) {
        char *db = ps_repo_path(r, "db/packages");
        ps_entries_sort(&r->db);
        rc = db ? ps_entries_save(db, &r->db, err) : PS_ENOMEM;
        free(db);
    }
    if (rc == PS_OK) {
        *promoted = fresh.n;
        *unchanged = matched - fresh.n;
    }
    ps_entries_free(&fresh);
    free(used);
    return rc;
}
