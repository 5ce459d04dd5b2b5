/* ps_repo_push.c - the served generation to object storage (ps_repo_push.h). */
#include "ps_repo_push.h"

#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ps_repo_priv.h"
#include "ps_s3.h"

#define LEASE_KEY ".pkgsmith/lease"
#define MANIFEST_KEY ".pkgsmith/manifest"
#define MANIFEST_MAX (256u << 20)
#define NPHASES 6

static const char *const CACHE_IMMUTABLE = "max-age=31536000, immutable";
static const char *const CACHE_SHORT = "max-age=60, must-revalidate";

/* One object of the generation: its key, the local file, its content. */
typedef struct item {
    char *key;
    char *path;
    char sha256[65];
    int phase;
} item;

typedef struct items {
    item *v;
    size_t n;
    int keys_only; /* no SHA-256: what a kept generation names, for gc */
} items;

static void items_free(items *it)
{
    for (size_t i = 0; i < it->n; i++)
        free(it->v[i].key), free(it->v[i].path);
    free(it->v);
    it->v = NULL, it->n = 0;
}

static const char *base_name(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

/* The upload order of ps_repo_push.h: 0 pool, 1 hash-named, 2 the rest,
 * 3 Release and repomd.xml, 4 their detached signatures, 5 InRelease. */
static int phase_of(const char *key)
{
    const char *b = base_name(key);
    if (strncmp(key, "pool/", 5) == 0 || (strncmp(key, "rpm/", 4) == 0 && strstr(key, "/pool/")))
        return 0;
    if (strcmp(b, "Release") == 0 || strcmp(b, "repomd.xml") == 0)
        return 3;
    if (strcmp(b, "Release.gpg") == 0 || strcmp(b, "repomd.xml.asc") == 0)
        return 4;
    if (strcmp(b, "InRelease") == 0)
        return 5;
    if (strstr(key, "/by-hash/") || strstr(key, "/repodata/"))
        return 1;
    return 2;
}

static ps_code items_add(items *it, char *key, char *path, const char *sha, ps_error *err)
{
    if (key == NULL || path == NULL || ps_array_reserve(&it->v, it->n, sizeof *it->v, err)) {
        free(key), free(path);
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    item *x = &it->v[it->n++];
    *x = (item){key, path, "", phase_of(key)};
    snprintf(x->sha256, sizeof x->sha256, "%s", sha);
    return PS_OK;
}

static ps_code hash_file(const char *path, char sha[65], ps_error *err)
{
    ps_map m;
    if (ps_map_file(path, &m, err) != PS_OK)
        return err ? err->code : PS_EIO;
    ps_code rc = ps_digest_hex(PS_DIGEST_SHA256, m.data ? (const void *)m.data : "", m.len, sha,
                               err);
    ps_map_free(&m);
    return rc;
}

/* The regular files of DIR/REL, recursively; symbolic links (tree/pool
 * and rpm/REPO/pool name the whole local pool) are not followed: the
 * pool objects come from the generation's package list. */
static ps_code walk(const char *dir, const char *rel, items *it, ps_error *err)
{
    char *path = *rel ? ps_strdupf("%s/%s", dir, rel) : strdup(dir);
    DIR *d = path ? opendir(path) : NULL;
    ps_code rc = d ? PS_OK : ps_error_set(err, PS_EIO, "%s: %s", path ? path : dir,
                                          strerror(errno));
    for (struct dirent *de; rc == PS_OK && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = *rel ? ps_strdupf("%s/%s", rel, de->d_name) : strdup(de->d_name);
        char *full = ps_strdupf("%s/%s", path, de->d_name);
        struct stat st;
        char sha[65];
        if (sub == NULL || full == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        else if (lstat(full, &st) != 0)
            rc = ps_error_set(err, PS_EIO, "%s: %s", full, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = walk(dir, sub, it, err);
        else if (S_ISREG(st.st_mode) &&
                 (it->keys_only ? (sha[0] = '\0', PS_OK) : (rc = hash_file(full, sha, err))) ==
                     PS_OK) {
            rc = items_add(it, sub, full, sha, err);
            sub = full = NULL;
        }
        free(sub), free(full);
    }
    if (d)
        closedir(d);
    free(path);
    return rc;
}

/* The pool files the generation serves: under pool/, and for an rpm
 * repo also under rpm/REPO/pool/ (its hrefs are relative to rpm/REPO/;
 * the local tree has a link there, object storage has none). */
static ps_code pool_items(ps_repo *r, long gen, items *it, ps_error *err)
{
    char *dir = ps_repo_gen_path(r, gen);
    char *served = dir ? ps_strdupf("%s/served", dir) : NULL;
    char *pkgs = dir ? ps_strdupf("%s/packages", dir) : NULL;
    ps_entries e = {0};
    ps_code rc = served && pkgs ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_entries_load(ps_path_exists(served) ? served : pkgs, &e, err);
    for (size_t i = 0; rc == PS_OK && i < e.n; i++) {
        const ps_entry *x = &e.v[i];
        rc = items_add(it, strdup(x->href), ps_repo_path(r, x->href), x->sha256, err);
        if (rc == PS_OK && strcmp(x->kind, "rpm") == 0)
            rc = items_add(it, ps_strdupf("rpm/%s/%s", x->target, x->href),
                           ps_repo_path(r, x->href), x->sha256, err);
    }
    ps_entries_free(&e);
    free(dir), free(served), free(pkgs);
    return rc;
}

/* An rpm package named by two suites' repos is one item per key: keys
 * must be unique in a batch. */
static void dedup(items *it)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    size_t o = 0;
    for (size_t i = 0; i < it->n; i++) {
        if (g_hash_table_contains(seen, it->v[i].key)) {
            free(it->v[i].key), free(it->v[i].path);
            continue;
        }
        g_hash_table_add(seen, it->v[i].key);
        it->v[o++] = it->v[i];
    }
    it->n = o;
    g_hash_table_destroy(seen);
}

static ps_code collect(ps_repo *r, long gen, items *it, ps_error *err)
{
    char *tree = ps_strdupf("%s/generations/%ld/tree", r->root, gen);
    ps_code rc = tree ? walk(tree, "", it, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = pool_items(r, gen, it, err);
    if (rc == PS_OK)
        dedup(it);
    free(tree);
    return rc;
}

/* ---- the manifest --------------------------------------------------- */

/* KEY -> SHA-256 of what the bucket holds, from "SHA256 KEY" lines. */
static ps_code manifest_load(ps_s3 *s, GHashTable *m, GHashTable *gone, long long *entries_at,
                             ps_error *err)
{
    ps_buf b = {0};
    int found = 0;
    ps_code rc = ps_s3_get(s, MANIFEST_KEY, MANIFEST_MAX, &b, &found, err);
    char *save = NULL;
    for (char *l = rc == PS_OK && found && b.data ? strtok_r((char *)b.data, "\n", &save) : NULL;
         l; l = strtok_r(NULL, "\n", &save)) {
        long long since = 0;
        int at = 0;
        if (sscanf(l, "#entries-at %lld", entries_at) == 1)
            continue;
        if (sscanf(l, "#gone %lld %n", &since, &at) == 1 && at > 0 && l[at]) {
            g_hash_table_insert(gone, g_strdup(l + at), g_strdup_printf("%lld", since));
            continue;
        }
        const char *key = strchr(l, ' ');
        if (key && key - l == 64 && key[1])
            g_hash_table_insert(m, g_strdup(key + 1), g_strndup(l, 64));
    }
    ps_buf_free(&b);
    return rc;
}

static ps_code manifest_save(ps_s3 *s, GHashTable *m, GHashTable *gone, long long entries_at,
                             ps_error *err)
{
    GList *keys = g_list_sort(g_hash_table_get_keys(m), (GCompareFunc)strcmp);
    ps_buf b = {0};
    ps_code rc = ps_buf_appendf(&b, err, "#entries-at %lld\n", entries_at);
    GHashTableIter gi;
    gpointer gk, gv;
    g_hash_table_iter_init(&gi, gone);
    while (rc == PS_OK && g_hash_table_iter_next(&gi, &gk, &gv))
        rc = ps_buf_appendf(&b, err, "#gone %s %s\n", (const char *)gv, (const char *)gk);
    for (GList *k = keys; rc == PS_OK && k; k = k->next)
        rc = ps_buf_appendf(&b, err, "%s %s\n", (const char *)g_hash_table_lookup(m, k->data),
                            (const char *)k->data);
    g_list_free(keys);
    ps_s3_put p = {.key = MANIFEST_KEY, .data = b.data ? (const void *)b.data : "",
                   .len = b.len, .content_type = "text/plain", .cache_control = "no-store"};
    if (rc == PS_OK)
        rc = ps_s3_put_batch(s, &p, 1, err);
    ps_buf_free(&b);
    return rc;
}

/* ---- the lease ------------------------------------------------------ */

static ps_code lease_try(ps_s3 *s, long secs, int *taken, ps_error *err)
{
    char host[256] = "unknown", body[512];
    gethostname(host, sizeof host - 1);
    snprintf(body, sizeof body, "holder %s pid %ld\nexpires %lld\n", host, (long)getpid(),
             (long long)time(NULL) + secs);
    ps_s3_put p = {.key = LEASE_KEY, .data = body, .len = strlen(body),
                   .content_type = "text/plain", .cache_control = "no-store", .if_none_match = 1};
    ps_code rc = ps_s3_put_batch(s, &p, 1, err);
    *taken = rc == PS_OK && p.done;
    return rc;
}

/* A lease this host took for a process that is gone (a push killed or
 * crashed here) holds nothing: it need not wait for its expiry. */
static int holder_dead(const char *holder)
{
    char host[256] = "", mine[256] = "";
    long pid = 0;
    if (sscanf(holder, "%255s pid %ld", host, &pid) != 2 || pid <= 0 ||
        gethostname(mine, sizeof mine - 1) != 0 || strcmp(host, mine) != 0)
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Takes the lease, or takes over one that expired.  The takeover (DELETE,
 * then the conditional PUT again) is not atomic: two publishers finding
 * the same expired lease at the same second could both delete; the
 * conditional PUT then admits one, unless the second's DELETE comes
 * after the first's PUT.  Expiry is meant to end crashed pushes, long
 * after the fact, not to arbitrate live ones. */
static ps_code lease_take(ps_s3 *s, long secs, ps_error *err)
{
    int taken = 0;
    ps_code rc = lease_try(s, secs, &taken, err);
    if (rc != PS_OK || taken)
        return rc;
    ps_buf b = {0};
    int found = 0;
    rc = ps_s3_get(s, LEASE_KEY, 4096, &b, &found, err);
    long long expires = 0;
    const char *e = found && b.data ? strstr((const char *)b.data, "expires ") : NULL;
    if (e)
        expires = strtoll(e + 8, NULL, 10);
    char holder[300] = "";
    if (found && b.data)
        sscanf((const char *)b.data, "holder %299[^\n]", holder);
    ps_buf_free(&b);
    if (rc == PS_OK && found && expires > (long long)time(NULL) && !holder_dead(holder))
        return ps_error_set(err, PS_EBUSY,
                            "%s/%s: another push holds the lease (%s) for %lld more seconds",
                            ps_s3_target(s), LEASE_KEY, holder, expires - (long long)time(NULL));
    if (rc == PS_OK && found)
        rc = ps_s3_delete(s, LEASE_KEY, err);
    if (rc == PS_OK)
        rc = lease_try(s, secs, &taken, err);
    if (rc == PS_OK && !taken)
        rc = ps_error_set(err, PS_EBUSY, "%s/%s: another push took the lease first",
                          ps_s3_target(s), LEASE_KEY);
    return rc;
}

/* ---- one target ----------------------------------------------------- */

typedef struct push {
    ps_s3 *s;
    items *it;
    GHashTable *manifest;
    GHashTable *gone;     /* key -> since when no kept generation names it */
    long long entries_at; /* when entry files were last written (Unix s) */
    ps_repo *r;
    long long started;
    ps_repo_pushed *out;
} push;

/* Writes the manifest and returns RC: a save failing after an earlier
 * failure keeps the first error, which is the one to report. */
static ps_code save_keeping(push *p, ps_code rc, ps_error *err)
{
    ps_error e2 = {0};
    ps_code rc2 = manifest_save(p->s, p->manifest, p->gone, p->entries_at,
                                rc == PS_OK ? err : &e2);
    return rc == PS_OK ? rc2 : rc;
}

/* Clients revalidate entry files with If-Modified-Since, which has
 * one-second resolution: an InRelease replaced in the same second as the
 * one a client holds would answer 304 and leave it stale.  So entry
 * files are never written in the second the previous ones were. */
static void next_second(long long after)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if ((long long)now.tv_sec > after)
        return;
    struct timespec wait = {(time_t)(after - (long long)now.tv_sec),
                            1000000000L - now.tv_nsec};
    if (wait.tv_nsec >= 1000000000L)
        wait.tv_sec++, wait.tv_nsec -= 1000000000L;
    while (nanosleep(&wait, &wait) != 0 && errno == EINTR)
        ;
}

/* An immutable key that existed: fine when it holds our bytes. */
static ps_code check_existing(push *p, const item *x, ps_error *err)
{
    ps_s3_object o;
    ps_code rc = ps_s3_head(p->s, x->key, &o, err);
    if (rc == PS_OK && o.exists && strcmp(o.sha256, x->sha256) != 0)
        rc = ps_error_set(err, PS_EVERIFY,
                          "%s/%s: the bucket has this key with other content (SHA-256 %s, ours "
                          "%s): refused, never overwritten",
                          ps_s3_target(p->s), x->key, o.sha256[0] ? o.sha256 : "unknown",
                          x->sha256);
    return rc;
}

static ps_code push_phase(push *p, int phase, ps_error *err)
{
    ps_s3_put *puts = calloc(p->it->n ? p->it->n : 1, sizeof *puts);
    const item **of = calloc(p->it->n ? p->it->n : 1, sizeof *of);
    size_t n = 0;
    ps_code rc = puts && of ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < p->it->n; i++) {
        const item *x = &p->it->v[i];
        const char *have = g_hash_table_lookup(p->manifest, x->key);
        if (x->phase != phase)
            continue;
        if (have && strcmp(have, x->sha256) == 0) {
            p->out->unchanged++;
            continue;
        }
        of[n] = x;
        puts[n++] = (ps_s3_put){.key = x->key, .path = x->path,
                                .cache_control = phase <= 1 ? CACHE_IMMUTABLE : CACHE_SHORT,
                                .if_none_match = phase <= 1};
    }
    if (rc == PS_OK && n)
        rc = ps_s3_put_batch(p->s, puts, n, err);
    /* What landed goes into the manifest even after a failure. */
    for (size_t i = 0; i < n; i++) {
        if (rc == PS_OK && puts[i].exists && (rc = check_existing(p, of[i], err)) == PS_OK)
            p->out->unchanged++;
        else if (puts[i].done)
            p->out->uploaded++;
        if (puts[i].done || (puts[i].exists && rc == PS_OK))
            g_hash_table_insert(p->manifest, g_strdup(of[i]->key), g_strdup(of[i]->sha256));
    }
    free(puts), free(of);
    return rc;
}

static ps_code push_phases(push *p, ps_error *err)
{
    ps_code rc = manifest_load(p->s, p->manifest, p->gone, &p->entries_at, err);
    for (int ph = 0; rc == PS_OK && ph < NPHASES; ph++) {
        size_t before = p->out->uploaded;
        if (ph == 3)
            next_second(p->entries_at);
        rc = push_phase(p, ph, err);
        if (ph >= 3 && p->out->uploaded != before)
            p->entries_at = (long long)time(NULL);
        /* Saved after a failed phase too: the next push skips what landed. */
        if (p->out->uploaded != before)
            rc = save_keeping(p, rc, err);
    }
    return rc;
}

/* ---- garbage ------------------------------------------------------- */

/* Every key a kept local generation names (a client may still be on
 * any of them, and rollback serves them again). */
static ps_code kept_keys(ps_repo *r, GHashTable *keep, ps_error *err)
{
    long *gens = NULL;
    size_t n = 0;
    ps_code rc = ps_repo_list_gens(r, &gens, &n, err);
    for (size_t g = 0; rc == PS_OK && g < n; g++) {
        items it = {.keys_only = 1};
        rc = collect(r, gens[g], &it, err);
        for (size_t i = 0; rc == PS_OK && i < it.n; i++)
            g_hash_table_add(keep, g_strdup(it.v[i].key));
        items_free(&it);
    }
    free(gens);
    return rc;
}

/* Deletes what no kept generation names once it has been so for
 * S3-Delete-Grace-Seconds (the CDN's TTL plus a client's update must fit
 * in it), and never in the run that found it unnamed. */
static ps_code collect_garbage(push *p, ps_error *err)
{
    const char *g = ps_repo_conf_get(p->r, "S3-Delete-Grace-Seconds");
    long long grace = g ? strtoll(g, NULL, 10) : 86400;
    GHashTable *keep = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ps_code rc = kept_keys(p->r, keep, err);
    GList *keys = rc == PS_OK ? g_hash_table_get_keys(p->manifest) : NULL;
    int changed = 0;
    for (GList *k = keys; rc == PS_OK && k; k = k->next) {
        const char *key = k->data, *since = g_hash_table_lookup(p->gone, key);
        if (g_hash_table_contains(keep, key)) {
            changed |= g_hash_table_remove(p->gone, key);
        } else if (since == NULL) {
            g_hash_table_insert(p->gone, g_strdup(key), g_strdup_printf("%lld", p->started));
            changed = 1;
        } else if (strtoll(since, NULL, 10) < p->started &&
                   p->started - strtoll(since, NULL, 10) >= grace) {
            char *dead = g_strdup(key);
            rc = ps_s3_delete(p->s, dead, err);
            if (rc == PS_OK) {
                g_hash_table_remove(p->gone, dead);
                g_hash_table_remove(p->manifest, dead);
                p->out->deleted++;
                changed = 1;
            }
            g_free(dead);
        }
    }
    g_list_free(keys);
    g_hash_table_destroy(keep);
    if (changed)
        rc = save_keeping(p, rc, err);
    return rc;
}

static ps_code push_target(ps_repo *r, const char *target, items *it, ps_repo_pushed *out,
                           ps_error *err)
{
    const char *lease = ps_repo_conf_get(r, "S3-Lease-Seconds");
    long secs = lease ? strtol(lease, NULL, 10) : 900;
    ps_s3_opts o = {.target = target, .endpoint = ps_repo_conf_get(r, "S3-Endpoint"),
                    .region = ps_repo_conf_get(r, "S3-Region"),
                    .credentials_file = ps_repo_conf_get(r, "S3-Credentials-File"),
                    .storage_class = ps_repo_conf_get(r, "S3-Storage-Class")};
    ps_s3 *s = ps_s3_new(&o, err);
    if (s == NULL)
        return err ? err->code : PS_EINPUT;
    ps_code rc = lease_take(s, secs > 0 ? secs : 900, err);
    if (rc == PS_OK) {
        push p = {s, it, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                  g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free), 0, r,
                  (long long)time(NULL), out};
        rc = push_phases(&p, err);
        if (rc == PS_OK)
            rc = collect_garbage(&p, err);
        g_hash_table_destroy(p.manifest);
        g_hash_table_destroy(p.gone);
        /* Released after a failure too; a lease left behind expires. */
        ps_error e2 = {0};
        ps_code rc2 = ps_s3_delete(s, LEASE_KEY, rc == PS_OK ? err : &e2);
        if (rc == PS_OK)
            rc = rc2;
    }
    ps_s3_stats st = ps_s3_stats_get(s);
    out->bytes += st.bytes_up;
    out->requests += st.requests;
    ps_s3_free(s);
    return rc;
}

/* ---- the command ---------------------------------------------------- */

int ps_repo_push_configured(const ps_repo *r)
{
    const char *t = ps_repo_conf_get(r, "Publish-To");
    return t && t[strspn(t, " \t\n")] != '\0';
}

static ps_code targets_of(ps_repo *r, const char *want, ps_strv *out, ps_error *err)
{
    const char *t = ps_repo_conf_get(r, "Publish-To");
    char **w = g_strsplit_set(t ? t : "", " \t\n", -1);
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && w[i]; i++)
        if (*w[i] && (want == NULL || strcmp(w[i], want) == 0))
            rc = ps_strv_add(out, w[i], err);
    g_strfreev(w);
    if (rc == PS_OK && out->n == 0)
        rc = want ? ps_error_set(err, PS_EINPUT, "%s/repo.conf: %s is not in Publish-To",
                                 r->root, want)
                  : ps_error_set(err, PS_EINPUT, "%s/repo.conf: no Publish-To target", r->root);
    return rc;
}

ps_code ps_repo_push(ps_repo *r, const char *target, ps_repo_pushed *out, ps_error *err)
{
    *out = (ps_repo_pushed){0};
    out->generation = ps_repo_current(r);
    if (out->generation == 0)
        return ps_error_set(err, PS_EINPUT, "%s: nothing published yet (run 'pkgsmith repo "
                            "publish')", r->root);
    ps_strv targets = {0};
    items it = {0};
    ps_code rc = targets_of(r, target, &targets, err);
    if (rc == PS_OK)
        rc = collect(r, out->generation, &it, err);
    out->objects = it.n;
    for (size_t i = 0; rc == PS_OK && i < targets.n; i++) {
        rc = push_target(r, targets.v[i], &it, out, err);
        out->targets += rc == PS_OK;
    }
    items_free(&it);
    ps_strv_free(&targets);
    return rc;
}

ps_code ps_repo_publish_push(ps_repo *r, ps_repo_published *pub, ps_repo_pushed *pushed,
                             ps_error *err)
{
    *pushed = (ps_repo_pushed){0};
    ps_code rc = ps_repo_publish(r, pub, err);
    if (rc == PS_OK && ps_repo_push_configured(r))
        rc = ps_repo_push(r, NULL, pushed, err);
    return rc;
}
