/* cli_opt.c - table-driven option parsing, help and man pages. */
#include "cli_opt.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ps_util.h"

int ps_cli_usage_error(const ps_cli_spec *spec, const char *msg, const char *arg)
{
    fprintf(stderr, "pkgsmith %s: %s%s%s\nsee 'pkgsmith help %s'\n", spec->name, msg,
            arg ? ": " : "", arg ? arg : "", spec->name);
    return 64;
}

static size_t count(const ps_opt *o)
{
    size_t n = 0;
    while (o[n].name)
        n++;
    return n;
}

/* "64K" for 65536: the smallest size in the form a user types it. */
static void size_text(long v, char *out, size_t n)
{
    if (v >= 1048576 && v % 1048576 == 0)
        snprintf(out, n, "%ldM", v / 1048576);
    else if (v >= 1024 && v % 1024 == 0)
        snprintf(out, n, "%ldK", v / 1024);
    else
        snprintf(out, n, "%ld", v);
}

/* Names the option and the value a user gave; returns 64. */
static int bad_value(const ps_cli_spec *spec, const ps_opt *o, const char *val)
{
    char why[96], min[32];
    if (o->kind == PS_OPT_SIZE) {
        size_text(o->min, min, sizeof min);
        snprintf(why, sizeof why, "is not a size (such as 10M)%s%s", o->min ? " of at least " : "",
                 o->min ? min : "");
    } else if (o->max >= 2147483647L) {
        snprintf(why, sizeof why, "is not a whole number of at least %ld", o->min);
    } else {
        snprintf(why, sizeof why, "is not a whole number from %ld to %ld", o->min, o->max);
    }
    fprintf(stderr, "pkgsmith %s: bad option or value: --%s: '%s' %s\nsee 'pkgsmith help %s'\n",
            spec->name, o->name, val, why, spec->name);
    return 64;
}

/* Stores VAL into the destination of O: -1 when done, else the status. */
static int store(const ps_cli_spec *spec, const ps_opt *o, const char *val, void *dest)
{
    char *at = (char *)dest + o->offset, *end = NULL;
    long v;
    uint64_t size;
    switch (o->kind) {
    case PS_OPT_FLAG: *(int *)(void *)at = 1; return -1;
    case PS_OPT_STRING: *(const char **)(void *)at = val; return -1;
    case PS_OPT_LIST:
        if (ps_strv_add((ps_strv *)(void *)at, val, NULL) == PS_OK)
            return -1;
        fprintf(stderr, "pkgsmith %s: error: out of memory\n", spec->name);
        return 1;
    case PS_OPT_NUMBER:
        errno = 0;
        v = strtol(val, &end, 10);
        if (end == val || *end != '\0' || errno != 0 || v < o->min || v > o->max)
            return bad_value(spec, o, val);
        *(long *)(void *)at = v;
        return -1;
    case PS_OPT_SIZE:
        if (ps_parse_size(val, &size) != 0 || size < (uint64_t)o->min)
            return bad_value(spec, o, val);
        *(uint64_t *)(void *)at = size;
        return -1;
    }
    return 64;
}

int ps_cli_parse(const ps_cli_spec *spec, int argc, char **argv, void *dest, int *first)
{
    size_t n = count(spec->opts);
    struct option *lo = calloc(n + 2, sizeof *lo);
    char *shorts = malloc(2 * n + 5);
    if (lo == NULL || shorts == NULL) {
        free(lo), free(shorts);
        fprintf(stderr, "pkgsmith %s: error: out of memory\n", spec->name);
        return 1;
    }
    /* '+' stops at the first operand unless the command permutes; ':' makes
     * a missing value its own answer, so that the message can name it. */
    size_t k = 0;
    if (!spec->permute)
        shorts[k++] = '+';
    shorts[k++] = ':';
    shorts[k++] = 'h';
    for (size_t i = 0; i < n; i++) {
        const ps_opt *o = &spec->opts[i];
        int has_arg = o->kind == PS_OPT_FLAG ? no_argument : required_argument;
        int val = o->short_name ? o->short_name : 256 + (int)i; /* 256+: long only */
        lo[i] = (struct option){o->name, has_arg, NULL, val};
        if (o->short_name) {
            shorts[k++] = o->short_name;
            if (has_arg)
                shorts[k++] = ':';
        }
    }
    shorts[k] = '\0';
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    int c, status = -1;
    opterr = 0; /* the messages below name the command */
    optind = 0; /* glibc: start afresh */
    while (status == -1 && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const char *given = argv[optind - 1];
        if (c == 'h') {
            ps_cli_usage(spec, stdout);
            status = 0;
        } else if (c == '?' || c == ':') {
            char opt[3] = {'-', (char)optopt, '\0'};
            /* a short option can share its word with others ("-xk"): name it alone */
            const char *name = optopt && strncmp(given, "--", 2) != 0 ? opt : given;
            status = ps_cli_usage_error(spec, c == '?' ? "bad option or value: unknown option"
                                                       : "bad option or value: no value for",
                                        name);
        } else {
            size_t i = 0;
            if (c >= 256)
                i = (size_t)(c - 256);
            else
                while (i < n && spec->opts[i].short_name != c)
                    i++;
            status = store(spec, &spec->opts[i], optarg, dest);
        }
    }
    *first = optind;
    free(lo), free(shorts);
    return status;
}

/* ---- the manual ------------------------------------------------------ */

/* "-k, --key FPR" (LEAD: the short options have a column of their own). */
static void label(const ps_opt *o, int lead, char *out, size_t n)
{
    char s[8] = "";
    if (o->short_name)
        snprintf(s, sizeof s, "-%c, ", o->short_name);
    else if (lead)
        snprintf(s, sizeof s, "    ");
    snprintf(out, n, "%s--%s%s%s", s, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void ps_cli_usage(const ps_cli_spec *spec, FILE *f)
{
    static const ps_opt help = {"help", 'h', PS_OPT_FLAG, NULL, "show this text", 0, 0, 0};
    size_t n = count(spec->opts), width = strlen("-h, --help");
    int lead = 0;
    char l[80];
    for (size_t i = 0; i < n; i++)
        lead |= spec->opts[i].short_name != 0;
    for (size_t i = 0; i < n; i++) {
        label(&spec->opts[i], lead, l, sizeof l);
        width = strlen(l) > width ? strlen(l) : width;
    }
    fprintf(f, "NAME\n    pkgsmith %s - %s\n\nSYNOPSIS\n%s\nDESCRIPTION\n%s\nOPTIONS\n",
            spec->name, spec->summary, spec->synopsis, spec->description);
    for (size_t i = 0; i <= n; i++) {
        const ps_opt *o = i < n ? &spec->opts[i] : &help;
        label(o, lead, l, sizeof l);
        fprintf(f, "    %-*s  ", (int)width, l);
        for (const char *p = o->help; *p; p++) {
            fputc(*p, f);
            if (*p == '\n')
                fprintf(f, "    %-*s  ", (int)width, "");
        }
        fputc('\n', f);
    }
    fprintf(f, "\nEXIT STATUS\n%s\nEXAMPLE\n%s", spec->exit_status, spec->example);
}

/* Text of the manual as roff: indentation goes, a blank line starts a
 * paragraph, a deeper-indented line starts a line of its own. */
static void roff_text(const char *text, int fill, FILE *f)
{
    fputs(fill ? "" : ".nf\n", f);
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p), sp = 0;
        while (sp < len && p[sp] == ' ')
            sp++;
        if (sp == len)
            fputs(fill ? ".PP\n" : "\n", f);
        else {
            if (fill && sp > 4)
                fputs(".br\n", f);
            const char *s = p + (sp < 4 || fill ? sp : 4);
            if (*s == '.' || *s == '\'')
                fputs("\\&", f);
            for (; s < p + len; s++) {
                if (*s == '\\')
                    fputs("\\e", f);
                else if (*s == '-')
                    fputs("\\-", f);
                else
                    fputc(*s, f);
            }
            fputc('\n', f);
        }
        p += len + (eol != NULL);
    }
    fputs(fill ? "" : ".fi\n", f);
}

static void man_section(const char *title, const char *text, int fill, FILE *f)
{
    fprintf(f, ".SH %s\n", title);
    roff_text(text, fill, f);
}

void ps_cli_man(const ps_cli_spec *spec, const char *version, FILE *f)
{
    char upper[32];
    size_t i = 0;
    for (; spec->name[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)(spec->name[i] >= 'a' && spec->name[i] <= 'z' ? spec->name[i] - 32
                                                                         : spec->name[i]);
    upper[i] = '\0';
    fprintf(f, ".TH PKGSMITH\\-%s 1 \"\" \"pkgsmith %s\" \"pkgsmith manual\"\n", upper, version);
    fprintf(f, ".SH NAME\npkgsmith\\-%s \\- ", spec->name);
    roff_text(spec->summary, 1, f);
    man_section("SYNOPSIS", spec->synopsis, 0, f);
    man_section("DESCRIPTION", spec->description, 1, f);
    fputs(".SH OPTIONS\n", f);
    for (const ps_opt *o = spec->opts; o->name; o++) {
        fputs(".TP\n", f);
        if (o->short_name)
            fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
        fprintf(f, "\\fB\\-\\-%s\\fR", o->name);
        if (o->arg)
            fprintf(f, " \\fI%s\\fR", o->arg);
        fputc('\n', f);
        roff_text(o->help, 1, f);
    }
    fputs(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nshow this text\n", f);
    man_section("\"EXIT STATUS\"", spec->exit_status, 1, f);
    man_section("EXAMPLE", spec->example, 0, f);
    /* The file formats a command reads have pages of their own. */
    fputs(".SH \"SEE ALSO\"\n\\fBpkgsmith\\fR(1)", f);
    if (strcmp(spec->name, "mirror") == 0 || strcmp(spec->name, "bundle") == 0)
        fputs(", \\fBpkgsmith.mirror\\fR(5)", f);
    if (strcmp(spec->name, "repo") == 0 || strcmp(spec->name, "mirror") == 0)
        fputs(", \\fBpkgsmith\\-repo.conf\\fR(5)", f);
    fputc('\n', f);
}
