/* ps_util.h - growable buffers, files written crash-safely, digests. */
#ifndef PS_UTIL_H
#define PS_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer.  Zero-initialise it ({0}); always NUL-terminated
 * after a successful append, so text can be used as a C string. */
typedef struct ps_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} ps_buf;

/* A NULL DATA appends LEN bytes left unset, for writing in place. */
ps_code ps_buf_append(ps_buf *b, const void *data, size_t len, ps_error *err);
ps_code ps_buf_appendf(ps_buf *b, ps_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The va_list form, for functions that take a format of their own (so
 * they need no vasprintf copy of their own). */
ps_code ps_buf_vappendf(ps_buf *b, ps_error *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void ps_buf_free(ps_buf *b);

/* One zeroed object of SIZE bytes, or NULL with PS_ENOMEM in ERR: every
 * constructor starts this way, and the message should not vary. */
void *ps_zalloc(size_t size, ps_error *err);

/* Arrays that grow by appending (*ARRAYP holds N elements of ELSIZE
 * bytes) grow in chunks of PS_ARRAY_CHUNK: when N is a multiple of it,
 * *ARRAYP is reallocated with room for a chunk more.  ARRAYP is the
 * address of the caller's element pointer (any object pointer type: they
 * share void *'s representation on every platform pkgsmith builds for; on
 * failure it is left as it was, still owned by the caller). */
#define PS_ARRAY_CHUNK 64
ps_code ps_array_reserve(void *arrayp, size_t n, size_t elsize, ps_error *err);

/* malloc'd formatted string, or NULL when out of memory. */
char *ps_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads all of PATH into OUT (appending). Error names PATH. */
ps_code ps_file_read(const char *path, ps_buf *out, ps_error *err);

/* Appends everything readable from FD (until EOF) to OUT; NAME is for the
 * message.  Retries EINTR. */
ps_code ps_fd_read_all(int fd, const char *name, ps_buf *out, ps_error *err);

/* Writes all LEN bytes of DATA to FD, retrying EINTR and short writes:
 * 0, or -1 with errno set (ENOSPC when write(2) wrote nothing). */
int ps_fd_write_all(int fd, const void *data, size_t len);

/* ps_fd_write_all with the failure as ERR (PS_EIO) naming NAME, the file
 * FD is open on: the one loop for callers that report what failed. */
ps_code ps_fd_write_named(int fd, const void *data, size_t len, const char *name,
                          ps_error *err);

/* Writes DATA to PATH crash-safely: a temporary file in the same directory,
 * fsync, rename over PATH, fsync of the directory.  Readers see the old
 * file or the new one, never a part. */
ps_code ps_file_write_atomic(const char *path, const void *data, size_t len,
                             mode_t mode, ps_error *err);

/* mkdir -p. */
ps_code ps_mkdir_p(const char *path, mode_t mode, ps_error *err);

/* rm -rf, best effort; returns PS_EIO naming the first path that failed. */
ps_code ps_rm_rf(const char *path, ps_error *err);

/* A fresh private directory "<parent>/<prefix>XXXXXX" (malloc'd path). */
char *ps_mkdtemp_in(const char *parent, const char *prefix, ps_error *err);

int ps_path_exists(const char *path);
int ps_path_is_dir(const char *path);

typedef enum ps_digest_algo {
    PS_DIGEST_MD5,
    PS_DIGEST_SHA1,
    PS_DIGEST_SHA256,
    PS_DIGEST_SHA512
} ps_digest_algo;

/* Size in bytes of ALGO's digest. */
size_t ps_digest_size(ps_digest_algo algo);

/* Binary digest of DATA into OUT (ps_digest_size(algo) bytes). */
ps_code ps_digest(ps_digest_algo algo, const void *data, size_t len,
                  unsigned char *out, ps_error *err);

/* Lower-case hex digest into HEX (2*size+1 bytes). */
ps_code ps_digest_hex(ps_digest_algo algo, const void *data, size_t len,
                      char *hex, ps_error *err);

void ps_hex_encode(const unsigned char *in, size_t n, char *out);

/* The digests every index needs, of one file or buffer, in one pass. */
typedef struct ps_hashes {
    uint64_t size;
    char md5[33];
    char sha256[65];
    char sha512[129];
} ps_hashes;

/* A streaming SHA-256 (libgcrypt through librpmio: SHA-NI where the CPU
 * has it, several times glib's speed): for hashing while copying. */
typedef struct ps_sha256 ps_sha256;
ps_sha256 *ps_sha256_new(ps_error *err);
void ps_sha256_update(ps_sha256 *h, const void *data, size_t len);
/* Writes the lower-case hex digest (65 bytes) and frees H. */
void ps_sha256_final(ps_sha256 *h, char hex[65]);
/* Frees H without a result (NULL is fine). */
void ps_sha256_free(ps_sha256 *h);

ps_code ps_hashes_of_mem(const void *data, size_t len, ps_hashes *out, ps_error *err);
ps_code ps_hashes_of_file(const char *path, ps_hashes *out, ps_error *err);

/* A read-only mapping of a whole file (empty files map to len 0). */
typedef struct ps_map {
    const unsigned char *data;
    size_t len;
} ps_map;
ps_code ps_map_file(const char *path, ps_map *m, ps_error *err);
void ps_map_free(ps_map *m);

/* Copies SRC to DST (created 0644; DST must not exist).  Not synced: the
 * caller syncs the filesystem once before its commit point. */
ps_code ps_copy_file(const char *src, const char *dst, ps_error *err);

/* Like ps_file_write_atomic (temporary file, rename), without the fsyncs:
 * for many files made durable by one syncfs before a commit point. */
ps_code ps_file_write_unsynced(const char *path, const void *data, size_t len, ps_error *err);

/* syncfs(2) of the filesystem holding PATH. */
ps_code ps_syncfs(const char *path, ps_error *err);

/* fsync of a directory, so that a rename or link in it is durable. */
ps_code ps_fsync_dir(const char *path, ps_error *err);

/* Points symlink LINKPATH at TARGET with one rename(2): readers see the
 * old target or the new one, never no link. */
ps_code ps_symlink_replace(const char *target, const char *linkpath, ps_error *err);

/* An exclusive lock on PATH (created if missing) held through the
 * returned descriptor until it is closed.  WAIT_SECONDS < 0 waits for
 * ever, 0 refuses at once; a busy lock fails with PS_EBUSY naming PATH
 * and the holder's PID. */
ps_code ps_lock(const char *path, int wait_seconds, int *fd_out, ps_error *err);

/* Seconds on the monotonic clock: for durations, deadlines, rates. */
double ps_now(void);

/* T (Unix time) as an RFC 2822 date in UTC, as apt writes Date fields:
 * "Wed, 25 Nov 2026 00:13:13 UTC". */
void ps_format_date(long t, char *out, size_t n);

/* A size such as "512K", "10M", "2G" or "4096" (powers of 1024; a
 * trailing "B" is allowed).  Returns 0, or -1 when S is no size. */
int ps_parse_size(const char *s, uint64_t *out);

/* Non-zero when S ends with SUFFIX. */
int ps_str_ends_with(const char *s, const char *suffix);

/* Strips trailing whitespace in place; returns S. */
char *ps_rstrip(char *s);



/* A growable vector of malloc'd strings; zero-initialise it ({0}). */
typedef struct ps_strv {
    char **v;
    size_t n;
} ps_strv;

/* Appends a copy of S. */
ps_code ps_strv_add(ps_strv *sv, const char *s, ps_error *err);
/* Appends S itself, taking ownership (freed on failure too). */
ps_code ps_strv_take(ps_strv *sv, char *s, ps_error *err);
void ps_strv_free(ps_strv *sv);
/* Writes a finished package to PATH (crash-safely, mode 0644) and records
 * PATH in OUTPUTS.  A NULL PATH is an allocation that failed. */
ps_code ps_write_output(const char *path, const ps_buf *data, ps_strv *outputs,
                        ps_error *err);

/* Sorts by strcmp (byte order: stable across locales). */
void ps_strv_sort(ps_strv *sv);
#ifdef __cplusplus
}
#endif

#endif
