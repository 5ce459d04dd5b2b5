/* ps_publish.c - `repo publish`: a new generation, complete and signed in
 * a private directory, then made visible by one rename(2) of `public`.
 *
 * Order matters for crash safety: everything is written and synced under
 * generations/.tmp-*, renamed to generations/N (still invisible), and only
 * then does the `public` symlink move.  A crash at any point leaves the
 * previous generation served; the next run deletes the leftovers. */
#include "ps_repo_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <createrepo_c/createrepo_c.h>
#include <glib.h>

#include "ps_archive.h"
#include "ps_pgp.h"

typedef struct pub {
    ps_repo *r;
    ps_signer *signer;
    char *dir;         /* generations/.tmp-XXXXXX */
    char *tree;        /* dir/tree */
    long gen;
    long now;
    ps_strv hashfiles; /* hash-named files of this generation, tree-relative */
    ps_entries set;    /* what it serves: the working set with pinned suites
                        * taken from their snapshots */
    size_t npins;
    long prev;         /* the served generation, whose indexes may be reused */
    ps_buf prev_keys;  /* its `indexes` file ("KEY NAME" lines), or empty */
    ps_buf keys;       /* this generation's `indexes` */
    size_t reused;     /* indexes linked from PREV instead of rewritten */
} pub;

static ps_code write_file(const char *path, const void *data, size_t len, ps_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    ps_code rc = ps_fd_write_named(fd, data, len, path, err);
    if (rc != PS_OK) {
        close(fd);
        return rc;
    }
    if (close(fd) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    return PS_OK;
}

static char *tree_path(const pub *p, const char *rel)
{
    return ps_strdupf("%s/%s", p->tree, rel);
}

static ps_code mkdirs_for(const char *path, ps_error *err)
{
    char *dir = strdup(path);
    if (dir == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    *strrchr(dir, '/') = '\0';
    ps_code rc = ps_mkdir_p(dir, 0755, err);
    free(dir);
    return rc;
}

/* Links tree/FROM to tree/TO (creating directories). */
static ps_code link_in_tree(const char *from, const char *to, ps_error *err)
{
    ps_code rc = mkdirs_for(to, err);
    if (rc == PS_OK && link(from, to) != 0 && errno != EEXIST)
        rc = ps_error_set(err, PS_EIO, "%s: %s", to, strerror(errno));
    return rc;
}

/* ---- reuse ---------------------------------------------------------
 * An apt index (one suite/component/arch) depends only on the
 * entries it lists, each record being fixed by its SHA-256 and href.  The
 * SHA-256 of those pairs is its key; generations/N/indexes holds the key
 * of each index.  When the served generation has the same key, its files
 * are hard-linked instead of rebuilt and recompressed: a publish after a
 * one-package add rewrites the one index that changed.  (rpm repos are
 * rebuilt each time still: createrepo_c names and renames their files.) */

static int apt_lists(const ps_entry *e, const char *target, const char *arch)
{
    return strcmp(e->kind, "deb") == 0 && strcmp(e->target, target) == 0 &&
           (strcmp(e->arch, arch) == 0 || strcmp(e->arch, "all") == 0);
}

static int rpm_lists(const ps_entry *e, const char *repo)
{
    return strcmp(e->kind, "rpm") == 0 && strcmp(e->target, repo) == 0;
}

/* KEY of the index NAME whose entries are those LISTS accepts; SALT is
 * whatever else its files depend on (the signers of repomd.xml.asc). */
static ps_code index_key(pub *p, const char *name, const char *target, const char *arch,
                         const char *salt, char key[65], ps_error *err)
{
    ps_sha256 *h = ps_sha256_new(err);
    if (h == NULL)
        return err && err->code ? err->code : PS_ENOMEM;
    ps_sha256_update(h, name, strlen(name) + 1);
    ps_sha256_update(h, salt, strlen(salt) + 1);
    for (size_t i = 0; i < p->set.n; i++) {
        const ps_entry *e = &p->set.v[i];
        if (arch ? apt_lists(e, target, arch) : rpm_lists(e, target)) {
            ps_sha256_update(h, e->sha256, strlen(e->sha256) + 1);
            ps_sha256_update(h, e->href, strlen(e->href) + 1);
        }
    }
    ps_sha256_final(h, key);
    return ps_buf_appendf(&p->keys, err, "%s %s\n", key, name);
}

/* Non-zero when the served generation has index NAME with KEY. */
static int prev_has(const pub *p, const char *name, const char *key)
{
    const char *k = (const char *)p->prev_keys.data, *end = k + p->prev_keys.len;
    size_t nl = strlen(name);
    for (const char *eol; k && (eol = memchr(k, '\n', (size_t)(end - k))) != NULL; k = eol + 1)
        if ((size_t)(eol - k) == 65 + nl && memcmp(k, key, 64) == 0 && k[64] == ' ' &&
            memcmp(k + 65, name, nl) == 0)
            return 1;
    return 0;
}

static char *prev_path(const pub *p, const char *rel)
{
    return ps_strdupf("%s/generations/%ld/tree/%s", p->r->root, p->prev, rel);
}

static ps_code load_prev_keys(pub *p, ps_error *err)
{
    p->prev = ps_repo_current(p->r);
    char *path = p->prev ? ps_strdupf("%s/generations/%ld/indexes", p->r->root, p->prev) : NULL;
    ps_code rc = PS_OK;
    if (path && ps_path_exists(path))
        rc = ps_file_read(path, &p->prev_keys, err);
    free(path);
    return rc;
}

/* ---- apt ----------------------------------------------------------- */

typedef struct release {
    ps_buf sha256, sha512;
} release;

/* Records dists/SUITE/REL (at PATH, with hashes H) in the Release lists
 * and in by-hash/. */
static ps_code apt_record(pub *p, const char *suite, const char *rel, const char *path,
                          const ps_hashes *h, release *R, ps_error *err)
{
    ps_code rc = ps_buf_appendf(&R->sha256, err, " %s %16llu %s\n", h->sha256,
                                (unsigned long long)h->size, rel);
    if (rc == PS_OK)
        rc = ps_buf_appendf(&R->sha512, err, " %s %16llu %s\n", h->sha512,
                            (unsigned long long)h->size, rel);
    const char *algos[2] = {"SHA256", "SHA512"}, *hex[2] = {h->sha256, h->sha512};
    char *dir = rc == PS_OK ? strdup(rel) : NULL;
    if (dir && strrchr(dir, '/'))
        *strrchr(dir, '/') = '\0';
    for (int i = 0; rc == PS_OK && i < 2; i++) {
        char *byhash = ps_strdupf("dists/%s/%s/by-hash/%s/%s", suite, dir, algos[i], hex[i]);
        char *full = byhash ? tree_path(p, byhash) : NULL;
        rc = full ? link_in_tree(path, full, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK)
            rc = ps_strv_take(&p->hashfiles, byhash, err), byhash = NULL;
        free(byhash), free(full);
    }
    free(dir);
    return rc;
}

/* Writes REL (relative to dists/SUITE/) and records it in the Release
 * lists and in by-hash/. */
static ps_code apt_index(pub *p, const char *suite, const char *rel, const ps_buf *data,
                         release *R, ps_error *err)
{
    char *path = ps_strdupf("%s/dists/%s/%s", p->tree, suite, rel);
    ps_hashes h;
    ps_code rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = mkdirs_for(path, err);
    if (rc == PS_OK)
        rc = write_file(path, data->data ? (const void *)data->data : "", data->len, err);
    if (rc == PS_OK)
        rc = ps_hashes_of_mem(data->data ? (const void *)data->data : "", data->len, &h, err);
    if (rc == PS_OK)
        rc = apt_record(p, suite, rel, path, &h, R, err);
    free(path);
    return rc;
}

/* The size and both digests that the served generation's Release text
 * PREV lists for REL; non-zero when it lists both. */
static int prev_release_hashes(const ps_buf *prev, const char *rel, ps_hashes *h)
{
    const char *t = (const char *)prev->data, *end = t + prev->len;
    int section = 0, found = 0;
    for (const char *eol; t && (eol = memchr(t, '\n', (size_t)(end - t))) != NULL; t = eol + 1) {
        char line[1024], hex[130], path[600];
        unsigned long long size;
        snprintf(line, sizeof line, "%.*s", (int)(eol - t), t);
        if (line[0] != ' ') {
            section = strcmp(line, "SHA256:") == 0 ? 1 : strcmp(line, "SHA512:") == 0 ? 2 : 0;
            continue;
        }
        if (section == 0 || sscanf(line, " %129s %llu %599s", hex, &size, path) != 3 ||
            strcmp(path, rel) != 0 || strlen(hex) != (section == 1 ? 64u : 128u))
            continue;
        memcpy(section == 1 ? h->sha256 : h->sha512, hex, strlen(hex) + 1);
        h->size = size;
        found |= section;
    }
    return found == 3;
}

static const char *const PACKAGES_SUFFIX[3] = {"", ".gz", ".xz"};

/* Links COMP/binary-ARCH/Packages* of the served generation into this
 * one; *DONE stays 0 when its Release does not list all three. */
static ps_code apt_reuse(pub *p, const char *suite, const char *comp, const char *arch,
                         const ps_buf *prev, release *R, int *done, ps_error *err)
{
    char rel[3][512];
    ps_hashes h[3];
    for (int i = 0; i < 3; i++) {
        snprintf(rel[i], sizeof rel[i], "%s/binary-%s/Packages%s", comp, arch, PACKAGES_SUFFIX[i]);
        if (!prev_release_hashes(prev, rel[i], &h[i]))
            return PS_OK;
    }
    ps_code rc = PS_OK;
    for (int i = 0; rc == PS_OK && i < 3; i++) {
        char *sub = ps_strdupf("dists/%s/%s", suite, rel[i]);
        char *from = sub ? prev_path(p, sub) : NULL, *to = sub ? tree_path(p, sub) : NULL;
        rc = from && to ? link_in_tree(from, to, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK)
            rc = apt_record(p, suite, rel[i], to, &h[i], R, err);
        free(sub), free(from), free(to);
    }
    *done = rc == PS_OK;
    p->reused += *done;
    return rc;
}

static ps_code append_record(pub *p, const ps_entry *e, ps_buf *out, ps_error *err)
{
    char *meta = ps_repo_meta_path(p->r, e->sha256);
    ps_code rc = meta ? ps_file_read(meta, out, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    free(meta);
    return rc;
}

static ps_code apt_packages(pub *p, const char *suite, const char *comp, const char *arch,
                            const ps_buf *prev, release *R, ps_error *err)
{
    ps_buf pk = {0}, gz = {0}, xz = {0};
    char target[512], rel[512], name[1024], key[65];
    snprintf(target, sizeof target, "%s/%s", suite, comp);
    snprintf(name, sizeof name, "dists/%s/%s/binary-%s", suite, comp, arch);
    int done = 0;
    ps_code rc = index_key(p, name, target, arch, "", key, err);
    if (rc == PS_OK && prev->len && prev_has(p, name, key))
        rc = apt_reuse(p, suite, comp, arch, prev, R, &done, err);
    if (rc != PS_OK || done)
        return rc;
    for (size_t i = 0; rc == PS_OK && i < p->set.n; i++)
        if (apt_lists(&p->set.v[i], target, arch))
            rc = append_record(p, &p->set.v[i], &pk, err);
    if (rc == PS_OK)
        rc = ps_compress(PS_FILTER_GZIP, pk.data ? (const void *)pk.data : "", pk.len, &gz, err);
    if (rc == PS_OK)
        rc = ps_compress(PS_FILTER_XZ_LOWMEM, pk.data ? (const void *)pk.data : "", pk.len, &xz,
                         err);
    const ps_buf *data[3] = {&pk, &gz, &xz};
    for (int i = 0; rc == PS_OK && i < 3; i++) {
        snprintf(rel, sizeof rel, "%s/binary-%s/Packages%s", comp, arch, PACKAGES_SUFFIX[i]);
        rc = apt_index(p, suite, rel, data[i], R, err);
    }
    ps_buf_free(&pk), ps_buf_free(&gz), ps_buf_free(&xz);
    return rc;
}

static ps_code release_text(pub *p, const char *suite, const release *R, ps_buf *out,
                            ps_error *err)
{
    char date[64], until[64];
    ps_format_date(p->now, date, sizeof date);
    ps_format_date(p->now + p->r->valid_secs, until, sizeof until);
    const char *origin = ps_repo_conf_get(p->r, "Origin");
    const char *label = ps_repo_conf_get(p->r, "Label");
    const char *descr = ps_repo_conf_get(p->r, "Description");
    ps_code rc = ps_buf_appendf(out, err,
                                "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\nDate: %s\n"
                                "Valid-Until: %s\nAcquire-By-Hash: yes\nArchitectures:",
                                origin ? origin : "pkgsmith", label ? label : "pkgsmith", suite,
                                suite, date, until);
    for (size_t i = 0; rc == PS_OK && i < p->r->archs.n; i++)
        rc = ps_buf_appendf(out, err, " %s", p->r->archs.v[i]);
    if (rc == PS_OK)
        rc = ps_buf_appendf(out, err, "\nComponents:");
    for (size_t i = 0; rc == PS_OK && i < p->r->components.n; i++)
        rc = ps_buf_appendf(out, err, " %s", p->r->components.v[i]);
    if (rc == PS_OK)
        rc = ps_buf_appendf(out, err, "\nDescription: %s\nSHA256:\n%sSHA512:\n%s",
                            descr ? descr : "packages published by pkgsmith",
                            (const char *)R->sha256.data, (const char *)R->sha512.data);
    return rc;
}

static ps_code sign_to(pub *p, const ps_buf *data, ps_sign_mode mode, const char *path,
                       ps_error *err)
{
    ps_span span = {data->data, data->len};
    ps_buf sig = {0};
    ps_code rc = ps_signer_sign(p->signer, &span, 1, mode, &sig, err);
    if (rc == PS_OK)
        rc = write_file(path, sig.data, sig.len, err);
    ps_buf_free(&sig);
    return rc;
}

static ps_code apt_suite(pub *p, const char *suite, ps_error *err)
{
    release R = {{0}, {0}};
    ps_buf text = {0}, prev = {0};
    char *sub = ps_strdupf("dists/%s/Release", suite);
    char *prev_rel = sub && p->prev ? prev_path(p, sub) : NULL;
    ps_code rc = sub ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && prev_rel && p->prev_keys.len && ps_path_exists(prev_rel))
        rc = ps_file_read(prev_rel, &prev, err);
    free(sub), free(prev_rel);
    for (size_t c = 0; rc == PS_OK && c < p->r->components.n; c++)
        for (size_t a = 0; rc == PS_OK && a < p->r->archs.n; a++)
            rc = apt_packages(p, suite, p->r->components.v[c], p->r->archs.v[a], &prev, &R, err);
    ps_buf_free(&prev);
    if (rc == PS_OK)
        rc = release_text(p, suite, &R, &text, err);
    char *base = ps_strdupf("%s/dists/%s/", p->tree, suite);
    char *rel = base ? ps_strdupf("%sRelease", base) : NULL;
    char *inrel = base ? ps_strdupf("%sInRelease", base) : NULL;
    char *gpg = base ? ps_strdupf("%sRelease.gpg", base) : NULL;
    if (rc == PS_OK && (!rel || !inrel || !gpg))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = write_file(rel, text.data, text.len, err);
    if (rc == PS_OK)
        rc = sign_to(p, &text, PS_SIGN_CLEAR, inrel, err);
    if (rc == PS_OK)
        rc = sign_to(p, &text, PS_SIGN_DETACHED_ARMOR, gpg, err);
    free(base), free(rel), free(inrel), free(gpg);
    ps_buf_free(&text), ps_buf_free(&R.sha256), ps_buf_free(&R.sha512);
    return rc;
}

/* ---- rpm ----------------------------------------------------------- */

static const char *const MD_NAMES[3] = {"primary", "filelists", "other"};
static const cr_XmlFileType MD_TYPES[3] = {CR_XMLFILE_PRIMARY, CR_XMLFILE_FILELISTS,
                                           CR_XMLFILE_OTHER};

typedef struct rpm_md {
    char *path[3];
    cr_XmlFile *f[3];
    cr_ContentStat *stat[3];
} rpm_md;

static ps_code gerror(GError **gerr, const char *what, ps_error *err)
{
    ps_code rc = ps_error_set(err, PS_ELIB, "%s: createrepo_c: %s", what,
                              *gerr ? (*gerr)->message : "failed");
    if (*gerr)
        g_clear_error(gerr);
    return rc;
}

static ps_code md_open(rpm_md *m, const char *dir, long count, ps_error *err)
{
    GError *gerr = NULL;
    for (int i = 0; i < 3; i++) {
        m->path[i] = ps_strdupf("%s/%s.xml.gz", dir, MD_NAMES[i]);
        m->stat[i] = cr_contentstat_new(CR_CHECKSUM_SHA256, &gerr);
        if (m->path[i] == NULL || m->stat[i] == NULL)
            return gerror(&gerr, dir, err);
        m->f[i] = cr_xmlfile_sopen(m->path[i], MD_TYPES[i], CR_CW_GZ_COMPRESSION, m->stat[i],
                                   &gerr);
        if (m->f[i] == NULL || cr_xmlfile_set_num_of_pkgs(m->f[i], count, &gerr) != CRE_OK)
            return gerror(&gerr, m->path[i], err);
    }
    return PS_OK;
}

static ps_code md_close(rpm_md *m, ps_error *err)
{
    ps_code rc = PS_OK;
    GError *gerr = NULL;
    for (int i = 0; i < 3; i++) {
        if (m->f[i] && cr_xmlfile_close(m->f[i], &gerr) != CRE_OK && rc == PS_OK)
            rc = gerror(&gerr, m->path[i], err);
        m->f[i] = NULL;
    }
    return rc;
}

static void md_free(rpm_md *m)
{
    ps_error ignored = {0};
    md_close(m, &ignored);
    for (int i = 0; i < 3; i++) {
        free(m->path[i]);
        if (m->stat[i])
            cr_contentstat_free(m->stat[i], NULL);
    }
}

static ps_code md_add(rpm_md *m, pub *p, const ps_entry *e, ps_error *err)
{
    ps_buf rec = {0};
    ps_code rc = append_record(p, e, &rec, err);
    const char *chunk = (const char *)rec.data;
    GError *gerr = NULL;
    for (int i = 0; rc == PS_OK && i < 3; i++) {
        if (chunk == NULL || chunk >= (const char *)rec.data + rec.len) {
            rc = ps_error_set(err, PS_EIO, "%s/meta/%.2s/%s: damaged record", p->r->root,
                              e->sha256, e->sha256);
            break;
        }
        if (cr_xmlfile_add_chunk(m->f[i], chunk, &gerr) != CRE_OK)
            rc = gerror(&gerr, m->path[i], err);
        chunk += strlen(chunk) + 1;
    }
    ps_buf_free(&rec);
    return rc;
}

static ps_code md_records(rpm_md *m, pub *p, const char *repo, cr_Repomd *md, ps_error *err)
{
    GError *gerr = NULL;
    for (int i = 0; i < 3; i++) {
        cr_RepomdRecord *rec = cr_repomd_record_new(MD_NAMES[i], m->path[i]);
        if (rec == NULL)
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        cr_repomd_record_load_contentstat(rec, m->stat[i]);
        cr_repomd_record_set_timestamp(rec, p->now);
        if (cr_repomd_record_fill(rec, CR_CHECKSUM_SHA256, &gerr) != CRE_OK ||
            cr_repomd_record_rename_file(rec, &gerr) != CRE_OK) {
            cr_repomd_record_free(rec);
            return gerror(&gerr, m->path[i], err);
        }
        char *rel = ps_strdupf("rpm/%s/%s", repo, rec->location_href);
        cr_repomd_set_record(md, rec);
        if (rel == NULL || ps_strv_take(&p->hashfiles, rel, err) != PS_OK)
            return ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    return PS_OK;
}

static ps_code rpm_repomd(pub *p, const char *dir, cr_Repomd *md, ps_error *err)
{
    char rev[32];
    snprintf(rev, sizeof rev, "%ld", p->now);
    cr_repomd_set_revision(md, rev);
    cr_repomd_sort_records(md);
    GError *gerr = NULL;
    char *xml = cr_xml_dump_repomd(md, &gerr);
    if (xml == NULL)
        return gerror(&gerr, dir, err);
    ps_buf b = {0};
    char *path = ps_strdupf("%s/repomd.xml", dir), *asc = ps_strdupf("%s/repomd.xml.asc", dir);
    ps_code rc = path && asc ? ps_buf_append(&b, xml, strlen(xml), err)
                             : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = write_file(path, b.data, b.len, err);
    if (rc == PS_OK)
        rc = sign_to(p, &b, PS_SIGN_DETACHED_ARMOR, asc, err);
    g_free(xml);
    ps_buf_free(&b);
    free(path), free(asc);
    return rc;
}

static ps_code rpm_repo(pub *p, const char *repo, ps_error *err)
{
    char *dir = ps_strdupf("%s/rpm/%s/repodata", p->tree, repo);
    char *pool = ps_strdupf("%s/rpm/%s/pool", p->tree, repo);
    rpm_md m = {{0}, {0}, {0}};
    cr_Repomd *md = cr_repomd_new();
    long count = 0;
    ps_code rc = dir && pool && md ? ps_mkdir_p(dir, 0755, err)
                                   : ps_error_set(err, PS_ENOMEM, "out of memory");
    /* hrefs are pool/..., resolved through this link to the tree's pool. */
    if (rc == PS_OK && symlink("../../pool", pool) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", pool, strerror(errno));
    for (size_t i = 0; i < p->set.n; i++)
        count += rpm_lists(&p->set.v[i], repo);
    if (rc == PS_OK)
        rc = md_open(&m, dir, count, err);
    for (size_t i = 0; rc == PS_OK && i < p->set.n; i++)
        if (rpm_lists(&p->set.v[i], repo))
            rc = md_add(&m, p, &p->set.v[i], err);
    if (rc == PS_OK)
        rc = md_close(&m, err);
    if (rc == PS_OK)
        rc = md_records(&m, p, repo, md, err);
    if (rc == PS_OK)
        rc = rpm_repomd(p, dir, md, err);
    md_free(&m);
    if (md)
        cr_repomd_free(md);
    free(dir), free(pool);
    return rc;
}

/* ---- the generation ------------------------------------------------ */

static ps_code export_key(pub *p, ps_error *err)
{
    const char *org = ps_repo_conf_get(p->r, "Org");
    char *path = ps_strdupf("%s/keys/%s-archive-keyring.asc", p->tree, org ? org : "pkgsmith");
    ps_buf key = {0};
    ps_code rc = path ? mkdirs_for(path, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_signer_export_public(p->signer, &key, err);
    if (rc == PS_OK)
        rc = write_file(path, key.data, key.len, err);
    ps_buf_free(&key);
    free(path);
    return rc;
}

/* A client that read InRelease (or repomd.xml) of an earlier generation
 * must still find the indices it names: the hash-named files of the last
 * Keep-Generations - 1 generations are linked into this one. */
static ps_code carry_hashfiles(pub *p, const long *gens, size_t n, ps_error *err)
{
    ps_code rc = PS_OK;
    size_t first = n > (size_t)p->r->keep - 1 ? n - ((size_t)p->r->keep - 1) : 0;
    for (size_t g = first; rc == PS_OK && g < n; g++) {
        char *list = ps_strdupf("%s/generations/%ld/hashfiles", p->r->root, gens[g]);
        ps_buf b = {0};
        rc = list ? (ps_path_exists(list) ? ps_file_read(list, &b, err) : PS_OK) : PS_ENOMEM;
        char *save = NULL;
        for (char *l = b.data ? strtok_r((char *)b.data, "\n", &save) : NULL; rc == PS_OK && l;
             l = strtok_r(NULL, "\n", &save)) {
            char *from = ps_strdupf("%s/generations/%ld/tree/%s", p->r->root, gens[g], l);
            char *to = tree_path(p, l);
            if (from && to && ps_path_exists(from) && !ps_path_exists(to))
                rc = link_in_tree(from, to, err);
            free(from), free(to);
        }
        ps_buf_free(&b);
        free(list);
    }
    return rc;
}

static ps_code write_state(pub *p, ps_error *err)
{
    char *snap = ps_strdupf("%s/packages", p->dir), *hf = ps_strdupf("%s/hashfiles", p->dir);
    char *info = ps_strdupf("%s/info", p->dir);
    ps_buf b = {0};
    char date[64], until[64];
    ps_format_date(p->now, date, sizeof date);
    ps_format_date(p->now + p->r->valid_secs, until, sizeof until);
    ps_code rc = snap && hf && info ? ps_entries_save(snap, &p->r->db, err)
                                    : ps_error_set(err, PS_ENOMEM, "out of memory");
    /* With a suite pinned to a snapshot the tree serves more than the
     * working set (which rollback restores): `served` records it, for
     * `repo diff` and for gc. */
    char *served = p->npins ? ps_strdupf("%s/served", p->dir) : NULL;
    if (rc == PS_OK && p->npins)
        rc = served ? ps_entries_save(served, &p->set, err) : PS_ENOMEM;
    free(served);
    for (size_t i = 0; rc == PS_OK && i < p->hashfiles.n; i++)
        rc = ps_buf_appendf(&b, err, "%s\n", p->hashfiles.v[i]);
    if (rc == PS_OK)
        rc = write_file(hf, b.data ? (const void *)b.data : "", b.len, err);
    char *idx = ps_strdupf("%s/indexes", p->dir);
    if (rc == PS_OK)
        rc = idx ? write_file(idx, p->keys.data ? (const void *)p->keys.data : "", p->keys.len, err)
                 : PS_ENOMEM;
    free(idx);
    ps_buf_free(&b);
    if (rc == PS_OK)
        rc = ps_buf_appendf(&b, err,
                            "Generation: %ld\nDate: %s\nValid-Until: %s\nPackages: %zu\n"
                            "Signed-By: %s\n",
                            p->gen, date, until, p->set.n, ps_signer_fprs(p->signer));
    if (rc == PS_OK)
        rc = write_file(info, b.data, b.len, err);
    ps_buf_free(&b);
    free(snap), free(hf), free(info);
    return rc;
}

/* Everything below generations/.tmp-* is what a crashed publish left. */
static ps_code clean_stale(ps_repo *r, ps_error *err)
{
    char *gens = ps_repo_path(r, "generations");
    DIR *d = gens ? opendir(gens) : NULL;
    ps_code rc = d ? PS_OK : ps_error_set(err, PS_EIO, "%s: %s", gens ? gens : "generations",
                                          strerror(errno));
    for (struct dirent *de; rc == PS_OK && (de = readdir(d));) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        char *path = ps_strdupf("%s/%s", gens, de->d_name);
        rc = path ? ps_rm_rf(path, err) : PS_ENOMEM;
        free(path);
    }
    if (d)
        closedir(d);
    free(gens);
    return rc;
}

/* Next to the generation: each mirror's accepted upstream InRelease or
 * repomd.xml(.asc) and its signer, as they were when it was made. */
static ps_code link_provenance(pub *p, const char *name, ps_error *err)
{
    char *src = ps_strdupf("%s/mirrors/%s/provenance", p->r->root, name);
    char *dst = ps_strdupf("%s/provenance/%s", p->dir, name);
    DIR *d = src ? opendir(src) : NULL;
    ps_code rc = src && dst ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && d)
        rc = ps_mkdir_p(dst, 0755, err);
    for (struct dirent *de; rc == PS_OK && d && (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char *from = ps_strdupf("%s/%s", src, de->d_name);
        char *to = ps_strdupf("%s/%s", dst, de->d_name);
        if (from == NULL || to == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        else if (link(from, to) != 0)
            rc = ps_copy_file(from, to, err);
        free(from), free(to);
    }
    if (d)
        closedir(d);
    free(src), free(dst);
    return rc;
}

static ps_code copy_provenance(pub *p, ps_error *err)
{
    char *mirrors = ps_repo_path(p->r, "mirrors");
    DIR *d = mirrors ? opendir(mirrors) : NULL;
    ps_code rc = PS_OK;
    for (struct dirent *de; rc == PS_OK && d && (de = readdir(d));)
        if (de->d_name[0] != '.')
            rc = link_provenance(p, de->d_name, err);
    if (d)
        closedir(d);
    free(mirrors);
    return rc;
}

static ps_code build_tree(pub *p, const long *gens, size_t n, ps_error *err)
{
    char *pool = tree_path(p, "pool");
    ps_code rc = pool ? ps_mkdir_p(p->tree, 0755, err) : PS_ENOMEM;
    if (rc == PS_OK && symlink("../../../pool", pool) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", pool, strerror(errno));
    free(pool);
    for (size_t s = 0; rc == PS_OK && s < p->r->suites.n; s++)
        rc = apt_suite(p, p->r->suites.v[s], err);
    for (size_t s = 0; rc == PS_OK && s < p->r->rpm_repos.n; s++)
        rc = rpm_repo(p, p->r->rpm_repos.v[s], err);
    if (rc == PS_OK)
        rc = export_key(p, err);
    if (rc == PS_OK)
        rc = carry_hashfiles(p, gens, n, err);
    if (rc == PS_OK)
        rc = copy_provenance(p, err);
    if (rc == PS_OK)
        rc = write_state(p, err);
    return rc;
}

/* Makes the finished directory generation N, then the served one. */
static ps_code commit(pub *p, ps_error *err)
{
    char *final = ps_repo_gen_path(p->r, p->gen);
    char *gens = ps_repo_path(p->r, "generations");
    char *link = ps_repo_path(p->r, "public");
    char *target = ps_strdupf("generations/%ld/tree", p->gen);
    ps_code rc = final && gens && link && target ? PS_OK : PS_ENOMEM;
    /* Before the sync, so the modes are as durable as the files. */
    if (rc == PS_OK)
        rc = ps_repo_servable(p->r, p->dir, &p->set, err);
    int fd = rc == PS_OK ? open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    /* One syncfs instead of an fsync per file and directory. */
    if (rc == PS_OK && (fd < 0 || syncfs(fd) != 0))
        rc = ps_error_set(err, PS_EIO, "%s: sync: %s", p->dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == PS_OK && rename(p->dir, final) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", final, strerror(errno));
    if (rc == PS_OK)
        rc = ps_fsync_dir(gens, err);
    if (rc == PS_OK)
        rc = ps_symlink_replace(target, link, err);
    free(final), free(gens), free(link), free(target);
    return rc;
}

/* ---- pruning ------------------------------------------------------- */

static ps_code snapshot_shas(const ps_repo *r, long gen, GHashTable *into, ps_error *err)
{
    char *path = ps_strdupf("%s/generations/%ld/packages", r->root, gen);
    char *served = ps_strdupf("%s/generations/%ld/served", r->root, gen);
    ps_entries e = {0};
    ps_code rc = path && served ? ps_entries_load(path, &e, err) : PS_ENOMEM;
    if (rc == PS_OK && ps_path_exists(served))
        rc = ps_entries_load(served, &e, err);
    free(served);
    for (size_t i = 0; rc == PS_OK && i < e.n; i++)
        g_hash_table_add(into, strdup(e.v[i].sha256));
    ps_entries_free(&e);
    free(path);
    return rc;
}

/* Keeps the newest Keep-Generations generations; package files of the
 * pruned ones and of RETIRED that nothing references any more (no kept
 * generation, snapshot or the working set) leave the pool. */
static ps_code prune(ps_repo *r, const ps_strv *retired, size_t *pruned, ps_error *err)
{
    long *gens = NULL, cur = ps_repo_current(r);
    size_t n = 0;
    ps_code rc = ps_repo_list_gens(r, &gens, &n, err);
    GHashTable *cand = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    ps_strv shas = {0};
    size_t drop = rc == PS_OK && n > (size_t)r->keep ? n - (size_t)r->keep : 0;
    *pruned = 0;
    for (size_t i = 0; rc == PS_OK && i < drop; i++) {
        if (gens[i] == cur)
            continue;
        char *dir = ps_repo_gen_path(r, gens[i]);
        rc = dir ? snapshot_shas(r, gens[i], cand, err) : PS_ENOMEM;
        if (rc == PS_OK)
            rc = ps_rm_rf(dir, err);
        free(dir);
        *pruned += rc == PS_OK;
    }
    for (size_t i = 0; rc == PS_OK && i < retired->n; i++)
        g_hash_table_add(cand, strdup(retired->v[i]));
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, cand);
    while (rc == PS_OK && g_hash_table_iter_next(&it, &key, NULL))
        rc = ps_strv_add(&shas, key, err);
    if (rc == PS_OK)
        rc = ps_repo_collect(r, &shas, err);
    ps_strv_free(&shas);
    g_hash_table_destroy(cand);
    free(gens);
    return rc;
}

ps_code ps_repo_publish(ps_repo *r, ps_repo_published *out, ps_error *err)
{
    pub p = {.r = r, .now = (long)time(NULL)};
    long *gens = NULL;
    size_t n = 0;
    memset(out, 0, sizeof *out);
    if (r->lockfd < 0)
        return ps_error_set(err, PS_EINPUT, "publish needs the repository opened for writing");
    /* The key first: a missing secret key must fail before any writing. */
    p.signer = ps_signer_new(ps_repo_gnupg_home(r), ps_repo_conf_get(r, "Signing-Key"), err);
    ps_code rc = p.signer ? clean_stale(r, err) : PS_EKEY;
    ps_strv retired = {0};
    if (rc == PS_OK)
        rc = ps_repo_retain(r, &retired, err);
    if (rc == PS_OK)
        rc = ps_repo_served(r, &p.set, &p.npins, err);
    if (rc == PS_OK)
        rc = ps_repo_list_gens(r, &gens, &n, err);
    if (rc == PS_OK)
        rc = load_prev_keys(&p, err);
    p.gen = (n ? gens[n - 1] : 0) + 1;
    if (p.gen <= ps_repo_current(r))
        p.gen = ps_repo_current(r) + 1;
    char *parent = rc == PS_OK ? ps_repo_path(r, "generations") : NULL;
    if (rc == PS_OK && (parent == NULL || (p.dir = ps_mkdtemp_in(parent, ".tmp-", err)) == NULL))
        rc = err && err->code ? err->code : PS_ENOMEM;
    if (rc == PS_OK && (p.tree = ps_strdupf("%s/tree", p.dir)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = build_tree(&p, gens, n, err);
    if (rc == PS_OK)
        rc = commit(&p, err);
    if (rc != PS_OK && p.dir)
        ps_rm_rf(p.dir, NULL); /* never visible; the old generation stays served */
    if (rc == PS_OK) {
        out->generation = p.gen;
        out->packages = p.set.n;
        out->retired = retired.n;
        out->nkeys = ps_repo_keys(r)->n;
        ps_format_date(p.now, out->date, sizeof out->date);
        ps_format_date(p.now + r->valid_secs, out->valid_until, sizeof out->valid_until);
        snprintf(out->fpr, sizeof out->fpr, "%s", ps_signer_fpr(p.signer));
        rc = prune(r, &retired, &out->pruned, err);
    }
    ps_signer_free(p.signer);
    ps_strv_free(&p.hashfiles);
    ps_buf_free(&p.keys), ps_buf_free(&p.prev_keys);
    ps_strv_free(&retired);
    ps_entries_free(&p.set);
    free(parent), free(p.dir), free(p.tree), free(gens);
    return rc;
}
