/* ps_mirror_apt.c - an apt upstream: InRelease (or Release + Release.gpg),
 * the Packages indices it pins, and the selection over them, streamed one
 * stanza at a time so memory does not grow with the upstream. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "ps_mirror_kind.h"

#define RELEASE_MAX (16u << 20)

/* One suite's signed Release, as fetched. */
typedef struct rel {
    const char *suite;
    ps_fetch_response inrelease, release, sig;
    int not_modified;
    ps_buf plain;       /* the signed text: the only text we parse */
    ps_deb822 *d;
} rel;

static void rel_free(rel *r)
{
    ps_fetch_response_free(&r->inrelease);
    ps_fetch_response_free(&r->release);
    ps_fetch_response_free(&r->sig);
    ps_buf_free(&r->plain);
    ps_deb822_free(r->d);
}

static char *key_of(const char *what, const char *suite)
{
    return ps_strdupf("%s-%s", what, suite);
}

static ps_code get(ps_sync *s, const char *rel_path, const char *suite, int cond,
                   ps_fetch_response *out, ps_error *err)
{
    char *url = ps_mirror_url(s, rel_path);
    char *ke = key_of("ETag", suite), *kl = key_of("Last-Modified", suite);
    ps_code rc = url && ke && kl ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_mirror_get(s, url, cond ? ps_kv_get(&s->state, ke) : NULL,
                           cond ? ps_kv_get(&s->state, kl) : NULL, RELEASE_MAX, out, err);
    free(url), free(ke), free(kl);
    return rc;
}

/* A 304, or the very bytes last accepted (a server without validators). */
static int not_modified(ps_sync *s, const rel *r, const ps_fetch_response *resp, int cond)
{
    if (resp->status != 200)
        return resp->status == 304;
    char *k = key_of("Signed-SHA256", r->suite);
    int same = k && ps_mirror_seen(s, k, &resp->body) && cond;
    free(k);
    return same;
}

/* InRelease first; Release + Release.gpg when upstream has no InRelease. */
static ps_code fetch_release(ps_sync *s, rel *r, int cond, ps_error *err)
{
    char in[512], plain[512], sig[512];
    snprintf(in, sizeof in, "dists/%s/InRelease", r->suite);
    snprintf(plain, sizeof plain, "dists/%s/Release", r->suite);
    snprintf(sig, sizeof sig, "dists/%s/Release.gpg", r->suite);
    ps_code rc = get(s, in, r->suite, cond, &r->inrelease, err);
    if (rc == PS_OK && not_modified(s, r, &r->inrelease, cond)) {
        r->not_modified = 1;
        return PS_OK;
    }
    int have_in = rc == PS_OK && r->inrelease.status == 200;
    /* With InRelease, Release is fetched only to check that they agree. */
    if (rc == PS_OK)
        rc = get(s, plain, r->suite, cond && !have_in, &r->release, err);
    if (rc == PS_OK && !have_in && not_modified(s, r, &r->release, cond)) {
        r->not_modified = 1;
        return PS_OK;
    }
    if (rc == PS_OK && !have_in && r->release.status == 200)
        rc = get(s, sig, r->suite, 0, &r->sig, err);
    if (rc == PS_OK && !have_in && (r->release.status != 200 || r->sig.status != 200)) {
        char *url = ps_mirror_url(s, in);
        rc = ps_mirror_blame(s, "transfer",
                             ps_error_set(err, PS_EINPUT, "%s: not found, and neither is a "
                                          "Release with a Release.gpg next to it",
                                          url ? url : in));
        free(url);
    }
    return rc;
}

static int same_text(const ps_buf *a, const ps_buf *b)
{
    size_t la = a->len, lb = b->len;
    while (la && a->data[la - 1] == '\n')
        la--;
    while (lb && b->data[lb - 1] == '\n')
        lb--;
    return la == lb && memcmp(a->data, b->data, la) == 0;
}

static ps_code verify_release(ps_sync *s, rel *r, ps_error *err)
{
    char *url = ps_strdupf("%s/dists/%s/%s", s->base, r->suite,
                           r->inrelease.status == 200 ? "InRelease" : "Release");
    ps_code rc = url ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && r->inrelease.status == 200) {
        /* The frame first: gpg would ignore text outside the signed part. */
        rc = ps_clearsign_split(r->inrelease.body.data, r->inrelease.body.len, NULL, NULL, url,
                                err);
        if (rc == PS_OK)
            rc = ps_mirror_verify(s, &r->inrelease.body, NULL, &r->plain, url, err);
        if (rc == PS_OK && r->release.status == 200 && !same_text(&r->plain, &r->release.body))
            rc = ps_error_set(err, PS_EVERIFY,
                              "%s: the signed text differs from the Release next to it: refused",
                              url);
    } else if (rc == PS_OK) {
        rc = ps_mirror_verify(s, &r->release.body, &r->sig.body, NULL, url, err);
        if (rc == PS_OK)
            rc = ps_buf_append(&r->plain, r->release.body.data, r->release.body.len, err);
    }
    if (rc == PS_OK) {
        r->d = ps_deb822_parse_mem((const char *)r->plain.data, r->plain.len, url, err);
        if (r->d == NULL || ps_deb822_count(r->d) < 1)
            rc = ps_error_set(err, PS_EINPUT, "%s: no Release fields in the signed text", url);
    }
    free(url);
    return rc;
}

/* Date never goes back; Valid-Until has not passed. */
static ps_code check_freshness(ps_sync *s, rel *r, ps_error *err)
{
    char where[512];
    snprintf(where, sizeof where, "%s/dists/%s/Release", s->base, r->suite);
    const char *date = ps_deb822_get(r->d, 0, "Date");
    const char *until = ps_deb822_get(r->d, 0, "Valid-Until");
    char *k = key_of("Date", r->suite);
    ps_code rc = k ? ps_mirror_check_date(s, k, date, where, err) : PS_ENOMEM;
    free(k);
    if (rc == PS_OK && until) {
        time_t t = curl_getdate(until, NULL);
        if (t < 0)
            rc = ps_error_set(err, PS_EVERIFY, "%s: Valid-Until '%s' is not a date", where, until);
        else if (t < time(NULL))
            rc = ps_error_set(err, PS_EVERIFY,
                              "%s: Valid-Until %s has passed: upstream is stale or frozen; "
                              "refused",
                              where, until);
    }
    if (rc == PS_OK) {
        snprintf(s->res->upstream_date, sizeof s->res->upstream_date, "%s", date ? date : "");
        snprintf(s->res->upstream_valid_until, sizeof s->res->upstream_valid_until, "%s",
                 until ? until : "");
        k = key_of("Valid-Until", r->suite);
        rc = k ? ps_kv_set(&s->next, k, until ? until : "", err) : PS_ENOMEM;
        free(k);
    }
    return rc;
}

/* ---- indices -------------------------------------------------------- */

typedef struct idx {
    char *rel;     /* comp/binary-arch/Packages.xz */
    char sha256[65];
    uint64_t size;
    char *path;    /* the verified local copy */
} idx;

/* The SHA256 line of Release for REL, if listed. */
static int release_lookup(const rel *r, const char *want, char sha[65], uint64_t *size)
{
    const char *list = ps_deb822_get(r->d, 0, "SHA256");
    char h[129], name[1024];
    unsigned long long sz;
    for (const char *p = list; p && *p;) {
        if (sscanf(p, "%128s %llu %1023s", h, &sz, name) == 3 && strcmp(name, want) == 0 &&
            strlen(h) == 64) {
            memcpy(sha, h, 65);
            *size = sz;
            return 1;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

/* The compressions apt reads that libarchive unpacks, best first. */
static const char *const EXT[] = {".xz", ".gz", ".zst", ".bz2", ".lz4", ""};
#define NEXT (sizeof EXT / sizeof EXT[0])

/* Why Release names no index we can read for COMP/ARCH: only weak
 * hashes (apt: "provides only weak security information"), or only a
 * compression we do not read, naming it. */
static ps_code no_index(ps_sync *s, const rel *r, const char *comp, const char *arch,
                        ps_error *err)
{
    if (ps_deb822_get(r->d, 0, "SHA256") == NULL &&
        (ps_deb822_get(r->d, 0, "MD5Sum") || ps_deb822_get(r->d, 0, "SHA1")))
        return ps_error_set(err, PS_EVERIFY,
                            "%s/dists/%s/Release lists no SHA256 hashes, only MD5Sum/SHA1: it "
                            "provides only weak security information (as apt says): refused",
                            s->base, r->suite);
    char stem[512], h[129], name[1024];
    unsigned long long sz;
    snprintf(stem, sizeof stem, "%s/binary-%s/Packages.", comp, arch);
    const char *list = ps_deb822_get(r->d, 0, "SHA256");
    for (const char *p = list; p && *p;) {
        if (sscanf(p, "%128s %llu %1023s", h, &sz, name) == 3 &&
            strncmp(name, stem, strlen(stem)) == 0)
            return ps_error_set(err, PS_EINPUT,
                                "%s/dists/%s/Release lists the Packages index for %s/%s only "
                                "as %s, a compression pkgsmith does not read (it reads xz, gz, "
                                "zst, bz2, lz4 and plain)",
                                s->base, r->suite, comp, arch, name);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return ps_error_set(err, PS_EINPUT, "%s/dists/%s/Release lists no Packages index for %s/%s",
                        s->base, r->suite, comp, arch);
}

/* The compressed index PACKED unpacked to OUT->path, checked against the
 * uncompressed Packages entry of Release when it has one: what apt does,
 * so a truncated or extended stream is refused by name. */
static ps_code unpack_index(ps_sync *s, const rel *r, const char *comp, const char *arch,
                            const char *packed, const char *url, idx *out, ps_error *err)
{
    char want_rel[512], sha[65] = "";
    uint64_t size = 0;
    snprintf(want_rel, sizeof want_rel, "%s/binary-%s/Packages", comp, arch);
    int listed = release_lookup(r, want_rel, sha, &size);
    char who[600];
    snprintf(who, sizeof who, "Release (%s)", want_rel);
    ps_unpack_want want = {listed ? sha : NULL, listed ? size : 0, who};
    ps_code rc = ps_mirror_unpack(s, packed, out->path, &want, url, err);
    unlink(packed); /* the unpacked copy is what later syncs reuse */
    return rc;
}

static ps_code fetch_index(ps_sync *s, const rel *r, const char *comp, const char *arch, idx *out,
                           ps_error *err)
{
    int by_hash = ps_deb822_get(r->d, 0, "Acquire-By-Hash") &&
                  strcasecmp(ps_deb822_get(r->d, 0, "Acquire-By-Hash"), "yes") == 0;
    ps_code rc = PS_EINPUT;
    for (size_t i = 0; i < NEXT && rc == PS_EINPUT; i++) {
        char want[512];
        snprintf(want, sizeof want, "%s/binary-%s/Packages%s", comp, arch, EXT[i]);
        if (!release_lookup(r, want, out->sha256, &out->size))
            continue;
        if (out->size > s->c->max_index) {
            return ps_error_set(err, PS_EVERIFY, "%s/dists/%s/%s: %llu bytes, more than "
                                "Max-Index-Size: refused", s->base, r->suite, want,
                                (unsigned long long)out->size);
        }
        ps_error_clear(err);
        free(out->path);
        /* What the selection reads is always the plain text. */
        out->path = ps_strdupf("%s/indices/%s%s", s->dir, out->sha256, *EXT[i] ? ".unpacked" : "");
        char *packed = ps_strdupf("%s/indices/%s%s", s->dir, out->sha256, EXT[i]);
        char *rel_url = by_hash ? ps_strdupf("dists/%s/%s/binary-%s/by-hash/SHA256/%s", r->suite,
                                             comp, arch, out->sha256)
                                : ps_strdupf("dists/%s/%s", r->suite, want);
        char *url = rel_url ? ps_mirror_url(s, rel_url) : NULL;
        if (out->path == NULL || packed == NULL || url == NULL) {
            free(rel_url), free(url), free(packed);
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        }
        ps_fetch_file f = {url, packed, out->size, out->sha256, NULL};
        /* A cached copy was verified when it arrived; touching it keeps
         * it out of the cache pruning at the end of the sync. */
        int cached = ps_path_exists(out->path) && utimes(out->path, NULL) == 0;
        rc = cached ? PS_OK : ps_mirror_fetch_files(s, &f, 1, 0, err);
        if (rc == PS_EINPUT && by_hash) { /* by-hash missing: the plain name, same hash */
            ps_error_clear(err);
            free(url);
            char *plain = ps_strdupf("dists/%s/%s", r->suite, want);
            url = plain ? ps_mirror_url(s, plain) : NULL;
            free(plain);
            f.url = url;
            rc = url ? ps_mirror_fetch_files(s, &f, 1, 0, err) : PS_ENOMEM;
        }
        if (rc == PS_OK && !cached && *EXT[i])
            rc = unpack_index(s, r, comp, arch, packed, url, out, err);
        free(rel_url), free(url), free(packed);
    }
    if (rc == PS_EINPUT && (err == NULL || err->code == PS_OK))
        rc = no_index(s, r, comp, arch, err);
    return rc;
}

/* ---- streaming selection -------------------------------------------- */

static int is_file_field(const char *n)
{
    static const char *const f[] = {"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512",
                                    NULL};
    for (size_t i = 0; f[i]; i++)
        if (strcasecmp(n, f[i]) == 0)
            return 1;
    return 0;
}

static int arch_ok(const ps_mirror_conf *c, const char *arch)
{
    if (strcmp(arch, "all") == 0)
        return 1;
    for (size_t i = 0; i < c->archs.n; i++)
        if (strcmp(c->archs.v[i], arch) == 0)
            return 1;
    return 0;
}

static ps_cand *make_cand(const ps_deb822 *d, const char *where, ps_error *err)
{
    const char *f[6] = {ps_deb822_get(d, 0, "Package"), ps_deb822_get(d, 0, "Version"),
                        ps_deb822_get(d, 0, "Architecture"), ps_deb822_get(d, 0, "Filename"),
                        ps_deb822_get(d, 0, "SHA256"), ps_deb822_get(d, 0, "Size")};
    if (!f[0] || !f[1] || !f[2] || !f[3] || !f[4] || !f[5] || strlen(f[4]) != 64) {
        ps_error_set(err, PS_EVERIFY, "%s: package %s lacks Version, Architecture, Filename, "
                     "Size or SHA256: refused", where, f[0] ? f[0] : "(unnamed)");
        return NULL;
    }
    if (ps_mirror_check_path(where, f[3], err) != PS_OK)
        return NULL;
    ps_cand *c = calloc(1, sizeof *c);
    ps_buf st = {0}, deps = {0};
    ps_code rc = c ? PS_OK : PS_ENOMEM;
    for (size_t i = 0; rc == PS_OK && i < ps_deb822_nfields(d, 0); i++)
        if (!is_file_field(ps_deb822_name_at(d, 0, i)))
            rc = ps_buf_appendf(&st, err, "%s: %s\n", ps_deb822_name_at(d, 0, i),
                                ps_deb822_value_at(d, 0, i));
    const char *dep[2] = {ps_deb822_get(d, 0, "Pre-Depends"), ps_deb822_get(d, 0, "Depends")};
    for (int i = 0; rc == PS_OK && i < 2; i++)
        if (dep[i])
            rc = ps_buf_appendf(&deps, err, "%s%s", deps.len ? ", " : "", dep[i]);
    if (rc == PS_OK) {
        c->name = strdup(f[0]), c->version = strdup(f[1]), c->arch = strdup(f[2]);
        c->path = strdup(f[3]), c->sha256 = strdup(f[4]);
        c->size = strtoull(f[5], NULL, 10);
        c->stanza = (char *)st.data, c->deps = (char *)deps.data;
        st.data = deps.data = NULL;
    }
    if (rc != PS_OK || !c->name || !c->version || !c->arch || !c->path || !c->sha256 ||
        !c->stanza) {
        ps_cand_free(c);
        c = NULL;
        ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    for (char *p = c ? c->sha256 : NULL; p && *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
    ps_buf_free(&st), ps_buf_free(&deps);
    return c;
}

/* Which stanzas a pass keeps: the included names (pass 0), or the
 * candidates for the dependency names in NEED. */
typedef struct pass {
    ps_sync *s;
    ps_select *sel;       /* pass 0 */
    GHashTable *need;     /* later passes: name -> GPtrArray of ps_cand* */
    size_t entries;
} pass;

static ps_code scan_index(pass *p, const idx *ix, ps_error *err)
{
    char where[1024];
    snprintf(where, sizeof where, "%s (%s)", ix->rel, ix->path);
    ps_deb822_reader *rd = ps_deb822_reader_open(ix->path, p->s->c->max_index_unpacked, err);
    ps_code rc = rd ? PS_OK : (err ? err->code : PS_EIO);
    ps_deb822 *d;
    while (rc == PS_OK && (d = ps_deb822_reader_next(rd, err)) != NULL) {
        const char *name = ps_deb822_get(d, 0, "Package");
        const char *arch = ps_deb822_get(d, 0, "Architecture");
        p->entries++;
        int want = name && arch && arch_ok(p->s->c, arch) &&
                   (p->sel ? ps_mirror_wants(p->s->c, name)
                           : g_hash_table_contains(p->need, name));
        ps_cand *c = want ? make_cand(d, where, err) : NULL;
        if (want && c == NULL)
            rc = err ? err->code : PS_EINPUT;
        else if (c && p->sel)
            ps_select_offer(p->sel, c);
        else if (c) {
            c->is_dep = 1;
            g_ptr_array_add(g_hash_table_lookup(p->need, name), c);
        }
        ps_deb822_free(d);
    }
    if (rc == PS_OK && err && err->code != PS_OK)
        rc = err->code;
    ps_deb822_reader_free(rd);
    return rc;
}

static ps_code scan_all(pass *p, idx *ix, size_t n, ps_error *err)
{
    ps_code rc = PS_OK;
    p->entries = 0;
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        rc = scan_index(p, &ix[i], err);
    return rc;
}

/* ---- dependencies ---------------------------------------------------- */

typedef struct relation {
    size_t group;
    char *name, *op, *version;
} relation;

static void collect_rel(void *ud, size_t group, const char *name, const char *op,
                        const char *version)
{
    GArray *a = ud;
    relation r = {group, strdup(name), strdup(op), strdup(version)};
    g_array_append_val(a, r);
}

static void relations_free(GArray *a)
{
    for (guint i = 0; i < a->len; i++) {
        relation *r = &g_array_index(a, relation, i);
        free(r->name), free(r->op), free(r->version);
    }
    g_array_free(a, TRUE);
}

static GArray *relations_of(const ps_cand *c)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(relation));
    if (c->deps && *c->deps)
        ps_apt_relations_each(c->deps, collect_rel, a);
    return a;
}

static int satisfied_by(const ps_cand *c, const ps_cand *dep, const relation *r)
{
    return strcmp(dep->name, r->name) == 0 &&
           (strcmp(dep->arch, "all") == 0 || strcmp(c->arch, "all") == 0 ||
            strcmp(dep->arch, c->arch) == 0) &&
           ps_apt_version_satisfies(dep->version, r->op, r->version);
}

static int any_in(GPtrArray *list, const ps_cand *c, const relation *r)
{
    for (guint i = 0; list && i < list->len; i++)
        if (satisfied_by(c, list->pdata[i], r))
            return 1;
    return 0;
}

/* The newest candidate in POOL that satisfies R for C, or NULL. */
static ps_cand *best_in(GPtrArray *pool, const ps_cand *c, const relation *r)
{
    ps_cand *best = NULL;
    for (guint i = 0; pool && i < pool->len; i++) {
        ps_cand *d = pool->pdata[i];
        if (satisfied_by(c, d, r) && (!best || ps_apt_version_cmp(d->version, best->version) > 0))
            best = d;
    }
    return best;
}

/* Names that selected packages need and the selection lacks. */
static GHashTable *missing_names(GPtrArray *chosen)
{
    GHashTable *need = g_hash_table_new_full(g_str_hash, g_str_equal, free, (GDestroyNotify)g_ptr_array_unref);
    for (guint i = 0; i < chosen->len; i++) {
        GArray *rels = relations_of(chosen->pdata[i]);
        for (guint j = 0; j < rels->len; j++) {
            relation *r = &g_array_index(rels, relation, j);
            if (!any_in(chosen, chosen->pdata[i], r) && !g_hash_table_contains(need, r->name))
                g_hash_table_insert(need, strdup(r->name),
                                    g_ptr_array_new_with_free_func((GDestroyNotify)ps_cand_free));
        }
        relations_free(rels);
    }
    return need;
}

/* Adds, for each unmet relation group, the newest upstream package of its
 * first alternative that upstream can satisfy.  Returns how many. */
static size_t resolve(GPtrArray *chosen, GHashTable *need)
{
    size_t added = 0;
    for (guint i = 0; i < chosen->len; i++) {
        const ps_cand *c = chosen->pdata[i];
        GArray *rels = relations_of(c);
        for (guint j = 0; j < rels->len;) {
            relation *first = &g_array_index(rels, relation, j);
            size_t group = first->group, k = j;
            int met = 0;
            for (; k < rels->len && g_array_index(rels, relation, k).group == group; k++)
                met |= any_in(chosen, c, &g_array_index(rels, relation, k));
            for (guint a = j; !met && a < k; a++) {
                relation *r = &g_array_index(rels, relation, a);
                GPtrArray *pool = g_hash_table_lookup(need, r->name);
                ps_cand *best = best_in(pool, c, r);
                if (best) {
                    guint at = 0;
                    if (g_ptr_array_find(pool, best, &at)) /* chosen owns it now */
                        g_ptr_array_steal_index_fast(pool, at);
                    g_ptr_array_add(chosen, best);
                    added++, met = 1;
                }
            }
            j = (guint)k;
        }
        relations_free(rels);
    }
    return added;
}

static ps_code follow(pass *p, idx *ix, size_t n, ps_error *err)
{
    ps_code rc = PS_OK;
    for (int round = 0; rc == PS_OK && round < 32; round++) {
        GHashTable *need = missing_names(p->s->chosen);
        if (g_hash_table_size(need) == 0) {
            g_hash_table_destroy(need);
            break;
        }
        pass q = {p->s, NULL, need, 0};
        rc = scan_all(&q, ix, n, err);
        size_t added = rc == PS_OK ? resolve(p->s->chosen, need) : 0;
        g_hash_table_destroy(need);
        if (added == 0)
            break;
    }
    return rc;
}

/* ---- the whole apt side ---------------------------------------------- */

static ps_code fetch_all_indices(ps_sync *s, rel *r, size_t nr, idx **out, size_t *nout,
                                 ps_error *err)
{
    const ps_mirror_conf *c = s->c;
    size_t n = nr * c->components.n * c->archs.n;
    idx *ix = calloc(n ? n : 1, sizeof *ix);
    ps_code rc = ix ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == PS_OK && i < nr; i++)
        for (size_t j = 0; rc == PS_OK && j < c->components.n; j++)
            for (size_t a = 0; rc == PS_OK && a < c->archs.n; a++, k++) {
                ix[k].rel = ps_strdupf("dists/%s/%s/binary-%s/Packages", r[i].suite,
                                       c->components.v[j], c->archs.v[a]);
                rc = fetch_index(s, &r[i], c->components.v[j], c->archs.v[a], &ix[k], err);
            }
    *out = ix;
    *nout = k;
    return rc;
}

static void free_indices(idx *ix, size_t n)
{
    for (size_t i = 0; ix && i < n; i++)
        free(ix[i].rel), free(ix[i].path);
    free(ix);
}

static ps_code keep_release(ps_sync *s, rel *r, ps_error *err)
{
    char name[300];
    ps_code rc;
    if (r->inrelease.status == 200) {
        snprintf(name, sizeof name, "%s.InRelease", r->suite);
        rc = ps_mirror_keep_provenance(s, name, r->inrelease.body.data, r->inrelease.body.len,
                                       err);
    } else {
        snprintf(name, sizeof name, "%s.Release", r->suite);
        rc = ps_mirror_keep_provenance(s, name, r->release.body.data, r->release.body.len, err);
        snprintf(name, sizeof name, "%s.Release.gpg", r->suite);
        if (rc == PS_OK)
            rc = ps_mirror_keep_provenance(s, name, r->sig.body.data, r->sig.body.len, err);
    }
    const ps_fetch_response *v = r->inrelease.status == 200 ? &r->inrelease : &r->release;
    char *ke = key_of("ETag", r->suite), *kl = key_of("Last-Modified", r->suite);
    if (rc == PS_OK && (ke == NULL || kl == NULL))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_kv_set(&s->next, ke, v->etag, err);
    if (rc == PS_OK)
        rc = ps_kv_set(&s->next, kl, v->last_modified, err);
    free(ke), free(kl);
    return rc;
}

static ps_code fetch_releases(ps_sync *s, rel *r, size_t n, ps_error *err)
{
    ps_code rc = PS_OK;
    size_t same = 0;
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        r[i].suite = s->c->suites.v[i];
        rc = fetch_release(s, &r[i], s->conditional, err);
        same += rc == PS_OK && r[i].not_modified;
    }
    if (rc == PS_OK && same == n) {
        s->res->unchanged = 1;
        return PS_OK;
    }
    /* Some changed: all are needed in full, from one moment of upstream. */
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        if (r[i].not_modified) {
            rel_free(&r[i]);
            memset(&r[i], 0, sizeof r[i]);
            r[i].suite = s->c->suites.v[i];
            rc = fetch_release(s, &r[i], 0, err);
        }
    return rc;
}

static ps_code apt_select(ps_sync *s, ps_error *err)
{
    size_t nr = s->c->suites.n, nix = 0;
    rel *r = calloc(nr, sizeof *r);
    idx *ix = NULL;
    ps_select sel;
    ps_select_init(&sel, s->c->keep, ps_apt_version_cmp);
    ps_code rc = r ? fetch_releases(s, r, nr, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && s->res->unchanged)
        goto out;
    for (size_t i = 0; rc == PS_OK && i < nr; i++) {
        rc = verify_release(s, &r[i], err);
        if (rc == PS_OK)
            rc = ps_mirror_blame(s, "freshness", check_freshness(s, &r[i], err));
        if (rc == PS_OK)
            rc = keep_release(s, &r[i], err);
    }
    if (rc == PS_OK)
        rc = fetch_all_indices(s, r, nr, &ix, &nix, err);
    pass p = {s, &sel, NULL, 0};
    if (rc == PS_OK)
        rc = scan_all(&p, ix, nix, err);
    s->res->upstream_entries = p.entries;
    if (rc == PS_OK)
        rc = ps_select_check(&sel, s->base, err);
    if (rc == PS_OK)
        ps_select_take(&sel, s->chosen);
    if (rc == PS_OK && s->c->follow)
        rc = follow(&p, ix, nix, err);
out:
    ps_select_free(&sel);
    for (size_t i = 0; r && i < nr; i++)
        rel_free(&r[i]);
    free(r);
    free_indices(ix, nix);
    return rc;
}

/* The Packages stanza of a mirrored .deb for HREF: the upstream fields in
 * apt's order, with our Filename, Size and digests. */
static ps_code deb_record(const ps_cand *c, const char *href, const ps_hashes *h, ps_buf *out,
                          ps_error *err)
{
    ps_deb822 *d = ps_deb822_parse_mem(c->stanza, strlen(c->stanza), c->name, err);
    if (d == NULL)
        return err ? err->code : PS_EINPUT;
    const char *const *order = ps_apt_package_field_order();
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && order[i]; i++) {
        const char *n = order[i], *v = ps_deb822_get(d, 0, n);
        if (strcasecmp(n, "Filename") == 0)
            rc = ps_buf_appendf(out, err, "Filename: %s\n", href);
        else if (strcasecmp(n, "Size") == 0)
            rc = ps_buf_appendf(out, err, "Size: %llu\n", (unsigned long long)h->size);
        else if (strcasecmp(n, "MD5sum") == 0)
            rc = ps_buf_appendf(out, err, "MD5sum: %s\n", h->md5);
        else if (strcasecmp(n, "SHA256") == 0)
            rc = ps_buf_appendf(out, err, "SHA256: %s\n", h->sha256);
        else if (v && !is_file_field(n))
            rc = ps_buf_appendf(out, err, "%s: %s\n", n, v);
    }
    for (size_t f = 0; rc == PS_OK && f < ps_deb822_nfields(d, 0); f++) {
        const char *n = ps_deb822_name_at(d, 0, f);
        int listed = 0;
        for (size_t i = 0; order[i] && !listed; i++)
            listed = strcasecmp(order[i], n) == 0;
        if (!listed)
            rc = ps_buf_appendf(out, err, "%s: %s\n", n, ps_deb822_value_at(d, 0, f));
    }
    ps_deb822_free(d);
    return rc == PS_OK ? ps_buf_append(out, "\n", 1, err) : rc;
}

/* Target is a suite/component of repo.conf, or a suite: its first component. */
static char *apt_target(const ps_sync *s, const ps_repo *r)
{
    if (strchr(s->c->target, '/'))
        return strdup(s->c->target);
    return ps_strdupf("%s/%s", s->c->target, ps_repo_components(r)->v[0]);
}

/* A .deb is taken as the index describes it: its digest was checked by
 * the download against the signed index. */
static ps_code deb_item(ps_sync *s, ps_mirror_plan *p, size_t i, const ps_cand *c, void *ctx,
                        ps_error *err)
{
    ps_repo_item *it = &p->items[i];
    ps_hashes *h = &p->hashes[i];
    /* Known unless the file is a verified download of an earlier run. */
    ps_code rc = h->sha256[0] ? PS_OK : ps_hashes_of_file(it->file, h, err);
    const char *colon = strchr(c->version, ':');
    char *fname = ps_strdupf("%s_%s_%s.deb", c->name, colon ? colon + 1 : c->version, c->arch);
    it->href = ps_mirror_own(p, fname ? ps_repo_pool_href(c->sha256, fname) : NULL);
    free(fname);
    if (rc == PS_OK && it->href == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = deb_record(c, it->href, h, &p->records[i], err);
    (void)s, (void)ctx;
    return rc;
}

static ps_code still_valid(ps_sync *s, ps_error *err)
{
    for (size_t i = 0; i < s->c->suites.n; i++) {
        char key[300];
        snprintf(key, sizeof key, "Valid-Until-%s", s->c->suites.v[i]);
        const char *v = ps_kv_get(&s->state, key);
        time_t t = v && *v ? curl_getdate(v, NULL) : -1;
        if (t >= 0 && t < time(NULL))
            return ps_error_set(err, PS_EVERIFY,
                                "%s/dists/%s/InRelease: unchanged upstream, but its "
                                "Valid-Until %s has passed: upstream is stale or frozen",
                                s->base, s->c->suites.v[i], v);
    }
    return PS_OK;
}

const ps_mirror_kind ps_mirror_kind_apt = {
    .name = "apt",
    .pkg_type = "deb",
    .target_what = "a suite, or suite/component, of repo.conf",
    .target_is = "a suite/component",
    .suites = 1,
    .resign_refused = "only rpm mirrors: a .deb carries no signature of its own here",
    .select = apt_select,
    .target = apt_target,
    .verify_entry = deb_item,
    .still_valid = still_valid,
};
