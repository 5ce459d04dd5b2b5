/* ps_bundle.h - `pkgsmith bundle`: carry mirrors across an air gap.
 *
 * A bundle is an uncompressed tar (pax) whose first two members are
 * MANIFEST and MANIFEST.asc.  The manifest (deb822, signed with the
 * transfer key) names the origin repository, the generation the bundle
 * brings and the base generation it needs, the complete package list of
 * each mirror it carries, and every further member in order with its size
 * and SHA-256.  The packages are already compressed, so the tar is not.
 *
 * Members, in this order: mirrors/NAME/provenance/FILE and
 * mirrors/NAME/client-keys/FILE (the upstream signed files and keys),
 * then meta/HH/SHA256 (each new package's index record) and
 * pool/HH/SHA256/FILE (the package) for every package the base does not
 * already hold.  With a split, the tar's bytes are cut into FILE.001,
 * FILE.002, ... of exactly the split size each (the last one shorter).
 *
 * State under ROOT/bundles/: `origin` (this repository's random id),
 * `log` (every export and import), `exported/GEN` (what the importing
 * side holds once it has imported GEN: the base of the next delta) and
 * `incoming/ORIGIN-GEN/` (an import's verified members, until published).
 */
#ifndef PS_BUNDLE_H
#define PS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_util.h"

/* Bytes done of bytes total, for a progress bar. */
typedef void (*ps_bundle_progress_cb)(void *ud, uint64_t done, uint64_t total);

typedef struct ps_bundle_export_opts {
    const char *root;               /* the repository (ps_repo.h) */
    const char *const *mirrors;     /* NULL: every mirror in the working set */
    size_t nmirrors;
    int full;                       /* ignore earlier exports */
    long since;                     /* 0: the last export; else its generation */
    uint64_t split;                 /* chunk size; 0: one file */
    const char *out;                /* FILE (or FILE.001, ...) */
    const char *key;                /* transfer key; NULL: the repository's */
    const char *gnupg_home;         /* NULL: the repository's, or $GNUPGHOME */
    int wait_seconds;               /* for the repository's lock */
    ps_bundle_progress_cb progress;
    void *progress_ud;
} ps_bundle_export_opts;

typedef struct ps_bundle_import_opts {
    const char *root;
    const char *const *files;       /* the bundle, or all its chunks in order;
                                     * FILE.001 alone finds FILE.002, ... */
    size_t nfiles;
    const char *const *keys;        /* pinned transfer key files; none: the
                                     * Transfer-Keys field of repo.conf */
    size_t nkeys;
    int wait_seconds;
    ps_bundle_progress_cb progress;
    void *progress_ud;
} ps_bundle_import_opts;

typedef struct ps_bundle_result {
    int nothing;           /* export: nothing new since the base; import: already imported */
    int published;         /* import: a new generation was published */
    char origin[33];
    long generation;       /* the generation the bundle brings */
    long base;             /* the one it needs (0: none, a full bundle) */
    long published_gen;    /* import: the repository's generation afterwards */
    size_t members;        /* members after MANIFEST and MANIFEST.asc */
    size_t packages;       /* packages the bundle's mirrors hold */
    size_t files;          /* package files it carries */
    uint64_t bytes;        /* size of the tar */
    char signer[41];
    ps_strv outputs;       /* export: the files written (chunks in order) */
    double duration;
} ps_bundle_result;
void ps_bundle_result_free(ps_bundle_result *r);

ps_code ps_bundle_export(const ps_bundle_export_opts *o, ps_bundle_result *out, ps_error *err);
ps_code ps_bundle_import(const ps_bundle_import_opts *o, ps_bundle_result *out, ps_error *err);
/* Checks a bundle where it lies (signature, chunks, every member's size
 * and SHA-256) without importing: nothing is written anywhere.  O->root
 * is read only for Transfer-Keys when O->keys is empty. */
ps_code ps_bundle_verify(const ps_bundle_import_opts *o, ps_bundle_result *out, ps_error *err);

/* One line of `bundle list`. */
typedef struct ps_bundle_event {
    char kind[8];          /* "export" or "import" */
    char origin[33];
    long generation, base;
    long time;             /* Unix time */
    size_t members;
    uint64_t bytes;
    char status[16];       /* "done", or "pending" (an import to be re-run) */
    char file[512];
} ps_bundle_event;
/* Every export and import of ROOT, oldest first (*OUT malloc'd). */
ps_code ps_bundle_list(const char *root, ps_bundle_event **out, size_t *n, ps_error *err);

/* ---- the manifest (parsed from outside data: fuzzed) ------------------ */
typedef struct ps_bundle_manifest ps_bundle_manifest;

/* Parses and validates a manifest: every path, hash, size and name, each
 * pool member matched by its meta member and a listed package.  NAME is
 * for messages. */
ps_bundle_manifest *ps_bundle_manifest_parse(const void *data, size_t len, const char *name,
                                             ps_error *err);
void ps_bundle_manifest_free(ps_bundle_manifest *m);
long ps_bundle_manifest_generation(const ps_bundle_manifest *m);
long ps_bundle_manifest_base(const ps_bundle_manifest *m);
const char *ps_bundle_manifest_origin(const ps_bundle_manifest *m);
size_t ps_bundle_manifest_nmembers(const ps_bundle_manifest *m);
const char *ps_bundle_manifest_member(const ps_bundle_manifest *m, size_t i, uint64_t *size,
                                      const char **sha256);

/* Non-zero when PATH is a member path a bundle may carry (no "..", no
 * absolute path, only the four forms above). */
int ps_bundle_path_ok(const char *path);

#endif
