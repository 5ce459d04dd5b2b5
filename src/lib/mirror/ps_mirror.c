/* ps_mirror.c - one sync, start to end: lock, upstream selection (through
 * the mirror's ps_mirror_kind, never naming one), downloads, the
 * repository's working set, publish, state. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ps_mirror_kind.h"
#include "ps_repo_push.h"

/* provenance.new replaces provenance (synced with the working set). */
static ps_code swap_provenance(ps_sync *s, ps_error *err)
{
    char *cur = ps_strdupf("%s/provenance", s->dir), *nw = ps_strdupf("%s/provenance.new", s->dir);
    char *signer = ps_strdupf("%s/provenance.new/signer", s->dir);
    ps_code rc = cur && nw && signer ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    char line[64];
    snprintf(line, sizeof line, "%s\n", s->res->signer);
    if (rc == PS_OK && ps_path_exists(nw))
        rc = ps_file_write_unsynced(signer, line, strlen(line), err);
    if (rc == PS_OK && ps_path_exists(nw)) {
        ps_rm_rf(cur, NULL);
        if (rename(nw, cur) != 0)
            rc = ps_error_set(err, PS_EIO, "%s: %s", cur, strerror(errno));
    }
    free(cur), free(nw), free(signer);
    return rc;
}

/* ---- from the selection to repository items -------------------------- */

static void plan_free(ps_mirror_plan *p, size_t ncand)
{
    for (size_t i = 0; i < p->nown; i++)
        free(p->own[i]);
    for (size_t i = 0; p->records && i < ncand; i++)
        ps_buf_free(&p->records[i]);
    free(p->own), free(p->items), free(p->fetch), free(p->records), free(p->cand);
    free(p->hashes);
}

static ps_code check_target(const ps_sync *s, const ps_repo *r, const char *t, ps_error *err)
{
    const ps_mirror_kind *k = s->c->kind;
    if (ps_repo_has_target(r, k->pkg_type, t))
        return PS_OK;
    return ps_error_set(err, PS_EINPUT, "%s: Target '%s' is not %s of %s/repo.conf", s->c->path,
                        t, k->target_is, ps_repo_root(r));
}


static ps_code check_space(const ps_sync *s, uint64_t need, ps_error *err)
{
    struct statvfs v;
    if (statvfs(s->dir, &v) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", s->dir, strerror(errno));
    uint64_t have = (uint64_t)v.f_bavail * v.f_frsize, margin = 64ULL << 20;
    if (have >= need + margin)
        return PS_OK;
    return ps_error_set(err, PS_EIO,
                        "%s: not enough free space: the sync needs %llu MiB (and 64 MiB to "
                        "spare), %llu MiB are free",
                        s->dir, (unsigned long long)(need >> 20), (unsigned long long)(have >> 20));
}

/* Which files are new, which the pool already holds. */
static ps_code plan_files(ps_sync *s, const ps_repo *r, const char *target, ps_mirror_plan *p,
                          ps_error *err)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    size_t n = s->chosen->len;
    p->items = calloc(n ? n : 1, sizeof *p->items);
    p->own = calloc(n * 6 + 1, sizeof *p->own);
    p->fetch = calloc(n ? n : 1, sizeof *p->fetch);
    p->records = calloc(n ? n : 1, sizeof *p->records);
    p->cand = calloc(n ? n : 1, sizeof *p->cand);
    p->hashes = calloc(n ? n : 1, sizeof *p->hashes);
    ps_code rc = p->items && p->own && p->fetch && p->records && p->cand && p->hashes
                     ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        const ps_cand *c = s->chosen->pdata[i];
        if (g_hash_table_contains(seen, c->sha256))
            continue; /* an arch-all file listed under two architectures */
        g_hash_table_add(seen, c->sha256);
        if (c->size > s->c->max_file)
            rc = ps_error_set(err, PS_EVERIFY, "%s/%s: %llu bytes, above Max-File-Size: refused",
                              s->base, c->path, (unsigned long long)c->size);
        p->cand[p->n] = c;
        ps_repo_item *it = &p->items[p->n++];
        *it = (ps_repo_item){s->c->kind->pkg_type, target, c->name,
                             c->version, c->arch, c->sha256, c->size, NULL, NULL, NULL, 0};
        /* Re-signed before: the pool holds our bytes under our digest. */
        const char *ours = s->c->resign ? ps_kv_get(&s->resigned, c->sha256) : NULL;
        const char *pooled = ps_repo_pooled(r, ours ? ours : c->sha256);
        if (pooled != NULL && ours) {
            struct stat st;
            char *path = ps_strdupf("%s/%s", ps_repo_root(r), pooled);
            it->sha256 = ps_mirror_own(p, strdup(ours));
            it->size = path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
            free(path);
            if (rc == PS_OK && it->sha256)
                rc = ps_kv_set(&s->resigned_next, c->sha256, ours, err);
        }
        if (pooled != NULL) { /* r is closed before the items are used */
            if ((it->href = ps_mirror_own(p, strdup(pooled))) == NULL)
                rc = ps_error_set(err, PS_ENOMEM, "out of memory");
            s->res->reused++;
            continue;
        }
        /* A verified download from an interrupted run is as good. */
        it->file = ps_mirror_own(p, ps_strdupf("%s/download/%s", s->dir, c->sha256));
        if (it->file == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK && !ps_path_exists(it->file)) {
            const char *url = ps_mirror_own(p, ps_mirror_url(s, c->path));
            p->fetch[p->nfetch++] =
                (ps_fetch_file){url, it->file, c->size, c->sha256, &p->hashes[p->n - 1]};
            p->fetch_bytes += c->size;
            rc = url ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
        }
    }
    g_hash_table_destroy(seen);
    return rc;
}

/* CTX: what the kind's items_begin made (rpm: the pinned keys). */
static ps_code make_items(ps_sync *s, ps_mirror_plan *p, void *ctx, ps_error *err)
{
    ps_code rc = PS_OK;
    size_t k = 0;
    for (size_t i = 0; rc == PS_OK && i < s->chosen->len && k < p->n; i++) {
        const ps_cand *c = s->chosen->pdata[i];
        ps_repo_item *it = &p->items[k];
        if (p->cand[k] != c)
            continue; /* a duplicate plan_files skipped */
        k++;
        if (it->file == NULL)
            continue;
        it->href = NULL;
        rc = s->c->kind->verify_entry(s, p, k - 1, c, ctx, err);
        it->record = p->records[k - 1].data;
        it->record_len = p->records[k - 1].len;
    }
    return rc;
}

/* ---- the sync --------------------------------------------------------- */

static ps_code check_shrink(ps_sync *s, ps_error *err)
{
    const char *prev = ps_kv_get(&s->state, "Entries");
    double before = prev ? strtod(prev, NULL) : 0, now = (double)s->res->upstream_entries;
    if (before <= 0 || s->o->force || now >= before * (1.0 - s->c->max_shrink / 100.0))
        return PS_OK;
    return ps_error_set(err, PS_EVERIFY,
                        "%s: upstream lists %.0f packages, %.0f last time (%.0f%% fewer, "
                        "Max-Shrink is %.0f%%): refused; run with --force if this is intended",
                        s->base, now, before, 100.0 * (before - now) / before, s->c->max_shrink);
}

/* The working set holds a change not yet published: the state says so
 * before anything else happens, so that a crash or a failed publish is
 * published by the next run, even one that finds upstream unchanged. */
static ps_code mark_pending(ps_sync *s, ps_error *err)
{
    ps_code rc = ps_kv_set(&s->next, "Publish-Pending", "yes", err);
    char *st = ps_strdupf("%s/state", s->home);
    if (rc == PS_OK)
        rc = st ? ps_kv_save(st, &s->next, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    free(st);
    return rc;
}

static int pending(const ps_sync *s)
{
    const char *v = ps_kv_get(&s->state, "Publish-Pending");
    return v && *v;
}

/* The repository, read-only, and the plan of files for the selection. */
static ps_repo *open_plan(ps_sync *s, ps_mirror_plan *p, char **target, ps_error *err)
{
    ps_repo *r = ps_repo_open(s->o->root, 0, 0, err);
    ps_code rc = r ? PS_OK : ps_mirror_blame(s, "config", err ? err->code : PS_EINPUT);
    *target = r ? s->c->kind->target(s, r) : NULL;
    if (rc == PS_OK)
        rc = *target ? check_target(s, r, *target, err)
                     : ps_error_set(err, PS_ENOMEM, "out of memory");
    rc = ps_mirror_blame(s, "config", rc);
    if (r) {
        p->sign_key = ps_repo_key(r);
        p->sign_home = ps_repo_gnupg_home(r);
    }
    if (rc == PS_OK)
        rc = plan_files(s, r, *target, p, err);
    if (rc != PS_OK) {
        ps_repo_free(r);
        return NULL;
    }
    return r;
}

/* Downloads and verifies the plan's files and makes them the mirror's
 * share of the working set; *PUBLISH says whether a publish is due (the
 * run publishes once, for every mirror). */
static ps_code commit(ps_sync *s, int *publish, ps_error *err)
{
    ps_mirror_plan p = {0};
    char *target = NULL;
    const ps_mirror_kind *k = s->c->kind;
    ps_repo *r = open_plan(s, &p, &target, err);
    ps_code rc = r ? PS_OK : (err && err->code ? err->code : PS_EINPUT);
    if (rc == PS_OK)
        rc = ps_mirror_blame(s, "disk", check_space(s, p.fetch_bytes, err));
    if (rc == PS_OK)
        rc = ps_mirror_fetch_files(s, p.fetch, p.nfetch, 1, err);
    s->res->fetched = rc == PS_OK ? p.nfetch : 0;
    void *ctx = NULL;
    if (rc == PS_OK && k->items_begin)
        rc = k->items_begin(s, &ctx, err);
    if (rc == PS_OK)
        rc = make_items(s, &p, ctx, err);
    if (r && k->items_end)
        rc = k->items_end(s, ctx, rc, err);
    ps_repo_free(r);
    ps_repo *w = rc == PS_OK ? ps_repo_open(s->o->root, 1, s->o->wait_seconds, err) : NULL;
    if (rc == PS_OK && w == NULL)
        rc = ps_mirror_blame(s, "disk", err && err->code ? err->code : PS_EBUSY);
    int changed = 0;
    char *source = ps_strdupf("mirror:%s", s->c->name);
    if (rc == PS_OK)
        rc = ps_repo_set_source(w, source, p.items, p.n, &s->res->added, &s->res->removed,
                                &changed, err);
    s->res->selected = p.n;
    char *rmap = ps_strdupf("%s/resigned", s->dir);
    if (rc == PS_OK && s->c->resign)
        rc = rmap ? ps_kv_save(rmap, &s->resigned_next, err) : PS_ENOMEM;
    free(rmap);
    if (rc == PS_OK)
        rc = swap_provenance(s, err);
    *publish = rc == PS_OK && (changed || pending(s) || ps_repo_current(w) == 0);
    if (*publish)
        rc = mark_pending(s, err);
    if (w)
        s->res->generation = ps_repo_current(w);
    ps_repo_free(w);
    plan_free(&p, s->chosen->len);
    free(target), free(source);
    return rc;
}

/* ---- a dry run: the plan, reported, and nothing changed ----------- */

static void report(const ps_sync *s, const char *action, const char *name, const char *version,
                   const char *arch, uint64_t size)
{
    if (s->o->on_change)
        s->o->on_change(s->o->change_ud, s->c, action, name, version, arch, size);
}

/* What ps_repo_set_source would add and remove, without a write lock. */
static void dry_diff(ps_sync *s, const ps_repo *r, const char *source, const ps_mirror_plan *p)
{
    GHashTable *now = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    GHashTable *had = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    for (size_t i = 0; i < p->n; i++) {
        char *k = ps_strdupf("%s %s", p->items[i].target, p->items[i].sha256);
        if (k)
            g_hash_table_add(now, k);
    }
    for (size_t i = 0; i < ps_repo_count(r); i++) {
        ps_repo_pkg e = ps_repo_pkg_at(r, i);
        char *k = strcmp(e.source, source) == 0 ? ps_strdupf("%s %s", e.target, e.sha256) : NULL;
        if (k && !g_hash_table_contains(now, k)) {
            s->res->removed++;
            report(s, "remove", e.name, e.version, e.arch, e.size);
        }
        if (k)
            g_hash_table_add(had, k);
    }
    for (size_t i = 0; i < p->n; i++) {
        const ps_repo_item *it = &p->items[i];
        char *k = ps_strdupf("%s %s", it->target, it->sha256);
        if (k && !g_hash_table_contains(had, k)) {
            s->res->added++;
            report(s, "add", it->name, it->version, it->arch, it->size);
        }
        free(k);
    }
    g_hash_table_destroy(now);
    g_hash_table_destroy(had);
}

static ps_code dry_commit(ps_sync *s, ps_error *err)
{
    ps_mirror_plan p = {0};
    char *target = NULL;
    ps_repo *r = open_plan(s, &p, &target, err);
    char *source = ps_strdupf("mirror:%s", s->c->name);
    ps_code rc = r == NULL ? (err && err->code ? err->code : PS_EINPUT)
                           : source ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < p.n; i++)
        if (p.items[i].href == NULL && p.cand[i])
            report(s, "fetch", p.cand[i]->name, p.cand[i]->version, p.cand[i]->arch,
                   p.cand[i]->size);
    if (rc == PS_OK)
        dry_diff(s, r, source, &p);
    s->res->fetched = p.nfetch;
    s->res->selected = p.n;
    if (r) {
        s->res->generation = ps_repo_current(r);
        s->res->published = s->res->added || s->res->removed || pending(s) ||
                            ps_repo_current(r) == 0;
    }
    ps_repo_free(r);
    plan_free(&p, s->chosen->len);
    free(target), free(source);
    return rc;
}

/* Indices no longer pinned by upstream leave the cache. */
static void prune_cache(ps_sync *s, double started)
{
    const char *sub[] = {"indices", "download"};
    for (size_t k = 0; k < 2; k++) {
        char *dir = ps_strdupf("%s/%s", s->dir, sub[k]);
        DIR *d = dir ? opendir(dir) : NULL;
        for (struct dirent *de; d && (de = readdir(d));) {
            struct stat st;
            char *path = ps_strdupf("%s/%s", dir, de->d_name);
            /* downloads were moved into the pool; .part files are kept */
            if (path && de->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                (k == 1 ? !ps_str_ends_with(de->d_name, ".part")
                        : (double)st.st_mtime < started - 1))
                unlink(path);
            free(path);
        }
        if (d)
            closedir(d);
        free(dir);
    }
}

/* A dry run keeps its downloads (the signed files and indices it
 * verifies) in a scratch directory: the mirror's own stays as it was. */
static ps_code make_dirs(ps_sync *s, ps_error *err)
{
    const char *sub[] = {"", "/indices", "/download"};
    ps_code rc = PS_OK;
    if (s->o->dry_run) {
        const char *tmp = getenv("TMPDIR");
        s->dir = ps_mkdtemp_in(tmp && *tmp ? tmp : "/tmp", "pkgsmith-dry-run.", err);
        rc = s->dir ? PS_OK : (err && err->code ? err->code : PS_EIO);
    } else {
        s->dir = strdup(s->home);
    }
    for (size_t i = s->o->dry_run; rc == PS_OK && i < 3; i++) {
        char *d = s->dir ? ps_strdupf("%s%s", s->dir, sub[i]) : NULL;
        rc = d ? ps_mkdir_p(d, 0755, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        free(d);
    }
    return rc;
}

static ps_code prepare(ps_sync *s, int *lockfd, ps_error *err)
{
    ps_code rc = PS_OK;
    s->home = ps_strdupf("%s/mirrors/%s", s->o->root, s->c->name);
    rc = s->home ? make_dirs(s, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    char *lock = rc == PS_OK ? ps_strdupf("%s/lock", s->home) : NULL;
    /* A dry run writes nothing, not even the lock: it reads a state that
     * is only ever replaced whole (rename). */
    if (rc == PS_OK && !s->o->dry_run)
        rc = lock ? ps_lock(lock, s->o->wait_seconds, lockfd, err) : PS_ENOMEM;
    free(lock);
    char *st = rc == PS_OK ? ps_strdupf("%s/state", s->home) : NULL;
    if (rc == PS_OK)
        rc = st ? ps_kv_load(st, &s->state, err) : PS_ENOMEM;
    for (size_t i = 0; rc == PS_OK && i < s->state.keys.n; i++)
        rc = ps_kv_set(&s->next, s->state.keys.v[i], s->state.values.v[i], err);
    free(st);
    char *rmap = rc == PS_OK ? ps_strdupf("%s/resigned", s->home) : NULL;
    if (rc == PS_OK)
        rc = rmap ? ps_kv_load(rmap, &s->resigned, err) : PS_ENOMEM;
    free(rmap);
    char *nw = rc == PS_OK ? ps_strdupf("%s/provenance.new", s->dir) : NULL;
    if (nw)
        ps_rm_rf(nw, NULL);
    free(nw);
    const char *dig = ps_kv_get(&s->state, "Config-Digest");
    const char *ok = ps_kv_get(&s->state, "Last-Success");
    s->conditional = dig && ok && *ok && strcmp(dig, s->c->digest) == 0;
    s->base = strdup(s->c->uris.v[0]);
    if (rc == PS_OK && s->base == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t l = s->base ? strlen(s->base) : 0; l > 0 && s->base[l - 1] == '/'; l--)
        s->base[l - 1] = '\0';
    return ps_mirror_blame(s, "disk", rc);
}

/* Why the sync failed, from the bounded set PS_MIRROR_REASONS: what the
 * failing step said, else what the error's kind says. */
static const char *reason_of(const ps_sync *s, ps_code rc)
{
    if (s->reason)
        return s->reason;
    return rc == PS_EVERIFY || rc == PS_EINPUT ? "index" : rc == PS_EKEY ? "config" : "disk";
}

static ps_code record(ps_sync *s, ps_code rc, const ps_error *err, double t0, ps_error *serr)
{
    ps_kv *kv = rc == PS_OK ? &s->next : &s->state;
    char v[64];
    snprintf(v, sizeof v, "%ld", (long)time(NULL));
    ps_code r2 = ps_kv_set(kv, "Last-Attempt", v, serr);
    if (rc == PS_OK) {
        char n[32];
        ps_kv_set(kv, "Last-Success", v, serr);
        ps_kv_set(kv, "Last-Error", "", serr);
        ps_kv_set(kv, "Last-Failure-Reason", "", serr);
        ps_kv_set(kv, "Config-Digest", s->c->digest, serr);
        if (!s->res->unchanged) {
            snprintf(n, sizeof n, "%zu", s->res->upstream_entries);
            ps_kv_set(kv, "Entries", n, serr);
            snprintf(n, sizeof n, "%zu", s->res->selected);
            ps_kv_set(kv, "Packages", n, serr);
            ps_kv_set(kv, "Signer", s->res->signer, serr);
            ps_kv_set(kv, "Upstream-Date", s->res->upstream_date, serr);
            ps_kv_set(kv, "Upstream-Valid-Until", s->res->upstream_valid_until, serr);
        }
        snprintf(n, sizeof n, "%ld", s->res->generation);
        ps_kv_set(kv, "Generation", n, serr);
    } else {
        const char *e = ps_kv_get(kv, "Errors-Total");
        char n[32];
        snprintf(n, sizeof n, "%ld", (e ? strtol(e, NULL, 10) : 0) + 1);
        ps_kv_set(kv, "Errors-Total", n, serr);
        ps_kv_set(kv, "Last-Error", err && err->code ? err->msg : "failed", serr);
        ps_kv_set(kv, "Last-Failure-Reason", reason_of(s, rc), serr);
    }
    snprintf(v, sizeof v, "%.3f", ps_now() - t0);
    ps_kv_set(kv, "Last-Duration", v, serr);
    char *st = ps_strdupf("%s/state", s->home);
    if (r2 == PS_OK)
        r2 = st ? ps_kv_save(st, kv, serr) : PS_ENOMEM;
    free(st);
    return r2;
}

static void fill_unchanged(ps_sync *s)
{
    const char *v;
    s->res->selected = (v = ps_kv_get(&s->state, "Packages")) ? strtoul(v, NULL, 10) : 0;
    s->res->upstream_entries = (v = ps_kv_get(&s->state, "Entries")) ? strtoul(v, NULL, 10) : 0;
    s->res->generation = (v = ps_kv_get(&s->state, "Generation")) ? strtol(v, NULL, 10) : 0;
    snprintf(s->res->signer, sizeof s->res->signer, "%s",
             (v = ps_kv_get(&s->state, "Signer")) ? v : "");
    snprintf(s->res->upstream_date, sizeof s->res->upstream_date, "%s",
             (v = ps_kv_get(&s->state, "Upstream-Date")) ? v : "");
    snprintf(s->res->upstream_valid_until, sizeof s->res->upstream_valid_until, "%s",
             (v = ps_kv_get(&s->state, "Upstream-Valid-Until")) ? v : "");
}

/* ---- a run: every mirror, then one publish --------------------------- */

/* One mirror of a run, between its phases. */
typedef struct job {
    ps_sync s;
    ps_error *err;
    int lockfd;
    double t0;
    ps_code rc;
    int publish; /* its share of the working set awaits a publish */
} job;

static ps_fetch_opts fetch_opts(const ps_mirror_conf *c, const ps_mirror_opts *o, double t0)
{
    long limit = o->timeout > 0 ? o->timeout : c->timeout;
    ps_fetch_opts fo = {o->connections ? o->connections : c->connections,
                        o->retries > 0 ? o->retries : o->retries < 0 ? 0 : 4,
                        o->retry_backoff_ms, c->low_speed_time, 0, 0,
                        o->rate_limit ? o->rate_limit : c->rate_limit, c->low_speed,
                        limit > 0 ? t0 + (double)limit : 0};
    return fo;
}

/* Everything up to the publish: verified, downloaded, in the working set
 * (a dry run: verified and reported). */
static void job_run(job *j, const ps_mirror_conf *c, const ps_mirror_opts *o,
                    ps_mirror_result *out)
{
    ps_sync *s = &j->s;
    ps_error *err = j->err;
    j->t0 = ps_now();
    j->lockfd = -1;
    memset(out, 0, sizeof *out);
    *s = (ps_sync){.c = c, .o = o, .res = out};
    s->chosen = g_ptr_array_new_with_free_func((GDestroyNotify)ps_cand_free);
    ps_fetch_opts fo = fetch_opts(c, o, j->t0);
    ps_code rc = prepare(s, &j->lockfd, err);
    if (rc == PS_OK && (s->fetch = ps_fetch_new(&fo, err)) == NULL)
        rc = err ? err->code : PS_ELIB;
    if (rc == PS_OK)
        rc = c->kind->select(s, err);
    if (rc == PS_OK && out->unchanged) {
        fill_unchanged(s);
        rc = c->kind->still_valid ? ps_mirror_blame(s, "freshness", c->kind->still_valid(s, err))
                                  : PS_OK;
        j->publish = rc == PS_OK && pending(s) && !o->dry_run;
    } else if (rc == PS_OK) {
        rc = ps_mirror_blame(s, "index", check_shrink(s, err));
        if (rc == PS_OK)
            rc = o->dry_run ? dry_commit(s, err) : commit(s, &j->publish, err);
    }
    j->rc = rc;
}

/* One generation for every mirror whose share changed. */
static void publish_all(job *jobs, size_t n, const ps_mirror_opts *o)
{
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += jobs[i].rc == PS_OK && jobs[i].publish;
    if (want == 0)
        return;
    ps_error perr = {0};
    ps_repo_published pub = {0};
    ps_repo_pushed pushed;
    ps_repo *w = ps_repo_open(o->root, 1, o->wait_seconds, &perr);
    /* Publish-To targets get the new generation too: a failed push
     * leaves Publish-Pending, so the next run publishes and pushes. */
    ps_code rc = w ? ps_repo_publish_push(w, &pub, &pushed, &perr)
                   : (perr.code ? perr.code : PS_EBUSY);
    ps_repo_free(w);
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (j->rc != PS_OK)
            continue;
        if (rc == PS_OK) {
            j->s.res->generation = pub.generation;
            j->s.res->published = j->publish;
            if (j->publish)
                j->rc = ps_kv_set(&j->s.next, "Publish-Pending", "", j->err);
        } else if (j->publish) { /* the next run publishes it */
            j->rc = rc;
            if (j->err)
                *j->err = perr;
            ps_kv_set(&j->s.state, "Publish-Pending", "yes", NULL);
        }
    }
}

/* The state recorded, the caches pruned, the lock released. */
static void job_end(job *j)
{
    ps_sync *s = &j->s;
    ps_mirror_result *out = s->res;
    if (s->fetch) {
        ps_fetch_stats st = ps_fetch_stats_get(s->fetch);
        out->bytes = st.bytes;
        out->requests = st.requests;
    }
    out->duration = ps_now() - j->t0;
    if (j->lockfd >= 0 && !s->o->dry_run) {
        ps_error serr = {0};
        if (j->rc == PS_OK && !out->unchanged)
            prune_cache(s, (double)time(NULL) - out->duration);
        ps_code r2 = record(s, j->rc, j->err, j->t0, &serr);
        if (j->rc == PS_OK && r2 != PS_OK) {
            j->rc = r2;
            if (j->err)
                *j->err = serr;
        }
    }
    if (j->lockfd >= 0)
        close(j->lockfd);
    if (s->o->dry_run && s->dir)
        ps_rm_rf(s->dir, NULL);
    if (s->chosen)
        g_ptr_array_free(s->chosen, TRUE);
    ps_fetch_free(s->fetch);
    ps_verifier_free(s->verifier);
    ps_kv_free(&s->state), ps_kv_free(&s->next);
    ps_kv_free(&s->resigned), ps_kv_free(&s->resigned_next);
    free(s->dir), free(s->home), free(s->base);
}

ps_code ps_mirror_sync_all(const ps_mirror_conf *const *list, size_t n,
                           const ps_mirror_opts *o, ps_mirror_result *out, ps_error *errs)
{
    job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (jobs == NULL) {
        for (size_t i = 0; i < n; i++)
            ps_error_set(&errs[i], PS_ENOMEM, "out of memory");
        return PS_ENOMEM;
    }
    /* Each mirror's lock is held until its state is recorded: a second
     * run waits (or refuses) instead of seeing a half-done one. */
    for (size_t i = 0; i < n; i++) {
        jobs[i].err = &errs[i];
        job_run(&jobs[i], list[i], o, &out[i]);
    }
    publish_all(jobs, n, o);
    ps_code rc = PS_OK;
    for (size_t i = 0; i < n; i++) {
        job_end(&jobs[i]);
        rc = rc == PS_OK ? jobs[i].rc : rc;
    }
    free(jobs);
    return rc;
}

ps_code ps_mirror_sync(const ps_mirror_conf *c, const ps_mirror_opts *o, ps_mirror_result *out,
                       ps_error *err)
{
    ps_error e = {0};
    ps_code rc = ps_mirror_sync_all(&c, 1, o, out, &e);
    if (err && rc != PS_OK)
        *err = e;
    return rc;
}

/* ---- status ----------------------------------------------------------- */

ps_code ps_mirror_status_get(const char *root, const ps_mirror_conf *c, ps_mirror_status *out,
                             ps_error *err)
{
    ps_kv kv = {0};
    char *path = ps_strdupf("%s/mirrors/%s/state", root, c->name);
    memset(out, 0, sizeof *out);
    ps_code rc = path ? ps_kv_load(path, &kv, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    const char *v;
    if (rc == PS_OK) {
        out->last_attempt = (v = ps_kv_get(&kv, "Last-Attempt")) ? strtol(v, NULL, 10) : 0;
        out->last_success = (v = ps_kv_get(&kv, "Last-Success")) ? strtol(v, NULL, 10) : 0;
        out->synced = out->last_success > 0;
        out->last_duration = (v = ps_kv_get(&kv, "Last-Duration")) ? strtod(v, NULL) : 0;
        out->packages = (v = ps_kv_get(&kv, "Packages")) ? strtoul(v, NULL, 10) : 0;
        out->upstream_entries = (v = ps_kv_get(&kv, "Entries")) ? strtoul(v, NULL, 10) : 0;
        out->generation = (v = ps_kv_get(&kv, "Generation")) ? strtol(v, NULL, 10) : 0;
        out->errors_total = (v = ps_kv_get(&kv, "Errors-Total")) ? strtoul(v, NULL, 10) : 0;
        snprintf(out->last_error, sizeof out->last_error, "%s",
                 (v = ps_kv_get(&kv, "Last-Error")) ? v : "");
        snprintf(out->last_failure, sizeof out->last_failure, "%s",
                 (v = ps_kv_get(&kv, "Last-Failure-Reason")) && out->last_error[0] ? v : "");
        snprintf(out->upstream_date, sizeof out->upstream_date, "%s",
                 (v = ps_kv_get(&kv, "Upstream-Date")) ? v : "");
        snprintf(out->upstream_valid_until, sizeof out->upstream_valid_until, "%s",
                 (v = ps_kv_get(&kv, "Upstream-Valid-Until")) ? v : "");
        snprintf(out->signer, sizeof out->signer, "%s", (v = ps_kv_get(&kv, "Signer")) ? v : "");
        time_t t = out->upstream_date[0] ? curl_getdate(out->upstream_date, NULL) : -1;
        out->upstream_date_ts = t > 0 ? (long)t : 0;
        t = out->upstream_valid_until[0] ? curl_getdate(out->upstream_valid_until, NULL) : -1;
        out->upstream_valid_until_ts = t > 0 ? (long)t : 0;
    }
    ps_kv_free(&kv);
    free(path);
    return rc;
}
