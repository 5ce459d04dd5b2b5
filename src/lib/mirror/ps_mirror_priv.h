/* ps_mirror_priv.h - what the ps_mirror*.c files share; not a public API. */
#ifndef PS_MIRROR_PRIV_H
#define PS_MIRROR_PRIV_H
#include <glib.h>
#include "ps_apt.h"
#include "ps_mirror.h"
#include "ps_pgp.h"
#include "ps_repo.h"

typedef enum ps_mirror_type {
    PS_MIRROR_APT,
    PS_MIRROR_RPM
} ps_mirror_type;

struct ps_mirror_conf {
    char *name, *path;
    ps_mirror_type type;
    ps_strv uris, suites, components, archs;
    ps_strv key_files, fprs;        /* Signed-By: files and pinned fingerprints */
    ps_strv include, exclude;       /* fnmatch globs on package names */
    int keep;                       /* Keep-Versions; 0: all */
    int follow;                     /* Follow-Dependencies */
    int resign;                     /* Resign-Packages (rpm): sign with our key */
    double max_shrink;              /* percent */
    char *target;                   /* suite[/component] or rpm repo */
    int connections;
    uint64_t rate_limit;
    uint64_t max_index, max_index_unpacked, max_file;
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

/* ---- one sync ----------------------------------------------------- */
typedef struct ps_sync {
    const ps_mirror_conf *c;
    const ps_mirror_opts *o;
    ps_mirror_result *res;
    char *dir;        /* ROOT/mirrors/NAME */
    ps_kv state, next; /* as last accepted; what this sync will record */
    ps_fetch *fetch;
    ps_verifier *verifier;
    char *base;       /* the URI in use, without a trailing slash */
    int conditional;  /* the config is unchanged: ask with validators */
    GPtrArray *chosen; /* ps_cand* to hold (owned) */
    ps_kv resigned, resigned_next; /* upstream SHA-256 -> ours, after re-signing */
} ps_sync;

/* The upstream kinds. */
ps_code ps_mirror_apt_select(ps_sync *s, ps_error *err);
ps_code ps_mirror_rpm_select(ps_sync *s, ps_error *err);
/* The Packages stanza of a mirrored .deb for HREF: the upstream fields in
 * apt's order, with our Filename, Size and digests. */
ps_code ps_mirror_deb_record(const ps_cand *c, const char *href, const ps_hashes *h,
                             ps_buf *out, ps_error *err);

/* Verifies SIG over DATA (or cleartext DATA when SIG is NULL; its signed
 * text goes to PLAIN) with the pinned keys; NAME is for messages. */
ps_code ps_mirror_verify(ps_sync *s, const ps_buf *data, const ps_buf *sig, ps_buf *plain,
                         const char *name, ps_error *err);
/* Refuses a Date older than the last accepted one (stored under KEY). */
ps_code ps_mirror_check_date(ps_sync *s, const char *key, const char *date, const char *name,
                             ps_error *err);
/* Downloads FILES (index or package) into the mirror's caches. */
ps_code ps_mirror_fetch_files(ps_sync *s, const ps_fetch_file *files, size_t n, int progress,
                              ps_error *err);
/* "BASE/REL" (malloc'd). */
char *ps_mirror_url(const ps_sync *s, const char *rel);
/* Records F (a copy of PATH) as provenance file NAME. */
ps_code ps_mirror_keep_provenance(ps_sync *s, const char *name, const void *data, size_t len,
                                  ps_error *err);

#endif
