/* pkgsmith sign */
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_deb.h"
#include "ps_pkginfo.h"
#include "ps_rpm.h"

/* Checks PATH, then signs (or strips) it into DEST. */
static ps_code sign_one(const char *path, ps_signer *signer, const char *dest, ps_error *err)
{
    ps_pkginfo *p = ps_pkginfo_read(path, NULL, 0, err);
    if (p == NULL)
        return err->code;
    ps_pkg_kind kind = ps_pkginfo_kind(p);
    ps_pkginfo_free(p);
    return kind == PS_PKG_DEB ? ps_deb_sign_file(path, signer, dest, err)
                              : ps_rpm_sign_file(path, signer, dest, err);
}

static void print_json(const ps_strv *done, const char *fpr)
{
    fputs("{\"ok\":true,\"key\":", stdout);
    if (fpr)
        ps_cli_json_string(stdout, fpr);
    else
        fputs("null", stdout);
    fputs(",\"files\":[", stdout);
    for (size_t i = 0; i < done->n; i++) {
        fputs(i ? "," : "", stdout);
        ps_cli_json_string(stdout, done->v[i]);
    }
    fputs("]}\n", stdout);
}

typedef struct sign_opts {
    const char *key, *home, *out;
    int strip, json;
} sign_opts;

static const ps_opt OPTS[] = {
    PS_STRING_OPT(sign_opts, "key", 'k', key, "FPR",
        "sign with this OpenPGP key (default:\n$PKGSMITH_SIGNING_KEY)"),
    PS_STRING_OPT(sign_opts, "gnupg-home", 0, home, "DIR",
        "GnuPG home holding the key (default: $GNUPGHOME)"),
    PS_FLAG_OPT(sign_opts, "strip", 0, strip, "remove the signatures instead"),
    PS_STRING_OPT(sign_opts, "out", 'o', out, "DIR", "write DIR/<file name> instead of in place"),
    PS_OPT_JSON(sign_opts),
    PS_OPT_END};

static const ps_cli_spec SPEC = {
    "sign", "sign built .deb and .rpm packages, or strip their signatures",
    "    pkgsmith sign [--key FPR | --strip] [--gnupg-home DIR] [--out DIR] [--json]\n"
    "                  FILE...\n",
    "    Checks each package (control data or header, digests, payload) and\n"
    "    re-writes it with one signature by FPR: a debsigs origin signature\n"
    "    (_gpgorigin) for a .deb, header and header+payload signatures for an\n"
    "    rpm.  Old signatures are dropped; every other byte is kept.  So a\n"
    "    release can build twice unsigned, compare, and sign the very bytes it\n"
    "    compared; and --strip turns a signed package back into exactly the\n"
    "    unsigned build, to compare a published package with a rebuild.\n"
    "\n"
    "    Files are re-written atomically, in place or into --out DIR, one after\n"
    "    the other; the first failure stops the run.\n",
    OPTS,
    "    0 done; 2 a damaged package (named) or an unusable key; 1 other\n"
    "    failures; 64 usage error.\n",
    "    pkgsmith build --no-sign --out out . && pkgsmith sign --key \"$FPR\" out/*\n",
    0};

static ps_code sign_all(const sign_opts *o, char **files, int n, ps_strv *done, ps_error *err)
{
    ps_signer *signer = NULL;
    ps_code rc = PS_OK;
    if (o->out && ps_mkdir_p(o->out, 0755, err) != PS_OK)
        return err->code;
    if (!o->strip && (signer = ps_signer_new(o->home, o->key, err)) == NULL)
        return err->code;
    for (int i = 0; rc == PS_OK && i < n; i++) {
        char *copy = strdup(files[i]);
        char *dest = o->out && copy ? ps_strdupf("%s/%s", o->out, basename(copy))
                                    : (copy ? strdup(files[i]) : NULL);
        rc = dest ? sign_one(files[i], signer, dest, err)
                  : ps_error_set(err, PS_ENOMEM, "out of memory");
        if (rc == PS_OK)
            rc = ps_strv_take(done, dest, err);
        else
            free(dest);
        free(copy);
    }
    ps_signer_free(signer);
    return rc;
}

static int run(int argc, char **argv)
{
    sign_opts o = {0};
    int first = 0, status = ps_cli_parse(&SPEC, argc, argv, &o, &first);
    if (status >= 0)
        return status;
    if (first >= argc)
        return ps_cli_usage_error(&SPEC, "no package given", NULL);
    if (o.key == NULL && !o.strip)
        o.key = getenv("PKGSMITH_SIGNING_KEY");
    if (o.key != NULL && *o.key == '\0')
        o.key = NULL;
    if (o.key != NULL && o.strip)
        return ps_cli_usage_error(&SPEC, "--key and --strip exclude each other", NULL);
    ps_error err = {0};
    ps_strv done = {0};
    status = 0;
    if (!o.strip && o.key == NULL) {
        ps_error_set(&err, PS_EKEY, "no signing key: pass --key FPR or set PKGSMITH_SIGNING_KEY");
        status = ps_cli_fail("sign", &err, o.json);
    } else if (sign_all(&o, argv + first, argc - first, &done, &err) != PS_OK) {
        status = ps_cli_fail("sign", &err, o.json);
    } else if (o.json) {
        print_json(&done, o.key);
    } else {
        for (size_t i = 0; i < done.n; i++)
            printf("%s %s\n", o.strip ? "stripped" : "signed", done.v[i]);
    }
    ps_strv_free(&done);
    return status;
}

const ps_command ps_cmd_sign = {&SPEC, "sign built packages (or strip their signatures)", run};
