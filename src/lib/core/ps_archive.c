#include "ps_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

void ps_filelist_free(ps_filelist *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].path);
        ps_buf_free(&fs->v[i].data);
    }
    free(fs->v);
    fs->v = NULL;
    fs->n = 0;
}

struct ps_archive {
    struct archive *a;
    ps_buf *out;
    char *name;
    ps_error sink_err; /* an append failure inside libarchive's callback */
};

static la_ssize_t sink_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    ps_archive *pa = ud;
    if (ps_buf_append(pa->out, buf, n, &pa->sink_err) != PS_OK)
        return -1;
    return (la_ssize_t)n;
}

static int set_format(struct archive *a, ps_archive_format fmt)
{
    switch (fmt) {
    case PS_AR_TAR_GNU: return archive_write_set_format_gnutar(a);
    case PS_AR_CPIO_NEWC: return archive_write_set_format_cpio_newc(a);
    case PS_AR_AR: return archive_write_set_format_ar_bsd(a);
    case PS_AR_RAW: return archive_write_set_format_raw(a);
    }
    return ARCHIVE_FATAL;
}

/* Compression settings are fixed here, for every build, because they are
 * part of what makes two builds byte-identical. */
int ps_xz_preset(size_t size)
{
    return size <= 256 * 1024 ? 0 : size <= 1024 * 1024 ? 1 : 6;
}

static int set_filter(struct archive *a, ps_archive_filter filter, size_t size_hint)
{
    char level[4];
    switch (filter) {
    case PS_FILTER_NONE:
        return archive_write_add_filter_none(a);
    case PS_FILTER_XZ:
    case PS_FILTER_XZ_LOWMEM:
        if (archive_write_add_filter_xz(a) != ARCHIVE_OK)
            return ARCHIVE_FATAL;
        /* A repository's indices are compressed at every publish, under a
         * memory budget: preset 6's match finder alone is ~90 MiB. */
        snprintf(level, sizeof level, "%d",
                 filter == PS_FILTER_XZ ? ps_xz_preset(size_hint)
                                        : ps_xz_preset(size_hint) < 2 ? ps_xz_preset(size_hint) : 2);
        return archive_write_set_filter_option(a, "xz", "compression-level", level) ||
               archive_write_set_filter_option(a, "xz", "threads", "1");
    case PS_FILTER_GZIP:
        if (archive_write_add_filter_gzip(a) != ARCHIVE_OK)
            return ARCHIVE_FATAL;
        return archive_write_set_filter_option(a, "gzip", "compression-level", "9") ||
               archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
    }
    return ARCHIVE_FATAL;
}

ps_archive *ps_archive_new(ps_archive_format fmt, ps_archive_filter filter, size_t size_hint,
                           ps_buf *out, const char *name, ps_error *err)
{
    ps_archive *pa = calloc(1, sizeof *pa);
    if (pa == NULL || (pa->name = strdup(name)) == NULL || (pa->a = archive_write_new()) == NULL) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        ps_archive_abort(pa);
        return NULL;
    }
    pa->out = out;
    struct archive *a = pa->a;
    /* No block padding after the last byte: it would land after the end
     * of a compressed stream, or inside an rpm or ar member. */
    if (set_format(a, fmt) != ARCHIVE_OK || set_filter(a, filter, size_hint) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open2(a, pa, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
        ps_error_set(err, PS_ELIB, "%s: libarchive: %s", name, archive_error_string(a));
        ps_archive_abort(pa);
        return NULL;
    }
    return pa;
}

ps_code ps_archive_add(ps_archive *pa, const ps_archive_entry *e, ps_error *err)
{
    struct archive_entry *ae = archive_entry_new();
    if (ae == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_mode(ae, e->mode);
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    if (e->uname)
        archive_entry_set_uname(ae, e->uname);
    if (e->gname)
        archive_entry_set_gname(ae, e->gname);
    archive_entry_set_mtime(ae, e->mtime, 0);
    archive_entry_set_nlink(ae, S_ISDIR(e->mode) ? 2 : 1);
    if (e->ino)
        archive_entry_set_ino64(ae, e->ino);
    if (S_ISLNK(e->mode) && e->link)
        archive_entry_set_symlink(ae, e->link);
    archive_entry_set_size(ae, S_ISREG(e->mode) ? (la_int64_t)e->len : 0);
    ps_code rc = PS_OK;
    if (archive_write_header(pa->a, ae) != ARCHIVE_OK ||
        (S_ISREG(e->mode) && e->len > 0 &&
         archive_write_data(pa->a, e->data, e->len) != (la_ssize_t)e->len))
        rc = pa->sink_err.code != PS_OK
                 ? ps_error_set(err, pa->sink_err.code, "%s", pa->sink_err.msg)
                 : ps_error_set(err, PS_ELIB, "%s: %s: libarchive: %s", pa->name, e->path,
                                archive_error_string(pa->a));
    archive_entry_free(ae);
    return rc;
}

ps_code ps_archive_close(ps_archive *pa, ps_error *err)
{
    ps_code rc = PS_OK;
    if (archive_write_close(pa->a) != ARCHIVE_OK)
        rc = ps_error_set(err, PS_ELIB, "%s: libarchive: %s", pa->name,
                          archive_error_string(pa->a));
    ps_archive_abort(pa);
    return rc;
}

void ps_archive_abort(ps_archive *pa)
{
    if (pa == NULL)
        return;
    if (pa->a)
        archive_write_free(pa->a);
    free(pa->name);
    free(pa);
}

ps_code ps_archive_end(ps_archive *a, ps_code rc, ps_error *err)
{
    if (rc != PS_OK) {
        ps_archive_abort(a);
        return rc;
    }
    return ps_archive_close(a, err);
}

ps_code ps_compress(ps_archive_filter filter, const void *data, size_t len, ps_buf *out,
                    ps_error *err)
{
    ps_archive *a = ps_archive_new(PS_AR_RAW, filter, len, out, "compressed stream", err);
    if (a == NULL)
        return err ? err->code : PS_ELIB;
    ps_archive_entry e = {.path = "data", .mode = S_IFREG | 0644, .data = data, .len = len};
    return ps_archive_end(a, ps_archive_add(a, &e, err), err);
}
