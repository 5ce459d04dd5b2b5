/* pkgsmith build */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_build.h"

typedef struct build_cli {
    const char *out, *format, *key, *home;
    ps_strv sets;
    int no_sign, json;
} build_cli;

static const ps_opt OPTS[] = {
    PS_STRING_OPT(build_cli, "out", 'o', out, "DIR", "output directory (default: out)"),
    PS_STRING_OPT(build_cli, "format", 'f', format, "LIST", "deb, rpm or deb,rpm (default: both)"),
    PS_LIST_OPT(build_cli, "set", 's', sets, "NAME=VALUE",
        "override a build setting: version, release, or a\n"
        "name declared in pkgsmith.settings (repeatable)"),
    PS_STRING_OPT(build_cli, "key", 'k', key, "FPR",
        "sign with this OpenPGP key (default:\n$PKGSMITH_SIGNING_KEY)"),
    PS_STRING_OPT(build_cli, "gnupg-home", 0, home, "DIR",
        "GnuPG home holding the key (default: $GNUPGHOME)"),
    PS_FLAG_OPT(build_cli, "no-sign", 0, no_sign, "build unsigned packages"),
    PS_OPT_JSON(build_cli),
    PS_OPT_END};

static const ps_cli_spec SPEC = {
    "build", "build signed .deb and .rpm packages from debian/ and specs/",
    "    pkgsmith build [--out DIR] [--format deb,rpm] [--set NAME=VALUE]...\n"
    "                   [--key FPR | --no-sign] [--gnupg-home DIR] [--json] [SOURCE-DIR]\n",
    "    Reads the package definitions of SOURCE-DIR (default: .) and writes\n"
    "    DIR/<name>_<version>_<arch>.deb for each binary stanza of debian/control\n"
    "    and DIR/<name>-<version>-<release>.<arch>.rpm for each specs/NAME.spec,\n"
    "    in process: no dpkg-deb, rpmbuild, tar, ar or cpio is run (a spec's own\n"
    "    %install script runs through librpmbuild).  The version comes from the\n"
    "    top entry of debian/changelog; build settings are declared with their\n"
    "    defaults in pkgsmith.settings.  All packages appear in DIR together, or\n"
    "    none does.\n"
    "\n"
    "    Unsigned packages are byte-for-byte reproducible for the same inputs and\n"
    "    SOURCE_DATE_EPOCH (default: the date of the changelog's top entry).\n",
    OPTS,
    "    0 built; 2 bad input (file and line named on stderr) or unusable key;\n"
    "    1 other failures; 64 usage error.\n",
    "    pkgsmith build --out out --key \"$FPR\" --set loki_host=loki.example.com .\n",
    0};

static int parse_formats(const char *list, unsigned *formats)
{
    char *copy = strdup(list), *save = NULL;
    int ok = copy != NULL;
    *formats = 0;
    for (char *f = ok ? strtok_r(copy, ",", &save) : NULL; f; f = strtok_r(NULL, ",", &save)) {
        if (strcmp(f, "deb") == 0)
            *formats |= PS_FORMAT_DEB;
        else if (strcmp(f, "rpm") == 0)
            *formats |= PS_FORMAT_RPM;
        else
            ok = 0;
    }
    free(copy);
    return ok && *formats != 0;
}

static void print_json(const ps_strv *outputs)
{
    fputs("{\"ok\":true,\"outputs\":[", stdout);
    for (size_t i = 0; i < outputs->n; i++) {
        if (i)
            fputc(',', stdout);
        ps_cli_json_string(stdout, outputs->v[i]);
    }
    fputs("]}\n", stdout);
}

static int run(int argc, char **argv)
{
    build_cli c = {0};
    int first = 0, status = ps_cli_parse(&SPEC, argc, argv, &c, &first);
    ps_build_opts o = {.outdir = c.out, .sets = (const char *const *)c.sets.v,
                       .nsets = c.sets.n, .key = c.key, .gnupg_home = c.home,
                       .no_sign = c.no_sign};
    int json = c.json;
    if (status < 0 && c.format && !parse_formats(c.format, &o.formats))
        status = ps_cli_usage_error(&SPEC, "--format takes deb, rpm or deb,rpm", c.format);
    if (status >= 0) {
        ps_strv_free(&c.sets);
        return status;
    }
    if (argc - first > 1) {
        ps_strv_free(&c.sets);
        return ps_cli_usage_error(&SPEC, "at most one SOURCE-DIR", argv[first + 1]);
    }
    o.srcdir = first < argc ? argv[first] : ".";
    /* Only an explicit --key conflicts with --no-sign: the environment's
     * default applies when nothing on the command line says otherwise. */
    if (o.key == NULL && !o.no_sign)
        o.key = getenv("PKGSMITH_SIGNING_KEY");
    if (o.key != NULL && *o.key == '\0')
        o.key = NULL;
    if (o.key != NULL && o.no_sign) {
        ps_strv_free(&c.sets);
        return ps_cli_usage_error(&SPEC, "--key and --no-sign exclude each other", NULL);
    }
    ps_error err = {0};
    ps_strv outputs = {0};
    status = 0;
    if (!o.no_sign && o.key == NULL) {
        ps_error_set(&err, PS_EKEY,
                     "no signing key: pass --key FPR, set PKGSMITH_SIGNING_KEY, or use --no-sign");
        status = ps_cli_fail("build", &err, json);
    } else if (ps_build_run(&o, &outputs, &err) != PS_OK) {
        status = ps_cli_fail("build", &err, json);
    } else if (json) {
        print_json(&outputs);
    } else {
        for (size_t i = 0; i < outputs.n; i++)
            printf("%s\n", outputs.v[i]);
    }
    ps_strv_free(&outputs);
    ps_strv_free(&c.sets);
    return status;
}

const ps_command ps_cmd_build = {&SPEC, "build signed .deb and .rpm packages", run};
