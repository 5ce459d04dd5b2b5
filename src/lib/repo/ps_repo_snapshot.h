/* ps_repo_snapshot.h - named snapshots of the working set, the suites
 * that serve one (pins), and the difference of two package sets
 * (`repo snapshot`, `repo publish --snapshot`, `repo diff`).
 *
 * Layout under ROOT (plain files, each written crash-safely):
 *   snapshots/NAME.packages    the pinned working set (db/packages' format);
 *                              its rename into place is the commit
 *   snapshots/NAME.info        Created, Packages, Generation
 *   db/pins                    "SUITE<TAB>SNAPSHOT" lines: the suites (and
 *                              rpm repos of that name) served from a
 *                              snapshot instead of the working set
 */
#ifndef PS_REPO_SNAPSHOT_H
#define PS_REPO_SNAPSHOT_H

#include "ps_repo.h"

/* A snapshot as `repo snapshot list` shows it. */
typedef struct ps_repo_snapshot {
    char *name;
    char created[64];
    size_t packages;
    long generation; /* the generation served when it was taken (0: none) */
    char *pinned;    /* the suites serving it, space-separated, or NULL */
} ps_repo_snapshot;

/* Pins the current working set as NAME; refuses an existing NAME
 * (PS_EINPUT).  *COUNT receives its number of packages. */
ps_code ps_repo_snapshot_create(ps_repo *r, const char *name, size_t *count, ps_error *err);

/* Deletes snapshot NAME; refuses one a suite is pinned to (naming the
 * suite).  Its files stay until `repo gc` finds nothing else needs them. */
ps_code ps_repo_snapshot_drop(ps_repo *r, const char *name, ps_error *err);

/* Every snapshot, by name (*OUT malloc'd; free with ps_repo_snapshots_free). */
ps_code ps_repo_snapshot_list(const ps_repo *r, ps_repo_snapshot **out, size_t *n,
                              ps_error *err);
void ps_repo_snapshots_free(ps_repo_snapshot *v, size_t n);

/* Serves snapshot SNAPSHOT under SUITE (its deb suite and the rpm repo of
 * the same name, each as the snapshot holds it) from the next publish on;
 * SNAPSHOT NULL serves the working set there again.  SUITE must be a
 * suite or an rpm repo of repo.conf. */
ps_code ps_repo_pin(ps_repo *r, const char *suite, const char *snapshot, ps_error *err);

/* A package set read from a snapshot or a generation. */
typedef struct ps_repo_set ps_repo_set;
ps_repo_set *ps_repo_set_snapshot(const ps_repo *r, const char *name, ps_error *err);
/* What generation GEN served (0: the current one). */
ps_repo_set *ps_repo_set_generation(const ps_repo *r, long gen, ps_error *err);
size_t ps_repo_set_count(const ps_repo_set *s);
ps_repo_pkg ps_repo_set_at(const ps_repo_set *s, size_t i);
void ps_repo_set_free(ps_repo_set *s);

/* One difference between two sets, per kind, target, name and arch:
 * ADDED (only in B), REMOVED (only in A), CHANGED (in both, with other
 * versions or other bytes).  FROM/TO are the versions on each side,
 * space-separated, NULL when that side has none. */
typedef enum ps_repo_change_kind {
    PS_CHANGE_ADDED,
    PS_CHANGE_REMOVED,
    PS_CHANGE_CHANGED
} ps_repo_change_kind;

typedef struct ps_repo_change {
    ps_repo_change_kind change;
    char *kind, *target, *name, *arch, *from, *to;
} ps_repo_change;

typedef struct ps_repo_diff {
    ps_repo_change *v;
    size_t n;
} ps_repo_diff;

ps_code ps_repo_diff_sets(const ps_repo_set *a, const ps_repo_set *b, ps_repo_diff *out,
                          ps_error *err);
void ps_repo_diff_free(ps_repo_diff *d);

#endif
