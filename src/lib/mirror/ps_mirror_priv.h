/* ps_mirror_priv.h - the mirror's data, shared by the ps_mirror*.c files
 * (and the unit tests); not a public API.  A mirror's upstream kind is a
 * ps_mirror_kind (ps_mirror_kind.h); the helpers every kind uses are in
 * ps_mirror_common.h. */
#ifndef PS_MIRROR_PRIV_H
#define PS_MIRROR_PRIV_H
#include <glib.h>
#include "ps_apt.h"
#include "ps_mirror.h"
#include "ps_pgp.h"
#include "ps_repo.h"

typedef struct ps_mirror_kind ps_mirror_kind;

struct ps_mirror_conf {
    char *name, *path;
    const ps_mirror_kind *kind;     /* Type: apt, rpm (ps_mirror_kinds.c) */
    ps_strv uris, suites, components, archs;
    ps_strv key_files, fprs;        /* Signed-By: files and pinned fingerprints */
    ps_strv include, exclude;       /* fnmatch globs on package names */
    int keep;                       /* Keep-Versions; 0: all */
    int follow;                     /* Follow-Dependencies */
    int resign;                     /* Resign-Packages (rpm): sign with our key */
    double max_shrink;              /* percent */
    long max_skew;                  /* Max-Clock-Skew: seconds a Date may be ahead */
    char *target;                   /* suite[/component] or rpm repo */
    int connections;
    uint64_t rate_limit;
    uint64_t max_index, max_index_unpacked, max_file;
    uint64_t low_speed;             /* Low-Speed-Limit, bytes/s */
    long low_speed_time;            /* Low-Speed-Time, seconds */
    long timeout;                   /* Timeout: seconds a sync may take; 0: none */
    char digest[65];                /* of the file: a changed config syncs in full */
};

struct ps_mirror_set {
    ps_mirror_conf *v;
    size_t n;
};

/* ---- state (ROOT/mirrors/NAME/state, deb822, one stanza) ---------- */
typedef struct ps_kv {
    ps_strv keys, values;
} ps_kv;
ps_code ps_kv_load(const char *path, ps_kv *kv, ps_error *err);
ps_code ps_kv_save(const char *path, const ps_kv *kv, ps_error *err);
const char *ps_kv_get(const ps_kv *kv, const char *key);
ps_code ps_kv_set(ps_kv *kv, const char *key, const char *value, ps_error *err);
void ps_kv_free(ps_kv *kv);

/* ---- candidates: what an index offers and the selection keeps ----- */
typedef struct ps_cand {
    char *name, *version, *arch;
    char *path;      /* Filename or location href, relative to the base URI */
    char *sha256;
    uint64_t size;
    char *stanza;    /* deb: the upstream stanza minus file fields */
    char *deps;      /* what it needs, one name (or relation) per line */
    int is_dep;      /* selected to satisfy a dependency */
} ps_cand;
void ps_cand_free(ps_cand *c);

typedef int (*ps_vercmp_fn)(const char *a, const char *b);

/* Keeps the newest KEEP versions of each name+arch (0: all). */
typedef struct ps_select {
    GHashTable *groups; /* "name arch" -> GPtrArray of ps_cand*, newest first */
    int keep;
    ps_vercmp_fn cmp;
    char conflict[512]; /* the first name+version+arch offered with two hashes */
} ps_select;
void ps_select_init(ps_select *s, int keep, ps_vercmp_fn cmp);
void ps_select_free(ps_select *s);
/* Offers C (taken); duplicates of name+version+arch are dropped, and
 * one with other bytes than the first is recorded as a conflict. */
void ps_select_offer(ps_select *s, ps_cand *c);
/* Fails (naming WHERE, the package and both hashes) when the upstream
 * index listed one name+version+arch with two different files. */
ps_code ps_select_check(const ps_select *s, const char *where, ps_error *err);
/* Every kept candidate, sorted by name, arch, version (borrowed). */
GPtrArray *ps_select_list(const ps_select *s);
/* Moves every kept candidate, sorted, to INTO (which then owns them). */
void ps_select_take(ps_select *s, GPtrArray *into);
int ps_select_has_name(const ps_select *s, const char *name);

/* Include/Exclude of C for package NAME. */
int ps_mirror_wants(const ps_mirror_conf *c, const char *name);
/* Refuses an upstream path that could leave the mirror: "..", an
 * absolute path, a URL, a backslash or a control character. */
ps_code ps_mirror_check_path(const char *what, const char *path, ps_error *err);
/* XML that createrepo_c may be given: UTF-8 (declared or not), no NUL in
 * the head, no UTF-16 mark.  libcreaterepo_c 0.20 dereferences NULL on a
 * document declared in an encoding libxml2 cannot convert (UTF-7; found
 * by tests/fuzz/fuzz_repodata).  Errors name URL. */
ps_code ps_mirror_xml_check(const char *path, const char *url, ps_error *err);

#endif
