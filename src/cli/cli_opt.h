/* cli_opt.h - the one option parser of the pkgsmith subcommands.
 *
 * A subcommand declares its options once, as a table of ps_opt; the same
 * table drives getopt_long, checks numbers and sizes, and writes the
 * OPTIONS section of its manual (plain text for --help, roff for
 * `pkgsmith help --man`), so the help text and the parser cannot drift. */
#ifndef PS_CLI_OPT_H
#define PS_CLI_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ps_opt_kind {
    PS_OPT_FLAG,   /* int, set to 1 */
    PS_OPT_STRING, /* const char *, the last one given wins */
    PS_OPT_LIST,   /* ps_strv, repeatable */
    PS_OPT_NUMBER, /* long, a decimal integer within [min, max] */
    PS_OPT_SIZE    /* uint64_t, "512K", "4G", ... of at least min bytes */
} ps_opt_kind;

typedef struct ps_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* 0: none */
    ps_opt_kind kind;
    const char *arg;  /* the value's name in the help ("DIR", "N"); NULL for flags */
    const char *help; /* '\n' starts a continuation line */
    size_t offset;    /* of the destination in the subcommand's options struct */
    long min, max;    /* NUMBER: the range; SIZE: min is the smallest size */
} ps_opt;

/* One row of a table, by kind: T is the subcommand's options struct, FIELD
 * the member the value lands in, SHORT a letter or 0.  The kind decides
 * which arguments a row has, so a flag cannot be given a range. */
#define PS_FLAG_OPT(T, name, short, field, help) \
    {name, short, PS_OPT_FLAG, NULL, help, offsetof(T, field), 0, 0}
#define PS_STRING_OPT(T, name, short, field, arg, help) \
    {name, short, PS_OPT_STRING, arg, help, offsetof(T, field), 0, 0}
#define PS_LIST_OPT(T, name, short, field, arg, help) \
    {name, short, PS_OPT_LIST, arg, help, offsetof(T, field), 0, 0}
#define PS_NUMBER_OPT(T, name, short, field, arg, help, min, max) \
    {name, short, PS_OPT_NUMBER, arg, help, offsetof(T, field), min, max}
#define PS_SIZE_OPT(T, name, short, field, arg, help, min) \
    {name, short, PS_OPT_SIZE, arg, help, offsetof(T, field), min, 0}

/* The options every repository-side subcommand shares.  T is the options
 * struct; the field names are fixed so that the help reads the same. */
#define PS_OPT_ROOT(T, help) PS_STRING_OPT(T, "root", 0, root, "DIR", help)
#define PS_OPT_JSON(T) PS_FLAG_OPT(T, "json", 0, json, "print the result as JSON on stdout")
#define PS_OPT_WAIT(T, help) PS_NUMBER_OPT(T, "wait", 0, wait, "SECONDS", help, -1, 2147483647L)
#define PS_OPT_END {NULL, 0, PS_OPT_FLAG, NULL, NULL, 0, 0, 0}

typedef struct ps_cli_spec {
    const char *name;        /* "repo": "pkgsmith repo" in every message */
    const char *summary;     /* the NAME line */
    const char *synopsis;    /* indented lines */
    const char *description; /* indented paragraphs */
    const ps_opt *opts;      /* --help (-h) is added by the parser */
    const char *exit_status;
    const char *example;
    int permute; /* options may follow operands ("sync NAME --json") */
} ps_cli_spec;

/* Parses the options of ARGV (ARGV[0] is the subcommand word) into DEST.
 * Returns -1 when the command should run, its operands from
 * ARGV[*FIRST]; 0 after printing the manual for --help; 64 after printing
 * a usage error that names the option and the bad value.  LIST options
 * may have been filled in every case: the caller frees them. */
int ps_cli_parse(const ps_cli_spec *spec, int argc, char **argv, void *dest, int *first);

/* The manual of SPEC as plain text (what --help and `pkgsmith help` show). */
void ps_cli_usage(const ps_cli_spec *spec, FILE *f);

/* The same manual as a man(7) page, section 1. */
void ps_cli_man(const ps_cli_spec *spec, const char *version, FILE *f);

/* "pkgsmith NAME: MSG[: ARG]" and the pointer to the manual on stderr;
 * returns 64. */
int ps_cli_usage_error(const ps_cli_spec *spec, const char *msg, const char *arg);

#endif
