/* ps_repo_gc.h - reclaiming space: `repo gc` and the retention of
 * Keep-Versions.
 *
 * A pooled file (pool/HH/SHA256/FILE, meta/HH/SHA256) is referenced by
 * the working set (db/packages), by every kept generation (its
 * `packages` and `served`) and by every snapshot (snapshots/NAME.packages).
 * Anything else under pool/ and meta/ is garbage: what pruned
 * generations, dropped snapshots, removed packages and crashed or
 * refused adds left, and it is still downloadable through public/pool/
 * until it is collected.
 *
 * Keep-Versions in repo.conf: "N" for every suite and rpm repo,
 * "NAME=N" for one (NAME a suite or an rpm repo), several words mixed
 * ("Keep-Versions: 3 testing=10").  At each publish the packages added
 * with `repo add` keep only the newest N versions of each name and
 * architecture per suite/component or rpm repo, by the format's own
 * version order (dpkg's through libapt-pkg, rpm's through librpm, so
 * epochs, ~ and + count as the package managers count them).  A mirror's
 * packages follow that mirror's own Keep setting instead. */
#ifndef PS_REPO_GC_H
#define PS_REPO_GC_H

#include "ps_repo.h"

/* One file or directory that no reference needs. */
typedef struct ps_repo_garbage {
    char *path; /* relative to ROOT */
    uint64_t size;
} ps_repo_garbage;

typedef struct ps_repo_gc_result {
    ps_repo_garbage *v;
    size_t n;
    uint64_t bytes;
} ps_repo_gc_result;
void ps_repo_gc_result_free(ps_repo_gc_result *g);

/* Finds every unreferenced file under pool/ and meta/ (and the
 * generations/.tmp-* a crashed publish left) and, unless DRY_RUN,
 * removes them.  R must be opened for writing either way: the lock keeps
 * an add from storing a file gc would see as unreferenced. */
ps_code ps_repo_gc(ps_repo *r, int dry_run, ps_repo_gc_result *out, ps_error *err);

/* Keep-Versions for TARGET ("suite/component" or an rpm repo): 0 when
 * unlimited.  A malformed value fails naming repo.conf and its line. */
ps_code ps_repo_keep_versions(const ps_repo *r, const char *kind, const char *target, long *n,
                              ps_error *err);

#endif
