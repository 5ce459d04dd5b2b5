/* ps_bundle_import.c - `pkgsmith bundle import`: verify a bundle from
 * removable media completely, then publish it with our own key.
 *
 * Order: the manifest's signature against the pinned transfer keys; the
 * manifest's claims against this repository (already imported? older?
 * base present? targets configured?), so a wrong bundle fails before a
 * gigabyte is read; every member streamed into ROOT/bundles/incoming/
 * and hashed on the way; only then the working set and the normal atomic
 * publish.  The log marks the import pending before the working set
 * changes, so a re-run after a crash publishes what the first run left. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ps_bundle_priv.h"
#include "ps_pgp.h"
#include "ps_repo.h"
#include "ps_repo_push.h"

#define READ_BLOCK (1u << 20)

typedef struct imp {
    const ps_bundle_import_opts *o;
    ps_error *err;
    ps_repo *r;
    ps_strv files;
    const char *name;          /* the bundle, for messages */
    char *stem;                /* FILE of FILE.001, FILE.002, ...; NULL: files given */
    uint64_t head_bytes;       /* tar bytes of MANIFEST and MANIFEST.asc, at least */
    ps_bundle_manifest *m;
    ps_bundle_event *log;
    size_t nlog;
    char *stage;               /* ROOT/bundles/incoming/ORIGIN-GEN */
    GHashTable *pooled;        /* SHA-256 -> href of the working set */
    GHashTable *shipped;       /* hrefs the bundle carries */
    struct archive *a;
    int was_pending;
} imp;

/* ---- the files: a bundle, or its chunks ------------------------------ */

static ps_code add_chunks(imp *x, const char *stem, size_t first)
{
    ps_code rc = PS_OK;
    for (size_t i = first; rc == PS_OK && i < 1000; i++) {
        char *c = ps_strdupf("%s.%03zu", stem, i);
        if (c == NULL)
            return ps_error_set(x->err, PS_ENOMEM, "out of memory");
        if (!ps_path_exists(c)) {
            free(c);
            break;
        }
        rc = ps_strv_take(&x->files, c, x->err);
    }
    return rc;
}

static ps_code resolve_files(imp *x)
{
    const ps_bundle_import_opts *o = x->o;
    ps_code rc = o->nfiles ? PS_OK : ps_error_set(x->err, PS_EINPUT, "no bundle file given");
    for (size_t i = 0; rc == PS_OK && i < o->nfiles; i++) {
        const char *f = o->files[i];
        size_t before = x->files.n;
        if (ps_path_exists(f))
            rc = ps_strv_add(&x->files, f, x->err);
        else if ((rc = add_chunks(x, f, 1)) == PS_OK && x->files.n > before && o->nfiles == 1)
            x->stem = strdup(f);
        if (rc == PS_OK && x->files.n == before)
            rc = ps_error_set(x->err, PS_EINPUT, "%s: no such file (nor %s.001)", f, f);
    }
    /* FILE.001 alone stands for all of its chunks. */
    if (rc == PS_OK && o->nfiles == 1 && x->files.n == 1 && ps_str_ends_with(o->files[0], ".001")) {
        char *stem = strdup(o->files[0]);
        if (stem == NULL)
            return ps_error_set(x->err, PS_ENOMEM, "out of memory");
        stem[strlen(stem) - 4] = '\0';
        rc = add_chunks(x, stem, 2);
        x->stem = stem;
    }
    x->name = rc == PS_OK ? x->files.v[0] : NULL;
    return rc;
}

/* Bytes a tar member of SIZE takes at least: its header and its data in
 * 512-byte blocks (pax headers, when there are some, come on top). */
static uint64_t tar_bytes(uint64_t size)
{
    return 512 + (size + 511) / 512 * 512;
}

/* A tar ends in two zero blocks: a full-size last chunk that does not is
 * followed by one that is missing. */
static int ends_tar(const char *path, uint64_t size)
{
    unsigned char b[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC), zero = 0;
    if (fd >= 0 && size >= sizeof b && pread(fd, b, sizeof b, (off_t)(size - sizeof b)) ==
                                           (ssize_t)sizeof b) {
        zero = 1;
        for (size_t i = 0; i < sizeof b; i++)
            zero &= b[i] == 0;
    }
    if (fd >= 0)
        close(fd);
    return zero;
}

/* The signed manifest gives every member's size, so the least number of
 * chunks is known: a missing chunk is named before any member is read. */
static ps_code check_count(imp *x, uint64_t last_size)
{
    uint64_t least = x->head_bytes + 1024;
    for (size_t i = 0; i < x->m->nmembers; i++)
        least += tar_bytes(x->m->members[i].size);
    size_t need = (size_t)((least + x->m->split - 1) / x->m->split), have = x->files.n;
    if (have >= need && (last_size < x->m->split || ends_tar(x->files.v[have - 1], last_size)))
        return PS_OK;
    if (have >= need) /* a full-size last chunk without the tar's end */
        need = have + 1;
    char missing[700];
    if (x->stem)
        snprintf(missing, sizeof missing, "%.600s.%03zu: no such file", x->stem, have + 1);
    else
        snprintf(missing, sizeof missing, "%.600s: chunk %zu of the bundle is not among the "
                 "%zu files given", x->name, have + 1, have);
    return ps_error_set(x->err, PS_EVERIFY,
                        "%s: the signed manifest lists %zu members, so the bundle has at least "
                        "%zu chunks of %llu bytes and %zu are here: copy the missing chunk from "
                        "the medium; nothing imported",
                        missing, x->m->nmembers + 2, need, (unsigned long long)x->m->split, have);
}

/* Every chunk but the last is exactly the split size: a truncated or
 * foreign chunk is named before anything is read from it. */
static ps_code check_chunks(imp *x)
{
    struct stat st;
    if (x->m->split && stat(x->files.v[x->files.n - 1], &st) != 0)
        return ps_error_set(x->err, PS_EIO, "%s: %s", x->files.v[x->files.n - 1], strerror(errno));
    for (size_t i = 0; x->m->split && i + 1 < x->files.n; i++) {
        struct stat st;
        if (stat(x->files.v[i], &st) != 0)
            return ps_error_set(x->err, PS_EIO, "%s: %s", x->files.v[i], strerror(errno));
        if ((uint64_t)st.st_size != x->m->split)
            return ps_error_set(x->err, PS_EVERIFY,
                                "%s: %lld bytes, but the bundle was cut into chunks of %llu: "
                                "truncated or not a chunk of this bundle; nothing imported",
                                x->files.v[i], (long long)st.st_size,
                                (unsigned long long)x->m->split);
    }
    return x->m->split ? check_count(x, (uint64_t)st.st_size) : PS_OK;
}

/* ---- the manifest ------------------------------------------------------ */

static ps_code load_keys(imp *x, ps_verifier *v)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < x->o->nkeys; i++)
        rc = ps_verifier_import_file(v, x->o->keys[i], x->err);
    const char *conf = x->r ? ps_repo_conf_get(x->r, "Transfer-Keys") : NULL;
    char *copy = x->o->nkeys == 0 && conf ? strdup(conf) : NULL, *save = NULL;
    for (char *w = copy ? strtok_r(copy, " \t\n", &save) : NULL; rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n", &save))
        rc = ps_verifier_import_file(v, w, x->err);
    free(copy);
    if (rc == PS_OK && ps_verifier_nkeys(v) == 0)
        rc = ps_error_set(x->err, PS_EKEY,
                          "no transfer key is pinned: pass --transfer-key FILE or set "
                          "Transfer-Keys in %s/repo.conf",
                          x->r ? ps_repo_root(x->r) : x->o->root);
    return rc;
}

/* The next member must be NAME, a regular file of at most MAX bytes. */
static ps_code read_small(imp *x, const char *name, size_t max, ps_buf *out)
{
    struct archive_entry *e;
    int r = archive_read_next_header(x->a, &e);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return ps_error_set(x->err, PS_EVERIFY, "%s: not a bundle (no %s): %s", x->name, name,
                            r == ARCHIVE_EOF ? "empty" : archive_error_string(x->a));
    const char *got = archive_entry_pathname(e);
    la_int64_t size = archive_entry_size(e);
    if (got == NULL || strcmp(got, name) != 0 || archive_entry_filetype(e) != AE_IFREG)
        return ps_error_set(x->err, PS_EVERIFY, "%s: not a bundle: member '%s' where %s belongs",
                            x->name, got ? got : "?", name);
    if (size < 0 || (uint64_t)size > max)
        return ps_error_set(x->err, PS_EVERIFY, "%s: %s is larger than %zu bytes", x->name, name,
                            max);
    ps_code rc = PS_OK;
    char buf[65536];
    for (la_ssize_t n; rc == PS_OK && (n = archive_read_data(x->a, buf, sizeof buf)) != 0;)
        rc = n < 0 ? ps_error_set(x->err, PS_EVERIFY, "%s: %s: %s", x->name, name,
                                  archive_error_string(x->a))
             : out->len + (size_t)n > max ? ps_error_set(x->err, PS_EVERIFY, "%s: %s too large",
                                                         x->name, name)
                                          : ps_buf_append(out, buf, (size_t)n, x->err);
    return rc;
}

static ps_code open_manifest(imp *x, char signer[41])
{
    ps_buf text = {0}, sig = {0};
    char what[600];
    ps_verifier *v = ps_verifier_new(x->err);
    ps_code rc = v ? load_keys(x, v) : (x->err && x->err->code ? x->err->code : PS_ELIB);
    x->a = archive_read_new();
    if (rc == PS_OK && x->a == NULL)
        rc = ps_error_set(x->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && (archive_read_support_format_tar(x->a) != ARCHIVE_OK ||
                        archive_read_open_filenames(x->a, (const char **)x->files.v,
                                                    READ_BLOCK) != ARCHIVE_OK))
        rc = ps_error_set(x->err, PS_EIO, "%s: %s", x->name, archive_error_string(x->a));
    if (rc == PS_OK)
        rc = read_small(x, "MANIFEST", PS_BUNDLE_MANIFEST_MAX, &text);
    if (rc == PS_OK)
        rc = read_small(x, "MANIFEST.asc", PS_BUNDLE_SIG_MAX, &sig);
    snprintf(what, sizeof what, "%s: MANIFEST", x->name);
    x->head_bytes = tar_bytes(text.len) + tar_bytes(sig.len);
    ps_span part = {text.data, text.len};
    if (rc == PS_OK)
        rc = ps_verifier_verify(v, sig.data, sig.len, &part, 1, NULL, what, signer, x->err);
    if (rc == PS_OK && (x->m = ps_bundle_manifest_parse(text.data, text.len, what, x->err)) == NULL)
        rc = x->err && x->err->code ? x->err->code : PS_EVERIFY;
    ps_buf_free(&text), ps_buf_free(&sig);
    ps_verifier_free(v);
    return rc;
}

/* ---- the manifest against this repository ----------------------------- */

static const ps_bundle_event *done(const imp *x, long gen)
{
    const ps_bundle_event *e = ps_bundle_log_find(x->log, x->nlog, "import", x->m->origin, gen);
    return e && strcmp(e->status, "done") == 0 ? e : NULL;
}

/* Already imported: 1.  Older than one imported, or a missing base: an
 * error naming the generations. */
static ps_code check_lineage(imp *x, int *already)
{
    const ps_bundle_manifest *m = x->m;
    long newest = 0;
    ps_buf have = {0};
    ps_code rc = PS_OK;
    for (size_t i = 0; i < x->nlog; i++)
        if (strcmp(x->log[i].kind, "import") == 0 && strcmp(x->log[i].origin, m->origin) == 0 &&
            strcmp(x->log[i].status, "done") == 0) {
            newest = x->log[i].generation > newest ? x->log[i].generation : newest;
            rc = ps_buf_appendf(&have, x->err, "%s%ld", have.len ? ", " : "", x->log[i].generation);
        }
    const ps_bundle_event *p = ps_bundle_log_find(x->log, x->nlog, "import", m->origin, m->generation);
    x->was_pending = p && strcmp(p->status, "pending") == 0;
    *already = done(x, m->generation) != NULL;
    if (rc == PS_OK && !*already && newest > m->generation)
        rc = ps_error_set(x->err, PS_EINPUT,
                          "%s: brings generation %ld of origin %s, but generation %ld is already "
                          "imported: refusing to go back",
                          x->name, m->generation, m->origin, newest);
    if (rc == PS_OK && !*already && m->base && !done(x, m->base))
        rc = ps_error_set(x->err, PS_EINPUT,
                          "%s: a delta on top of generation %ld of origin %s, which is not "
                          "imported here (imported: %s): import the bundle of generation %ld "
                          "first, or export with --full",
                          x->name, m->base, m->origin, have.len ? (char *)have.data : "none",
                          m->base);
    ps_buf_free(&have);
    return rc;
}

/* Every package's target is configured here, and every package the
 * bundle does not carry is already in the working set. */
static ps_code check_contents(imp *x)
{
    const ps_bundle_manifest *m = x->m;
    for (size_t i = 0; i < ps_repo_count(x->r); i++) {
        ps_repo_pkg p = ps_repo_pkg_at(x->r, i);
        /* copies: ps_repo_set_source replaces the working set's strings */
        g_hash_table_insert(x->pooled, g_strdup(p.sha256), g_strdup(p.href));
    }
    for (size_t i = 0; i < m->nmembers; i++)
        if (strncmp(m->members[i].path, "pool/", 5) == 0)
            g_hash_table_add(x->shipped, m->members[i].path);
    for (size_t k = 0; k < m->nmirrors; k++)
        for (size_t i = 0; i < m->mirrors[k].npkgs; i++) {
            const ps_bundle_pkg *p = &m->mirrors[k].pkgs[i];
            if (!ps_repo_has_target(x->r, p->kind, p->target))
                return ps_error_set(x->err, PS_EINPUT,
                                    "%s: mirror %s puts packages into %s '%s', which %s/repo.conf "
                                    "does not have: add it there, then re-run the import",
                                    x->name, m->mirrors[k].name,
                                    strcmp(p->kind, "rpm") ? "suite/component" : "rpm repo",
                                    p->target, ps_repo_root(x->r));
            if (!g_hash_table_contains(x->shipped, p->href) &&
                !g_hash_table_contains(x->pooled, p->sha256))
                return ps_error_set(x->err, PS_EINPUT,
                                    "%s: %s %s (%s, SHA-256 %s) is neither in the bundle nor in "
                                    "%s: the base generation %ld is missing here; import it first",
                                    x->name, p->name, p->version, p->arch, p->sha256,
                                    ps_repo_root(x->r), m->base);
        }
    return PS_OK;
}

/* ---- streaming the members into the staging directory ---------------- */

static ps_code member_fail(imp *x, size_t i, const char *why)
{
    return ps_error_set(x->err, PS_EVERIFY, "%s: member %zu of %zu (%s): %s; nothing imported",
                        x->name, i + 3, x->m->nmembers + 2, x->m->members[i].path, why);
}

static ps_code copy_data(imp *x, size_t i, int fd, ps_sha256 *h, uint64_t *done_bytes)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    uint64_t at = 0;
    for (;;) {
        int r = archive_read_data_block(x->a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            char why[600];
            snprintf(why, sizeof why, "unreadable (truncated bundle or chunk?): %s",
                     archive_error_string(x->a));
            return member_fail(x, i, why);
        }
        if (off < 0 || (uint64_t)off != at)
            return member_fail(x, i, "holes in a member");
        ps_sha256_update(h, buf, len);
        if (fd >= 0 && ps_fd_write_all(fd, buf, len) != 0)
            return ps_error_set(x->err, PS_EIO, "%s/%s: %s", x->stage, x->m->members[i].path,
                                strerror(errno));
        at += (uint64_t)len;
        *done_bytes = at;
    }
    return PS_OK;
}

static ps_code stage_member(imp *x, size_t i, uint64_t *progress_base)
{
    const ps_bundle_member *mb = &x->m->members[i];
    struct archive_entry *e;
    int r = archive_read_next_header(x->a, &e);
    if (r == ARCHIVE_EOF)
        return member_fail(x, i, "the bundle ends before it (truncated, or a chunk missing)");
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return member_fail(x, i, archive_error_string(x->a));
    const char *got = archive_entry_pathname(e);
    if (got == NULL || strcmp(got, mb->path) != 0) {
        char why[600];
        snprintf(why, sizeof why, "the bundle has '%.500s' in its place (reordered or foreign)",
                 got ? got : "?");
        return member_fail(x, i, why);
    }
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) != (la_int64_t)mb->size)
        return member_fail(x, i, "not a regular file of the size the manifest gives");
    /* Without a staging directory (bundle verify) the member is only hashed. */
    char *dst = x->stage ? ps_strdupf("%s/%s", x->stage, mb->path) : NULL;
    char *tmp = dst ? ps_strdupf("%s.part", dst) : NULL, *dir = dst ? strdup(dst) : NULL;
    ps_sha256 *h = !x->stage || (dir && tmp) ? ps_sha256_new(x->err) : NULL;
    ps_code rc = h ? PS_OK : ps_error_set(x->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && dir)
        *strrchr(dir, '/') = '\0', rc = ps_mkdir_p(dir, 0755, x->err);
    int fd = rc == PS_OK && tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (rc == PS_OK && tmp && fd < 0)
        rc = ps_error_set(x->err, PS_EIO, "%s: %s", tmp, strerror(errno));
    uint64_t got_bytes = 0;
    if (rc == PS_OK)
        rc = copy_data(x, i, fd, h, &got_bytes);
    if (fd >= 0 && close(fd) != 0 && rc == PS_OK)
        rc = ps_error_set(x->err, PS_EIO, "%s: %s", tmp, strerror(errno));
    char sha[65] = "";
    if (h)
        ps_sha256_final(h, sha);
    if (rc == PS_OK && (got_bytes != mb->size || strcmp(sha, mb->sha256) != 0)) {
        char why[300];
        snprintf(why, sizeof why, "SHA-256 %s, but the signed manifest says %s: altered or damaged",
                 sha, mb->sha256);
        rc = member_fail(x, i, why);
    }
    if (rc == PS_OK && dst && rename(tmp, dst) != 0)
        rc = ps_error_set(x->err, PS_EIO, "%s: %s", dst, strerror(errno));
    if (rc != PS_OK && tmp)
        unlink(tmp);
    *progress_base += mb->size;
    free(dst), free(tmp), free(dir);
    return rc;
}

static ps_code stream(imp *x)
{
    uint64_t done_bytes = 0, total = 0;
    double last = 0;
    for (size_t i = 0; i < x->m->nmembers; i++)
        total += x->m->members[i].size;
    ps_code rc = x->stage ? ps_mkdir_p(x->stage, 0755, x->err) : PS_OK;
    for (size_t i = 0; rc == PS_OK && i < x->m->nmembers; i++) {
        rc = stage_member(x, i, &done_bytes);
        double t = ps_now();
        if (x->o->progress && (t - last > 0.2 || i + 1 == x->m->nmembers))
            last = t, x->o->progress(x->o->progress_ud, done_bytes, total);
    }
    struct archive_entry *e;
    int r = rc == PS_OK ? archive_read_next_header(x->a, &e) : ARCHIVE_EOF;
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
        rc = ps_error_set(x->err, PS_EVERIFY,
                          "%s: member '%s' after the %zu the signed manifest lists: not part of "
                          "the bundle; nothing imported",
                          x->name, archive_entry_pathname(e) ? archive_entry_pathname(e) : "?",
                          x->m->nmembers + 2);
    else if (r != ARCHIVE_EOF)
        rc = ps_error_set(x->err, PS_EVERIFY, "%s: damaged after the last member: %s", x->name,
                          archive_error_string(x->a));
    return rc;
}

/* ---- commit: working set, mirror state, publish ----------------------- */

static ps_code log_event(imp *x, const char *status, uint64_t bytes)
{
    ps_bundle_event ev = {"import", "", x->m->generation, x->m->base, (long)time(NULL),
                          x->m->nmembers, bytes, "", ""};
    memcpy(ev.origin, x->m->origin, 33);
    snprintf(ev.status, sizeof ev.status, "%s", status);
    snprintf(ev.file, sizeof ev.file, "%s", x->name);
    return ps_bundle_log_put(ps_repo_root(x->r), &ev, x->err);
}

static ps_code mirror_items(imp *x, const ps_bundle_mirror *mi, ps_repo_item *items,
                            char **files, ps_buf *recs)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < mi->npkgs; i++) {
        const ps_bundle_pkg *p = &mi->pkgs[i];
        ps_repo_item *it = &items[i];
        *it = (ps_repo_item){p->kind, p->target, p->name, p->version, p->arch, p->sha256,
                             p->size, p->href, NULL, NULL, 0};
        if (!g_hash_table_contains(x->shipped, p->href)) {
            it->href = g_hash_table_lookup(x->pooled, p->sha256);
            continue;
        }
        char *meta = ps_strdupf("%s/meta/%.2s/%s", x->stage, p->sha256, p->sha256);
        files[i] = ps_strdupf("%s/%s", x->stage, p->href);
        rc = meta && files[i] ? ps_file_read(meta, &recs[i], x->err)
                              : ps_error_set(x->err, PS_ENOMEM, "out of memory");
        /* A pool file listed by two mirrors moves once; the second finds it. */
        it->file = ps_path_exists(files[i]) ? files[i] : NULL;
        it->record = recs[i].data, it->record_len = recs[i].len;
        free(meta);
    }
    return rc;
}

/* ROOT/mirrors/NAME/{provenance,client-keys} become the bundle's. */
static ps_code mirror_state(imp *x, const char *name)
{
    static const char *const SUB[] = {"provenance", "client-keys"};
    ps_code rc = PS_OK;
    for (size_t k = 0; rc == PS_OK && k < 2; k++) {
        char *from = ps_strdupf("%s/mirrors/%s/%s", x->stage, name, SUB[k]);
        char *dir = ps_strdupf("%s/mirrors/%s", ps_repo_root(x->r), name);
        char *to = ps_strdupf("%s/%s", dir ? dir : "", SUB[k]);
        rc = from && dir && to ? ps_mkdir_p(dir, 0755, x->err)
                               : ps_error_set(x->err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK)
            ps_rm_rf(to, NULL);
        if (rc == PS_OK && ps_path_exists(from) && rename(from, to) != 0)
            rc = ps_error_set(x->err, PS_EIO, "%s: %s", to, strerror(errno));
        free(from), free(dir), free(to);
    }
    return rc;
}

static ps_code apply_mirror(imp *x, const ps_bundle_mirror *mi, int *changed)
{
    size_t n = mi->npkgs ? mi->npkgs : 1, added = 0, removed = 0;
    ps_repo_item *items = calloc(n, sizeof *items);
    char **files = calloc(n, sizeof *files);
    ps_buf *recs = calloc(n, sizeof *recs);
    char *source = ps_strdupf("mirror:%s", mi->name);
    int ch = 0;
    ps_code rc = items && files && recs && source ? mirror_items(x, mi, items, files, recs)
                                                  : ps_error_set(x->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_repo_set_source(x->r, source, items, mi->npkgs, &added, &removed, &ch, x->err);
    if (rc == PS_OK)
        rc = mirror_state(x, mi->name);
    *changed |= ch;
    for (size_t i = 0; files && recs && i < mi->npkgs; i++)
        free(files[i]), ps_buf_free(&recs[i]);
    free(items), free(files), free(recs), free(source);
    return rc;
}

static ps_code commit(imp *x, ps_bundle_result *out)
{
    int changed = 0;
    ps_code rc = log_event(x, "pending", out->bytes);
    for (size_t k = 0; rc == PS_OK && k < x->m->nmirrors; k++)
        rc = apply_mirror(x, &x->m->mirrors[k], &changed);
    if (rc == PS_OK && (changed || x->was_pending || ps_repo_current(x->r) == 0)) {
        ps_repo_published pub;
        ps_repo_pushed pushed; /* to Publish-To targets, as `repo publish` */
        rc = ps_repo_publish_push(x->r, &pub, &pushed, x->err);
        out->published = rc == PS_OK;
    }
    if (rc == PS_OK)
        rc = log_event(x, "done", out->bytes);
    if (rc == PS_OK)
        ps_rm_rf(x->stage, NULL);
    return rc;
}

static void describe(const ps_bundle_manifest *m, ps_bundle_result *out)
{
    memcpy(out->origin, m->origin, 33);
    out->generation = m->generation, out->base = m->base, out->members = m->nmembers;
    for (size_t i = 0; i < m->nmembers; i++) {
        out->bytes += m->members[i].size;
        out->files += strncmp(m->members[i].path, "pool/", 5) == 0;
    }
    for (size_t k = 0; k < m->nmirrors; k++)
        out->packages += m->mirrors[k].npkgs;
}

static ps_code run(imp *x, ps_bundle_result *out)
{
    int already = 0;
    ps_code rc = open_manifest(x, out->signer);
    if (rc == PS_OK)
        rc = ps_bundle_list(ps_repo_root(x->r), &x->log, &x->nlog, x->err);
    if (rc == PS_OK)
        rc = check_lineage(x, &already);
    if (rc != PS_OK)
        return rc;
    const ps_bundle_manifest *m = x->m;
    describe(m, out);
    char rel[80];
    snprintf(rel, sizeof rel, "incoming/%s-%ld", m->origin, m->generation);
    if ((x->stage = ps_bundle_path(ps_repo_root(x->r), rel)) == NULL)
        return ps_error_set(x->err, PS_ENOMEM, "out of memory");
    if (already) {
        ps_rm_rf(x->stage, NULL); /* what a run killed after its commit left */
        out->nothing = 1;
        return PS_OK;
    }
    rc = check_chunks(x);
    if (rc == PS_OK)
        rc = check_contents(x);
    if (rc == PS_OK)
        rc = stream(x);
    if (rc == PS_OK)
        rc = commit(x, out);
    return rc;
}

static void imp_free(imp *x)
{
    if (x->a)
        archive_read_free(x->a);
    g_hash_table_destroy(x->pooled), g_hash_table_destroy(x->shipped);
    ps_bundle_manifest_free(x->m);
    ps_repo_free(x->r);
    ps_strv_free(&x->files);
    free(x->log), free(x->stage), free(x->stem);
}

/* The files resolved and, unless VERIFY was given keys, the repository
 * opened: for writing (import) or only for its Transfer-Keys (verify). */
static ps_code imp_open(imp *x, const ps_bundle_import_opts *o, int verify, ps_error *err)
{
    *x = (imp){.o = o, .err = err};
    x->pooled = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    x->shipped = g_hash_table_new(g_str_hash, g_str_equal);
    ps_code rc = resolve_files(x);
    if (rc == PS_OK && !(verify && o->nkeys) &&
        (x->r = ps_repo_open(o->root, !verify, o->wait_seconds, err)) == NULL)
        rc = err && err->code ? err->code : PS_EINPUT;
    return rc;
}

/* Everything import checks of the bundle itself, reading it once and
 * writing nothing: the signature, the chunks, every member's size and
 * SHA-256. */
static ps_code verify_run(imp *x, ps_bundle_result *out)
{
    ps_code rc = open_manifest(x, out->signer);
    if (rc == PS_OK)
        describe(x->m, out), rc = check_chunks(x);
    return rc == PS_OK ? stream(x) : rc;
}

static ps_code read_bundle(const ps_bundle_import_opts *o, int verify, ps_bundle_result *out,
                           ps_error *err)
{
    double t0 = ps_now();
    memset(out, 0, sizeof *out);
    imp x;
    ps_code rc = imp_open(&x, o, verify, err);
    if (rc == PS_OK)
        rc = verify ? verify_run(&x, out) : run(&x, out);
    if (x.r && !verify)
        out->published_gen = ps_repo_current(x.r);
    imp_free(&x);
    out->duration = ps_now() - t0;
    return rc;
}

ps_code ps_bundle_verify(const ps_bundle_import_opts *o, ps_bundle_result *out, ps_error *err)
{
    return read_bundle(o, 1, out, err);
}

ps_code ps_bundle_import(const ps_bundle_import_opts *o, ps_bundle_result *out, ps_error *err)
{
    return read_bundle(o, 0, out, err);
}
