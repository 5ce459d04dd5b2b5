/* ps_bundle_priv.h - what the ps_bundle*.c files share; not a public API. */
#ifndef PS_BUNDLE_PRIV_H
#define PS_BUNDLE_PRIV_H

#include "ps_bundle.h"

#define PS_BUNDLE_FORMAT "pkgsmith-bundle 1"
#define PS_BUNDLE_MANIFEST_MAX (64u << 20)
#define PS_BUNDLE_SIG_MAX (1u << 20)

typedef struct ps_bundle_member {
    char *path;
    uint64_t size;
    char sha256[65];
} ps_bundle_member;

/* One package of a mirror: a line of its Packages field. */
typedef struct ps_bundle_pkg {
    char *kind, *target, *name, *version, *arch, *href;
    char sha256[65];
    uint64_t size;
} ps_bundle_pkg;

typedef struct ps_bundle_mirror {
    char *name;
    ps_bundle_pkg *pkgs;
    size_t npkgs;
} ps_bundle_mirror;

struct ps_bundle_manifest {
    char origin[33];
    long generation, base;
    char created[64];
    char key[41];
    uint64_t split;
    ps_bundle_member *members;
    size_t nmembers;
    ps_bundle_mirror *mirrors;
    size_t nmirrors;
};

/* The manifest as text (the bytes that are signed). */
ps_code ps_bundle_manifest_write(const ps_bundle_manifest *m, ps_buf *out, ps_error *err);
void ps_bundle_member_free(ps_bundle_member *x);
void ps_bundle_pkg_free(ps_bundle_pkg *p);
void ps_bundle_mirror_free(ps_bundle_mirror *x);

/* A mirror name: [A-Za-z0-9][A-Za-z0-9._-]*. */
int ps_bundle_name_ok(const char *s);

/* ---- state (ps_bundle_state.c) -------------------------------------- */
/* ROOT/bundles/origin, made (random) on first use. */
ps_code ps_bundle_origin(const char *root, char out[33], ps_error *err);
/* Appends EV to the log; an import replaces the row of the same origin
 * and generation (pending -> done). */
ps_code ps_bundle_log_put(const char *root, const ps_bundle_event *ev, ps_error *err);
/* The event KIND ORIGIN GENERATION of the log, or NULL (*EVS malloc'd). */
const ps_bundle_event *ps_bundle_log_find(const ps_bundle_event *evs, size_t n,
                                          const char *kind, const char *origin, long gen);
/* "ROOT/bundles/REL" (malloc'd). */
char *ps_bundle_path(const char *root, const char *rel);

#endif
