/* ps_fetch.h - every download, through libcurl's multi interface.
 *
 * One ps_fetch is one connection pool: transfers run in parallel (up to
 * `parallel` at once) over kept-alive connections.  Failures that may pass
 * (5xx, 429, timeouts, dropped connections) are retried with exponential
 * backoff, honouring Retry-After; a file download resumes its partial file
 * with a Range request.  Nothing is accepted before its size and SHA-256
 * match what the caller says they must be.
 *
 * Two limits keep a slow server from holding a caller for ever: a
 * transfer slower than low_speed bytes/s for stall_s seconds is aborted
 * (and retried), and past the deadline every transfer stops for good,
 * the message naming the URL; a file's partial download stays for the
 * next run to resume.
 */
#ifndef PS_FETCH_H
#define PS_FETCH_H
#include <stddef.h>
#include <stdint.h>
#include "ps_error.h"
#include "ps_util.h"

typedef struct ps_fetch_opts {
    int parallel;           /* transfers at once; default 4 */
    int retries;            /* attempts after the first; default 4 */
    long backoff_ms;        /* first retry delay, doubled each time; default 500 */
    long stall_s;           /* abort a transfer slower than low_speed this long; default 60 */
    long connect_timeout_s; /* default 15 */
    long max_retry_after_s; /* longest Retry-After honoured; default 120 */
    uint64_t rate_limit;    /* bytes per second over all transfers; 0: none */
    uint64_t low_speed;     /* bytes per second a transfer must keep up; default 1024 */
    double deadline;        /* ps_now() after which every transfer stops and
                             * fails (its partial file kept); 0: none */
} ps_fetch_opts;

typedef struct ps_fetch ps_fetch;
/* O may be NULL for the defaults. */
ps_fetch *ps_fetch_new(const ps_fetch_opts *o, ps_error *err);
void ps_fetch_free(ps_fetch *f);

/* What a ps_fetch has done so far. */
typedef struct ps_fetch_stats {
    uint64_t requests; /* HTTP requests sent, retries included */
    uint64_t bytes;    /* body bytes received */
    uint64_t retries;
    int deadline_reached; /* a transfer was stopped by the deadline */
} ps_fetch_stats;
ps_fetch_stats ps_fetch_stats_get(const ps_fetch *f);

/* A small document fetched into memory (InRelease, repomd.xml...). */
typedef struct ps_fetch_response {
    long status;            /* 200, 304 or 404; other statuses are errors */
    ps_buf body;
    char etag[256];         /* validators of a 200, for the next request */
    char last_modified[64];
} ps_fetch_response;
void ps_fetch_response_free(ps_fetch_response *r);

/* GETs URL into OUT (at most MAX_SIZE bytes).  With ETAG or LAST_MODIFIED
 * (either may be NULL or "") the request is conditional and an unchanged
 * document answers 304 with an empty body. */
ps_code ps_fetch_get(ps_fetch *f, const char *url, const char *etag, const char *last_modified,
                     uint64_t max_size, ps_fetch_response *out, ps_error *err);

/* One file to download: it appears at PATH only complete and verified;
 * until then PATH.part holds what arrived, and the next attempt (or the
 * next run) resumes it. */
typedef struct ps_fetch_file {
    const char *url;
    const char *path;
    uint64_t size;      /* exact expected size */
    const char *sha256; /* expected digest, lower-case hex */
    ps_hashes *hashes;  /* optional: receives the accepted file's digests
                         * (they were computed to check it) */
} ps_fetch_file;

typedef void (*ps_fetch_progress_cb)(void *ud, size_t files_done, size_t files_total,
                                     uint64_t bytes_done, uint64_t bytes_total);

/* Downloads FILES in parallel.  Stops at the first file that cannot be
 * had (its URL and the reason in ERR); finished files stay.  CB, when
 * given, is called at most ten times a second and once at the end. */
ps_code ps_fetch_files(ps_fetch *f, const ps_fetch_file *files, size_t n,
                       ps_fetch_progress_cb cb, void *ud, ps_error *err);

#endif
