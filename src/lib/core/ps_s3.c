/* ps_s3.c - S3 requests through libcurl's multi interface (ps_s3.h). */
#include "ps_s3.h"
#include "ps_curl_priv.h"

#include <curl/curl.h>
#include <glib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct ps_s3 {
    char *target;
    char *bucket;
    char *prefix;
    char *endpoint;
    char *sigv4;  /* "aws:amz:REGION:s3" */
    char *credentials_file;
    char *access;
    char *secret;
    char *storage_class;
    int parallel;
    int retries;
    long backoff_ms;
    long connect_timeout_s;
    uint64_t multipart_threshold;
    uint64_t part_size;
    CURLM *multi;
    ps_s3_stats stats;
};

/* An error body is a few hundred bytes; more is no S3 error document. */
#define ERROR_BODY_MAX 65536

/* ---- the parts ------------------------------------------------------ */

static int bucket_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static int valid_bucket(const char *b, size_t n)
{
    if (n < 3 || n > 63 || b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!bucket_char(b[i]))
            return 0;
    return 1;
}

ps_code ps_s3_parse_target(const char *uri, char **bucket, char **prefix, ps_error *err)
{
    *bucket = *prefix = NULL;
    if (strncmp(uri, "s3://", 5) != 0)
        return ps_error_set(err, PS_EINPUT, "%s: not an S3 target (expected s3://BUCKET/PREFIX)",
                            uri);
    const char *b = uri + 5;
    size_t bn = strcspn(b, "/");
    if (!valid_bucket(b, bn))
        return ps_error_set(err, PS_EINPUT,
                            "%s: '%.*s' is no valid bucket name (3-63 of a-z 0-9 . -)", uri,
                            (int)bn, b);
    const char *p = b + bn;
    while (*p == '/')
        p++;
    size_t pn = strlen(p);
    while (pn > 0 && p[pn - 1] == '/')
        pn--;
    *bucket = strndup(b, bn);
    *prefix = strndup(p, pn);
    if (*bucket == NULL || *prefix == NULL) {
        free(*bucket), free(*prefix);
        *bucket = *prefix = NULL;
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    if (pn > 0) { /* the prefix must be a valid key itself */
        char *enc = ps_s3_encode_key(*prefix, err);
        if (enc == NULL) {
            free(*bucket), free(*prefix);
            *bucket = *prefix = NULL;
            return err ? err->code : PS_EINPUT;
        }
        free(enc);
    }
    return PS_OK;
}

static int bad_segment(const char *seg, size_t n)
{
    return n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.');
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

char *ps_s3_encode_key(const char *key, ps_error *err)
{
    for (const char *s = key;; ) {
        size_t n = strcspn(s, "/");
        if (bad_segment(s, n)) {
            ps_error_set(err, PS_EINPUT,
                         "object key '%s': empty, '.' or '..' path segment (refused: the URL "
                         "would not name it)", key);
            return NULL;
        }
        if (s[n] == '\0')
            break;
        s += n + 1;
    }
    char *out = malloc(strlen(key) * 3 + 1);
    if (out == NULL) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        return NULL;
    }
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;
    for (const unsigned char *s = (const unsigned char *)key; *s; s++) {
        if (unreserved(*s) || *s == '/') {
            *o++ = (char)*s;
        } else {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Up to two white-space separated words of the lines that are neither
 * blank nor comments; a third word is an error (*N = 3). */
static void cred_words(char *text, char *w[2], int *n)
{
    *n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *s = line + strspn(line, " \t\r");
        if (*s == '\0' || *s == '#')
            continue;
        for (char *save = NULL, *t = strtok_r(s, " \t\r", &save); t;
             t = strtok_r(NULL, " \t\r", &save)) {
            if (*n >= 2) {
                *n = 3;
                return;
            }
            w[(*n)++] = t;
        }
    }
}

static ps_code cred_check_mode(int fd, const char *path, ps_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ps_error_set(err, PS_EINPUT, "S3 credentials file %s: not a regular file", path);
    if (st.st_mode & 077)
        return ps_error_set(err, PS_EINPUT,
                            "S3 credentials file %s: mode %04o lets others read or change the "
                            "secret: refused (chmod 600 %s)",
                            path, (unsigned)(st.st_mode & 07777), path);
    return PS_OK;
}

ps_code ps_s3_read_credentials(const char *path, char **key, char **secret, ps_error *err)
{
    *key = *secret = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error_set(err, errno == ENOENT ? PS_EINPUT : PS_EIO,
                            "S3 credentials file %s: %s", path, strerror(errno));
    ps_buf b = {0};
    ps_code rc = cred_check_mode(fd, path, err);
    if (rc == PS_OK)
        rc = ps_fd_read_all(fd, path, &b, err);
    close(fd);
    if (rc == PS_OK && b.data == NULL)
        rc = ps_buf_append(&b, "", 0, err);
    char *w[2] = {NULL, NULL};
    int n = 0;
    if (rc == PS_OK)
        cred_words((char *)b.data, w, &n);
    if (rc == PS_OK && n != 2)
        rc = ps_error_set(err, PS_EINPUT,
                          "S3 credentials file %s: expected the access key and the secret (one "
                          "line \"ACCESS_KEY SECRET\", or two lines), found %s",
                          path, n < 2 ? "fewer words" : "more words");
    if (rc == PS_OK && ((*key = strdup(w[0])) == NULL || (*secret = strdup(w[1])) == NULL)) {
        free(*key);
        *key = NULL;
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    if (b.data)
        explicit_bzero(b.data, b.len);
    ps_buf_free(&b);
    return rc;
}

/* ---- the client ----------------------------------------------------- */

static ps_code check_endpoint(const char *e, ps_error *err)
{
    const char *rest = strncmp(e, "http://", 7) == 0    ? e + 7
                       : strncmp(e, "https://", 8) == 0 ? e + 8
                                                        : NULL;
    if (rest == NULL || *rest == '\0' || strchr(rest, '/') != NULL)
        return ps_error_set(err, PS_EINPUT,
                            "S3 endpoint '%s': expected http://HOST[:PORT] or https://HOST[:PORT]",
                            e);
    return PS_OK;
}

static void set_defaults(ps_s3 *s, const ps_s3_opts *o)
{
    s->parallel = o->parallel > 0 ? o->parallel : 8;
    s->retries = o->retries > 0 ? o->retries : o->retries == 0 ? 4 : 0;
    s->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 200;
    s->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 10;
    s->multipart_threshold = o->multipart_threshold ? o->multipart_threshold : 64u << 20;
    /* S3 refuses parts below 5 MiB, except the last. */
    s->part_size = o->part_size >= (5u << 20) ? o->part_size : 16u << 20;
}

static ps_code s3_init(ps_s3 *s, const ps_s3_opts *o, ps_error *err)
{
    if (o->target == NULL || o->endpoint == NULL || o->credentials_file == NULL)
        return ps_error_set(err, PS_EINPUT,
                            "S3 target %s: needs an endpoint and a credentials file",
                            o->target ? o->target : "(none)");
    ps_code rc = ps_s3_parse_target(o->target, &s->bucket, &s->prefix, err);
    if (rc == PS_OK)
        rc = check_endpoint(o->endpoint, err);
    if (rc != PS_OK)
        return rc;
    size_t el = strlen(o->endpoint);
    s->target = strdup(o->target);
    s->endpoint = strndup(o->endpoint, el);
    s->sigv4 = ps_strdupf("aws:amz:%s:s3", o->region && *o->region ? o->region : "us-east-1");
    s->credentials_file = strdup(o->credentials_file);
    s->storage_class = o->storage_class && *o->storage_class ? strdup(o->storage_class) : NULL;
    if (!s->target || !s->endpoint || !s->sigv4 || !s->credentials_file ||
        (o->storage_class && *o->storage_class && !s->storage_class))
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    set_defaults(s, o);
    rc = ps_s3_read_credentials(o->credentials_file, &s->access, &s->secret, err);
    if (rc != PS_OK)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ps_error_set(err, PS_ELIB, "libcurl: global initialisation failed");
    if ((s->multi = curl_multi_init()) == NULL)
        return ps_error_set(err, PS_ELIB, "libcurl: cannot create a multi handle");
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->parallel);
    return PS_OK;
}

ps_s3 *ps_s3_new(const ps_s3_opts *o, ps_error *err)
{
    ps_s3 *s = ps_zalloc(sizeof *s, err);
    if (s == NULL)
        return NULL;
    return PS_BUILT(s3_init(s, o, err), s, ps_s3_free);
}

void ps_s3_free(ps_s3 *s)
{
    if (s == NULL)
        return;
    if (s->multi)
        curl_multi_cleanup(s->multi);
    if (s->secret)
        explicit_bzero(s->secret, strlen(s->secret));
    free(s->secret), free(s->access), free(s->target), free(s->bucket), free(s->prefix);
    free(s->endpoint), free(s->sigv4), free(s->credentials_file), free(s->storage_class);
    free(s);
}

const char *ps_s3_target(const ps_s3 *s)
{
    return s->target;
}

ps_s3_stats ps_s3_stats_get(const ps_s3 *s)
{
    return s->stats;
}

/* ---- one request ---------------------------------------------------- */

/* M_POST and M_PART (a multipart upload's POSTs and part PUTs) come with
 * their body and headers made by the caller. */
typedef enum method { M_PUT, M_HEAD, M_GET, M_DELETE, M_POST, M_PART } method;
static const char *const method_name[] = {"PUT", "HEAD", "GET", "DELETE", "POST", "PUT"};

typedef enum state { WAITING, ACTIVE, FINISHED } state;

typedef struct req {
    ps_s3 *s;
    method m;
    const char *key;   /* the caller's, for messages */
    char *name;        /* s3://BUCKET/PREFIX/KEY */
    char *url;
    ps_s3_put *put;    /* M_PUT */
    ps_map map;        /* a put's file */
    const unsigned char *body;
    size_t body_len;
    struct curl_slist *hdrs;
    ps_buf resp;       /* a GET's body, or an error document */
    uint64_t max;
    int too_big;
    ps_s3_object *obj; /* M_HEAD */
    char etag[80];     /* M_PART: the part's ETag, quotes kept */
    long status;
    state st;
    int attempts;
    double not_before;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
} req;

static ps_code req_init(req *r, ps_s3 *s, method m, const char *key, ps_error *err)
{
    *r = (req){.s = s, .m = m, .key = key, .max = ERROR_BODY_MAX};
    const char *sep = *s->prefix ? "/" : "";
    char *full = ps_strdupf("%s%s%s", s->prefix, sep, key);
    if (full == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    char *enc = ps_s3_encode_key(full, err);
    free(full);
    if (enc == NULL)
        return err ? err->code : PS_EINPUT;
    r->name = ps_strdupf("s3://%s/%s%s%s", s->bucket, s->prefix, sep, key);
    r->url = ps_strdupf("%s/%s/%s", s->endpoint, s->bucket, enc);
    free(enc);
    if (r->name == NULL || r->url == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

static void req_free(req *r)
{
    if (r->easy) {
        curl_multi_remove_handle(r->s->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    ps_map_free(&r->map);
    ps_buf_free(&r->resp);
    free(r->name);
    free(r->url);
}

static ps_code add_header(req *r, ps_error *err, const char *fmt, const char *value)
{
    char *h = ps_strdupf(fmt, value);
    struct curl_slist *l = h ? curl_slist_append(r->hdrs, h) : NULL;
    free(h);
    if (l == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    r->hdrs = l;
    return PS_OK;
}

/* The payload hashes, then the headers that carry them and the put's
 * options.  curl 7.88 hashes the body it sends for the signature, but
 * leaves the x-amz-content-sha256 header (which the server checks
 * against the body) to us. */
static ps_code body_headers(req *r, const void *body, size_t len, int md5, char *sha_out,
                           ps_error *err);

static ps_code put_headers(req *r, ps_error *err)
{
    const ps_s3_put *p = r->put;
    char sha[65];
    ps_code rc = body_headers(r, r->body, r->body_len, 1, sha, err);
    if (rc == PS_OK)
        rc = add_header(r, err, "x-amz-meta-sha256: %s", sha);
    if (rc == PS_OK)
        rc = add_header(r, err, "Content-Type: %s",
                        p->content_type ? p->content_type : "application/octet-stream");
    if (rc == PS_OK && p->cache_control)
        rc = add_header(r, err, "Cache-Control: %s", p->cache_control);
    if (rc == PS_OK && p->if_none_match)
        rc = add_header(r, err, "If-None-Match: %s", "*");
    if (rc == PS_OK && r->s->storage_class)
        rc = add_header(r, err, "x-amz-storage-class: %s", r->s->storage_class);
    return rc;
}

/* Everything a request needs before its first attempt (a put's file is
 * mapped only now, so that a batch of thousands holds `parallel` maps). */
static ps_code req_prepare(req *r, ps_error *err)
{
    if (r->m == M_POST || r->m == M_PART)
        return PS_OK;
    if (r->m != M_PUT) {
        static const char empty_sha[] =
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        return add_header(r, err, "x-amz-content-sha256: %s", empty_sha);
    }
    const ps_s3_put *p = r->put;
    if (p->data == NULL && p->path != NULL) {
        if (ps_map_file(p->path, &r->map, err) != PS_OK)
            return err ? err->code : PS_EIO;
        r->body = r->map.data, r->body_len = r->map.len;
    } else {
        r->body = p->data, r->body_len = p->len;
    }
    if (r->body == NULL) /* an empty object still needs a body pointer */
        r->body = (const unsigned char *)"";
    return put_headers(r, err);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    req *r = ud;
    size_t len = size * nmemb;
    if (r->resp.len + len > r->max) {
        r->too_big = 1;
        return 0;
    }
    return ps_buf_append(&r->resp, data, len, NULL) == PS_OK ? len : 0;
}

/* The value of header NAME (lower case, with its colon) in DATA/LEN,
 * trimmed, into DST; quotes around an ETag dropped. */
static void header_value(const char *data, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(data, name, nl) != 0)
        return;
    const char *v = data + nl;
    size_t vl = len - nl;
    while (vl && (*v == ' ' || *v == '\t' || *v == '"'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '"'))
        vl--;
    if (vl < cap) {
        memcpy(dst, v, vl);
        dst[vl] = '\0';
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    req *r = ud;
    size_t len = size * nmemb;
    if (r->m == M_PART && len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        size_t n = len - 5;
        const char *v = data + 5;
        while (n && *v == ' ')
            v++, n--;
        while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
            n--;
        if (n < sizeof r->etag)
            memcpy(r->etag, v, n), r->etag[n] = '\0';
    }
    if (r->obj == NULL)
        return len;
    char num[32] = "";
    header_value(data, len, "etag:", r->obj->etag, sizeof r->obj->etag);
    header_value(data, len, "x-amz-meta-sha256:", r->obj->sha256, sizeof r->obj->sha256);
    header_value(data, len, "content-length:", num, sizeof num);
    if (*num)
        r->obj->size = strtoull(num, NULL, 10);
    return len;
}

static void set_method(req *r, CURL *e)
{
    switch (r->m) {
    case M_POST:
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        break;
    case M_PART:
    case M_PUT:
        /* POSTFIELDS, not UPLOAD: curl 7.88 signs the hash of the
         * postfields, which is the body we send. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        break;
    case M_HEAD:
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        break;
    case M_GET:
        break;
    case M_DELETE:
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    }
}

static ps_code req_start(req *r, ps_error *err)
{
    ps_s3 *s = r->s;
    if (r->attempts == 0 && req_prepare(r, err) != PS_OK)
        return err ? err->code : PS_ELIB;
    r->resp.len = 0;
    r->too_big = 0;
    r->status = 0;
    r->errbuf[0] = '\0';
    if (r->obj)
        memset(r->obj, 0, sizeof *r->obj);
    CURL *e = r->easy = ps_curl_easy_new(r->url, r, on_body, on_header, r->errbuf, "pkgsmith-s3/1",
                                         s->connect_timeout_s);
    if (e == NULL)
        return ps_error_set(err, PS_ELIB, "%s: libcurl: cannot create a handle", r->name);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, s->access);
    curl_easy_setopt(e, CURLOPT_PASSWORD, s->secret);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    set_method(r, e);
    r->attempts++;
    s->stats.requests++;
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return ps_error_set(err, PS_ELIB, "%s: libcurl: cannot start the request", r->name);
    r->st = ACTIVE;
    return PS_OK;
}

static void req_stop(req *r)
{
    ps_curl_drop(r->s->multi, &r->easy);
}

/* ---- outcome -------------------------------------------------------- */

typedef enum outcome { DONE, RETRY, FAIL } outcome;

static int transient_curl(CURLcode c)
{
    return c == CURLE_OPERATION_TIMEDOUT || c == CURLE_COULDNT_CONNECT ||
           c == CURLE_PARTIAL_FILE || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
           c == CURLE_GOT_NOTHING || c == CURLE_COULDNT_RESOLVE_HOST ||
           c == CURLE_SSL_CONNECT_ERROR;
}

static char *xml_text(const ps_buf *b, const char *tag);

/* The Code element of an S3 error document (a word of letters and
 * digits), or "". */
static void s3_error_code(const ps_buf *b, char *code, size_t cap)
{
    char *t = xml_text(b, "Code");
    size_t n = t ? strlen(t) : 0;
    code[0] = '\0';
    if (t && n > 0 && n < cap && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789") == n)
        memcpy(code, t, n + 1);
    free(t);
}

/* What an operator should check, for the errors a configuration causes. */
static const char *hint(const ps_s3 *s, const char *code, char *buf, size_t cap)
{
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        snprintf(buf, cap, ": the secret in %s does not match its access key",
                 s->credentials_file);
    else if (strcmp(code, "InvalidAccessKeyId") == 0)
        snprintf(buf, cap, ": %s does not know the access key in %s", s->endpoint,
                 s->credentials_file);
    else if (strcmp(code, "NoSuchBucket") == 0)
        snprintf(buf, cap, ": bucket %s does not exist on %s", s->bucket, s->endpoint);
    else if (strcmp(code, "QuotaExceeded") == 0)
        snprintf(buf, cap, ": the storage quota of the account is used up");
    else if (strcmp(code, "AccessDenied") == 0)
        snprintf(buf, cap, ": the account of %s may not do this", s->credentials_file);
    else
        buf[0] = '\0';
    return buf;
}

static ps_code code_class(const char *code, long status)
{
    if (strcmp(code, "QuotaExceeded") == 0 || status >= 500)
        return PS_EIO;
    if (strcmp(code, "BadDigest") == 0 || strcmp(code, "XAmzContentSHA256Mismatch") == 0)
        return PS_EVERIFY;
    return PS_EINPUT; /* credentials, bucket, permissions: the configuration */
}

static outcome http_fail(req *r, ps_error *err)
{
    char code[64], h[512];
    s3_error_code(&r->resp, code, sizeof code);
    ps_error_set(err, code_class(code, r->status), "%s: %s %s: HTTP %ld%s%s%s (after %d attempt%s)",
                 r->name, method_name[r->m], r->url, r->status, *code ? " " : "", code,
                 hint(r->s, code, h, sizeof h), r->attempts, r->attempts == 1 ? "" : "s");
    return FAIL;
}

static outcome curl_fail(req *r, CURLcode cc, ps_error *err)
{
    long os_errno = 0;
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
    ps_error_set(err, PS_EIO, "%s: %s %s: %s%s%s%s (after %d attempt%s)", r->name,
                 method_name[r->m], r->url, r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc),
                 os_errno ? " (" : "", os_errno ? strerror((int)os_errno) : "",
                 os_errno ? ")" : "", r->attempts, r->attempts == 1 ? "" : "s");
    return FAIL;
}

/* A 404 that means "no such key", not "no such bucket". */
static int missing_key(req *r)
{
    char code[64];
    s3_error_code(&r->resp, code, sizeof code);
    return r->status == 404 && strcmp(code, "NoSuchBucket") != 0;
}

static outcome accept_status(req *r)
{
    long st = r->status;
    switch (r->m) {
    case M_PUT:
        if (st == 200) {
            r->put->done = 1;
            r->s->stats.puts++;
            r->s->stats.bytes_up += r->body_len;
            return DONE;
        }
        if (st == 412 && r->put->if_none_match) {
            r->put->exists = 1;
            return DONE;
        }
        return FAIL;
    case M_HEAD:
        if (st == 200 || st == 404) {
            r->obj->exists = st == 200;
            return DONE;
        }
        return FAIL;
    case M_GET:
        return st == 200 || missing_key(r) ? DONE : FAIL;
    case M_DELETE:
        return st == 200 || st == 204 || missing_key(r) ? DONE : FAIL;
    case M_POST: /* CompleteMultipartUpload may fail with a 200 */
        return st == 200 && !(r->resp.data && strstr((char *)r->resp.data, "<Error>")) ? DONE
                                                                                       : FAIL;
    case M_PART:
        return st == 200 && r->etag[0] ? DONE : FAIL;
    }
    return FAIL;
}

static outcome judge(req *r, CURLcode cc, ps_error *err)
{
    int can_retry = r->attempts <= r->s->retries;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->too_big) {
        ps_error_set(err, PS_EIO, "%s: GET %s: more than the %llu bytes expected: refused",
                     r->name, r->url, (unsigned long long)r->max);
        return FAIL;
    }
    if (cc != CURLE_OK)
        return transient_curl(cc) && can_retry ? RETRY : curl_fail(r, cc, err);
    if (r->status == 429 || r->status >= 500) /* 503 SlowDown among them */
        return can_retry ? RETRY : http_fail(r, err);
    return accept_status(r) == DONE ? DONE : http_fail(r, err);
}

/* ---- the loop ------------------------------------------------------- */

typedef struct run {
    ps_s3 *s;
    req *r;
    size_t n, active, finished;
    int failed;
} run;

static void schedule_retry(req *r)
{
    double delay = (double)r->s->backoff_ms / 1000.0;
    for (int i = 1; i < r->attempts && delay < 30; i++)
        delay *= 2;
    r->not_before = ps_now() + delay;
    r->st = WAITING;
    r->s->stats.retries++;
}

/* Starts what may start: retries whose time has come and new requests,
 * none after a failure.  *WAKE: the earliest retry still waiting. */
static ps_code fill(run *u, double *wake, ps_error *err)
{
    double t = ps_now();
    *wake = 0;
    for (size_t i = 0; i < u->n && !u->failed && u->active < (size_t)u->s->parallel; i++) {
        req *r = &u->r[i];
        if (r->st != WAITING)
            continue;
        if (r->not_before > t) {
            if (*wake == 0 || r->not_before < *wake)
                *wake = r->not_before;
            continue;
        }
        if (req_start(r, err) != PS_OK) {
            u->failed = 1;
            r->st = FINISHED;
            u->finished++;
            return err ? err->code : PS_ELIB;
        }
        u->active++;
    }
    return PS_OK;
}

/* A transfer of R ended with outcome O: again later, or done. */
static void finish(run *u, req *r, outcome o)
{
    req_stop(r);
    u->active--;
    if (o == RETRY) {
        schedule_retry(r);
        return;
    }
    r->st = FINISHED;
    u->finished++;
    if (o == FAIL)
        u->failed = 1;
    if (r->m == M_PUT) /* its map is not needed any more */
        ps_map_free(&r->map);
}

static void reap(run *u, ps_error *err)
{
    void *priv;
    CURLcode res;
    while (ps_curl_next_done(u->s->multi, &priv, &res))
        finish(u, priv, judge(priv, res, err));
}

static int poll_ms(const run *u, double wake)
{
    int ms = 100;
    if (u->active == 0 && wake > 0)
        ms = (int)((wake - ps_now()) * 1000) + 1;
    return ms < 0 ? 0 : ms > 1000 ? 1000 : ms;
}

static ps_code loop(run *u, ps_error *err)
{
    ps_code rc = PS_OK;
    for (;;) {
        double wake = 0;
        int running = 0;
        if (rc == PS_OK)
            rc = fill(u, &wake, err);
        if (u->active == 0 && (u->failed || rc != PS_OK || u->finished == u->n))
            break;
        if (curl_multi_perform(u->s->multi, &running) != CURLM_OK) {
            rc = ps_error_set(err, PS_ELIB, "libcurl: transfer loop failed");
            break;
        }
        reap(u, err);
        if (u->active == 0 && (u->failed || u->finished == u->n))
            break;
        curl_multi_poll(u->s->multi, NULL, 0, poll_ms(u, wake), NULL);
    }
    if (rc == PS_OK && u->failed)
        rc = err && err->code != PS_OK ? err->code : PS_EIO;
    return rc;
}

static ps_code run_reqs(ps_s3 *s, req *r, size_t n, ps_error *err)
{
    run u = {s, r, n, 0, 0, 0};
    return loop(&u, err);
}

/* ---- the operations ------------------------------------------------- */

/* ---- multipart uploads (objects above multipart_threshold) ------------ */

/* R's URL with "?QUERY" (already encoded and sorted: curl 7.88 signs it
 * as given). */
static ps_code set_query(req *r, const char *query, ps_error *err)
{
    char *u = ps_strdupf("%s?%s", r->url, query);
    if (u == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    free(r->url);
    r->url = u;
    return PS_OK;
}

/* Headers with the payload's SHA-256 (and its Content-MD5 when MD5). */
/* x-amz-content-sha256 of BODY (curl 7.88 does not add it), its hex also
 * in SHA_OUT (65 bytes) unless NULL, and with MD5 Content-MD5 (which the
 * server checks). */
static ps_code body_headers(req *r, const void *body, size_t len, int md5, char *sha_out,
                           ps_error *err)
{
    unsigned char d[16];
    char own[65], *sha = sha_out ? sha_out : own;
    r->body = body ? body : (const void *)"", r->body_len = len;
    if (ps_digest_hex(PS_DIGEST_SHA256, r->body, len, sha, err) != PS_OK)
        return err ? err->code : PS_ELIB;
    ps_code rc = add_header(r, err, "x-amz-content-sha256: %s", sha);
    if (rc == PS_OK && md5 && (rc = ps_digest(PS_DIGEST_MD5, r->body, len, d, err)) == PS_OK) {
        gchar *b64 = g_base64_encode(d, sizeof d);
        rc = b64 ? add_header(r, err, "Content-MD5: %s", b64)
                 : ps_error_set(err, PS_ENOMEM, "out of memory");
        g_free(b64);
    }
    return rc;
}

typedef struct mpu {
    ps_s3 *s;
    ps_s3_put *p;
    const unsigned char *body;
    size_t len;
    char sha[65];
    char *id;     /* UploadId */
    char *id_enc; /* percent-encoded for the query */
} mpu;

/* The text of element TAG in B (malloc'd), or NULL. */
static char *xml_text(const ps_buf *b, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag), snprintf(close, sizeof close, "</%s>", tag);
    const char *a = b->data ? strstr((const char *)b->data, open) : NULL;
    const char *z = a ? strstr(a, close) : NULL;
    return z ? strndup(a + strlen(open), (size_t)(z - a - (ptrdiff_t)strlen(open))) : NULL;
}

static ps_code mpu_initiate(mpu *u, ps_error *err)
{
    req r;
    const ps_s3_put *p = u->p;
    ps_code rc = req_init(&r, u->s, M_POST, p->key, err);
    if (rc == PS_OK)
        rc = set_query(&r, "uploads=", err);
    if (rc == PS_OK)
        rc = body_headers(&r, NULL, 0, 0, NULL, err);
    if (rc == PS_OK)
        rc = add_header(&r, err, "x-amz-meta-sha256: %s", u->sha);
    if (rc == PS_OK)
        rc = add_header(&r, err, "Content-Type: %s",
                        p->content_type ? p->content_type : "application/octet-stream");
    if (rc == PS_OK && p->cache_control)
        rc = add_header(&r, err, "Cache-Control: %s", p->cache_control);
    if (rc == PS_OK && u->s->storage_class)
        rc = add_header(&r, err, "x-amz-storage-class: %s", u->s->storage_class);
    if (rc == PS_OK)
        rc = run_reqs(u->s, &r, 1, err);
    if (rc == PS_OK && ((u->id = xml_text(&r.resp, "UploadId")) == NULL ||
                        (u->id_enc = ps_s3_encode_key(u->id, NULL)) == NULL))
        rc = ps_error_set(err, PS_EIO, "%s: POST %s: no usable UploadId in the answer", r.name,
                          r.url);
    req_free(&r);
    return rc;
}

/* The parts, `parallel` at once; their ETags into the completion XML. */
static ps_code mpu_parts(mpu *u, ps_buf *xml, ps_error *err)
{
    size_t ps = (size_t)u->s->part_size, n = (u->len + ps - 1) / ps;
    req *r = calloc(n, sizeof *r);
    ps_code rc = r ? ps_buf_appendf(xml, err, "<CompleteMultipartUpload>")
                   : ps_error_set(err, PS_ENOMEM, "out of memory");
    size_t made = 0;
    for (; rc == PS_OK && made < n; made++) {
        char q[512];
        size_t off = made * ps, len = u->len - off < ps ? u->len - off : ps;
        snprintf(q, sizeof q, "partNumber=%zu&uploadId=%s", made + 1, u->id_enc);
        rc = req_init(&r[made], u->s, M_PART, u->p->key, err);
        if (rc == PS_OK)
            rc = set_query(&r[made], q, err);
        if (rc == PS_OK)
            rc = body_headers(&r[made], u->body + off, len, 1, NULL, err);
    }
    if (rc == PS_OK)
        rc = run_reqs(u->s, r, n, err);
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        rc = ps_buf_appendf(xml, err, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
                            i + 1, r[i].etag);
    if (rc == PS_OK)
        rc = ps_buf_appendf(xml, err, "</CompleteMultipartUpload>");
    for (size_t i = 0; i < made; i++)
        req_free(&r[i]);
    free(r);
    return rc;
}

/* POST ?uploadId= with XML (so Content-Type: application/xml), or, to
 * abort, DELETE ?uploadId=. */
static ps_code mpu_finish(mpu *u, const ps_buf *xml, ps_error *err)
{
    req r;
    char *q = ps_strdupf("uploadId=%s", u->id_enc);
    ps_code rc = q ? req_init(&r, u->s, xml ? M_POST : M_DELETE, u->p->key, err)
                   : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc != PS_OK) {
        free(q);
        return rc;
    }
    rc = set_query(&r, q, err);
    if (rc == PS_OK && xml)
        rc = body_headers(&r, xml->data, xml->len, 0, NULL, err);
    if (rc == PS_OK && xml)
        rc = add_header(&r, err, "Content-Type: %s", "application/xml");
    if (rc == PS_OK)
        rc = run_reqs(u->s, &r, 1, err);
    req_free(&r);
    free(q);
    return rc;
}

/* One large object in parts.  If-None-Match is checked with a HEAD
 * first (radosgw 16 has no conditional completion): two uploaders of
 * the same new key at once could both write it. */
static ps_code put_multipart(ps_s3 *s, ps_s3_put *p, ps_error *err)
{
    ps_map m = {0};
    mpu u = {.s = s, .p = p};
    ps_code rc = PS_OK;
    if (p->data == NULL && (rc = ps_map_file(p->path, &m, err)) != PS_OK)
        return rc;
    u.body = p->data ? p->data : m.data, u.len = p->data ? p->len : m.len;
    ps_s3_object o;
    if (p->if_none_match && (rc = ps_s3_head(s, p->key, &o, err)) == PS_OK && o.exists)
        p->exists = 1;
    if (rc == PS_OK && !p->exists)
        rc = ps_digest_hex(PS_DIGEST_SHA256, u.body, u.len, u.sha, err);
    if (rc == PS_OK && !p->exists && (rc = mpu_initiate(&u, err)) == PS_OK) {
        ps_buf xml = {0};
        rc = mpu_parts(&u, &xml, err);
        if (rc == PS_OK)
            rc = mpu_finish(&u, &xml, err);
        if (rc != PS_OK) /* no parts left behind to pay for */
            mpu_finish(&u, NULL, NULL);
        ps_buf_free(&xml);
    }
    if (rc == PS_OK && !p->exists) {
        p->done = 1;
        s->stats.puts++;
        s->stats.bytes_up += u.len;
    }
    free(u.id), free(u.id_enc);
    ps_map_free(&m);
    return rc;
}

static uint64_t put_size(const ps_s3_put *p)
{
    struct stat st;
    if (p->data || p->path == NULL)
        return p->len;
    return stat(p->path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

ps_code ps_s3_put_batch(ps_s3 *s, ps_s3_put *puts, size_t n, ps_error *err)
{
    req *r = calloc(n ? n : 1, sizeof *r);
    if (r == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_code rc = PS_OK;
    size_t made = 0;
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        puts[i].done = puts[i].exists = 0;
        if (put_size(&puts[i]) > s->multipart_threshold)
            continue; /* below, one at a time, its parts in parallel */
        rc = req_init(&r[made], s, M_PUT, puts[i].key, err);
        r[made++].put = &puts[i];
    }
    if (rc == PS_OK)
        rc = run_reqs(s, r, made, err);
    for (size_t i = 0; i < made; i++)
        req_free(&r[i]);
    free(r);
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        if (put_size(&puts[i]) > s->multipart_threshold)
            rc = put_multipart(s, &puts[i], err);
    return rc;
}

/* One request other than a put, run to its end. */
static ps_code single(ps_s3 *s, method m, const char *key, ps_s3_object *obj, uint64_t max,
                      ps_buf *out, int *found, ps_error *err)
{
    req r;
    ps_code rc = req_init(&r, s, m, key, err);
    r.obj = obj;
    if (max)
        r.max = max;
    if (rc == PS_OK)
        rc = run_reqs(s, &r, 1, err);
    if (rc == PS_OK && found)
        *found = r.status == 200;
    if (rc == PS_OK && out && r.status == 200) {
        ps_buf_free(out);
        *out = r.resp;
        r.resp = (ps_buf){0};
    }
    req_free(&r);
    return rc;
}

ps_code ps_s3_head(ps_s3 *s, const char *key, ps_s3_object *out, ps_error *err)
{
    memset(out, 0, sizeof *out);
    return single(s, M_HEAD, key, out, 0, NULL, NULL, err);
}

ps_code ps_s3_get(ps_s3 *s, const char *key, uint64_t max_size, ps_buf *out, int *found,
                  ps_error *err)
{
    *found = 0;
    out->len = 0;
    /* The error document must fit too, however small the object. */
    uint64_t max = max_size > ERROR_BODY_MAX ? max_size : ERROR_BODY_MAX;
    ps_code rc = single(s, M_GET, key, NULL, max, out, found, err);
    if (rc == PS_OK && *found && out->len > max_size) {
        out->len = 0;
        *found = 0;
        rc = ps_error_set(err, PS_EIO, "s3 object %s: more than the %llu bytes expected: refused",
                          key, (unsigned long long)max_size);
    }
    return rc;
}

ps_code ps_s3_delete(ps_s3 *s, const char *key, ps_error *err)
{
    return single(s, M_DELETE, key, NULL, 0, NULL, NULL, err);
}
