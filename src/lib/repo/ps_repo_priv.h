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
    ps_strv signing_keys; /* Signing-Key: several during a key rotation */
    long valid_secs;
    int keep;
    int require_signed;
    int lockfd;
    ps_entries db;
};

/* Every fingerprint of Signing-Key (several during a key rotation): each
 * signs InRelease, Release.gpg and repomd.xml.asc, and the client package
 * ships them all.  Outside this folder only the first one matters
 * (ps_repo_key), and the rpm repos are the repository's own business. */
const ps_strv *ps_repo_keys(const ps_repo *r);
const ps_strv *ps_repo_rpm_repos(const ps_repo *r);

void ps_entry_free(ps_entry *x);
void ps_entries_free(ps_entries *e);
/* Appends *X, taking ownership of its strings. */
ps_code ps_entries_push(ps_entries *e, ps_entry *x, ps_error *err);
/* Appends a copy of P, its strings duplicated; a NULL source is "-". */
ps_code ps_entries_push_copy(ps_entries *e, const ps_repo_pkg *p, ps_error *err);
ps_code ps_entries_load(const char *path, ps_entries *out, ps_error *err);
ps_code ps_entries_save(const char *path, const ps_entries *e, ps_error *err);
void ps_entries_sort(ps_entries *e);
/* An info file we wrote (generations/N/info, snapshots/NAME/info): its one
 * stanza, or NULL when it is missing or damaged; the getters then leave
 * DST as it is and return DFLT, so a listing shows what it can. */
ps_deb822 *ps_info_open(const char *path);
void ps_info_str(const ps_deb822 *d, const char *field, char *dst, size_t size);
long ps_info_num(const ps_deb822 *d, const char *field, long dflt);
/* X as the public ps_repo_pkg (borrowing its strings). */
ps_repo_pkg ps_entry_view(const ps_entry *x);
/* By kind, target, name and arch: the group that Keep-Versions counts
 * in and that a diff reports (ps_repo_snapshot.c). */
int ps_entry_group_cmp(const ps_entry *x, const ps_entry *y);

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

/* ---- snapshots, pins, gc, retention (ps_repo_snapshot.c, ps_repo_gc.c) */

/* ROOT/snapshots/NAME.EXT (malloc'd). */
char *ps_repo_snapshot_path(const ps_repo *r, const char *name, const char *ext);
/* db/pins: SUITES[i] is served from snapshot SNAPS[i]. */
ps_code ps_repo_pins_load(const ps_repo *r, ps_strv *suites, ps_strv *snaps, ps_error *err);
/* What a publish serves: the working set, except that each pinned suite
 * (and rpm repo of that name) holds its snapshot's packages instead.
 * *NPINS counts the pins. */
ps_code ps_repo_served(const ps_repo *r, ps_entries *out, size_t *npins, ps_error *err);

/* Every SHA-256 and href that the working set, a kept generation or a
 * snapshot names (GHashTable of strings each). */
typedef struct ps_refs {
    struct _GHashTable *shas, *hrefs;
} ps_refs;
ps_code ps_repo_refs(const ps_repo *r, ps_refs *refs, ps_error *err);
void ps_refs_free(ps_refs *refs);
/* Removes the pool and meta files of SHAS that nothing references any
 * more (what a publish itself left: pruned generations, retired versions). */
ps_code ps_repo_collect(ps_repo *r, const ps_strv *shas, ps_error *err);
/* Applies Keep-Versions to the hand-added packages of the working set
 * (saving db/packages when it changed); appends the SHA-256 of each
 * retired package to RETIRED. */
ps_code ps_repo_retain(ps_repo *r, ps_strv *retired, ps_error *err);

#endif
