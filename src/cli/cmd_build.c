/* pkgsmith build */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_build.h"

static const char USAGE[] =
    "NAME\n"
    "    pkgsmith build - build signed .deb and .rpm packages from debian/ and specs/\n"
    "\n"
    "SYNOPSIS\n"
    "    pkgsmith build [--out DIR] [--format deb,rpm] [--set NAME=VALUE]...\n"
    "                   [--key FPR | --no-sign] [--gnupg-home DIR] [--json] [SOURCE-DIR]\n"
    "\n"
    "DESCRIPTION\n"
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
    "    SOURCE_DATE_EPOCH (default: the date of the changelog's top entry).\n"
    "\n"
    "OPTIONS\n"
    "    -o, --out DIR         output directory (default: out)\n"
    "    -f, --format LIST     deb, rpm or deb,rpm (default: both)\n"
    "    -s, --set NAME=VALUE  override a build setting: version, release, or a\n"
    "                          name declared in pkgsmith.settings (repeatable)\n"
    "    -k, --key FPR         sign with this OpenPGP key (default:\n"
    "                          $PKGSMITH_SIGNING_KEY)\n"
    "        --gnupg-home DIR  GnuPG home holding the key (default: $GNUPGHOME)\n"
    "        --no-sign         build unsigned packages\n"
    "        --json            print the result as JSON on stdout\n"
    "    -h, --help            show this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 built; 2 bad input (file and line named on stderr) or unusable key;\n"
    "    1 other failures; 64 usage error.\n"
    "\n"
    "EXAMPLE\n"
    "    pkgsmith build --out out --key \"$FPR\" --set loki_host=loki.example.com .\n";

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

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "pkgsmith build: %s%s%s\nsee 'pkgsmith help build'\n", msg,
            arg ? ": " : "", arg ? arg : "");
    return 64;
}

static int run(int argc, char **argv)
{
    enum { OPT_NO_SIGN = 256, OPT_JSON, OPT_HOME };
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},   {"format", required_argument, NULL, 'f'},
        {"set", required_argument, NULL, 's'},   {"key", required_argument, NULL, 'k'},
        {"no-sign", no_argument, NULL, OPT_NO_SIGN},
        {"gnupg-home", required_argument, NULL, OPT_HOME},
        {"json", no_argument, NULL, OPT_JSON},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    ps_build_opts o = {0};
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    int json = 0, c;
    if (sets == NULL)
        return 1;
    o.sets = sets;
    while ((c = getopt_long(argc, argv, "+o:f:s:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.outdir = optarg; break;
        case 'f':
            if (!parse_formats(optarg, &o.formats)) {
                free(sets);
                return usage_error("--format takes deb, rpm or deb,rpm", optarg);
            }
            break;
        case 's': sets[o.nsets++] = optarg; break;
        case 'k': o.key = optarg; break;
        case OPT_NO_SIGN: o.no_sign = 1; break;
        case OPT_HOME: o.gnupg_home = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'h': fputs(USAGE, stdout); free(sets); return 0;
        default: free(sets); return usage_error("bad option", NULL);
        }
    }
    if (argc - optind > 1) {
        free(sets);
        return usage_error("at most one SOURCE-DIR", argv[optind + 1]);
    }
    o.srcdir = optind < argc ? argv[optind] : ".";
    if (o.key == NULL)
        o.key = getenv("PKGSMITH_SIGNING_KEY");
    if (o.key != NULL && *o.key == '\0')
        o.key = NULL;
    if (o.key != NULL && o.no_sign) {
        free(sets);
        return usage_error("--key and --no-sign exclude each other", NULL);
    }
    ps_error err = {0};
    ps_strv outputs = {0};
    int status = 0;
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
    free(sets);
    return status;
}

const ps_command ps_cmd_build = {"build", "build signed .deb and .rpm packages", USAGE, run};
