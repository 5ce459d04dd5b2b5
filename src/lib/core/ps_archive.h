/* ps_archive.h - libarchive writers into memory, shared by the deb and rpm
 * builders: tar/cpio/ar/raw archives whose bytes land in a ps_buf. */
#ifndef PS_ARCHIVE_H
#define PS_ARCHIVE_H

#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"
#include "ps_util.h"

typedef enum ps_archive_format {
    PS_AR_TAR_GNU,   /* data/control.tar of a .deb (what dpkg-deb writes) */
    PS_AR_CPIO_NEWC, /* rpm payload */
    PS_AR_AR,        /* the .deb container (BSD-style short names) */
    PS_AR_RAW        /* a single compressed stream (changelog.gz) */
} ps_archive_format;

typedef enum ps_archive_filter {
    PS_FILTER_NONE,
    PS_FILTER_XZ,    /* one thread; preset from ps_xz_preset(size hint) */
    PS_FILTER_GZIP,  /* level 9, no timestamp or name: like gzip -9n */
    PS_FILTER_XZ_LOWMEM /* preset <= 2 (<= 17 MiB of encoder memory): indices */
} ps_archive_filter;

/* A file to be packaged (a .deb's data.tar, an rpm's payload), kept in
 * memory until the archive is written. */
typedef struct ps_file {
    char *path;     /* without a leading "./" or "/" (deb) or with "/" (rpm) */
    mode_t mode;    /* with the type bits */
    int64_t mtime;
    uint32_t flags; /* the format's own: conffile (deb), RPMFILE_* (rpm) */
    ps_buf data;    /* content, or the target of a symlink */
} ps_file;

typedef struct ps_filelist {
    ps_file *v;
    size_t n;
} ps_filelist;

/* Frees every file of FS and empties it. */
void ps_filelist_free(ps_filelist *fs);

typedef struct ps_archive ps_archive;

/* The xz preset for about SIZE bytes of input.  Preset 6 is xz's default,
 * but its 8 MiB dictionary (and ~94 MiB of match-finder tables, allocated
 * and faulted in for every stream) buys nothing on small inputs: small
 * ones get preset 0 or 1.  A function of the size alone, so builds stay
 * reproducible. */
int ps_xz_preset(size_t size);

/* An archive writing into OUT (appended; OUT must outlive the archive).
 * SIZE_HINT (about how many bytes go in) picks the xz preset.  NAME is
 * used in error messages. */
ps_archive *ps_archive_new(ps_archive_format fmt, ps_archive_filter filter, size_t size_hint,
                           ps_buf *out, const char *name, ps_error *err);

/* One entry.  PATH as stored ("./usr/bin/x"), MODE includes the type bits
 * (S_IFREG/S_IFDIR/S_IFLNK), owner given by name and number, DATA/LEN the
 * content of a regular file, LINK the target of a symlink, INO the inode
 * number to record (cpio). */
typedef struct ps_archive_entry {
    const char *path;
    mode_t mode;
    const char *uname;
    const char *gname;
    int64_t uid;
    int64_t gid;
    int64_t mtime;
    const void *data;
    size_t len;
    const char *link;
    int64_t ino;
} ps_archive_entry;

ps_code ps_archive_add(ps_archive *a, const ps_archive_entry *e, ps_error *err);

/* Finishes the archive (flushes compression) and frees it; OUT then
 * holds the complete bytes.  Always frees A. */
ps_code ps_archive_close(ps_archive *a, ps_error *err);

/* Frees A without finishing (on error paths). */
void ps_archive_abort(ps_archive *a);

/* Compresses LEN bytes of DATA as one stream with FILTER, appending to
 * OUT (a raw archive of one entry). */
ps_code ps_compress(ps_archive_filter filter, const void *data, size_t len, ps_buf *out,
                    ps_error *err);

/* The end of every writer: closes A when RC is PS_OK, aborts it
 * otherwise; returns the first error. */
ps_code ps_archive_end(ps_archive *a, ps_code rc, ps_error *err);

#endif
