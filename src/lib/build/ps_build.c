#include "ps_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_deb.h"
#include "ps_pgp.h"
#include "ps_rpm.h"
#include "ps_source.h"

static ps_code apply_sets(ps_source *src, const ps_build_opts *o, ps_error *err)
{
    for (size_t i = 0; i < o->nsets; i++) {
        const char *eq = strchr(o->sets[i], '=');
        if (eq == NULL || eq == o->sets[i])
            return ps_error_set(err, PS_EINPUT, "--set '%s': expected NAME=VALUE", o->sets[i]);
        char *name = strndup(o->sets[i], (size_t)(eq - o->sets[i]));
        if (name == NULL)
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        ps_code rc = ps_source_set(src, name, eq + 1, err);
        free(name);
        if (rc != PS_OK)
            return rc;
    }
    return PS_OK;
}

/* Moves every file of TMPDIR into OUTDIR, recording the final paths. */
static ps_code publish(const ps_strv *built, const char *outdir, ps_strv *outputs,
                       ps_error *err)
{
    for (size_t i = 0; i < built->n; i++) {
        const char *base = strrchr(built->v[i], '/') + 1;
        char *final = ps_strdupf("%s/%s", outdir, base);
        if (final == NULL)
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rename(built->v[i], final) != 0) {
            ps_code rc = ps_error_set(err, PS_EIO, "%s: %s", final, strerror(errno));
            free(final);
            return rc;
        }
        ps_code rc = ps_strv_take(outputs, final, err);
        if (rc != PS_OK)
            return rc;
    }
    ps_strv_sort(outputs);
    return PS_OK;
}

/* ---- the .deb side in a child process ----
 *
 * With both formats, the .deb is built (and signed) by a child process
 * while this one builds the .rpm: two cores, and each side's time is
 * mostly waiting for processes (gpg, %install).  A process, not a thread:
 * librpm changes process-wide state (its macros, the umask while it makes
 * temporary files) that the deb writer must not see.  The child reports
 * its result through a pipe: the ps_error, then each output path and a
 * NUL. */

typedef struct deb_child {
    pid_t pid;
    int fd;
} deb_child;

static _Noreturn void deb_child_run(const ps_source *src, ps_signer *signer, const char *tmp,
                                    int fd)
{
    ps_error e = {0};
    ps_strv built = {0};
    e.code = ps_deb_build(src, signer, tmp, &built, &e);
    int bad = ps_fd_write_all(fd, &e, sizeof e);
    for (size_t i = 0; !bad && i < built.n; i++)
        bad = ps_fd_write_all(fd, built.v[i], strlen(built.v[i]) + 1);
    ps_strv_free(&built);
    close(fd);
    _exit(bad ? 1 : 0);
}

/* Starts the child; C->pid is 0 when fork is not possible (then the
 * caller builds the .deb itself). */
static void deb_child_start(const ps_source *src, ps_signer *signer, const char *tmp,
                            deb_child *c)
{
    int p[2];
    c->pid = 0;
    c->fd = -1;
    if (pipe(p) != 0)
        return;
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        deb_child_run(src, signer, tmp, p[1]);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return;
    }
    c->pid = pid;
    c->fd = p[0];
}

/* Waits for the child and takes its result: its error, or its paths. */
static ps_code deb_child_finish(deb_child *c, ps_strv *built, ps_error *err)
{
    ps_buf res = {0};
    ps_code rc = ps_fd_read_all(c->fd, "the .deb build's result", &res, err);
    close(c->fd);
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (rc == PS_OK && (!clean || res.len < sizeof(ps_error)))
        rc = ps_error_set(err, PS_ELIB, "the .deb build process %s %d",
                          WIFSIGNALED(status) ? "died of signal" : "failed with status",
                          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    ps_error e;
    if (rc == PS_OK) {
        memcpy(&e, res.data, sizeof e);
        e.msg[sizeof e.msg - 1] = '\0';
        if (e.code != PS_OK) {
            rc = e.code;
            if (err && err->code == PS_OK)
                *err = e;
        }
    }
    /* The paths: NUL-terminated, one after another. */
    for (size_t off = sizeof(ps_error); rc == PS_OK && off < res.len;) {
        const char *path = (const char *)res.data + off;
        size_t len = strnlen(path, res.len - off);
        if (off + len == res.len)
            break; /* no NUL: a torn record, ignored */
        rc = ps_strv_add(built, path, err);
        off += len + 1;
    }
    ps_buf_free(&res);
    return rc;
}

/* Builds every format into TMP with SIGNER (NULL: unsigned). */
static ps_code build_formats(const ps_source *src, ps_signer *signer, unsigned formats,
                             const char *tmp, ps_strv *built, ps_error *err)
{
    deb_child child = {0};
    if ((formats & PS_FORMAT_DEB) && (formats & PS_FORMAT_RPM))
        deb_child_start(src, signer, tmp, &child);
    ps_error deb_err = {0}, rpm_err = {0};
    ps_code deb_rc = PS_OK, rpm_rc = PS_OK;
    if ((formats & PS_FORMAT_DEB) && child.pid == 0)
        deb_rc = ps_deb_build(src, signer, tmp, built, &deb_err);
    if (deb_rc == PS_OK && (formats & PS_FORMAT_RPM))
        rpm_rc = ps_rpm_build(src, signer, tmp, built, &rpm_err);
    if (child.pid > 0)
        deb_rc = deb_child_finish(&child, built, &deb_err);
    /* One message: the .deb's, else the .rpm's, as when the formats were
     * built one after the other. */
    const ps_error *e = deb_rc ? &deb_err : rpm_rc ? &rpm_err : NULL;
    if (e == NULL)
        return PS_OK;
    if (err && err->code == PS_OK)
        *err = *e;
    return e->code;
}

ps_code ps_build_run(const ps_build_opts *o, ps_strv *outputs, ps_error *err)
{
    const char *outdir = o->outdir ? o->outdir : "out";
    unsigned formats = o->formats ? o->formats : PS_FORMAT_DEB | PS_FORMAT_RPM;
    ps_strv built = {0};
    char *tmp = NULL;
    ps_source *src = ps_source_open(o->srcdir ? o->srcdir : ".", err);
    ps_code rc = src ? apply_sets(src, o, err) : (err ? err->code : PS_EINPUT);
    ps_signer *signer = NULL;
    /* The key is checked before any work, so a bad key costs nothing. */
    if (rc == PS_OK && !o->no_sign && (signer = ps_signer_new(o->gnupg_home, o->key, err)) == NULL)
        rc = err ? err->code : PS_EKEY;
    if (rc == PS_OK)
        rc = ps_mkdir_p(outdir, 0755, err);
    /* Absolute: librpm runs %install from another directory. */
    char *absout = rc == PS_OK ? realpath(outdir, NULL) : NULL;
    if (rc == PS_OK && absout == NULL)
        rc = ps_error_set(err, PS_EIO, "%s: %s", outdir, strerror(errno));
    if (rc == PS_OK && (tmp = ps_mkdtemp_in(absout, ".pkgsmith-build-", err)) == NULL)
        rc = err ? err->code : PS_EIO;
    free(absout);
    if (rc == PS_OK)
        rc = build_formats(src, signer, formats, tmp, &built, err);
    if (rc == PS_OK)
        rc = publish(&built, outdir, outputs, err);
    if (tmp)
        ps_rm_rf(tmp, NULL);
    free(tmp);
    ps_strv_free(&built);
    ps_signer_free(signer);
    ps_source_free(src);
    return rc;
}
