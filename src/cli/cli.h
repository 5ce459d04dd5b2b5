/* cli.h - the pkgsmith command line: one file per subcommand. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cli_opt.h"
#include "ps_error.h"

typedef struct ps_command {
    const ps_cli_spec *spec; /* name, options, manual: the parser and the help */
    const char *summary;     /* the line of `pkgsmith --help` */
    int (*run)(int argc, char **argv);
} ps_command;

extern const ps_command ps_cmd_build;
extern const ps_command ps_cmd_repo;
extern const ps_command ps_cmd_mirror;
extern const ps_command ps_cmd_sign;
extern const ps_command ps_cmd_bundle;

/* Prints ERR as one line on stderr ("pkgsmith build: error: ...") or, with
 * JSON, as {"ok":false,...} on stdout; returns the exit status. */
int ps_cli_fail(const char *cmd, const ps_error *err, int json);

/* B bytes as "512 B", "1.5 MiB", ... into OUT. */
void ps_cli_human(uint64_t b, char *out, size_t n);

/* Writes S as a JSON string literal. */
void ps_cli_json_string(FILE *f, const char *s);

#endif
