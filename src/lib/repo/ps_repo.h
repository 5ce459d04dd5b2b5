/* ps_repo.h - `pkgsmith repo`: a signed apt + rpm repository published in
 * immutable generations and switched atomically.
 *
 * Layout under ROOT (all plain files, each written crash-safely):
 *   repo.conf                  deb822 configuration (ps_repo_init writes it)
 *   db/packages                the working set: one line per package
 *   pool/HH/SHA256/FILE        every package file, stored once by content
 *   meta/HH/SHA256             its index record, so publishing never
 *                              re-reads a package file
 *   generations/N/tree/        a complete, signed published tree
 *   generations/N/{packages,hashfiles,info}
 *                              the working set it was made from, the
 *                              hash-named files it introduced, a summary
 *   generations/N/indexes      "KEY NAME" per apt index (NAME: dists/
 *                              SUITE/COMP/binary-ARCH; KEY: SHA-256 of its
 *                              entries' sha256 and href).  The next publish
 *                              hard-links an index whose KEY is unchanged
 *                              from the served generation instead of
 *                              rebuilding it; a generation without this
 *                              file (older pkgsmith) is rebuilt in full
 *   public -> generations/N/tree
 *   lock                       held (flock) by every command that writes
 */
#ifndef PS_REPO_H
#define PS_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_util.h"

#define PS_REPO_DEFAULT_ROOT "/var/lib/pkgsmith"

typedef struct ps_repo ps_repo;

/* Settings of a new repository; NULL/0 members take the defaults. */
typedef struct ps_repo_init_opts {
    const char *const *suites;      /* default: stable */
    size_t nsuites;
    const char *const *components;  /* default: main */
    size_t ncomponents;
    const char *const *archs;       /* default: amd64 arm64 */
    size_t narchs;
    const char *const *rpm_repos;   /* default: the first suite */
    size_t nrpm_repos;
    const char *key;                /* signing key fingerprint (required) */
    const char *gnupg_home;         /* NULL: $GNUPGHOME at publish time */
    long valid_days;                /* default 7 */
    int keep;                       /* generations kept, default 5 */
    const char *origin, *label;     /* default: "pkgsmith" */
    const char *url;                /* base URL clients use (client package) */
    const char *org;                /* short name for the client package */
} ps_repo_init_opts;

/* Creates ROOT's layout and repo.conf; refuses an existing repo.conf. */
ps_code ps_repo_init(const char *root, const ps_repo_init_opts *o, ps_error *err);

/* Opens ROOT, reading repo.conf and the working set.  With WRITE, takes
 * ROOT/lock first (waiting WAIT_SECONDS, < 0 for ever) and cleans what a
 * crashed run left behind. */
ps_repo *ps_repo_open(const char *root, int write, int wait_seconds, ps_error *err);
void ps_repo_free(ps_repo *r);

/* Where an added package goes; NULL members take the first configured
 * suite/component (deb) or rpm repo. */
typedef struct ps_repo_target {
    const char *suite;
    const char *component;
    const char *rpm_repo;
} ps_repo_target;

/* What happened to one file of an add. */
typedef struct ps_repo_added {
    char *path;
    char *name, *version, *arch;
    char *target;  /* "suite/component" or the rpm repo */
    char *href;    /* its path in the published tree */
    int unchanged; /* already there with the same bytes */
} ps_repo_added;

typedef struct ps_repo_added_list {
    ps_repo_added *v;
    size_t n;
} ps_repo_added_list;
void ps_repo_added_list_free(ps_repo_added_list *l);

/* Validates and stores FILES; all of them are added, or none is. */
ps_code ps_repo_add(ps_repo *r, const char *const *files, size_t nfiles,
                    const ps_repo_target *t, ps_repo_added_list *out, ps_error *err);

/* Removes every package matching SPEC (NAME or NAME=VERSION), limited to
 * T's suite or rpm repo when given; *REMOVED counts them.  No match is
 * PS_EINPUT. */
ps_code ps_repo_remove(ps_repo *r, const char *spec, const ps_repo_target *t, size_t *removed,
                       ps_error *err);

/* Names every package of suite FROM (deb, each component) and of rpm repo
 * FROM in TO as well, when both are suites or both rpm repos: the same
 * pool files, not copies, so nothing is read or rebuilt.  SPECS (NAME or
 * NAME=VERSION) limit it; none: everything in FROM.  *PROMOTED counts the
 * entries added, *UNCHANGED those TO had already.  A spec matching
 * nothing in FROM is PS_EINPUT.  Publish to make it visible. */
ps_code ps_repo_promote(ps_repo *r, const char *from, const char *to, const char *const *specs,
                        size_t nspecs, size_t *promoted, size_t *unchanged, ps_error *err);

/* ---- for mirrors -----------------------------------------------------
 * A mirror does not re-read what it downloads: each file's size and
 * SHA-256 were checked against an index whose signature was verified, and
 * its index record comes from that index (deb) or from librpm (rpm). */
typedef struct ps_repo_item {
    const char *kind;    /* "deb" or "rpm" */
    const char *target;  /* "suite/component" or an rpm repo of repo.conf */
    const char *name, *version, *arch;
    const char *sha256;
    uint64_t size;
    const char *href;    /* ps_repo_pool_href() of the file */
    const char *file;    /* the verified file, moved into the pool; NULL when
                          * ps_repo_pooled() already found it there */
    const void *record;  /* its index record for HREF (ps_pkginfo_record's
                          * format); NULL when the pool already has it */
    size_t record_len;
} ps_repo_item;

/* "pool/HH/SHA256/FILENAME" (malloc'd). */
char *ps_repo_pool_href(const char *sha256, const char *filename);
/* The href under which the working set already names a file with this
 * SHA-256 (its bytes and index record are in the pool, synced), or NULL. */
const char *ps_repo_pooled(const ps_repo *r, const char *sha256);
/* Appends the index record of the pooled file SHA256 (meta/HH/SHA256)
 * to OUT: what a bundle carries so the other side never re-reads it. */
ps_code ps_repo_record(const ps_repo *r, const char *sha256, ps_buf *out, ps_error *err);
/* Non-zero when TARGET ("suite/component" or an rpm repo) is configured. */
int ps_repo_has_target(const ps_repo *r, const char *kind, const char *target);
/* Makes ITEMS exactly the packages that SOURCE ("mirror:NAME")
 * contributes: new ones enter the pool and the working set, those no
 * longer listed leave the working set.  Refuses (naming both) a package
 * whose name, version and architecture the repository already holds with
 * other bytes.  *CHANGED is set when the working set changed. */
ps_code ps_repo_set_source(ps_repo *r, const char *source, const ps_repo_item *items, size_t n,
                           size_t *added, size_t *removed, int *changed, ps_error *err);

/* The working set, sorted; the strings belong to R. */
typedef struct ps_repo_pkg {
    const char *kind; /* "deb" or "rpm" */
    const char *target, *name, *version, *arch, *sha256, *href;
    uint64_t size;
    const char *source; /* "-" (added by hand) or "mirror:NAME" */
} ps_repo_pkg;
size_t ps_repo_count(const ps_repo *r);
ps_repo_pkg ps_repo_pkg_at(const ps_repo *r, size_t i);

/* The result of a publish. */
typedef struct ps_repo_published {
    long generation;
    size_t packages;
    char date[64], valid_until[64];
    char fpr[41];  /* the first signing key */
    size_t nkeys;  /* keys that signed it */
    size_t pruned; /* old generations removed */
    size_t retired; /* package versions Keep-Versions retired */
} ps_repo_published;

/* Writes, signs and switches to a new generation; prunes old ones. */
ps_code ps_repo_publish(ps_repo *r, ps_repo_published *out, ps_error *err);

/* A generation as `repo generations` shows it. */
typedef struct ps_repo_gen {
    long number;
    int current;
    size_t packages;
    char date[64], valid_until[64];
} ps_repo_gen;
/* All complete generations, oldest first (*OUT malloc'd). */
ps_code ps_repo_generations(ps_repo *r, ps_repo_gen **out, size_t *n, ps_error *err);

/* The generation `public` points at, or 0 before the first publish. */
long ps_repo_current(const ps_repo *r);

/* Switches `public` to generation GEN (0: the one before the current)
 * and restores its working set; *TO receives the generation number. */
ps_code ps_repo_rollback(ps_repo *r, long gen, long *to, ps_error *err);

/* Checks every signature and hash of generation GEN (0: the current)
 * against the configured key; the first mismatch fails with PS_EVERIFY
 * naming the file.  *CHECKED counts the files checked. */
ps_code ps_repo_verify(ps_repo *r, long gen, size_t *checked, ps_error *err);

/* The same checks on what TARGET ("s3://BUCKET/PREFIX" at S3-Endpoint)
 * serves, read as a client reads it, with anonymous GETs, against the
 * current generation's key: a file a client cannot get fails as a
 * mismatch does, naming its URL. */
ps_code ps_repo_verify_target(ps_repo *r, const char *target, size_t *checked, ps_error *err);

/* The configuration, for the client package and messages. */
const char *ps_repo_root(const ps_repo *r);
const char *ps_repo_conf_get(const ps_repo *r, const char *field);
/* The first fingerprint of Signing-Key: the key that signs packages
 * (the client package, re-signed mirror packages) and bundles. */
const char *ps_repo_key(const ps_repo *r);
const char *ps_repo_gnupg_home(const ps_repo *r);
const ps_strv *ps_repo_suites(const ps_repo *r);
const ps_strv *ps_repo_components(const ps_repo *r);

/* What the client setup package is for; NULL members take the defaults. */
typedef struct ps_repo_client_opts {
    const char *version;  /* its version ("1.0" becomes 1.0-1) */
    const char *suite;    /* the suite its hosts follow (default: the first) */
    const char *rpm_repo; /* default: the one named like the suite, else the first */
    const char *settings; /* the environment's NAME=VALUE settings file, or NULL */
} ps_repo_client_opts;

/* Writes the source tree of the client setup package (<org>-repo: key,
 * .sources, .repo, the environment's settings) into DIR, for ps_build_run. */
ps_code ps_repo_client_source(ps_repo *r, const char *dir, const ps_repo_client_opts *o,
                              ps_error *err);

#endif
