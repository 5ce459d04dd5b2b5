/* ps_repo_verify.c - `repo verify`: every signature and every hash of a
 * published generation, checked the way a client would, against the
 * configured key only. */
#include "ps_repo_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <createrepo_c/createrepo_c.h>
#include <glib.h>

#include "ps_fetch.h"
#include "ps_pgp.h"
#include "ps_s3.h"

typedef struct vctx {
    ps_repo *r;
    char *tree;        /* what messages name: the tree, or the target's URL */
    char *dir;         /* where the files are read: the tree, or a download dir */
    char *keydir;      /* the local tree whose key is trusted */
    const char *base;  /* --target: the anonymous base URL, else NULL */
    ps_fetch *f;
    ps_verifier *v;
    const char *want_fpr;
    GHashTable *seen; /* pool files already hashed */
    size_t checked;
    ps_error *err;
} vctx;

/* With --target, REL fetched with an anonymous GET (as a client reads
 * it) into the download dir, once. */
static ps_code download(vctx *c, const char *rel, const char *path)
{
    char *enc = ps_s3_encode_key(rel, c->err);
    char *url = enc ? ps_strdupf("%s/%s", c->base, enc) : NULL;
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    ps_fetch_response resp;
    ps_code rc = url && slash ? PS_OK : ps_error_set(c->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        *slash = '\0', rc = ps_mkdir_p(dir, 0700, c->err);
    if (rc == PS_OK && (rc = ps_fetch_get(c->f, url, NULL, NULL, (uint64_t)1 << 32, &resp,
                                          c->err)) == PS_OK) {
        if (resp.status != 200)
            rc = ps_error_set(c->err, PS_EVERIFY, "%s: HTTP %ld: not served", url, resp.status);
        else
            rc = ps_file_write_unsynced(path, resp.body.data ? (const void *)resp.body.data : "",
                                        resp.body.len, c->err);
        ps_fetch_response_free(&resp);
    }
    if (rc != PS_OK && c->err)
        c->err->code = PS_EVERIFY; /* what a client cannot get is a failed check */
    free(enc), free(url), free(dir);
    return rc;
}

/* Where REL is read from (malloc'd), or NULL with ERR set. */
static char *rel_path(vctx *c, const char *rel)
{
    char *path = ps_strdupf("%s/%s", c->dir, rel);
    if (path == NULL)
        ps_error_set(c->err, PS_ENOMEM, "out of memory");
    else if (c->base && !ps_path_exists(path) && download(c, rel, path) != PS_OK)
        free(path), path = NULL;
    return path;
}

static ps_code bad(vctx *c, const char *rel, const char *what)
{
    return ps_error_set(c->err, PS_EVERIFY, "%s/%s: %s", c->tree, rel, what);
}

static ps_code read_rel(vctx *c, const char *rel, ps_buf *out)
{
    char *path = rel_path(c, rel);
    ps_code rc = path ? ps_file_read(path, out, c->err) : PS_EVERIFY;
    if (rc != PS_OK && c->err && c->err->code == PS_EIO) {
        c->err->code = PS_EVERIFY; /* a missing published file is a failed check */
    }
    free(path);
    return rc;
}

/* A signed index and its signatures, read whole before any is checked:
 * TOP/UNDER/NAMES[i] into BUFS[i], its relative path kept in PATHS[i]
 * for the messages.  Apt suites and rpm repositories differ only in the
 * names. */
typedef char relpath[512];
static ps_code read_signed_set(vctx *c, const char *top, const char *under,
                               const char *const *names, size_t n, relpath *paths, ps_buf *bufs)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s/%s", top, under, names[i]);
        rc = read_rel(c, paths[i], &bufs[i]);
    }
    return rc;
}

/* REL must have SIZE bytes and the given digests (either may be NULL). */
static ps_code check_file(vctx *c, const char *rel, uint64_t size, const char *sha256,
                          const char *sha512)
{
    char *path = rel_path(c, rel);
    ps_hashes h;
    ps_code rc = path ? ps_hashes_of_file(path, &h, c->err) : PS_EVERIFY;
    free(path);
    if (rc != PS_OK) {
        if (c->err)
            c->err->code = PS_EVERIFY;
        return PS_EVERIFY;
    }
    c->checked++;
    if (h.size != size)
        return bad(c, rel, "size differs from the index");
    if (sha256 && strcasecmp(h.sha256, sha256) != 0)
        return bad(c, rel, "SHA256 differs from the index");
    if (sha512 && strcasecmp(h.sha512, sha512) != 0)
        return bad(c, rel, "SHA512 differs from the index");
    return PS_OK;
}

/* FPR must be one of Signing-Key's (several during a key rotation). */
static ps_code check_signer(vctx *c, const char *rel, const char *fpr)
{
    const ps_strv *keys = ps_repo_keys(c->r);
    size_t m = strlen(fpr);
    for (size_t i = 0; i < keys->n; i++) {
        size_t n = strlen(keys->v[i]);
        if (n <= m && strcasecmp(fpr + m - n, keys->v[i]) == 0)
            return PS_OK;
    }
    return ps_error_set(c->err, PS_EVERIFY, "%s/%s: signed by %s, not by Signing-Key %s",
                        c->tree, rel, fpr, ps_repo_conf_get(c->r, "Signing-Key"));
}

static ps_code verify_sig(vctx *c, const char *rel, const ps_buf *sig, const ps_buf *data,
                          ps_buf *plain)
{
    char fpr[41], name[1024];
    ps_span span = {data ? data->data : NULL, data ? data->len : 0};
    snprintf(name, sizeof name, "%s/%s", c->tree, rel);
    ps_code rc = ps_verifier_verify(c->v, sig->data, sig->len, data ? &span : NULL, data ? 1 : 0,
                                    plain, name, fpr, c->err);
    if (rc == PS_OK)
        rc = check_signer(c, rel, fpr);
    c->checked += rc == PS_OK;
    return rc;
}

/* ---- apt ----------------------------------------------------------- */

static ps_code check_pool_file(vctx *c, const char *href, uint64_t size, const char *sha256)
{
    if (href == NULL || sha256 == NULL || strstr(href, "..") || href[0] == '/')
        return ps_error_set(c->err, PS_EVERIFY, "%s: index entry without a sane path or SHA256",
                            c->tree);
    if (g_hash_table_contains(c->seen, href))
        return PS_OK;
    ps_code rc = check_file(c, href, size, sha256, NULL);
    if (rc == PS_OK)
        g_hash_table_add(c->seen, strdup(href));
    return rc;
}

static ps_code check_packages(vctx *c, const char *rel)
{
    ps_buf b = {0};
    ps_code rc = read_rel(c, rel, &b);
    ps_deb822 *d = rc == PS_OK && b.len ? ps_deb822_parse_mem((const char *)b.data, b.len, rel, c->err)
                                        : NULL;
    if (rc == PS_OK && b.len && d == NULL)
        rc = PS_EVERIFY;
    for (size_t i = 0; rc == PS_OK && d && i < ps_deb822_count(d); i++) {
        const char *size = ps_deb822_get(d, i, "Size");
        rc = check_pool_file(c, ps_deb822_get(d, i, "Filename"),
                             size ? strtoull(size, NULL, 10) : 0, ps_deb822_get(d, i, "SHA256"));
    }
    ps_deb822_free(d);
    ps_buf_free(&b);
    return rc;
}

/* One " HASH SIZE PATH" line of a Release checksum field. */
static ps_code release_line(vctx *c, const char *suite, char *line, int sha512)
{
    char hash[129], path[512];
    unsigned long long size;
    if (sscanf(line, "%128s %llu %511s", hash, &size, path) != 3)
        return ps_error_set(c->err, PS_EVERIFY, "%s/dists/%s/Release: bad checksum line '%s'",
                            c->tree, suite, line);
    char *rel = ps_strdupf("dists/%s/%s", suite, path);
    char *dir = rel ? strdup(rel) : NULL;
    if (dir == NULL) {
        free(rel);
        return PS_ENOMEM;
    }
    *strrchr(dir, '/') = '\0';
    char *byhash = ps_strdupf("%s/by-hash/%s/%s", dir, sha512 ? "SHA512" : "SHA256", hash);
    /* A target is checked as apt reads it: by-hash only (our Release says
     * Acquire-By-Hash).  Its canonical names are replaced before Release
     * in a push, so for a moment they are ahead of the Release served. */
    ps_code rc = c->base ? PS_OK
                         : check_file(c, rel, size, sha512 ? NULL : hash, sha512 ? hash : NULL);
    if (rc == PS_OK)
        rc = byhash ? check_file(c, byhash, size, sha512 ? NULL : hash, sha512 ? hash : NULL)
                    : PS_ENOMEM;
    if (rc == PS_OK && !sha512 && ps_str_ends_with(path, "/Packages"))
        rc = check_packages(c, c->base ? byhash : rel);
    free(rel), free(dir), free(byhash);
    return rc;
}

static ps_code check_release_sums(vctx *c, const char *suite, const ps_buf *release)
{
    ps_deb822 *d = ps_deb822_parse_mem((const char *)release->data, release->len, "Release", c->err);
    ps_code rc = d ? PS_OK : PS_EVERIFY;
    const char *fields[2] = {"SHA256", "SHA512"};
    for (int f = 0; rc == PS_OK && f < 2; f++) {
        const char *v = ps_deb822_get(d, 0, fields[f]);
        if (v == NULL) {
            rc = ps_error_set(c->err, PS_EVERIFY, "%s/dists/%s/Release: no %s field", c->tree,
                              suite, fields[f]);
            break;
        }
        char *copy = strdup(v), *save = NULL;
        for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; rc == PS_OK && l;
             l = strtok_r(NULL, "\n", &save))
            if (strspn(l, " \t") != strlen(l))
                rc = release_line(c, suite, l, f == 1);
        free(copy);
    }
    ps_deb822_free(d);
    return rc;
}

static ps_code verify_suite(vctx *c, const char *suite)
{
    static const char *const names[] = {"Release", "InRelease", "Release.gpg"};
    enum { REL, IN, GPG, N };
    relpath p[N];
    ps_buf b[N] = {{0}}, plain = {0};
    ps_code rc = read_signed_set(c, "dists", suite, names, N, p, b);
    if (rc == PS_OK)
        rc = verify_sig(c, p[IN], &b[IN], NULL, &plain);
    if (rc == PS_OK &&
        (plain.len != b[REL].len || memcmp(plain.data, b[REL].data, b[REL].len) != 0))
        rc = bad(c, p[IN], "signed text differs from Release");
    if (rc == PS_OK)
        rc = verify_sig(c, p[GPG], &b[GPG], &b[REL], NULL);
    if (rc == PS_OK)
        rc = check_release_sums(c, suite, &b[REL]);
    for (size_t i = 0; i < N; i++)
        ps_buf_free(&b[i]);
    ps_buf_free(&plain);
    return rc;
}

/* ---- rpm ----------------------------------------------------------- */

typedef struct rpm_cb {
    vctx *c;
    const char *repo;
    ps_code rc;
} rpm_cb;

static int primary_pkg(cr_Package *pkg, void *data, GError **gerr)
{
    (void)gerr;
    rpm_cb *cb = data;
    char *rel = ps_strdupf("rpm/%s/%s", cb->repo, pkg->location_href ? pkg->location_href : "");
    if (cb->rc == PS_OK)
        cb->rc = rel ? check_pool_file(cb->c, rel, (uint64_t)pkg->size_package, pkg->pkgId)
                     : PS_ENOMEM;
    free(rel);
    cr_package_free(pkg);
    return CR_CB_RET_OK;
}

static ps_code check_primary(vctx *c, const char *repo, const char *rel)
{
    char *path = rel_path(c, rel);
    rpm_cb cb = {c, repo, path ? PS_OK : PS_EVERIFY};
    GError *gerr = NULL;
    if (path && cr_xml_parse_primary(path, NULL, NULL, primary_pkg, &cb, NULL, NULL, 0, &gerr) !=
                    CRE_OK && cb.rc == PS_OK)
        cb.rc = ps_error_set(c->err, PS_EVERIFY, "%s: %s", path, gerr ? gerr->message : "unreadable");
    if (gerr)
        g_error_free(gerr);
    free(path);
    return cb.rc;
}

static ps_code check_records(vctx *c, const char *repo, cr_Repomd *md)
{
    ps_code rc = PS_OK;
    int primary = 0;
    for (GSList *l = md->records; rc == PS_OK && l; l = l->next) {
        cr_RepomdRecord *rec = l->data;
        char *rel = ps_strdupf("rpm/%s/%s", repo, rec->location_href ? rec->location_href : "");
        if (rel == NULL)
            return PS_ENOMEM;
        if (rec->checksum_type == NULL || strcmp(rec->checksum_type, "sha256") != 0)
            rc = bad(c, rel, "repomd.xml lists it without a sha256 checksum");
        if (rc == PS_OK)
            rc = check_file(c, rel, (uint64_t)rec->size, rec->checksum, NULL);
        if (rc == PS_OK && rec->type && strcmp(rec->type, "primary") == 0) {
            primary = 1;
            rc = check_primary(c, repo, rel);
        }
        free(rel);
    }
    if (rc == PS_OK && !primary)
        rc = ps_error_set(c->err, PS_EVERIFY, "%s/rpm/%s/repodata/repomd.xml: no primary record",
                          c->tree, repo);
    return rc;
}

static ps_code verify_rpm_repo(vctx *c, const char *repo)
{
    static const char *const names[] = {"repodata/repomd.xml", "repodata/repomd.xml.asc"};
    enum { XML, ASC, N };
    relpath p[N];
    ps_buf b[N] = {{0}};
    ps_code rc = read_signed_set(c, "rpm", repo, names, N, p, b);
    if (rc == PS_OK)
        rc = verify_sig(c, p[ASC], &b[ASC], &b[XML], NULL);
    /* Parse only what the signature covers: the bytes just verified. */
    cr_Repomd *md = cr_repomd_new();
    GError *gerr = NULL;
    char *path = rc == PS_OK ? rel_path(c, p[XML]) : NULL;
    if (rc == PS_OK && (md == NULL || path == NULL ||
                        cr_xml_parse_repomd(path, md, NULL, NULL, &gerr) != CRE_OK))
        rc = ps_error_set(c->err, PS_EVERIFY, "%s: %s", path ? path : p[XML],
                          gerr ? gerr->message : "unreadable");
    if (rc == PS_OK)
        rc = check_records(c, repo, md);
    if (gerr)
        g_error_free(gerr);
    if (md)
        cr_repomd_free(md);
    free(path);
    ps_buf_free(&b[XML]), ps_buf_free(&b[ASC]);
    return rc;
}

/* ---- entry --------------------------------------------------------- */

static ps_code load_key(vctx *c)
{
    const char *org = ps_repo_conf_get(c->r, "Org");
    char *key = ps_strdupf("%s/keys/%s-archive-keyring.asc", c->keydir, org ? org : "pkgsmith");
    ps_code rc = key ? ps_verifier_import_file(c->v, key, c->err) : PS_ENOMEM;
    free(key);
    return rc;
}

/* Every check, on C's tree (its dir and keydir set). */
static ps_code verify_all(vctx *c)
{
    ps_repo *r = c->r;
    ps_code rc = (c->v = ps_verifier_new(c->err)) ? PS_OK : PS_ELIB;
    if (rc == PS_OK)
        rc = load_key(c);
    c->seen = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    for (size_t i = 0; rc == PS_OK && i < r->suites.n; i++)
        rc = verify_suite(c, r->suites.v[i]);
    for (size_t i = 0; rc == PS_OK && i < r->rpm_repos.n; i++)
        rc = verify_rpm_repo(c, r->rpm_repos.v[i]);
    g_hash_table_destroy(c->seen);
    ps_verifier_free(c->v);
    return rc;
}

ps_code ps_repo_verify(ps_repo *r, long gen, size_t *checked, ps_error *err)
{
    vctx c = {.r = r, .want_fpr = ps_repo_key(r), .err = err};
    *checked = 0;
    if (gen == 0 && (gen = ps_repo_current(r)) == 0)
        return ps_error_set(err, PS_EINPUT, "%s: nothing is published yet", r->root);
    c.tree = ps_strdupf("%s/generations/%ld/tree", r->root, gen);
    if (c.tree == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    c.dir = c.keydir = c.tree;
    ps_code rc = ps_path_is_dir(c.tree) ? PS_OK
                                        : ps_error_set(err, PS_EINPUT, "%s: no such generation",
                                                       c.tree);
    if (rc == PS_OK)
        rc = verify_all(&c);
    free(c.tree);
    *checked = c.checked;
    return rc;
}

/* ENDPOINT/BUCKET/PREFIX of TARGET (malloc'd into *BASE). */
static ps_code target_base(ps_repo *r, const char *target, char **base, ps_error *err)
{
    const char *ep = ps_repo_conf_get(r, "S3-Endpoint");
    char *bucket = NULL, *prefix = NULL;
    *base = NULL;
    if (ep == NULL)
        return ps_error_set(err, PS_EINPUT, "%s/repo.conf: no S3-Endpoint for %s", r->root,
                            target);
    ps_code rc = ps_s3_parse_target(target, &bucket, &prefix, err);
    char *enc = rc == PS_OK && *prefix ? ps_s3_encode_key(prefix, err) : NULL;
    if (rc == PS_OK && *prefix && enc == NULL)
        rc = err ? err->code : PS_EINPUT;
    if (rc == PS_OK)
        *base = ps_strdupf("%s/%s%s%s", ep, bucket, enc ? "/" : "", enc ? enc : "");
    if (rc == PS_OK && *base == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    free(bucket), free(prefix), free(enc);
    return rc;
}

ps_code ps_repo_verify_target(ps_repo *r, const char *target, size_t *checked, ps_error *err)
{
    vctx c = {.r = r, .want_fpr = ps_repo_key(r), .err = err};
    char *base = NULL;
    *checked = 0;
    long gen = ps_repo_current(r);
    if (gen == 0)
        return ps_error_set(err, PS_EINPUT, "%s: nothing is published yet (its key is what "
                            "%s must be signed with)", r->root, target);
    ps_code rc = target_base(r, target, &base, err);
    ps_fetch_opts fo = {.parallel = 1, .retries = 2};
    c.base = base;
    c.tree = base;
    c.keydir = ps_strdupf("%s/generations/%ld/tree", r->root, gen);
    c.dir = rc == PS_OK ? ps_mkdtemp_in(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                                        "pkgsmith-verify-", err) : NULL;
    if (rc == PS_OK && (c.keydir == NULL || c.dir == NULL))
        rc = err && err->code ? err->code : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && (c.f = ps_fetch_new(&fo, err)) == NULL)
        rc = PS_ELIB;
    if (rc == PS_OK)
        rc = verify_all(&c);
    ps_fetch_free(c.f);
    if (c.dir)
        ps_rm_rf(c.dir, NULL);
    free(c.dir), free(c.keydir), free(base);
    *checked = c.checked;
    return rc;
}
