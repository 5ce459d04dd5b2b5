#include "ps_util.h"

#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rpm/rpmcrypto.h>
#include <rpm/rpmpgp.h>

ps_code ps_buf_append(ps_buf *b, const void *data, size_t len, ps_error *err)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        unsigned char *p = realloc(b->data, cap);
        if (p == NULL)
            return ps_error_set(err, PS_ENOMEM, "out of memory (%zu bytes)", cap);
        b->data = p;
        b->cap = cap;
    }
    if (len && data)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return PS_OK;
}

ps_code ps_buf_vappendf(ps_buf *b, ps_error *err, const char *fmt, va_list ap)
{
    /* Measure, make room (a NULL append only grows the buffer), then
     * format in place: no temporary copy. */
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    ps_code rc = n < 0 ? ps_error_set(err, PS_ENOMEM, "out of memory")
                       : ps_buf_append(b, NULL, (size_t)n, err);
    if (rc == PS_OK)
        vsnprintf((char *)b->data + b->len - (size_t)n, (size_t)n + 1, fmt, again);
    va_end(again);
    return rc;
}

ps_code ps_buf_appendf(ps_buf *b, ps_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_code rc = ps_buf_vappendf(b, err, fmt, ap);
    va_end(ap);
    return rc;
}

void *ps_zalloc(size_t size, ps_error *err)
{
    void *p = calloc(1, size);
    if (p == NULL)
        ps_error_set(err, PS_ENOMEM, "out of memory");
    return p;
}

ps_code ps_array_reserve(void *arrayp, size_t n, size_t elsize, ps_error *err)
{
    if (n % PS_ARRAY_CHUNK != 0)
        return PS_OK;
    void *v;
    memcpy(&v, arrayp, sizeof v);
    if ((v = realloc(v, (n + PS_ARRAY_CHUNK) * elsize)) == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    memcpy(arrayp, &v, sizeof v);
    return PS_OK;
}

void ps_buf_free(ps_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *ps_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

ps_code ps_fd_read_all(int fd, const char *name, ps_buf *out, ps_error *err)
{
    unsigned char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ps_error_set(err, PS_EIO, "%s: %s", name, strerror(errno));
        if (n == 0)
            return PS_OK;
        ps_code rc = ps_buf_append(out, chunk, (size_t)n, err);
        if (rc != PS_OK)
            return rc;
    }
}

ps_code ps_file_read(const char *path, ps_buf *out, ps_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error_set(err, errno == ENOENT ? PS_EINPUT : PS_EIO,
                            "%s: %s", path, strerror(errno));
    ps_code rc = ps_fd_read_all(fd, path, out, err);
    if (rc == PS_OK && out->data == NULL)
        rc = ps_buf_append(out, "", 0, err); /* empty file: still a string */
    close(fd);
    return rc;
}

int ps_fd_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC; /* no progress: retrying would spin */
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ps_code ps_fd_write_named(int fd, const void *data, size_t len, const char *name,
                          ps_error *err)
{
    if (ps_fd_write_all(fd, data, len) != 0)
        return ps_error_set(err, PS_EIO, "%s: %s", name, strerror(errno));
    return PS_OK;
}

/* fsync of the directory makes the rename itself durable. */
static void fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

ps_code ps_file_write_atomic(const char *path, const void *data, size_t len,
                             mode_t mode, ps_error *err)
{
    char *tmp = ps_strdupf("%s.tmp.XXXXXX", path);
    if (tmp == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        ps_code rc = ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    int failed = ps_fd_write_all(fd, data, len) != 0 || fchmod(fd, mode) != 0 ||
                 fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(tmp);
        free(tmp);
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(saved));
    }
    free(tmp);
    fsync_parent(path);
    return PS_OK;
}

ps_code ps_mkdir_p(const char *path, mode_t mode, ps_error *err)
{
    /* Usually only the last component is missing (or none is): one call. */
    if (mkdir(path, mode) == 0 || (errno == EEXIST && ps_path_is_dir(path)))
        return PS_OK;
    char *p = strdup(path);
    if (p == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            ps_code rc = ps_error_set(err, PS_EIO, "%s: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return PS_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

ps_code ps_rm_rf(const char *path, ps_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return PS_OK;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return ps_error_set(err, PS_EIO, "cannot remove %s: %s", path, strerror(errno));
    return PS_OK;
}

char *ps_mkdtemp_in(const char *parent, const char *prefix, ps_error *err)
{
    char *p = ps_strdupf("%s/%sXXXXXX", parent, prefix);
    if (p == NULL) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        return NULL;
    }
    if (mkdtemp(p) == NULL) {
        ps_error_set(err, PS_EIO, "%s: cannot create temporary directory: %s",
                     parent, strerror(errno));
        free(p);
        return NULL;
    }
    return p;
}

int ps_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int ps_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int rpm_algo(ps_digest_algo algo)
{
    switch (algo) {
    case PS_DIGEST_MD5: return PGPHASHALGO_MD5;
    case PS_DIGEST_SHA1: return PGPHASHALGO_SHA1;
    case PS_DIGEST_SHA256: return PGPHASHALGO_SHA256;
    case PS_DIGEST_SHA512: return PGPHASHALGO_SHA512;
    }
    return PGPHASHALGO_SHA256;
}

size_t ps_digest_size(ps_digest_algo algo)
{
    switch (algo) {
    case PS_DIGEST_MD5: return 16;
    case PS_DIGEST_SHA1: return 20;
    case PS_DIGEST_SHA256: return 32;
    case PS_DIGEST_SHA512: return 64;
    }
    return 0;
}

/* librpmio's digests: already a dependency, and it is what rpm itself uses
 * for the digests we store in rpm headers.  rpmInitCrypto is idempotent. */
ps_code ps_digest(ps_digest_algo algo, const void *data, size_t len,
                  unsigned char *out, ps_error *err)
{
    if (rpmInitCrypto() != 0)
        return ps_error_set(err, PS_ELIB, "librpmio: cannot initialise digests");
    DIGEST_CTX ctx = rpmDigestInit(rpm_algo(algo), RPMDIGEST_NONE);
    if (ctx == NULL)
        return ps_error_set(err, PS_ELIB, "librpmio: digest unavailable");
    rpmDigestUpdate(ctx, data, len);
    void *res = NULL;
    size_t rlen = 0;
    rpmDigestFinal(ctx, &res, &rlen, 0);
    if (res == NULL || rlen != ps_digest_size(algo)) {
        free(res);
        return ps_error_set(err, PS_ELIB, "librpmio: digest failed");
    }
    memcpy(out, res, rlen);
    free(res);
    return PS_OK;
}

struct ps_sha256 {
    DIGEST_CTX ctx;
};

ps_sha256 *ps_sha256_new(ps_error *err)
{
    ps_sha256 *h = ps_zalloc(sizeof *h, err);
    if (h == NULL)
        return NULL;
    if (rpmInitCrypto() != 0 || (h->ctx = rpmDigestInit(PGPHASHALGO_SHA256, RPMDIGEST_NONE)) == NULL) {
        free(h);
        ps_error_set(err, PS_ELIB, "librpmio: SHA-256 unavailable");
        return NULL;
    }
    return h;
}

void ps_sha256_update(ps_sha256 *h, const void *data, size_t len)
{
    rpmDigestUpdate(h->ctx, data, len);
}

void ps_sha256_final(ps_sha256 *h, char hex[65])
{
    unsigned char *res = NULL;
    size_t rlen = 0;
    rpmDigestFinal(h->ctx, (void **)&res, &rlen, 0);
    if (res && rlen == 32)
        ps_hex_encode(res, 32, hex);
    else
        hex[0] = '\0';
    free(res);
    free(h);
}

void ps_sha256_free(ps_sha256 *h)
{
    if (h)
        rpmDigestFinal(h->ctx, NULL, NULL, 0);
    free(h);
}

void ps_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

ps_code ps_digest_hex(ps_digest_algo algo, const void *data, size_t len,
                      char *hex, ps_error *err)
{
    unsigned char bin[64];
    ps_code rc = ps_digest(algo, data, len, bin, err);
    if (rc == PS_OK)
        ps_hex_encode(bin, ps_digest_size(algo), hex);
    return rc;
}

int ps_str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

char *ps_rstrip(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

ps_code ps_strv_take(ps_strv *sv, char *s, ps_error *err)
{
    if (s == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    char **v = realloc(sv->v, (sv->n + 2) * sizeof *v);
    if (v == NULL) {
        free(s);
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    sv->v = v;
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    return PS_OK;
}

ps_code ps_strv_add(ps_strv *sv, const char *s, ps_error *err)
{
    return ps_strv_take(sv, strdup(s), err);
}

void ps_strv_free(ps_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ps_strv_sort(ps_strv *sv)
{
    if (sv->n > 1)
        qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
}

ps_code ps_write_output(const char *path, const ps_buf *data, ps_strv *outputs,
                        ps_error *err)
{
    if (path == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_code rc = ps_file_write_atomic(path, data->data, data->len, 0644, err);
    return rc == PS_OK ? ps_strv_add(outputs, path, err) : rc;
}

ps_code ps_hashes_of_mem(const void *data, size_t len, ps_hashes *out, ps_error *err)
{
    unsigned char bin[64];
    ps_code rc = ps_digest(PS_DIGEST_MD5, data, len, bin, err);
    if (rc == PS_OK)
        ps_hex_encode(bin, 16, out->md5);
    if (rc == PS_OK && (rc = ps_digest(PS_DIGEST_SHA256, data, len, bin, err)) == PS_OK)
        ps_hex_encode(bin, 32, out->sha256);
    if (rc == PS_OK && (rc = ps_digest(PS_DIGEST_SHA512, data, len, bin, err)) == PS_OK)
        ps_hex_encode(bin, 64, out->sha512);
    out->size = len;
    return rc;
}

/* Read in 1 MiB pieces, not mapped: a mapping of a large package would
 * count in full against the process's resident memory. */
ps_code ps_hashes_of_file(const char *path, ps_hashes *out, ps_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    GChecksum *sum[3] = {g_checksum_new(G_CHECKSUM_MD5), g_checksum_new(G_CHECKSUM_SHA256),
                         g_checksum_new(G_CHECKSUM_SHA512)};
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    ps_code rc = buf ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    out->size = 0;
    for (ssize_t n; rc == PS_OK && (n = read(fd, buf, cap)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        for (int i = 0; i < 3; i++)
            g_checksum_update(sum[i], buf, (gssize)n);
        out->size += (uint64_t)n;
    }
    char *dst[3] = {out->md5, out->sha256, out->sha512};
    size_t len[3] = {sizeof out->md5, sizeof out->sha256, sizeof out->sha512};
    for (int i = 0; i < 3; i++) {
        if (rc == PS_OK)
            snprintf(dst[i], len[i], "%s", g_checksum_get_string(sum[i]));
        g_checksum_free(sum[i]);
    }
    free(buf);
    close(fd);
    return rc;
}

ps_code ps_map_file(const char *path, ps_map *m, ps_error *err)
{
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ps_code rc = ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ps_error_set(err, PS_EINPUT, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return ps_error_set(err, PS_EIO, "%s: mmap: %s", path, strerror(errno));
        }
        m->data = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return PS_OK;
}

void ps_map_free(ps_map *m)
{
    if (m->data != NULL)
        munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

ps_code ps_copy_file(const char *src, const char *dst, ps_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return ps_error_set(err, PS_EIO, "%s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        ps_code rc = ps_error_set(err, PS_EIO, "%s: %s", dst, strerror(errno));
        close(in);
        return rc;
    }
    ssize_t n;
    /* copy_file_range lets the kernel (or a reflinking filesystem) do it;
     * across filesystems older kernels refuse, so fall back to read/write. */
    while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
        ;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        char buf[65536];
        while ((n = read(in, buf, sizeof buf)) > 0 && ps_fd_write_all(out, buf, (size_t)n) == 0)
            ;
    }
    int failed = n < 0;
    int saved = errno;
    close(in);
    if (close(out) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(dst);
        return ps_error_set(err, PS_EIO, "%s: %s", dst, strerror(saved));
    }
    return PS_OK;
}

/* fsync of a directory and syncfs of a filesystem are the same dance:
 * open PATH, apply SYNC to the descriptor, name PATH in the failure. */
static ps_code sync_path(const char *path, int flags, int (*sync)(int), const char *what,
                         ps_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    ps_code rc = fd >= 0 && sync(fd) == 0
                     ? PS_OK
                     : ps_error_set(err, PS_EIO, "%s: %s%s", path, what, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

ps_code ps_fsync_dir(const char *path, ps_error *err)
{
    return sync_path(path, O_DIRECTORY, fsync, "", err);
}

ps_code ps_symlink_replace(const char *target, const char *linkpath, ps_error *err)
{
    char *tmp = ps_strdupf("%s.new", linkpath);
    if (tmp == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    unlink(tmp); /* left by a crash between symlink and rename */
    ps_code rc = PS_OK;
    if (symlink(target, tmp) != 0 || rename(tmp, linkpath) != 0) {
        rc = ps_error_set(err, PS_EIO, "%s -> %s: %s", linkpath, target, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    if (rc == PS_OK)
        fsync_parent(linkpath);
    return rc;
}

static long lock_holder(int fd)
{
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

static void lock_note_pid(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n)
        return; /* the PID is a courtesy for messages; the flock is the lock */
}

ps_code ps_lock(const char *path, int wait_seconds, int *fd_out, ps_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno));
    /* Poll rather than block in flock: a timeout needs no signals. */
    for (long waited_ms = 0;; waited_ms += 100) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            lock_note_pid(fd);
            *fd_out = fd;
            return PS_OK;
        }
        if (errno != EWOULDBLOCK && errno != EINTR)
            break;
        if (wait_seconds >= 0 && waited_ms >= (long)wait_seconds * 1000) {
            long pid = lock_holder(fd);
            close(fd);
            return ps_error_set(err, PS_EBUSY,
                                "%s is held by another pkgsmith (pid %ld); retry later or "
                                "pass --wait SECONDS",
                                path, pid);
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ps_code rc = ps_error_set(err, PS_EIO, "%s: flock: %s", path, strerror(errno));
    close(fd);
    return rc;
}

ps_code ps_file_write_unsynced(const char *path, const void *data, size_t len, ps_error *err)
{
    char *tmp = ps_strdupf("%s.tmp.XXXXXX", path);
    if (tmp == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    int failed = fd < 0 || ps_fd_write_all(fd, data, len) != 0 || fchmod(fd, 0644) != 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = 1;
        saved = errno;
    }
    if (failed && fd >= 0)
        unlink(tmp);
    free(tmp);
    return failed ? ps_error_set(err, PS_EIO, "%s: %s", path, strerror(saved)) : PS_OK;
}

ps_code ps_syncfs(const char *path, ps_error *err)
{
    return sync_path(path, 0, syncfs, "sync: ", err);
}

void ps_format_date(long t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S UTC", &tm);
}

int ps_parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long n = strtoull(s, &end, 10);
    uint64_t mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024, end++; break;
    case 'm': case 'M': mul = 1024 * 1024, end++; break;
    case 'g': case 'G': mul = 1024ULL * 1024 * 1024, end++; break;
    default: break;
    }
    if (end == s || *s < '0' || *s > '9' || (*end && strcasecmp(end, "B") != 0))
        return -1;
    *out = n * mul;
    return 0;
}

double ps_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
