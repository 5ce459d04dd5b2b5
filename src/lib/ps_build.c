#include "ps_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static ps_code build_formats(const ps_source *src, ps_signer *signer, unsigned formats,
                             const char *tmp, ps_strv *built, ps_error *err)
{
    ps_code rc = PS_OK;
    if (formats & PS_FORMAT_DEB)
        rc = ps_deb_build(src, signer, tmp, built, err);
    if (rc == PS_OK && (formats & PS_FORMAT_RPM))
        rc = ps_rpm_build(src, signer, tmp, built, err);
    return rc;
}

ps_code ps_build_run(const ps_build_opts *o, ps_strv *outputs, ps_error *err)
{
    const char *outdir = o->outdir ? o->outdir : "out";
    unsigned formats = o->formats ? o->formats : PS_FORMAT_DEB | PS_FORMAT_RPM;
    ps_signer *signer = NULL;
    ps_strv built = {0};
    char *tmp = NULL;
    ps_source *src = ps_source_open(o->srcdir ? o->srcdir : ".", err);
    ps_code rc = src ? apply_sets(src, o, err) : (err ? err->code : PS_EINPUT);
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
