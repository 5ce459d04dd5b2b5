/* ps_mirror_common.c - what every upstream kind uses and the sync loop
 * too: signature and freshness checks against the pinned keys and the
 * last accepted state, downloads into the mirror's caches, provenance,
 * the state file, and the selection rules.  It calls no kind and not the
 * sync loop: the arrows run ps_mirror.c -> kind -> here. */
#include <archive.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ps_mirror_common.h"

char *ps_mirror_url(const ps_sync *s, const char *rel)
{
    return ps_strdupf("%s/%s", s->base, rel);
}

ps_code ps_mirror_blame(ps_sync *s, const char *reason, ps_code rc)
{
    if (rc != PS_OK && s->reason == NULL)
        s->reason = reason;
    return rc;
}

ps_code ps_mirror_get(ps_sync *s, const char *url, const char *etag, const char *last_modified,
                      uint64_t max_size, ps_fetch_response *out, ps_error *err)
{
    ps_code rc = ps_fetch_get(s->fetch, url, etag, last_modified, max_size, out, err);
    return ps_mirror_blame(s, rc == PS_EVERIFY ? "index" : "transfer", rc);
}

int ps_mirror_seen(ps_sync *s, const char *key, const ps_buf *body)
{
    ps_hashes h;
    if (ps_hashes_of_mem(body->data ? (const void *)body->data : "", body->len, &h, NULL) !=
        PS_OK)
        return 0;
    const char *last = ps_kv_get(&s->state, key);
    int same = s->conditional && last && strcmp(last, h.sha256) == 0;
    return ps_kv_set(&s->next, key, h.sha256, NULL) == PS_OK && same;
}

/* ---- signatures and freshness --------------------------------------- */

ps_code ps_mirror_verifier(ps_sync *s, ps_error *err)
{
    if (s->verifier)
        return PS_OK;
    s->verifier = ps_verifier_new(err);
    ps_code rc = s->verifier ? PS_OK : (err ? err->code : PS_ELIB);
    for (size_t i = 0; rc == PS_OK && i < s->c->key_files.n; i++)
        rc = ps_verifier_import_file(s->verifier, s->c->key_files.v[i], err);
    for (size_t i = 0; rc == PS_OK && i < s->c->fprs.n; i++)
        rc = ps_verifier_pin(s->verifier, s->c->fprs.v[i], err);
    return ps_mirror_blame(s, "config", rc);
}

int ps_mirror_pinned(const ps_mirror_conf *c, const char *fpr)
{
    if (c->fprs.n == 0)
        return 1;
    for (size_t i = 0; i < c->fprs.n; i++)
        if (strcmp(c->fprs.v[i], fpr) == 0)
            return 1;
    return 0;
}

ps_code ps_mirror_verify(ps_sync *s, const ps_buf *data, const ps_buf *sig, ps_buf *plain,
                         const char *name, ps_error *err)
{
    char fpr[41] = "";
    ps_code rc = ps_mirror_verifier(s, err);
    ps_span span = {data->data, data->len};
    if (rc == PS_OK && sig)
        rc = ps_verifier_verify(s->verifier, sig->data, sig->len, &span, 1, NULL, name, fpr, err);
    else if (rc == PS_OK)
        rc = ps_verifier_verify(s->verifier, data->data, data->len, NULL, 0, plain, name, fpr,
                                err);
    if (rc == PS_EVERIFY && fpr[0]) { /* only by keys that are not pinned: say where */
        ps_error_clear(err);
        rc = ps_error_set(err, PS_EVERIFY,
                          "%s: signed by key %s, which is not pinned in Signed-By of %s: refused",
                          name, fpr, s->c->path);
    }
    if (rc == PS_OK)
        snprintf(s->res->signer, sizeof s->res->signer, "%s", fpr);
    return ps_mirror_blame(s, "signature", rc);
}

static ps_code check_date(ps_sync *s, const char *key, const char *date, const char *name,
                          ps_error *err)
{
    time_t t = date ? curl_getdate(date, NULL) : -1;
    if (t < 0)
        return ps_error_set(err, PS_EVERIFY, "%s: no valid Date ('%s'): refused", name,
                            date ? date : "");
    /* A Date ahead of our clock by more than the skew would become a
     * floor that refuses every honest Release until then. */
    long limit = (long)time(NULL) + s->c->max_skew;
    if ((long)t > limit) {
        char now[64];
        ps_format_date((long)time(NULL), now, sizeof now);
        return ps_error_set(err, PS_EVERIFY,
                            "%s: Date %s is %ld s ahead of this host's clock (%s), more than "
                            "Max-Clock-Skew (%ld s) of %s: refused",
                            name, date, (long)t - (long)time(NULL), now, s->c->max_skew,
                            s->c->path);
    }
    const char *prev = ps_kv_get(&s->state, key);
    long last = prev ? strtol(prev, NULL, 10) : 0;
    /* A floor recorded from a future Date (before this bound existed, or
     * with a larger skew) is not kept beyond the bound. */
    if (last > limit)
        last = limit;
    if ((long)t < last) {
        char when[64];
        ps_format_date(last, when, sizeof when);
        return ps_error_set(err, PS_EVERIFY,
                            "%s: Date %s is older than the last accepted %s (a replayed or "
                            "rolled-back upstream): refused",
                            name, date, when);
    }
    char v[32];
    snprintf(v, sizeof v, "%ld", (long)t);
    return ps_kv_set(&s->next, key, v, err);
}

ps_code ps_mirror_check_date(ps_sync *s, const char *key, const char *date, const char *name,
                             ps_error *err)
{
    return ps_mirror_blame(s, "freshness", check_date(s, key, date, name, err));
}

/* ---- files ----------------------------------------------------------- */

static ps_code check_unpacked(const ps_unpack_want *want, uint64_t total, const char *sha,
                              const char *url, ps_error *err)
{
    if (want->size && total != want->size)
        return ps_error_set(err, PS_EVERIFY,
                            "%s: unpacks to %llu bytes, %s lists %llu for the uncompressed "
                            "index: refused",
                            url, (unsigned long long)total, want->who,
                            (unsigned long long)want->size);
    if (want->sha256 && strcasecmp(sha, want->sha256) != 0)
        return ps_error_set(err, PS_EVERIFY,
                            "%s: unpacked SHA-256 %s, %s lists %s for the uncompressed index: "
                            "refused",
                            url, sha, want->who, want->sha256);
    return PS_OK;
}

/* libarchive's raw format reads a compressed file whole: each xz stream
 * and gzip member in turn, not only the first. */
static ps_code unpack_into(struct archive *a, int fd, uint64_t limit, const ps_unpack_want *want,
                           ps_sha256 *h, uint64_t *total, const char *tmp, const char *url,
                           ps_error *err)
{
    char buf[65536];
    ps_code rc = PS_OK;
    for (la_ssize_t n; rc == PS_OK && (n = archive_read_data(a, buf, sizeof buf)) != 0;) {
        if (n < 0)
            rc = ps_error_set(err, PS_EINPUT, "%s: %s", url, archive_error_string(a));
        else if ((*total += (uint64_t)n) > limit && limit == want->size)
            rc = ps_error_set(err, PS_EVERIFY,
                              "%s: unpacks to more than the %llu bytes %s lists for the "
                              "uncompressed index: refused",
                              url, (unsigned long long)limit, want->who);
        else if (*total > limit)
            rc = ps_error_set(err, PS_EVERIFY, "%s: unpacks to more than %llu bytes: refused",
                              url, (unsigned long long)limit);
        else if (write(fd, buf, (size_t)n) != n)
            rc = ps_error_set(err, PS_EIO, "%s: %s", tmp, strerror(errno));
        else
            ps_sha256_update(h, buf, (size_t)n);
    }
    return rc;
}

ps_code ps_mirror_unpack(ps_sync *s, const char *src, const char *dst, const ps_unpack_want *want,
                         const char *url, ps_error *err)
{
    uint64_t limit = s->c->max_index_unpacked;
    if (want->size && want->size < limit)
        limit = want->size; /* a bomb stops at the promised size */
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char *tmp = ps_strdupf("%s.tmp", dst);
    ps_sha256 *h = ps_sha256_new(err);
    int fd = tmp && h ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    ps_code rc = fd >= 0 ? PS_OK
                         : ps_error_set(err, PS_EIO, "%s: %s", tmp ? tmp : dst, strerror(errno));
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    if (rc == PS_OK && (archive_read_open_filename(a, src, 65536) != ARCHIVE_OK ||
                        archive_read_next_header(a, &e) != ARCHIVE_OK))
        rc = ps_error_set(err, PS_EINPUT, "%s: %s", url, archive_error_string(a));
    uint64_t total = 0;
    if (rc == PS_OK)
        rc = unpack_into(a, fd, limit, want, h, &total, tmp, url, err);
    char sha[65] = "";
    if (h)
        ps_sha256_final(h, sha); /* frees it */
    h = NULL;
    if (rc == PS_OK)
        rc = check_unpacked(want, total, sha, url, err);
    if (fd >= 0 && close(fd) != 0 && rc == PS_OK)
        rc = ps_error_set(err, PS_EIO, "%s: %s", tmp, strerror(errno));
    if (rc == PS_OK && rename(tmp, dst) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", dst, strerror(errno));
    if (rc != PS_OK && tmp)
        unlink(tmp);
    archive_read_free(a);
    free(tmp);
    return rc;
}

static void on_progress(void *ud, size_t fd, size_t ft, uint64_t bd, uint64_t bt)
{
    const ps_sync *s = ud;
    s->o->progress(s->o->progress_ud, s->c, fd, ft, bd, bt);
}

ps_code ps_mirror_fetch_files(ps_sync *s, const ps_fetch_file *files, size_t n, int progress,
                              ps_error *err)
{
    int cb = progress && s->o->progress;
    ps_code rc = ps_fetch_files(s->fetch, files, n, cb ? on_progress : NULL, s, err);
    return ps_mirror_blame(s, rc == PS_EVERIFY ? "index" : "transfer", rc);
}

ps_code ps_mirror_keep_provenance(ps_sync *s, const char *name, const void *data, size_t len,
                                  ps_error *err)
{
    char *dir = ps_strdupf("%s/provenance.new", s->dir);
    char *path = ps_strdupf("%s/provenance.new/%s", s->dir, name);
    ps_code rc = dir && path ? ps_mkdir_p(dir, 0755, err)
                             : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_file_write_unsynced(path, data, len, err);
    free(dir), free(path);
    return rc;
}

const char *ps_mirror_own(ps_mirror_plan *p, char *s)
{
    if (s)
        p->own[p->nown++] = s;
    return s;
}

/* ---- state ---------------------------------------------------------- */

ps_code ps_kv_load(const char *path, ps_kv *kv, ps_error *err)
{
    if (!ps_path_exists(path))
        return PS_OK;
    ps_deb822 *d = ps_deb822_parse_file(path, err);
    ps_code rc = d ? PS_OK : (err ? err->code : PS_EINPUT);
    for (size_t f = 0; rc == PS_OK && ps_deb822_count(d) && f < ps_deb822_nfields(d, 0); f++)
        rc = ps_kv_set(kv, ps_deb822_name_at(d, 0, f), ps_deb822_value_at(d, 0, f), err);
    ps_deb822_free(d);
    return rc;
}

ps_code ps_kv_save(const char *path, const ps_kv *kv, ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < kv->keys.n; i++)
        if (kv->values.v[i][0])
            rc = ps_buf_appendf(&b, err, "%s: %s\n", kv->keys.v[i], kv->values.v[i]);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(path, b.data ? (const void *)b.data : "", b.len, 0644, err);
    ps_buf_free(&b);
    return rc;
}

const char *ps_kv_get(const ps_kv *kv, const char *key)
{
    for (size_t i = 0; i < kv->keys.n; i++)
        if (strcasecmp(kv->keys.v[i], key) == 0)
            return kv->values.v[i];
    return NULL;
}

ps_code ps_kv_set(ps_kv *kv, const char *key, const char *value, ps_error *err)
{
    /* One line per value: a newline would end the field. */
    char *v = strdup(value ? value : "");
    if (v == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    for (char *p = v; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    for (size_t i = 0; i < kv->keys.n; i++)
        if (strcasecmp(kv->keys.v[i], key) == 0) {
            free(kv->values.v[i]);
            kv->values.v[i] = v;
            return PS_OK;
        }
    ps_code rc = ps_strv_add(&kv->keys, key, err);
    return rc == PS_OK ? ps_strv_take(&kv->values, v, err) : (free(v), rc);
}

void ps_kv_free(ps_kv *kv)
{
    ps_strv_free(&kv->keys);
    ps_strv_free(&kv->values);
}

/* ---- selection ------------------------------------------------------ */

void ps_cand_free(ps_cand *c)
{
    if (c == NULL)
        return;
    free(c->name), free(c->version), free(c->arch), free(c->path), free(c->sha256);
    free(c->stanza), free(c->deps);
    free(c);
}

void ps_select_init(ps_select *s, int keep, ps_vercmp_fn cmp)
{
    s->groups = g_hash_table_new_full(g_str_hash, g_str_equal, free,
                                      (GDestroyNotify)g_ptr_array_unref);
    s->keep = keep;
    s->cmp = cmp;
    s->conflict[0] = '\0';
}

void ps_select_free(ps_select *s)
{
    if (s->groups)
        g_hash_table_destroy(s->groups);
    s->groups = NULL;
}

void ps_select_offer(ps_select *s, ps_cand *c)
{
    char *key = ps_strdupf("%s %s", c->name, c->arch);
    GPtrArray *g = key ? g_hash_table_lookup(s->groups, key) : NULL;
    if (key && g == NULL) {
        g = g_ptr_array_new_with_free_func((GDestroyNotify)ps_cand_free);
        g_hash_table_insert(s->groups, key, g);
        key = NULL;
    }
    free(key);
    if (g == NULL) {
        ps_cand_free(c);
        return;
    }
    guint at = 0;
    for (; at < g->len; at++) {
        const ps_cand *o = g->pdata[at];
        int d = s->cmp(c->version, o->version);
        if (d == 0) { /* the same version twice: keep the first */
            if (c->sha256 && o->sha256 && strcmp(c->sha256, o->sha256) != 0 &&
                s->conflict[0] == '\0')
                snprintf(s->conflict, sizeof s->conflict,
                         "%s %s (%s) is listed twice, with SHA-256 %.64s and %.64s", c->name,
                         c->version, c->arch, o->sha256, c->sha256);
            ps_cand_free(c);
            return;
        }
        if (d > 0)
            break;
    }
    if (s->keep > 0 && at >= (guint)s->keep) {
        ps_cand_free(c);
        return;
    }
    g_ptr_array_insert(g, (gint)at, c);
    if (s->keep > 0 && g->len > (guint)s->keep)
        g_ptr_array_remove_index(g, g->len - 1);
}

ps_code ps_select_check(const ps_select *s, const char *where, ps_error *err)
{
    if (s->conflict[0] == '\0')
        return PS_OK;
    return ps_error_set(err, PS_EVERIFY, "%s: %s: refused (the same identity must mean the same "
                        "bytes)", where, s->conflict);
}

static gint cand_cmp(gconstpointer a, gconstpointer b)
{
    const ps_cand *x = *(ps_cand *const *)a, *y = *(ps_cand *const *)b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->arch, y->arch);
    return c ? c : strcmp(x->version, y->version);
}

GPtrArray *ps_select_list(const ps_select *s)
{
    GPtrArray *all = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->groups);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        GPtrArray *g = v;
        for (guint i = 0; i < g->len; i++)
            g_ptr_array_add(all, g->pdata[i]);
    }
    g_ptr_array_sort(all, cand_cmp);
    return all;
}

void ps_select_take(ps_select *s, GPtrArray *into)
{
    GPtrArray *list = ps_select_list(s);
    for (guint i = 0; i < list->len; i++)
        g_ptr_array_add(into, list->pdata[i]);
    g_ptr_array_free(list, TRUE);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->groups);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_set_free_func(v, NULL); /* INTO owns them now */
}

int ps_select_has_name(const ps_select *s, const char *name)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->groups);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        GPtrArray *g = v;
        if (g->len && strcmp(((ps_cand *)g->pdata[0])->name, name) == 0)
            return 1;
    }
    return 0;
}

int ps_mirror_wants(const ps_mirror_conf *c, const char *name)
{
    int in = c->include.n == 0;
    for (size_t i = 0; !in && i < c->include.n; i++)
        in = fnmatch(c->include.v[i], name, 0) == 0;
    for (size_t i = 0; in && i < c->exclude.n; i++)
        in = fnmatch(c->exclude.v[i], name, 0) != 0;
    return in;
}

ps_code ps_mirror_check_path(const char *what, const char *path, ps_error *err)
{
    const char *why = NULL;
    if (path == NULL || *path == '\0')
        why = "empty";
    else if (path[0] == '/')
        why = "absolute path";
    else if (strstr(path, "://") || strchr(path, ':'))
        why = "a URL or a scheme";
    else if (strchr(path, '\\'))
        why = "backslash";
    for (const char *p = path; !why && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            why = "control character";
    for (const char *p = path; !why && p && *p;) {
        size_t n = strcspn(p, "/");
        if ((n == 2 && strncmp(p, "..", 2) == 0) || (n == 1 && *p == '.') || n == 0)
            why = "'..', '.' or an empty component";
        p += n + (p[n] == '/');
    }
    if (why == NULL)
        return PS_OK;
    return ps_error_set(err, PS_EVERIFY, "%s: unsafe path '%.200s' (%s): refused", what,
                        path ? path : "", why);
}
