/* pkgsmith sign */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_deb.h"
#include "ps_pkginfo.h"
#include "ps_rpm.h"

static const char USAGE[] =
    "NAME\n"
    "    pkgsmith sign - sign built .deb and .rpm packages, or strip their signatures\n"
    "\n"
    "SYNOPSIS\n"
    "    pkgsmith sign [--key FPR | --strip] [--gnupg-home DIR] [--out DIR] [--json]\n"
    "                  FILE...\n"
    "\n"
    "DESCRIPTION\n"
    "    Checks each package (control data or header, digests, payload) and\n"
    "    re-writes it with one signature by FPR: a debsigs origin signature\n"
    "    (_gpgorigin) for a .deb, header and header+payload signatures for an\n"
    "    rpm.  Old signatures are dropped; every other byte is kept.  So a\n"
    "    release can build twice unsigned, compare, and sign the very bytes it\n"
    "    compared; and --strip turns a signed package back into exactly the\n"
    "    unsigned build, to compare a published package with a rebuild.\n"
    "\n"
    "    Files are re-written atomically, in place or into --out DIR, one after\n"
    "    the other; the first failure stops the run.\n"
    "\n"
    "OPTIONS\n"
    "    -k, --key FPR         sign with this OpenPGP key (default:\n"
    "                          $PKGSMITH_SIGNING_KEY)\n"
    "        --gnupg-home DIR  GnuPG home holding the key (default: $GNUPGHOME)\n"
    "        --strip           remove the signatures instead\n"
    "    -o, --out DIR         write DIR/<file name> instead of in place\n"
    "        --json            print the result as JSON on stdout\n"
    "    -h, --help            show this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done; 2 a damaged package (named) or an unusable key; 1 other\n"
    "    failures; 64 usage error.\n"
    "\n"
    "EXAMPLE\n"
    "    pkgsmith build --no-sign --out out . && pkgsmith sign --key \"$FPR\" out/*\n";

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "pkgsmith sign: %s%s%s\nsee 'pkgsmith help sign'\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return 64;
}

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
    enum { OPT_STRIP = 256, OPT_JSON, OPT_HOME };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},   {"out", required_argument, NULL, 'o'},
        {"strip", no_argument, NULL, OPT_STRIP}, {"gnupg-home", required_argument, NULL, OPT_HOME},
        {"json", no_argument, NULL, OPT_JSON},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    sign_opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "+k:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': o.key = optarg; break;
        case 'o': o.out = optarg; break;
        case OPT_STRIP: o.strip = 1; break;
        case OPT_HOME: o.home = optarg; break;
        case OPT_JSON: o.json = 1; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: return usage_error("bad option", NULL);
        }
    }
    if (optind >= argc)
        return usage_error("no package given", NULL);
    if (o.key == NULL && !o.strip)
        o.key = getenv("PKGSMITH_SIGNING_KEY");
    if (o.key != NULL && *o.key == '\0')
        o.key = NULL;
    if (o.key != NULL && o.strip)
        return usage_error("--key and --strip exclude each other", NULL);
    ps_error err = {0};
    ps_strv done = {0};
    int status = 0;
    if (!o.strip && o.key == NULL) {
        ps_error_set(&err, PS_EKEY, "no signing key: pass --key FPR or set PKGSMITH_SIGNING_KEY");
        status = ps_cli_fail("sign", &err, o.json);
    } else if (sign_all(&o, argv + optind, argc - optind, &done, &err) != PS_OK) {
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

const ps_command ps_cmd_sign = {"sign", "sign built packages (or strip their signatures)",
                                USAGE, run};
