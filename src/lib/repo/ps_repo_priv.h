/* ps_repo_priv.h - what the ps_repo*.c files share; not a public API. */
#ifndef PS_REPO_PRIV_H
#define PS_REPO_PRIV_H

#include "ps_apt.h"
#include "ps_repo.h"

/* One line of db/packages (and of a generation's `packages`). */
typedef struct ps_entry {
    char *kind, *target, *name, *version, *arch, *sha256, *href;
    uint64_t size;
    char *source; /* "-" (added by hand) or "mirror:NAME" */
} ps_entry;

typedef struct ps_entries {
    ps_entry *v;
    size_t n, cap;
} ps_entries;

struct ps_repo {
    char *root;
    ps_deb822 *conf;
    ps_strv suites, components, archs, rpm_repos, package_keys;
    long valid_secs;
    int keep;
    int require_signed;
    int lockfd;
    ps_entries db;
};

void ps_entry_free(ps_entry *x);
void ps_entries_free(ps_entries *e);
/* Appends *X, taking ownership of its strings. */
ps_code ps_entries_push(ps_entries *e, ps_entry *x, ps_error *err);
ps_code ps_entries_load(const char *path, ps_entries *out, ps_error *err);
ps_code ps_entries_save(const char *path, const ps_entries *e, ps_error *err);
void ps_entries_sort(ps_entries *e);

/* "ROOT/REL" (malloc'd). */
char *ps_repo_path(const ps_repo *r, const char *rel);
/* ROOT/meta/HH/SHA256: the index record of a pooled file. */
char *ps_repo_meta_path(const ps_repo *r, const char *sha256);
/* Writes the index record of the pooled file SHA256 to meta/ (unsynced:
 * the caller syncs once before its commit point). */
ps_code ps_repo_meta_write(ps_repo *r, const char *sha256, const void *rec, size_t len,
                           ps_error *err);
/* "KIND NAME VERSION ARCH": what may exist only once, with one set of
 * bytes (malloc'd). */
char *ps_repo_ident(const char *kind, const char *name, const char *version, const char *arch);
/* ROOT/generations/N (malloc'd). */
char *ps_repo_gen_path(const ps_repo *r, long gen);
/* Complete generation numbers, ascending (*OUT malloc'd). */
ps_code ps_repo_list_gens(const ps_repo *r, long **out, size_t *n, ps_error *err);
/* Makes the generation directory GENDIR servable by a web server that
 * runs as another user (Debian's nginx: www-data): ROOT and generations/
 * searchable, pool/ 0755, GENDIR 0711, its tree/ dirs 0755 and files 0644, and
 * the pool files SET names (with their two directories) 0755/0644.
 * Nothing else changes: db/, lock, meta/, mirrors/ keep their modes.
 * Called before the `public` link names GENDIR (publish and rollback). */
ps_code ps_repo_servable(const ps_repo *r, const char *gendir, const ps_entries *set,
                         ps_error *err);

/* The Maintainer a repository has by default: "ORG repository
 * <packages@ORG.invalid>", which lintian accepts (writes into OUT). */
void ps_repo_default_maintainer(const char *org, char *out, size_t n);

#endif
