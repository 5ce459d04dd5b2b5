/* ps_mirror.h - `pkgsmith mirror`: sync an upstream apt or rpm repository
 * into a pkgsmith repository, verified, filtered and re-signed.
 *
 * A mirror is a deb822 file (*.mirror) in a configuration directory.  A
 * sync trusts nothing it has not checked: the upstream InRelease (or
 * Release + Release.gpg, or repomd.xml + .asc) must be signed by a pinned
 * key; every index must match the hash the signed file gives; every
 * package must match the size and SHA-256 its index gives (rpm packages
 * must also carry a valid signature of a pinned key).  The selected
 * packages then become the mirror's share of the repository's working
 * set and are published, signed with our key, in one atomic switch.
 *
 * State under ROOT/mirrors/NAME/: `state` (validators, last accepted
 * Date, counts), `provenance/` (the upstream signed files and the
 * signer), `indices/` and `download/` (content-addressed caches that make
 * an interrupted sync resumable), and `lock`.
 */
#ifndef PS_MIRROR_H
#define PS_MIRROR_H
#include <stddef.h>
#include <stdint.h>
#include "ps_error.h"
#include "ps_fetch.h"

#define PS_MIRROR_DEFAULT_CONFIG "/etc/pkgsmith/mirrors.d"
/* Why a sync failed, a bounded set (a metrics label): the upstream's
 * signature or key, its freshness (Date, Valid-Until), a transfer (HTTP,
 * a time limit), an index (content, hashes, sizes, shrinking), the local
 * disk (space, writes, locks), the configuration. */
#define PS_MIRROR_REASONS {"signature", "freshness", "transfer", "index", "disk", "config"}
#define PS_MIRROR_NREASONS 6

typedef struct ps_mirror_conf ps_mirror_conf;
typedef struct ps_mirror_set ps_mirror_set;

/* Reads every DIR/ *.mirror (sorted).  Errors name the file and line. */
ps_mirror_set *ps_mirror_set_load(const char *dir, ps_error *err);
void ps_mirror_set_free(ps_mirror_set *s);
size_t ps_mirror_set_count(const ps_mirror_set *s);
const ps_mirror_conf *ps_mirror_set_at(const ps_mirror_set *s, size_t i);
/* The mirror called NAME, or NULL. */
const ps_mirror_conf *ps_mirror_set_find(const ps_mirror_set *s, const char *name);

const char *ps_mirror_conf_name(const ps_mirror_conf *c);
const char *ps_mirror_conf_type(const ps_mirror_conf *c); /* "apt" or "rpm" */
const char *ps_mirror_conf_path(const ps_mirror_conf *c);
const char *ps_mirror_conf_target(const ps_mirror_conf *c);

typedef struct ps_mirror_opts {
    const char *root;        /* the repository (ps_repo.h) */
    int wait_seconds;        /* for the mirror's and the repository's lock */
    int force;               /* accept an index that shrank past Max-Shrink */
    int connections;         /* 0: the mirror's Connections */
    uint64_t rate_limit;     /* bytes/s; 0: the mirror's Rate-Limit */
    long retry_backoff_ms;   /* 0: the default */
    int retries;             /* 0: the default (4); < 0: none */
    long timeout;            /* seconds a sync may take; 0: the mirror's Timeout */
    int dry_run;             /* verify and report (on_change), change nothing */
    /* The downloads of mirror C (as ps_fetch_progress_cb). */
    void (*progress)(void *ud, const ps_mirror_conf *c, size_t files_done, size_t files_total,
                     uint64_t bytes_done, uint64_t bytes_total);
    void *progress_ud;
    /* Dry run: called for every package that would be fetched or removed. */
    void (*on_change)(void *ud, const ps_mirror_conf *c, const char *action,
                      const char *name, const char *version, const char *arch,
                      uint64_t size);
    void *change_ud;
} ps_mirror_opts;

typedef struct ps_mirror_result {
    int unchanged;            /* upstream answered 304, or sent the signed file
                               * last accepted: nothing else was done */
    int published;            /* a new generation was published (dry run: would be) */
    long generation;          /* the repository's current generation */
    size_t upstream_entries;  /* packages listed upstream (before filtering) */
    size_t selected;          /* packages the mirror holds now */
    size_t fetched;           /* files downloaded */
    size_t reused;            /* selected files already in the pool */
    size_t added, removed;    /* change of the working set */
    uint64_t bytes;           /* bytes downloaded, indices included */
    uint64_t requests;        /* HTTP requests, retries included */
    double duration;          /* seconds */
    char signer[41];          /* upstream key that signed what we accepted */
    char upstream_date[64];
    char upstream_valid_until[64];
} ps_mirror_result;

/* Syncs mirror C into O->root.  Takes ROOT/mirrors/NAME/lock (a second
 * sync of the same mirror waits O->wait_seconds, then fails PS_EBUSY). */
ps_code ps_mirror_sync(const ps_mirror_conf *c, const ps_mirror_opts *o,
                       ps_mirror_result *out, ps_error *err);
/* Syncs the N mirrors of LIST (OUT[i], ERRS[i] for each) and publishes
 * one generation holding every mirror that changed; a mirror that fails
 * contributes nothing.  Returns the first failure's code, or PS_OK. */
ps_code ps_mirror_sync_all(const ps_mirror_conf *const *list, size_t n,
                           const ps_mirror_opts *o, ps_mirror_result *out, ps_error *errs);

/* What `pkgsmith mirror status` shows (from ROOT/mirrors/NAME/state). */
typedef struct ps_mirror_status {
    int synced;                /* a sync has succeeded at least once */
    long last_attempt, last_success; /* Unix times, 0: never */
    double last_duration;
    char last_error[512];
    char last_failure[16];     /* why the last sync failed: one of
                                * PS_MIRROR_REASONS; "" when it succeeded */
    char upstream_date[64], upstream_valid_until[64];
    long upstream_date_ts, upstream_valid_until_ts; /* Unix times, 0: none */
    char signer[41];
    size_t packages, upstream_entries;
    long generation;
    unsigned long errors_total; /* failed syncs so far */
} ps_mirror_status;
ps_code ps_mirror_status_get(const char *root, const ps_mirror_conf *c, ps_mirror_status *out,
                             ps_error *err);

#endif
