/* ps_fetch.c - downloads through libcurl's multi interface (ps_fetch.h). */
#include "ps_fetch.h"
#include "ps_curl_priv.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ps_fetch {
    ps_fetch_opts o;
    CURLM *multi;
    ps_fetch_stats stats;
};

/* One request, possibly attempted several times. */
typedef struct xfer {
    ps_fetch *f;
    const char *url;
    /* target: a file (fd >= 0 while open) or a buffer */
    const ps_fetch_file *file;
    char *part;
    int fd;
    uint64_t resume_from; /* bytes of .part kept for this attempt */
    ps_buf *buf;
    uint64_t max_size;
    uint64_t got;     /* body bytes of this attempt */
    int first_write;  /* 200 to a Range request: start over */
    int discard;      /* the body of an error status is not the file */
    int too_big;
    int attempts;
    double not_before;
    CURL *easy;
    ps_fetch_response *resp;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

ps_fetch *ps_fetch_new(const ps_fetch_opts *o, ps_error *err)
{
    /* curl_global_init is idempotent in libcurl >= 7.84 and thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ps_error_set(err, PS_ELIB, "libcurl: global initialisation failed");
        return NULL;
    }
    ps_fetch *f = ps_zalloc(sizeof *f, err);
    if (f == NULL)
        return NULL;
    ps_fetch_opts d = {4, 4, 500, 60, 15, 120, 0, 1024, 0};
    f->o = o ? *o : d;
    if (f->o.parallel <= 0)
        f->o.parallel = d.parallel;
    if (f->o.retries < 0)
        f->o.retries = 0;
    if (f->o.backoff_ms <= 0)
        f->o.backoff_ms = d.backoff_ms;
    if (f->o.stall_s <= 0)
        f->o.stall_s = d.stall_s;
    if (f->o.connect_timeout_s <= 0)
        f->o.connect_timeout_s = d.connect_timeout_s;
    if (f->o.max_retry_after_s <= 0)
        f->o.max_retry_after_s = d.max_retry_after_s;
    if (f->o.low_speed == 0)
        f->o.low_speed = d.low_speed;
    f->multi = curl_multi_init();
    if (f->multi == NULL) {
        free(f);
        ps_error_set(err, PS_ELIB, "libcurl: cannot create a multi handle");
        return NULL;
    }
    curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)f->o.parallel);
    curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return f;
}

void ps_fetch_free(ps_fetch *f)
{
    if (f == NULL)
        return;
    curl_multi_cleanup(f->multi);
    free(f);
}

ps_fetch_stats ps_fetch_stats_get(const ps_fetch *f)
{
    return f->stats;
}

void ps_fetch_response_free(ps_fetch_response *r)
{
    ps_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

/* ---- callbacks ------------------------------------------------------ */

static int restart_file(xfer *x)
{
    if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0)
        return -1;
    x->resume_from = 0;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (x->first_write) {
        long code = 0;
        x->first_write = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code == 0) /* file:// */
            code = x->resume_from > 0 ? 206 : 200;
        x->discard = x->buf ? code != 200 : code != 200 && code != 206;
        if (!x->discard && x->fd >= 0 && x->resume_from > 0 && code == 200 &&
            restart_file(x) != 0)
            return 0;
    }
    if (x->discard)
        return len;
    if (x->resume_from + x->got + len > x->max_size) {
        x->too_big = 1;
        return 0;
    }
    x->got += len;
    x->f->stats.bytes += len;
    if (x->buf)
        return ps_buf_append(x->buf, data, len, NULL) == PS_OK ? len : 0;
    if (ps_fd_write_all(x->fd, data, len) != 0)
        return 0; /* curl then fails the transfer with CURLE_WRITE_ERROR */
    return len;
}

/* Keeps the validators of a response for the next conditional request. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (x->resp == NULL)
        return len;
    struct { const char *name; char *dst; size_t cap; } h[] = {
        {"etag:", x->resp->etag, sizeof x->resp->etag},
        {"last-modified:", x->resp->last_modified, sizeof x->resp->last_modified}};
    for (size_t i = 0; i < 2; i++) {
        size_t nl = strlen(h[i].name);
        if (len <= nl || strncasecmp(data, h[i].name, nl) != 0)
            continue;
        const char *v = data + nl;
        size_t vl = len - nl;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < h[i].cap) {
            memcpy(h[i].dst, v, vl);
            h[i].dst[vl] = '\0';
        }
    }
    return len;
}

/* ---- one attempt ---------------------------------------------------- */

static ps_code open_part(xfer *x, ps_error *err)
{
    struct stat st;
    x->fd = open(x->part, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (x->fd < 0 || fstat(x->fd, &st) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", x->part, strerror(errno));
    x->resume_from = (uint64_t)st.st_size;
    /* A partial at least as long as the file cannot be resumed. */
    if (x->resume_from >= x->file->size && restart_file(x) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", x->part, strerror(errno));
    if (lseek(x->fd, (off_t)x->resume_from, SEEK_SET) < 0)
        return ps_error_set(err, PS_EIO, "%s: %s", x->part, strerror(errno));
    return PS_OK;
}

static ps_code start(xfer *x, struct curl_slist *hdrs, ps_error *err)
{
    ps_fetch *f = x->f;
    x->got = 0;
    x->too_big = 0;
    x->first_write = 1;
    x->discard = 0;
    x->errbuf[0] = '\0';
    if (x->resp)
        x->resp->etag[0] = x->resp->last_modified[0] = '\0';
    if (x->file && open_part(x, err) != PS_OK)
        return err ? err->code : PS_EIO;
    if (x->buf)
        x->buf->len = 0;
    x->easy = ps_curl_easy_new(x->url, x, on_body, on_header, x->errbuf, "pkgsmith-mirror/1",
                               f->o.connect_timeout_s);
    if (x->easy == NULL)
        return ps_error_set(err, PS_ELIB, "%s: libcurl: cannot create a handle", x->url);
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    /* A floor that means something: at 1 byte/s a sync would hold its
     * lock for hours without ever tripping a floor of 1 byte/s. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                     (long)(f->o.low_speed < LONG_MAX ? f->o.low_speed : LONG_MAX));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, f->o.stall_s);
    if (f->o.deadline > 0) { /* what is left of it, for this attempt */
        double left = f->o.deadline - ps_now();
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left > 0.001 ? (long)(left * 1000) : 1L);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* Compressed indices must arrive byte for byte as Release hashes them. */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    if (f->o.rate_limit)
        curl_easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE,
                         (curl_off_t)(f->o.rate_limit / (uint64_t)f->o.parallel + 1));
    /* A Range header, not CURLOPT_RESUME_FROM: a server that ignores it
     * answers 200 with the whole file, which on_body then takes from the
     * start (curl would fail the transfer instead, every time). */
    char range[32];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)x->resume_from);
    if (x->file && x->resume_from > 0)
        curl_easy_setopt(e, CURLOPT_RANGE, range);
    if (hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    x->attempts++;
    f->stats.requests++;
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK)
        return ps_error_set(err, PS_ELIB, "%s: libcurl: cannot start the transfer", x->url);
    return PS_OK;
}

static void stop(xfer *x)
{
    ps_curl_drop(x->f->multi, &x->easy);
    if (x->fd >= 0) {
        close(x->fd);
        x->fd = -1;
    }
}

/* ---- outcome of an attempt ------------------------------------------ */

typedef enum outcome { DONE, RETRY, FAIL } outcome;

static int transient_curl(CURLcode c)
{
    return c == CURLE_OPERATION_TIMEDOUT || c == CURLE_COULDNT_CONNECT ||
           c == CURLE_PARTIAL_FILE || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
           c == CURLE_GOT_NOTHING || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM ||
           c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_SSL_CONNECT_ERROR;
}

/* A finished download: size, digest, then the rename that publishes it. */
static outcome finish_file(xfer *x, ps_error *err)
{
    const ps_fetch_file *ff = x->file;
    ps_hashes h;
    if (ps_hashes_of_file(x->part, &h, err) != PS_OK)
        return FAIL;
    if (h.size == ff->size && strcmp(h.sha256, ff->sha256) == 0) {
        if (rename(x->part, ff->path) != 0) {
            ps_error_set(err, PS_EIO, "%s: %s", ff->path, strerror(errno));
            return FAIL;
        }
        if (ff->hashes)
            *ff->hashes = h;
        return DONE;
    }
    unlink(x->part);
    /* A resumed partial may have been stale: one fresh attempt. */
    if (x->resume_from > 0 && x->attempts <= x->f->o.retries + 1)
        return RETRY;
    ps_error_set(err, PS_EVERIFY,
                 "%s: %s: got %llu bytes with SHA-256 %s, the index says %llu bytes with "
                 "SHA-256 %s",
                 x->url, h.size != ff->size ? "wrong size" : "SHA-256 mismatch",
                 (unsigned long long)h.size, h.sha256, (unsigned long long)ff->size, ff->sha256);
    return FAIL;
}

static int past_deadline(const ps_fetch *f, double t)
{
    return f->o.deadline > 0 && t >= f->o.deadline - 0.01;
}

/* The caller's time limit, not the server, ended the transfer: nothing
 * is retried, and a file's partial download stays for the next run. */
static outcome deadline_fail(xfer *x, ps_error *err)
{
    x->f->stats.deadline_reached = 1;
    ps_error_set(err, PS_EIO, "%s: the time limit was reached after %d attempt%s: stopped%s",
                 x->url, x->attempts, x->attempts == 1 ? "" : "s",
                 x->file ? " (what arrived is kept for the next run to resume)" : "");
    return FAIL;
}

static outcome judge(xfer *x, CURLcode cc, ps_error *err)
{
    ps_fetch *f = x->f;
    long code = 0, retry_after = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_off_t ra = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        retry_after = (long)ra;
    int can_retry = x->attempts <= f->o.retries;
    if (cc != CURLE_OK && past_deadline(f, ps_now()))
        return deadline_fail(x, err);
    if (x->too_big) {
        ps_error_set(err, PS_EVERIFY, "%s: more than the %llu bytes expected: refused", x->url,
                     (unsigned long long)x->max_size);
        return FAIL;
    }
    if (cc != CURLE_OK && !(cc == CURLE_HTTP_RETURNED_ERROR)) {
        if (transient_curl(cc) && can_retry)
            return RETRY;
        ps_error_set(err, PS_EIO, "%s: %s (after %d attempts)", x->url,
                     x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc), x->attempts);
        return FAIL;
    }
    const char *scheme_file = strncmp(x->url, "file:", 5) == 0 ? "file" : NULL;
    if (scheme_file)
        code = 200;
    if (x->file && code == 416) { /* our partial is no prefix of the file */
        stop(x);
        unlink(x->part);
        if (can_retry)
            return RETRY;
    }
    if (code == 429 || code >= 500) {
        if (can_retry) {
            long wait = retry_after < f->o.max_retry_after_s ? retry_after : f->o.max_retry_after_s;
            x->not_before = ps_now() + (double)wait;
            return RETRY;
        }
        ps_error_set(err, PS_EIO, "%s: HTTP %ld (after %d attempts)", x->url, code, x->attempts);
        return FAIL;
    }
    if (x->resp && (code == 200 || code == 304 || code == 404)) {
        x->resp->status = code;
        return DONE;
    }
    if (x->file && (code == 200 || code == 206)) {
        stop(x);
        return finish_file(x, err);
    }
    ps_error_set(err, code == 404 ? PS_EINPUT : PS_EIO, "%s: HTTP %ld", x->url, code);
    return FAIL;
}

static void schedule_retry(xfer *x)
{
    ps_fetch *f = x->f;
    double delay = (double)f->o.backoff_ms / 1000.0;
    for (int i = 1; i < x->attempts && delay < 60; i++)
        delay *= 2;
    double t = ps_now() + delay;
    if (t > x->not_before)
        x->not_before = t;
    f->stats.retries++;
}

/* ---- the loop ------------------------------------------------------- */

typedef struct run {
    ps_fetch *f;
    xfer *x;
    size_t n, next, active, done;
    uint64_t bytes_total, bytes_done_files;
    struct curl_slist *hdrs;
    ps_fetch_progress_cb cb;
    void *ud;
    double last_cb;
} run;

static uint64_t bytes_now(const run *r)
{
    uint64_t b = r->bytes_done_files;
    for (size_t i = 0; i < r->n; i++)
        if (r->x[i].easy)
            b += r->x[i].resume_from + r->x[i].got;
    return b;
}

static void progress(run *r, int force)
{
    double t = ps_now();
    if (r->cb == NULL || (!force && t - r->last_cb < 0.1))
        return;
    r->last_cb = t;
    r->cb(r->ud, r->done, r->n, bytes_now(r), r->bytes_total);
}

/* Starts waiting retries whose time has come, then new transfers. */
static ps_code fill(run *r, double *next_wake, ps_error *err)
{
    double t = ps_now();
    *next_wake = 0;
    for (size_t i = 0; i < r->n && r->active < (size_t)r->f->o.parallel; i++) {
        xfer *x = &r->x[i];
        if (i >= r->next || x->easy || x->attempts == 0 || x->not_before < 0)
            continue;
        if (x->not_before > t) {
            if (*next_wake == 0 || x->not_before < *next_wake)
                *next_wake = x->not_before;
            continue;
        }
        if (start(x, r->hdrs, err) != PS_OK)
            return err ? err->code : PS_ELIB;
        r->active++;
    }
    while (r->next < r->n && r->active < (size_t)r->f->o.parallel) {
        if (start(&r->x[r->next++], r->hdrs, err) != PS_OK)
            return err ? err->code : PS_ELIB;
        r->active++;
    }
    return PS_OK;
}

static ps_code reap(run *r, ps_error *err)
{
    void *priv;
    CURLcode res;
    while (ps_curl_next_done(r->f->multi, &priv, &res)) {
        xfer *x = priv;
        outcome o = judge(x, res, err);
        stop(x);
        r->active--;
        if (o == FAIL)
            return err ? err->code : PS_EIO;
        if (o == RETRY) {
            schedule_retry(x);
            if (past_deadline(r->f, x->not_before)) { /* no time left to wait */
                deadline_fail(x, err);
                return err ? err->code : PS_EIO;
            }
            continue;
        }
        x->not_before = -1; /* finished */
        r->done++;
        if (x->file)
            r->bytes_done_files += x->file->size;
    }
    return PS_OK;
}

static ps_code loop(run *r, ps_error *err)
{
    ps_code rc = PS_OK;
    while (rc == PS_OK && r->done < r->n) {
        double wake = 0;
        int running = 0;
        rc = fill(r, &wake, err);
        if (rc != PS_OK)
            break;
        if (curl_multi_perform(r->f->multi, &running) != CURLM_OK) {
            rc = ps_error_set(err, PS_ELIB, "libcurl: transfer loop failed");
            break;
        }
        rc = reap(r, err);
        progress(r, 0);
        if (rc != PS_OK || r->done == r->n)
            break;
        /* Free slots and files waiting: start them now, not after a poll. */
        if (r->active < (size_t)r->f->o.parallel && r->next < r->n)
            continue;
        int ms = 100;
        if (r->active == 0 && wake > 0)
            ms = (int)((wake - ps_now()) * 1000) + 1;
        if (ms < 0)
            ms = 0;
        if (ms > 1000)
            ms = 1000;
        curl_multi_poll(r->f->multi, NULL, 0, ms, NULL);
    }
    for (size_t i = 0; i < r->n; i++)
        stop(&r->x[i]);
    progress(r, 1);
    return rc;
}

static void free_xfers(xfer *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(x[i].part);
    free(x);
}

ps_code ps_fetch_files(ps_fetch *f, const ps_fetch_file *files, size_t n,
                       ps_fetch_progress_cb cb, void *ud, ps_error *err)
{
    run r = {f, calloc(n ? n : 1, sizeof(xfer)), n, 0, 0, 0, 0, 0, NULL, cb, ud, 0};
    ps_code rc = r.x ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        xfer *x = &r.x[i];
        *x = (xfer){.f = f, .url = files[i].url, .file = &files[i], .fd = -1,
                    .max_size = files[i].size};
        x->part = ps_strdupf("%s.part", files[i].path);
        if (x->part == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        r.bytes_total += files[i].size;
    }
    if (rc == PS_OK)
        rc = loop(&r, err);
    if (r.x)
        free_xfers(r.x, n);
    return rc;
}

ps_code ps_fetch_get(ps_fetch *f, const char *url, const char *etag, const char *last_modified,
                     uint64_t max_size, ps_fetch_response *out, ps_error *err)
{
    memset(out, 0, sizeof *out);
    xfer x = {.f = f, .url = url, .fd = -1, .buf = &out->body, .max_size = max_size,
              .resp = out};
    run r = {f, &x, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0};
    ps_code rc = PS_OK;
    char *h1 = etag && *etag ? ps_strdupf("If-None-Match: %s", etag) : NULL;
    char *h2 = last_modified && *last_modified
                   ? ps_strdupf("If-Modified-Since: %s", last_modified) : NULL;
    struct curl_slist *l = NULL;
    if (h1)
        l = curl_slist_append(l, h1);
    if (h2)
        l = curl_slist_append(l, h2);
    r.hdrs = l;
    rc = loop(&r, err);
    curl_slist_free_all(l);
    free(h1), free(h2);
    if (rc == PS_OK && out->status != 200)
        out->body.len = 0;
    if (rc != PS_OK)
        ps_fetch_response_free(out);
    return rc;
}
