/* ps_mirror_common.h - the helpers a sync and every upstream kind share
 * (ps_mirror_common.c): one sync's state, signatures, freshness,
 * downloads, provenance.  Not a public API. */
#ifndef PS_MIRROR_COMMON_H
#define PS_MIRROR_COMMON_H
#include "ps_mirror_priv.h"

/* ---- one sync ----------------------------------------------------- */
typedef struct ps_sync {
    const ps_mirror_conf *c;
    const ps_mirror_opts *o;
    ps_mirror_result *res;
    char *home;       /* ROOT/mirrors/NAME: state, lock */
    char *dir;        /* the caches: HOME, or a scratch directory for a dry run */
    const char *reason; /* why the sync failed (PS_MIRROR_REASONS), once known */
    ps_kv state, next; /* as last accepted; what this sync will record */
    ps_fetch *fetch;
    ps_verifier *verifier;
    char *base;       /* the URI in use, without a trailing slash */
    int conditional;  /* the config is unchanged: ask with validators */
    GPtrArray *chosen; /* ps_cand* to hold (owned) */
    ps_kv resigned, resigned_next; /* upstream SHA-256 -> ours, after re-signing */
} ps_sync;

/* Returns RC; a failure (the first) is put down to REASON, one of
 * PS_MIRROR_REASONS. */
ps_code ps_mirror_blame(ps_sync *s, const char *reason, ps_code rc);
/* GETs the signed file at URL (conditional with ETAG / LAST_MODIFIED). */
ps_code ps_mirror_get(ps_sync *s, const char *url, const char *etag, const char *last_modified,
                      uint64_t max_size, ps_fetch_response *out, ps_error *err);
/* Whether BODY, a signed file as fetched, is byte for byte the one the
 * last successful sync accepted (its SHA-256 under KEY in the state), when
 * the configuration is unchanged too.  Records BODY's digest for the next
 * sync either way: against a server without validators (no ETag, no
 * Last-Modified) this comparison is what keeps a no-op sync to one GET. */
int ps_mirror_seen(ps_sync *s, const char *key, const ps_buf *body);
/* The verifier holding the Signed-By keys (made on first use). */
ps_code ps_mirror_verifier(ps_sync *s, ps_error *err);
/* Whether FPR is one of C's pinned fingerprints (all are, if none is). */
int ps_mirror_pinned(const ps_mirror_conf *c, const char *fpr);
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
/* What the signed file says of an index's unpacked bytes: SHA256 (hex,
 * or NULL), SIZE (0: not given), and WHO (the signed file) for messages. */
typedef struct ps_unpack_want {
    const char *sha256;
    uint64_t size;
    const char *who;
} ps_unpack_want;
/* Unpacks the compressed index SRC (any filter libarchive reads: xz, gz,
 * bz2, lz4, zstd; every concatenated stream or member) into DST, no
 * larger than Max-Index-Unpacked-Size, and checks it against WANT; on a
 * mismatch nothing is left at DST and the message names URL. */
ps_code ps_mirror_unpack(ps_sync *s, const char *src, const char *dst, const ps_unpack_want *want,
                         const char *url, ps_error *err);
/* "BASE/REL" (malloc'd). */
char *ps_mirror_url(const ps_sync *s, const char *rel);
/* Records F (a copy of PATH) as provenance file NAME. */
ps_code ps_mirror_keep_provenance(ps_sync *s, const char *name, const void *data, size_t len,
                                  ps_error *err);

/* ---- from the selection to repository items ------------------------ */
/* One item per distinct file of s->chosen; a kind's verify_entry fills
 * item I (href, digest, size) and records[I] (its index record). */
typedef struct ps_mirror_plan {
    const char *sign_key, *sign_home; /* the repository's, for Resign-Packages */
    ps_repo_item *items;
    char **own;          /* strings the items point to */
    size_t n, nown;
    const ps_cand **cand; /* the candidate each item came from */
    ps_fetch_file *fetch;
    size_t nfetch;
    uint64_t fetch_bytes;
    ps_buf *records;
    ps_hashes *hashes;   /* of each new download, as ps_fetch checked it */
} ps_mirror_plan;
/* Keeps S (malloc'd, or NULL) until the plan is freed; returns it.  A
 * plan has room for six strings per item: three the sync loop's, three
 * the kind's. */
const char *ps_mirror_own(ps_mirror_plan *p, char *s);

#endif
