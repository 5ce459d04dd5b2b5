/* ps_bundle_export.c - `pkgsmith bundle export`: the mirrors' packages the
 * offline side lacks, their records and provenance, and a signed manifest,
 * streamed into one tar (or numbered chunks of it).
 *
 * Every pool file is hashed again while it is copied: a pool damaged on
 * this side must fail here, not on the far side of the air gap. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ps_bundle_priv.h"
#include "ps_pgp.h"
#include "ps_repo.h"

#define COPY_BUF (1u << 20)
#define MAX_CHUNKS 999

/* ---- where the tar's bytes go: one file, or chunks of SPLIT bytes ---- */

typedef struct sink {
    const char *out;
    uint64_t split, used, total;
    int fd;
    ps_strv tmp, final;
    ps_error *err;
} sink;

static ps_code sink_close(sink *k)
{
    int fd = k->fd;
    k->fd = -1;
    if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0))
        return ps_error_set(k->err, PS_EIO, "%s: %s", k->tmp.v[k->tmp.n - 1], strerror(errno));
    return PS_OK;
}

static ps_code sink_next(sink *k)
{
    ps_code rc = sink_close(k);
    size_t i = k->final.n + 1;
    if (rc == PS_OK && i > MAX_CHUNKS)
        return ps_error_set(k->err, PS_EINPUT, "%s: more than %d chunks: choose a larger --split",
                            k->out, MAX_CHUNKS);
    char *f = k->split ? ps_strdupf("%s.%03zu", k->out, i) : strdup(k->out);
    char *t = f ? ps_strdupf("%s.part", f) : NULL;
    if (rc == PS_OK && (f == NULL || t == NULL))
        rc = ps_error_set(k->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && (rc = ps_strv_take(&k->final, f, k->err)) == PS_OK)
        f = NULL, rc = ps_strv_take(&k->tmp, t, k->err), t = NULL;
    if (rc == PS_OK) {
        k->fd = open(k->tmp.v[k->tmp.n - 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (k->fd < 0)
            rc = ps_error_set(k->err, PS_EIO, "%s: %s", k->tmp.v[k->tmp.n - 1], strerror(errno));
    }
    k->used = 0;
    free(f), free(t);
    return rc;
}

static la_ssize_t sink_write(struct archive *a, void *ud, const void *buf, size_t len)
{
    sink *k = ud;
    const char *p = buf;
    for (size_t left = len; left > 0;) {
        if ((k->fd < 0 || (k->split && k->used == k->split)) && sink_next(k) != PS_OK) {
            archive_set_error(a, EIO, "%s", k->err ? k->err->msg : "cannot open output");
            return -1;
        }
        size_t n = k->split && k->split - k->used < left ? (size_t)(k->split - k->used) : left;
        if (ps_fd_write_named(k->fd, p, n, k->tmp.v[k->tmp.n - 1], k->err) != PS_OK) {
            archive_set_error(a, EIO, "write failed");
            return -1;
        }
        p += n, left -= n, k->used += (uint64_t)n, k->total += (uint64_t)n;
    }
    return (la_ssize_t)len;
}

/* The temporary files become the outputs; stale chunks of an earlier
 * export under the same name go, so an import cannot pick them up. */
static ps_code sink_commit(sink *k)
{
    ps_code rc = sink_close(k);
    for (size_t i = 0; rc == PS_OK && i < k->tmp.n; i++)
        if (rename(k->tmp.v[i], k->final.v[i]) != 0)
            rc = ps_error_set(k->err, PS_EIO, "%s: %s", k->final.v[i], strerror(errno));
    for (size_t i = k->split ? k->final.n + 1 : 1; rc == PS_OK && i <= MAX_CHUNKS; i++) {
        char *stale = ps_strdupf("%s.%03zu", k->out, i);
        int gone = stale == NULL || unlink(stale) != 0;
        free(stale);
        if (gone)
            break;
    }
    if (rc == PS_OK && k->split)
        unlink(k->out);
    char *dir = rc == PS_OK ? strdup(k->out) : NULL;
    if (dir)
        rc = ps_fsync_dir(dirname(dir), k->err);
    free(dir);
    return rc;
}

static void sink_abort(sink *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    for (size_t i = 0; i < k->tmp.n; i++)
        unlink(k->tmp.v[i]);
}

/* ---- the plan: manifest, and where each member's bytes come from ------ */

typedef struct exp {
    const ps_bundle_export_opts *o;
    ps_error *err;
    ps_repo *r;
    ps_bundle_manifest m;
    ps_buf *mem;        /* per member: its bytes (state, meta) ... */
    char **file;        /* ... or its file in the pool */
    size_t cap;
    GHashTable *have;   /* SHA-256 the base holds */
    ps_buf carried;     /* lines of exported/BASE for mirrors not exported */
    time_t now;
} exp;

static ps_code add_member(exp *x, const char *path, uint64_t size, const char *sha256,
                          ps_buf *mem, char *file)
{
    ps_bundle_manifest *m = &x->m;
    if (m->nmembers == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 64;
        void *a = realloc(m->members, cap * sizeof *m->members);
        if (a)
            m->members = a;
        void *b = a ? realloc(x->mem, cap * sizeof *x->mem) : NULL;
        if (b)
            x->mem = b;
        void *c = b ? realloc(x->file, cap * sizeof *x->file) : NULL;
        if (c == NULL) {
            ps_buf_free(mem), free(file);
            return ps_error_set(x->err, PS_ENOMEM, "out of memory");
        }
        x->file = c, x->cap = cap;
    }
    size_t i = m->nmembers++;
    m->members[i] = (ps_bundle_member){strdup(path), size, {0}};
    snprintf(m->members[i].sha256, sizeof m->members[i].sha256, "%s", sha256);
    x->mem[i] = mem ? *mem : (ps_buf){0};
    x->file[i] = file;
    return m->members[i].path ? PS_OK : ps_error_set(x->err, PS_ENOMEM, "out of memory");
}

static ps_code add_mem_member(exp *x, const char *path, ps_buf *data)
{
    char sha[65];
    ps_code rc = ps_digest_hex(PS_DIGEST_SHA256, data->data ? (void *)data->data : "",
                               data->len, sha, x->err);
    if (rc != PS_OK) {
        ps_buf_free(data);
        return rc;
    }
    return add_member(x, path, data->len, sha, data, NULL);
}

/* mirrors/NAME/SUB/ files: what the offline side shows as provenance and
 * gives dnf as the upstream keys. */
static ps_code add_state_dir(exp *x, const char *name, const char *sub)
{
    char *dir = ps_strdupf("%s/mirrors/%s/%s", ps_repo_root(x->r), name, sub);
    ps_strv files = {0};
    ps_code rc = dir ? PS_OK : ps_error_set(x->err, PS_ENOMEM, "out of memory");
    DIR *d = rc == PS_OK ? opendir(dir) : NULL;
    for (struct dirent *de; d && rc == PS_OK && (de = readdir(d));)
        if (de->d_name[0] != '.' && !ps_str_ends_with(de->d_name, ".tmp"))
            rc = ps_strv_add(&files, de->d_name, x->err);
    if (d)
        closedir(d);
    ps_strv_sort(&files);
    for (size_t i = 0; rc == PS_OK && i < files.n; i++) {
        char *src = ps_strdupf("%s/%s", dir, files.v[i]);
        char *rel = ps_strdupf("mirrors/%s/%s/%s", name, sub, files.v[i]);
        ps_buf b = {0};
        rc = src && rel ? ps_file_read(src, &b, x->err)
                        : ps_error_set(x->err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK && !ps_bundle_path_ok(rel))
            rc = ps_error_set(x->err, PS_EINPUT, "%s: a name a bundle cannot carry", src);
        if (rc == PS_OK)
            rc = add_mem_member(x, rel, &b);
        else
            ps_buf_free(&b);
        free(src), free(rel);
    }
    ps_strv_free(&files);
    free(dir);
    return rc;
}

static ps_code push_pkg(exp *x, ps_bundle_mirror *mi, const ps_repo_pkg *p)
{
    if (ps_array_reserve(&mi->pkgs, mi->npkgs, sizeof *mi->pkgs, x->err) != PS_OK)
        return PS_ENOMEM;
    ps_bundle_pkg *k = &mi->pkgs[mi->npkgs++];
    *k = (ps_bundle_pkg){strdup(p->kind), strdup(p->target), strdup(p->name),
                         strdup(p->version), strdup(p->arch), strdup(p->href), {0}, p->size};
    snprintf(k->sha256, sizeof k->sha256, "%s", p->sha256);
    if (!k->kind || !k->target || !k->name || !k->version || !k->arch || !k->href)
        return ps_error_set(x->err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

static int wanted(const ps_bundle_export_opts *o, const char *name)
{
    for (size_t i = 0; i < o->nmirrors; i++)
        if (strcmp(o->mirrors[i], name) == 0)
            return 1;
    return o->nmirrors == 0;
}

static int cmp_mirror(const void *a, const void *b)
{
    return strcmp(((const ps_bundle_mirror *)a)->name, ((const ps_bundle_mirror *)b)->name);
}

/* The mirrors of the working set (source "mirror:NAME"), with their
 * packages. */
static ps_code collect_mirrors(exp *x)
{
    ps_bundle_manifest *m = &x->m;
    size_t n = ps_repo_count(x->r);
    ps_code rc = PS_OK;
    m->mirrors = calloc(n + x->o->nmirrors + 1, sizeof *m->mirrors);
    if (m->mirrors == NULL)
        return ps_error_set(x->err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        ps_repo_pkg p = ps_repo_pkg_at(x->r, i);
        if (strncmp(p.source, "mirror:", 7) != 0 || !wanted(x->o, p.source + 7))
            continue;
        ps_bundle_mirror *mi = NULL;
        for (size_t k = 0; k < m->nmirrors && mi == NULL; k++)
            if (strcmp(m->mirrors[k].name, p.source + 7) == 0)
                mi = &m->mirrors[k];
        if (mi == NULL && (mi = &m->mirrors[m->nmirrors++])->name == NULL &&
            (mi->name = strdup(p.source + 7)) == NULL)
            rc = ps_error_set(x->err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK)
            rc = push_pkg(x, mi, &p);
    }
    for (size_t i = 0; rc == PS_OK && i < x->o->nmirrors; i++) {
        int found = 0;
        for (size_t k = 0; k < m->nmirrors; k++)
            found |= strcmp(m->mirrors[k].name, x->o->mirrors[i]) == 0;
        if (!found)
            rc = ps_error_set(x->err, PS_EINPUT,
                              "%s: no mirror named '%s' has packages in the repository",
                              ps_repo_root(x->r), x->o->mirrors[i]);
    }
    if (rc == PS_OK && m->nmirrors == 0)
        rc = ps_error_set(x->err, PS_EINPUT, "%s: no mirrored packages to export (run `pkgsmith "
                                             "mirror sync` first)", ps_repo_root(x->r));
    qsort(m->mirrors, m->nmirrors, sizeof *m->mirrors, cmp_mirror);
    return rc;
}

/* exported/BASE: "NAME SHA256" lines; what the offline side holds. */
static ps_code load_base(exp *x)
{
    char rel[64];
    snprintf(rel, sizeof rel, "exported/%ld", x->m.base);
    char *path = ps_bundle_path(ps_repo_root(x->r), rel);
    ps_buf b = {0};
    ps_code rc = path ? ps_file_read(path, &b, x->err) : PS_ENOMEM;
    char *save = NULL;
    for (char *l = rc == PS_OK && b.data ? strtok_r((char *)b.data, "\n", &save) : NULL; l;
         l = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(l, ' ');
        if (sp == NULL || strlen(sp + 1) != 64)
            continue;
        g_hash_table_add(x->have, strdup(sp + 1));
        *sp = '\0';
        if (!wanted(x->o, l) && rc == PS_OK)
            rc = ps_buf_appendf(&x->carried, x->err, "%s %s\n", l, sp + 1);
    }
    ps_buf_free(&b);
    free(path);
    return rc;
}

/* Members: mirror state, then a meta and a pool member for each package
 * the base does not hold. */
static ps_code plan_members(exp *x)
{
    ps_bundle_manifest *m = &x->m;
    ps_code rc = PS_OK;
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    size_t nnew = 0;
    const ps_bundle_pkg **fresh = NULL;
    for (size_t k = 0; k < m->nmirrors; k++)
        nnew += m->mirrors[k].npkgs;
    fresh = calloc(nnew + 1, sizeof *fresh);
    nnew = 0;
    if (fresh == NULL)
        rc = ps_error_set(x->err, PS_ENOMEM, "out of memory");
    for (size_t k = 0; rc == PS_OK && k < m->nmirrors; k++) {
        rc = add_state_dir(x, m->mirrors[k].name, "provenance");
        if (rc == PS_OK)
            rc = add_state_dir(x, m->mirrors[k].name, "client-keys");
        for (size_t i = 0; i < m->mirrors[k].npkgs; i++) {
            const ps_bundle_pkg *p = &m->mirrors[k].pkgs[i];
            if (!g_hash_table_contains(x->have, p->sha256) && g_hash_table_add(seen, (gpointer)p->sha256))
                fresh[nnew++] = p;
        }
    }
    for (size_t i = 0; rc == PS_OK && i < nnew; i++) {
        ps_buf rec = {0};
        char rel[80];
        snprintf(rel, sizeof rel, "meta/%.2s/%s", fresh[i]->sha256, fresh[i]->sha256);
        rc = ps_repo_record(x->r, fresh[i]->sha256, &rec, x->err);
        if (rc == PS_OK)
            rc = add_mem_member(x, rel, &rec);
        else
            ps_buf_free(&rec);
    }
    for (size_t i = 0; rc == PS_OK && i < nnew; i++) {
        char *file = ps_strdupf("%s/%s", ps_repo_root(x->r), fresh[i]->href);
        rc = file ? add_member(x, fresh[i]->href, fresh[i]->size, fresh[i]->sha256, NULL, file)
                  : ps_error_set(x->err, PS_ENOMEM, "out of memory");
    }
    free(fresh);
    g_hash_table_destroy(seen);
    return rc;
}

/* ---- writing the tar -------------------------------------------------- */

static ps_code entry(exp *x, struct archive *a, const char *path, uint64_t size)
{
    struct archive_entry *e = archive_entry_new();
    if (e == NULL)
        return ps_error_set(x->err, PS_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, x->now, 0);
    archive_entry_set_uname(e, "root"), archive_entry_set_gname(e, "root");
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return ps_error_set(x->err, PS_EIO, "%s: %s: %s", x->o->out, path, archive_error_string(a));
    return PS_OK;
}

static ps_code put_mem(exp *x, struct archive *a, const char *path, const ps_buf *b)
{
    ps_code rc = entry(x, a, path, b->len);
    if (rc == PS_OK && b->len && archive_write_data(a, b->data, b->len) != (la_ssize_t)b->len)
        rc = ps_error_set(x->err, PS_EIO, "%s: %s: %s", x->o->out, path, archive_error_string(a));
    return rc;
}

typedef struct meter {
    exp *x;
    uint64_t done, total;
    double last;
} meter;

static void tick(meter *mt, uint64_t n)
{
    mt->done += n;
    double t = ps_now();
    if (mt->x->o->progress && (t - mt->last > 0.2 || mt->done == mt->total)) {
        mt->last = t;
        mt->x->o->progress(mt->x->o->progress_ud, mt->done, mt->total);
    }
}

/* A pool file, hashed while it is copied. */
static ps_code put_file(exp *x, struct archive *a, const ps_bundle_member *mb, const char *file,
                        unsigned char *buf, meter *mt)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error_set(x->err, PS_EIO, "%s: %s", file, strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ps_sha256 *h = ps_sha256_new(x->err);
    ps_code rc = h ? entry(x, a, mb->path, mb->size) : PS_ELIB;
    uint64_t got = 0;
    for (ssize_t n; rc == PS_OK && (n = read(fd, buf, COPY_BUF)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || got + (uint64_t)n > mb->size) {
            rc = ps_error_set(x->err, PS_EIO, "%s: %s", file,
                              n < 0 ? strerror(errno) : "larger than the working set says");
            break;
        }
        ps_sha256_update(h, buf, (size_t)n);
        if (archive_write_data(a, buf, (size_t)n) != n)
            rc = ps_error_set(x->err, PS_EIO, "%s: %s", x->o->out, archive_error_string(a));
        got += (uint64_t)n;
        tick(mt, (uint64_t)n);
    }
    close(fd);
    char sha[65] = "";
    if (h)
        ps_sha256_final(h, sha);
    if (rc == PS_OK && (got != mb->size || strcmp(sha, mb->sha256) != 0))
        rc = ps_error_set(x->err, PS_EVERIFY,
                          "%s: %llu bytes with SHA-256 %s, but the working set records %llu "
                          "bytes with %s: the pool is damaged; nothing exported",
                          file, (unsigned long long)got, sha, (unsigned long long)mb->size,
                          mb->sha256);
    return rc;
}

static ps_code write_tar(exp *x, const ps_buf *manifest, const ps_buf *sig, sink *k)
{
    struct archive *a = archive_write_new();
    unsigned char *buf = malloc(COPY_BUF);
    meter mt = {x, 0, 0, 0};
    for (size_t i = 0; i < x->m.nmembers; i++)
        mt.total += x->m.members[i].size;
    ps_code rc = a && buf ? PS_OK : ps_error_set(x->err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
                        archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
                        archive_write_open2(a, k, NULL, sink_write, NULL, NULL) != ARCHIVE_OK))
        rc = ps_error_set(x->err, PS_ELIB, "%s: libarchive: %s", x->o->out,
                          archive_error_string(a));
    if (rc == PS_OK)
        rc = put_mem(x, a, "MANIFEST", manifest);
    if (rc == PS_OK)
        rc = put_mem(x, a, "MANIFEST.asc", sig);
    for (size_t i = 0; rc == PS_OK && i < x->m.nmembers; i++) {
        if (x->file[i])
            rc = put_file(x, a, &x->m.members[i], x->file[i], buf, &mt);
        else
            rc = put_mem(x, a, x->m.members[i].path, &x->mem[i]), tick(&mt, x->mem[i].len);
    }
    if (rc == PS_OK && archive_write_close(a) != ARCHIVE_OK)
        rc = ps_error_set(x->err, PS_EIO, "%s: %s", x->o->out, archive_error_string(a));
    if (a)
        archive_write_free(a);
    free(buf);
    return rc;
}

/* ---- the export -------------------------------------------------------- */

static ps_code choose_base(exp *x, const ps_bundle_event *evs, size_t n, long gen)
{
    const char *root = ps_repo_root(x->r);
    x->m.base = 0;
    if (x->o->full)
        return PS_OK;
    if (x->o->since > 0) {
        if (ps_bundle_log_find(evs, n, "export", x->m.origin, x->o->since) == NULL)
            return ps_error_set(x->err, PS_EINPUT,
                                "%s: no export of generation %ld is recorded (`pkgsmith bundle "
                                "list` shows them; --full exports everything)",
                                root, x->o->since);
        x->m.base = x->o->since;
    } else {
        for (size_t i = 0; i < n; i++)
            if (strcmp(evs[i].kind, "export") == 0 && strcmp(evs[i].origin, x->m.origin) == 0 &&
                evs[i].generation > x->m.base && evs[i].generation <= gen)
                x->m.base = evs[i].generation;
    }
    if (x->m.base > gen)
        return ps_error_set(x->err, PS_EINPUT, "%s: --since %ld is newer than generation %ld",
                            root, x->m.base, gen);
    return PS_OK;
}

static ps_code record(exp *x, const ps_bundle_result *out)
{
    const char *root = ps_repo_root(x->r);
    ps_buf b = {0};
    char rel[64];
    snprintf(rel, sizeof rel, "exported/%ld", x->m.generation);
    char *dir = ps_bundle_path(root, "exported"), *path = ps_bundle_path(root, rel);
    ps_code rc = dir && path ? ps_buf_append(&b, x->carried.data ? (void *)x->carried.data : "",
                                             x->carried.len, x->err)
                             : ps_error_set(x->err, PS_ENOMEM, "out of memory");
    for (size_t k = 0; rc == PS_OK && k < x->m.nmirrors; k++)
        for (size_t i = 0; rc == PS_OK && i < x->m.mirrors[k].npkgs; i++)
            rc = ps_buf_appendf(&b, x->err, "%s %s\n", x->m.mirrors[k].name,
                                x->m.mirrors[k].pkgs[i].sha256);
    if (rc == PS_OK)
        rc = ps_mkdir_p(dir, 0755, x->err);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(path, b.data ? (void *)b.data : "", b.len, 0644, x->err);
    ps_bundle_event ev = {"export", "", x->m.generation, x->m.base, (long)x->now,
                          x->m.nmembers, out->bytes, "done", ""};
    memcpy(ev.origin, x->m.origin, 33);
    snprintf(ev.file, sizeof ev.file, "%s", out->outputs.n ? out->outputs.v[0] : x->o->out);
    if (rc == PS_OK)
        rc = ps_bundle_log_put(root, &ev, x->err);
    ps_buf_free(&b);
    free(dir), free(path);
    return rc;
}

static ps_code sign_manifest(exp *x, ps_buf *text, ps_buf *sig)
{
    const char *key = x->o->key ? x->o->key : ps_repo_key(x->r);
    const char *home = x->o->gnupg_home ? x->o->gnupg_home : ps_repo_gnupg_home(x->r);
    ps_signer *s = ps_signer_new(home, key, x->err);
    if (s == NULL)
        return x->err && x->err->code ? x->err->code : PS_EKEY;
    snprintf(x->m.key, sizeof x->m.key, "%s", ps_signer_fpr(s));
    ps_code rc = ps_bundle_manifest_write(&x->m, text, x->err);
    ps_span part = {text->data, text->len};
    if (rc == PS_OK)
        rc = ps_signer_sign(s, &part, 1, PS_SIGN_DETACHED_ARMOR, sig, x->err);
    ps_signer_free(s);
    return rc;
}

static ps_code run(exp *x, ps_bundle_result *out)
{
    ps_bundle_event *evs = NULL;
    size_t nev = 0;
    const char *root = ps_repo_root(x->r);
    long gen = ps_repo_current(x->r);
    ps_code rc = ps_bundle_origin(root, x->m.origin, x->err);
    if (rc == PS_OK && gen == 0)
        rc = ps_error_set(x->err, PS_EINPUT, "%s: nothing is published yet", root);
    if (rc == PS_OK)
        rc = ps_bundle_list(root, &evs, &nev, x->err);
    if (rc == PS_OK)
        rc = choose_base(x, evs, nev, gen);
    free(evs);
    memcpy(out->origin, x->m.origin, 33);
    x->m.generation = out->generation = gen;
    out->base = x->m.base;
    if (rc != PS_OK || x->m.base == gen) {
        out->nothing = rc == PS_OK;
        return rc;
    }
    if (x->m.base)
        rc = load_base(x);
    if (rc == PS_OK)
        rc = collect_mirrors(x);
    if (rc == PS_OK)
        rc = plan_members(x);
    ps_buf text = {0}, sig = {0};
    x->m.split = x->o->split;
    ps_format_date((long)x->now, x->m.created, sizeof x->m.created);
    if (rc == PS_OK)
        rc = sign_manifest(x, &text, &sig);
    sink k = {x->o->out, x->o->split, 0, 0, -1, {0}, {0}, x->err};
    if (rc == PS_OK)
        rc = write_tar(x, &text, &sig, &k);
    if (rc == PS_OK)
        rc = sink_commit(&k);
    if (rc != PS_OK)
        sink_abort(&k);
    out->bytes = k.total;
    out->outputs = k.final, k.final = (ps_strv){0};
    ps_strv_free(&k.tmp);
    out->members = x->m.nmembers;
    for (size_t i = 0; i < x->m.nmembers; i++)
        out->files += strncmp(x->m.members[i].path, "pool/", 5) == 0;
    for (size_t i = 0; i < x->m.nmirrors; i++)
        out->packages += x->m.mirrors[i].npkgs;
    snprintf(out->signer, sizeof out->signer, "%s", x->m.key);
    if (rc == PS_OK)
        rc = record(x, out);
    ps_buf_free(&text), ps_buf_free(&sig);
    return rc;
}

ps_code ps_bundle_export(const ps_bundle_export_opts *o, ps_bundle_result *out, ps_error *err)
{
    double t0 = ps_now();
    memset(out, 0, sizeof *out);
    if (o->out == NULL || *o->out == '\0')
        return ps_error_set(err, PS_EINPUT, "bundle export needs an output file (--out)");
    exp x = {.o = o, .err = err, .now = time(NULL)};
    x.have = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    x.r = ps_repo_open(o->root, 1, o->wait_seconds, err);
    ps_code rc = x.r ? run(&x, out) : (err && err->code ? err->code : PS_EINPUT);
    for (size_t i = 0; i < x.m.nmembers; i++) {
        ps_bundle_member_free(&x.m.members[i]);
        ps_buf_free(&x.mem[i]);
        free(x.file[i]);
    }
    for (size_t i = 0; i < x.m.nmirrors; i++)
        ps_bundle_mirror_free(&x.m.mirrors[i]);
    free(x.m.members), free(x.m.mirrors), free(x.mem), free(x.file);
    ps_buf_free(&x.carried);
    g_hash_table_destroy(x.have);
    ps_repo_free(x.r);
    out->duration = ps_now() - t0;
    return rc;
}
