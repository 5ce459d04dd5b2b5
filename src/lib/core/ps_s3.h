/* ps_s3.h - a small client for S3-compatible object storage (AWS S3, Ceph
 * radosgw, MinIO), on libcurl's multi interface and its built-in AWS
 * SigV4 signing.
 *
 * A target is "s3://BUCKET/PREFIX" on an endpoint ("http://host:port"),
 * addressed path-style (ENDPOINT/BUCKET/PREFIX/KEY: no DNS name per
 * bucket).  Keys given to this module are relative to the prefix.
 *
 * What libcurl 7.88 (Debian 12) leaves to us, and this module does:
 * x-amz-content-sha256 on every request (the real payload hash, never
 * UNSIGNED-PAYLOAD), object keys percent-encoded before they reach the
 * URL (curl signs the path as given: '+' must be %2B, ':' %3A), and
 * Content-MD5 on uploads so that the server refuses a body damaged on
 * the way (BadDigest).
 *
 * Credentials file (S3-Credentials-File): the access key and the secret,
 * either on one line separated by white space ("ACCESS_KEY SECRET") or
 * on two lines (the access key, then the secret); blank lines and lines
 * starting with '#' are ignored.  It must be a regular file that neither
 * group nor others may read or write (mode 0600 or 0400): anything else
 * is refused, naming the file and its mode.  The secret never appears in
 * a message.
 *
 * Failures name the target, the object key and what the server said: the
 * S3 error Code of its XML body (SignatureDoesNotMatch, NoSuchBucket,
 * QuotaExceeded, AccessDenied...) or the connection error.  5xx answers
 * (503 SlowDown included), 429 and dropped connections are retried with
 * exponential backoff.
 *
 * An object larger than multipart_threshold goes up as a multipart
 * upload (its parts in parallel, each with its own payload hash and
 * Content-MD5; aborted on failure, so no parts are left to pay for); its
 * If-None-Match is a HEAD first.
 */
#ifndef PS_S3_H
#define PS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_s3_opts {
    const char *target;           /* "s3://BUCKET/PREFIX" (PREFIX may be empty) */
    const char *endpoint;         /* "http://127.0.0.1:7480", no path */
    const char *region;           /* signing region; NULL: "us-east-1" */
    const char *credentials_file; /* see above */
    const char *storage_class;    /* x-amz-storage-class of uploads; NULL: none */
    int parallel;                 /* requests at once; default 8 */
    int retries;                  /* attempts after the first; 0: 4, < 0: none */
    long backoff_ms;              /* first retry delay, doubled each time; default 200 */
    long connect_timeout_s;       /* default 10 */
    uint64_t multipart_threshold; /* larger objects go up in parts; default 64 MiB */
    uint64_t part_size;           /* default 16 MiB; at least 5 MiB (S3's floor) */
} ps_s3_opts;

typedef struct ps_s3 ps_s3;
/* Parses the target, reads the credentials file; no request is sent. */
ps_s3 *ps_s3_new(const ps_s3_opts *o, ps_error *err);
/* Frees S, wiping the secret (NULL is fine). */
void ps_s3_free(ps_s3 *s);

/* The target as given ("s3://BUCKET/PREFIX"), for messages. */
const char *ps_s3_target(const ps_s3 *s);

/* What a ps_s3 has done so far. */
typedef struct ps_s3_stats {
    uint64_t requests; /* HTTP requests sent, retries included */
    uint64_t puts;     /* objects written */
    uint64_t bytes_up; /* payload bytes of the objects written */
    uint64_t retries;
} ps_s3_stats;
ps_s3_stats ps_s3_stats_get(const ps_s3 *s);

/* One object to write.  The payload is DATA/LEN, or the file PATH when
 * DATA is NULL (mapped, not copied).  The object carries its SHA-256 as
 * x-amz-meta-sha256 (HEAD gives it back: S3's ETag is no content hash
 * once an object was uploaded in parts). */
typedef struct ps_s3_put {
    const char *key;
    const void *data;
    size_t len;
    const char *path;
    const char *content_type;  /* NULL: application/octet-stream */
    const char *cache_control; /* NULL: none */
    int if_none_match;         /* only if the key does not exist yet */
    /* results */
    int done;   /* the object was written */
    int exists; /* if_none_match and the key exists: nothing written */
} ps_s3_put;

/* Writes PUTS, up to `parallel` at once.  A put refused by if_none_match
 * is no error: its `exists` is set.  At the first failure no further put
 * starts, those under way finish, and ERR names the first failure's key;
 * `done` tells which landed. */
ps_code ps_s3_put_batch(ps_s3 *s, ps_s3_put *puts, size_t n, ps_error *err);

/* What HEAD says of an object. */
typedef struct ps_s3_object {
    int exists;
    uint64_t size;
    char etag[80];    /* without the quotes */
    char sha256[65];  /* x-amz-meta-sha256; "" when the object has none */
} ps_s3_object;
ps_code ps_s3_head(ps_s3 *s, const char *key, ps_s3_object *out, ps_error *err);

/* GETs KEY into OUT (replacing its contents; at most MAX_SIZE bytes).
 * *FOUND is 0 for a missing key (no error). */
ps_code ps_s3_get(ps_s3 *s, const char *key, uint64_t max_size, ps_buf *out, int *found,
                  ps_error *err);

/* Deletes KEY; a missing key is no error. */
ps_code ps_s3_delete(ps_s3 *s, const char *key, ps_error *err);

/* ---- the parts, for their unit tests and for callers that build URLs */

/* Splits "s3://BUCKET/PREFIX" into malloc'd *BUCKET and *PREFIX (no
 * leading or trailing '/'; "" when absent).  The bucket must be a valid
 * S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter
 * or digit); the prefix must encode to a valid key (see below). */
ps_code ps_s3_parse_target(const char *uri, char **bucket, char **prefix, ps_error *err);

/* KEY percent-encoded for the URL path and for SigV4's canonical URI:
 * every byte but A-Z a-z 0-9 - . _ ~ and '/' as %XX (upper-case hex), so
 * "alloy_1.2+3:4" becomes "alloy_1.2%2B3%3A4".  NULL (PS_EINPUT naming
 * the key) for an empty key, a leading '/', an empty, "." or ".."
 * segment (curl would rewrite the path). */
char *ps_s3_encode_key(const char *key, ps_error *err);

/* Reads PATH (the format above) into malloc'd *KEY and *SECRET. */
ps_code ps_s3_read_credentials(const char *path, char **key, char **secret, ps_error *err);

#ifdef __cplusplus
}
#endif

#endif
