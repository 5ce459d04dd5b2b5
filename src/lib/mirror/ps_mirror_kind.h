/* ps_mirror_kind.h - an upstream kind (apt, rpm, ...) as the sync loop
 * sees it: a table of what differs between them.  The sync loop
 * (ps_mirror.c) calls only through this struct; a kind calls only
 * ps_mirror_common.h.  Not a public API.
 *
 * A new kind: a ps_mirror_<name>.c that fills a ps_mirror_kind, its
 * extern below, and one line in the table of ps_mirror_kinds.c (which is
 * where a .mirror file's Type: finds it).  ps_mirror.c is not touched. */
#ifndef PS_MIRROR_KIND_H
#define PS_MIRROR_KIND_H
#include "ps_mirror_common.h"

struct ps_mirror_kind {
    const char *name;     /* Type: in a .mirror file */
    const char *pkg_type; /* the repository's item and target type: "deb", "rpm" */
    /* For messages: what Target must name in repo.conf. */
    const char *target_what; /* when Target is missing */
    const char *target_is;   /* "Target 'X' is not <target_is> of repo.conf" */
    int suites;              /* Suites, Components and Architectures are required */
    /* Why Resign-Packages is refused for this kind; NULL: allowed. */
    const char *resign_refused;

    /* Fetches and verifies the upstream's indices, and moves the
     * selection into s->chosen; or sets s->res->unchanged. */
    ps_code (*select)(ps_sync *s, ps_error *err);
    /* The repository target the selection goes to (malloc'd). */
    char *(*target)(const ps_sync *s, const ps_repo *r);
    /* Optional: made once before the entries are verified; CTX is given
     * to verify_entry and then to items_end, which also runs on failure
     * (RC says which) and returns the sync's result. */
    ps_code (*items_begin)(ps_sync *s, void **ctx, ps_error *err);
    ps_code (*items_end)(ps_sync *s, void *ctx, ps_code rc, ps_error *err);
    /* Checks downloaded item I of P (from candidate C) against what the
     * index said, and fills its href, digest, size and records[I]. */
    ps_code (*verify_entry)(ps_sync *s, ps_mirror_plan *p, size_t i, const ps_cand *c,
                            void *ctx, ps_error *err);
    /* Optional: an unchanged upstream may still have gone stale. */
    ps_code (*still_valid)(ps_sync *s, ps_error *err);
};

extern const ps_mirror_kind ps_mirror_kind_apt; /* ps_mirror_apt.c */
extern const ps_mirror_kind ps_mirror_kind_rpm; /* ps_mirror_rpm.c */

/* The kind a Type: value names, or NULL. */
const ps_mirror_kind *ps_mirror_kind_find(const char *name);
/* "apt or rpm": every kind's name, for messages. */
void ps_mirror_kind_names(char *buf, size_t size);

#endif
