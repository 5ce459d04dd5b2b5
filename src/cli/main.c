/* pkgsmith - package build and distribution toolkit (git-style CLI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef PS_VERSION
#define PS_VERSION "0.1.0"
#endif

static const ps_command *const COMMANDS[] = {&ps_cmd_build, &ps_cmd_sign, &ps_cmd_repo,
                                                  &ps_cmd_mirror, &ps_cmd_bundle, NULL};

static void usage(FILE *f)
{
    fputs("usage: pkgsmith [--version] [--help] <command> [<args>]\n\n"
          "Builds signed, reproducible .deb and .rpm packages in process.\n\n"
          "Commands:\n",
          f);
    for (const ps_command *const *c = COMMANDS; *c; c++)
        fprintf(f, "   %-10s %s\n", (*c)->spec->name, (*c)->summary);
    fputs("   help       show the manual of a command (--man: as a man page)\n\n"
          "See 'pkgsmith help <command>' for the options of a command.\n"
          "Exit status: 0 success, 1 failure, 2 bad input or key, 64 usage error.\n",
          f);
}

static const ps_command *find(const char *name)
{
    for (const ps_command *const *c = COMMANDS; *c; c++)
        if (strcmp((*c)->spec->name, name) == 0)
            return *c;
    return NULL;
}

/* pkgsmith(1): the command list of usage() as a man page, so that the
 * top page names every command the binary has. */
static void man_top(FILE *f)
{
    fprintf(f, ".TH PKGSMITH 1 \"\" \"pkgsmith %s\" \"pkgsmith manual\"\n"
               ".SH NAME\npkgsmith \\- build, sign, publish and mirror .deb and .rpm packages\n"
               ".SH SYNOPSIS\n\\fBpkgsmith\\fR [\\fB\\-\\-version\\fR] [\\fB\\-\\-help\\fR] "
               "\\fICOMMAND\\fR [\\fIARGS\\fR]\n"
               ".SH DESCRIPTION\nBuilds signed, reproducible .deb and .rpm packages in process, "
               "publishes them in a signed apt and rpm repository, mirrors upstream "
               "repositories into it and carries them across an air gap.\n"
               ".SH COMMANDS\n",
            PS_VERSION);
    for (const ps_command *const *c = COMMANDS; *c; c++)
        fprintf(f, ".TP\n\\fB%s\\fR\n%s; see \\fBpkgsmith\\-%s\\fR(1)\n", (*c)->spec->name,
                (*c)->summary, (*c)->spec->name);
    fputs(".TP\n\\fBhelp\\fR [\\fB\\-\\-man\\fR] [\\fICOMMAND\\fR]\n"
          "show the manual of a command (\\fB\\-\\-man\\fR: as a man page)\n"
          ".SH FILES\n.TP\n/etc/pkgsmith/mirrors.d/*.mirror\nmirror definitions, see "
          "\\fBpkgsmith.mirror\\fR(5)\n.TP\n/var/lib/pkgsmith/repo.conf\nthe repository's "
          "settings, see \\fBpkgsmith\\-repo.conf\\fR(5)\n"
          ".SH \"EXIT STATUS\"\n0 success, 1 failure, 2 bad input or key, 64 usage error.\n",
          f);
}

/* pkgsmith help [--man] [COMMAND]: the manual comes from the command's
 * option table, so `make man` and --help cannot say different things. */
static int help(int argc, char **argv)
{
    int man = argc > 1 && strcmp(argv[1], "--man") == 0;
    if (argc < 2 + man) {
        if (man)
            man_top(stdout);
        else
            usage(stdout);
        return 0;
    }
    const ps_command *c = find(argv[1 + man]);
    if (c == NULL) {
        fprintf(stderr, "pkgsmith: '%s' is not a pkgsmith command; see 'pkgsmith --help'\n",
                argv[1 + man]);
        return 64;
    }
    if (man)
        ps_cli_man(c->spec, PS_VERSION, stdout);
    else
        ps_cli_usage(c->spec, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 64;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("pkgsmith %s\n", PS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0)
        return help(argc - 1, argv + 1);
    const ps_command *c = find(cmd);
    if (c == NULL) {
        fprintf(stderr, "pkgsmith: '%s' is not a pkgsmith command; see 'pkgsmith --help'\n", cmd);
        return 64;
    }
    return c->run(argc - 1, argv + 1);
}

void ps_cli_human(uint64_t b, char *out, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    size_t i = 0;
    for (; v >= 1024 && i < 4; i++)
        v /= 1024;
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

void ps_cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int ps_cli_fail(const char *cmd, const ps_error *err, int json)
{
    if (json) {
        fputs("{\"ok\":false,\"error\":{\"code\":", stdout);
        ps_cli_json_string(stdout, ps_code_name(err->code));
        fputs(",\"message\":", stdout);
        ps_cli_json_string(stdout, err->msg);
        fputs("}}\n", stdout);
    }
    fprintf(stderr, "pkgsmith %s: error: %s\n", cmd, err->msg);
    return ps_error_exit_status(err->code);
}
