/* pkgsmith bundle */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ps_bundle.h"
#include "ps_repo.h"


typedef struct opts {
    const char *root, *out, *key, *home;
    ps_strv mirrors, keys;
    long since, wait;
    int full, json;
    uint64_t split;
} opts;

static const ps_opt OPTS[] = {
    PS_OPT_ROOT(opts, "the repository (default /var/lib/pkgsmith)"),
    {"mirror", 0, PS_OPT_LIST, "NAME", "export only this mirror (repeatable)",
     offsetof(opts, mirrors), 0, 0},
    {"since", 0, PS_OPT_NUMBER, "GEN", "export the changes since the export of GEN",
     offsetof(opts, since), 1, 2147483647L},
    {"full", 0, PS_OPT_FLAG, NULL, "export everything (the base of nothing)", offsetof(opts, full),
     0, 0},
    {"split", 0, PS_OPT_SIZE, "SIZE", "chunk size, e.g. 700M, 4G (at least 64K)",
     offsetof(opts, split), 65536, 0},
    {"out", 0, PS_OPT_STRING, "FILE", "the bundle to write", offsetof(opts, out), 0, 0},
    {"key", 0, PS_OPT_STRING, "FPR", "transfer key (default: the repository's key)",
     offsetof(opts, key), 0, 0},
    {"gnupg-home", 0, PS_OPT_STRING, "DIR", "where the transfer key is", offsetof(opts, home), 0,
     0},
    {"transfer-key", 0, PS_OPT_LIST, "FILE", "a public key whose signature import accepts",
     offsetof(opts, keys), 0, 0},
    PS_OPT_WAIT(opts, "wait for a busy repository lock (default 0; -1: for ever)"),
    PS_OPT_JSON(opts),
    PS_OPT_END};

static const ps_cli_spec SPEC = {
    "bundle", "carry mirrors across an air gap on removable media",
    "    pkgsmith bundle export [--mirror NAME]... [--since GEN | --full]\n"
    "                           [--split SIZE] [--key FPR] [--gnupg-home DIR] --out FILE\n"
    "    pkgsmith bundle import [--transfer-key FILE]... FILE...\n"
    "    pkgsmith bundle verify [--transfer-key FILE]... FILE...\n"
    "    pkgsmith bundle list\n"
    "    (all also take --root DIR, --wait SECONDS, --json, --help)\n",
    "    export (connected side) writes a tar: a manifest signed with the\n"
    "    transfer key (default: the repository's signing key), the package\n"
    "    list, records and provenance of each mirror, and the package files\n"
    "    the offline side does not have yet.  By default that is everything\n"
    "    since the last export (`bundle list` shows them): the bundle then\n"
    "    needs that export's generation as its base.  --since GEN uses an\n"
    "    earlier export as the base; --full needs none.  --split SIZE cuts\n"
    "    the tar into FILE.001, FILE.002, ... of SIZE bytes each (e.g. 4G for\n"
    "    FAT32 media).  When nothing changed since the base, nothing is\n"
    "    written (exit 0).\n"
    "\n"
    "    import (offline side) verifies the manifest's signature against the\n"
    "    pinned transfer keys (--transfer-key, or Transfer-Keys in repo.conf),\n"
    "    checks that the base generation was imported here, streams every\n"
    "    member into ROOT/bundles/incoming/ checking its size and SHA-256,\n"
    "    and only then makes the mirrors' packages part of the working set and\n"
    "    publishes with this repository's own key, in one atomic switch.  A\n"
    "    tampered, truncated, reordered or foreign bundle publishes nothing and\n"
    "    names the member that failed.  Importing a bundle again does nothing;\n"
    "    an interrupted import is finished by running it again.  FILE.001\n"
    "    alone finds the other chunks.\n"
    "\n"
    "    verify checks a bundle where it lies (on its medium) as import\n"
    "    would, without importing or writing anything: the manifest's\n"
    "    signature against the pinned transfer keys, that every chunk is\n"
    "    there and whole (a missing one is named), and every member's size\n"
    "    and SHA-256.  It does not check what the repository holds (base\n"
    "    generation, targets): import does.\n"
    "\n"
    "    list shows every export (each on a row of its own, also two of the\n"
    "    same generation) and every import of the repository.\n",
    OPTS,
    "    0 done (or nothing to do); 1 verification or I/O failure (nothing\n"
    "    published); 2 bad input, missing base, or key problem; 64 usage\n"
    "    error; 75 the repository is locked.\n",
    "    pkgsmith bundle export --root /srv/repo --split 4G --out /media/usb/alloy.tar\n"
    "    pkgsmith bundle import --root /srv/offline /media/usb/alloy.tar.001\n",
    1};

typedef struct bar {
    const char *what;
    double t0;
} bar;

static void draw(void *ud, uint64_t done, uint64_t total)
{
    bar *b = ud;
    char d[32], t[32], r[32];
    double el = ps_now() - b->t0;
    ps_cli_human(done, d, sizeof d), ps_cli_human(total, t, sizeof t);
    ps_cli_human(el > 0 ? (uint64_t)((double)done / el) : 0, r, sizeof r);
    fprintf(stderr, "\r%s %s/%s  %s/s ", b->what, d, t, r);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

static void json_result(const char *cmd, const ps_bundle_result *r)
{
    printf("{\"ok\":true,\"command\":\"%s\",\"nothing_to_do\":%s,\"origin\":\"%s\","
           "\"generation\":%ld,\"base\":%ld,\"members\":%zu,\"packages\":%zu,\"files\":%zu,"
           "\"bytes\":%llu,\"signer\":\"%s\",\"duration\":%.3f",
           cmd, r->nothing ? "true" : "false", r->origin, r->generation, r->base, r->members,
           r->packages, r->files, (unsigned long long)r->bytes, r->signer, r->duration);
    if (strcmp(cmd, "verify") == 0)
        ;
    else if (strcmp(cmd, "import") == 0)
        printf(",\"published\":%s,\"repository_generation\":%ld", r->published ? "true" : "false",
               r->published_gen);
    else {
        printf(",\"outputs\":[");
        for (size_t i = 0; i < r->outputs.n; i++) {
            printf(i ? "," : "");
            ps_cli_json_string(stdout, r->outputs.v[i]);
        }
        printf("]");
    }
    printf("}\n");
}

static int do_export(opts *o)
{
    bar b = {"export", ps_now()};
    int tty = isatty(STDERR_FILENO) && !o->json;
    ps_bundle_export_opts eo = {o->root, (const char *const *)o->mirrors.v, o->mirrors.n,
                                o->full, o->since, o->split, o->out, o->key, o->home, (int)o->wait,
                                tty ? draw : NULL, &b};
    ps_bundle_result r;
    ps_error err = {0};
    if (ps_bundle_export(&eo, &r, &err) != PS_OK) {
        ps_bundle_result_free(&r);
        return ps_cli_fail("bundle", &err, o->json);
    }
    char size[32];
    ps_cli_human(r.bytes, size, sizeof size);
    if (o->json)
        json_result("export", &r);
    else if (r.nothing)
        printf("nothing to export: generation %ld was exported already (the base of the next "
               "delta); --full exports everything again\n", r.generation);
    else if (r.base == 0)
        printf("exported generation %ld (full): %zu packages, %zu package files, %zu members, "
               "%s in %.1fs, signed by %s -> %s%s\n",
               r.generation, r.packages, r.files, r.members, size, r.duration, r.signer,
               r.outputs.v[0], r.outputs.n > 1 ? " ..." : "");
    else
        printf("exported generation %ld (delta on generation %ld): %zu packages, %zu package files, %zu members, "
               "%s in %.1fs, signed by %s -> %s%s\n",
               r.generation, r.base, r.packages,
               r.files, r.members, size, r.duration, r.signer, r.outputs.v[0],
               r.outputs.n > 1 ? " ..." : "");
    ps_bundle_result_free(&r);
    return 0;
}

/* import and verify read a bundle the same way; verify writes nothing. */
static int do_read(opts *o, int argc, char **argv, int verify)
{
    const char *cmd = verify ? "verify" : "import";
    bar b = {cmd, ps_now()};
    int tty = isatty(STDERR_FILENO) && !o->json;
    ps_bundle_import_opts io = {o->root, (const char *const *)argv, (size_t)argc,
                                (const char *const *)o->keys.v, o->keys.n, (int)o->wait,
                                tty ? draw : NULL, &b};
    ps_bundle_result r;
    ps_error err = {0};
    if ((verify ? ps_bundle_verify : ps_bundle_import)(&io, &r, &err) != PS_OK)
        return ps_cli_fail("bundle", &err, o->json);
    char size[32], base[48];
    ps_cli_human(r.bytes, size, sizeof size);
    snprintf(base, sizeof base, r.base ? "delta on generation %ld" : "full", r.base);
    if (o->json)
        json_result(cmd, &r);
    else if (verify)
        printf("%s: good: generation %ld of origin %s (%s), %zu members, %zu package files "
               "(%s), signed by %s\n",
               argv[0], r.generation, r.origin, base, r.members, r.files, size, r.signer);
    else if (r.nothing)
        printf("generation %ld of origin %s is already imported: nothing to do\n", r.generation,
               r.origin);
    else
        printf("imported generation %ld of origin %s (%s): %zu package files (%s) verified, "
               "signed by %s; %s generation %ld\n",
               r.generation, r.origin, base, r.files, size,
               r.signer, r.published ? "published" : "unchanged", r.published_gen);
    return 0;
}

static int do_list(opts *o)
{
    ps_bundle_event *ev = NULL;
    size_t n = 0;
    ps_error err = {0};
    if (ps_bundle_list(o->root, &ev, &n, &err) != PS_OK)
        return ps_cli_fail("bundle", &err, o->json);
    if (o->json)
        printf("{\"ok\":true,\"events\":[");
    else if (n == 0)
        printf("no bundle exported or imported in %s\n", o->root);
    else
        printf("%-7s %-12s %6s %6s %-20s %8s %10s %-8s %s\n", "KIND", "ORIGIN", "GEN", "BASE",
               "WHEN", "MEMBERS", "SIZE", "STATUS", "FILE");
    for (size_t i = 0; i < n; i++) {
        char when[32], size[32];
        time_t t = (time_t)ev[i].time;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        ps_cli_human(ev[i].bytes, size, sizeof size);
        if (o->json) {
            printf("%s{\"kind\":\"%s\",\"origin\":\"%s\",\"generation\":%ld,\"base\":%ld,"
                   "\"time\":\"%s\",\"members\":%zu,\"bytes\":%llu,\"status\":\"%s\",\"file\":",
                   i ? "," : "", ev[i].kind, ev[i].origin, ev[i].generation, ev[i].base, when,
                   ev[i].members, (unsigned long long)ev[i].bytes, ev[i].status);
            ps_cli_json_string(stdout, ev[i].file);
            printf("}");
            continue;
        }
        char base[24];
        snprintf(base, sizeof base, ev[i].base ? "%ld" : "-", ev[i].base);
        printf("%-7s %-12.12s %6ld %6s %-20s %8zu %10s %-8s %s\n", ev[i].kind, ev[i].origin,
               ev[i].generation, base, when, ev[i].members, size, ev[i].status, ev[i].file);
    }
    if (o->json)
        printf("]}\n");
    free(ev);
    return 0;
}

static int dispatch(opts *o, const char *sub, int nargs, char **args)
{
    if (strcmp(sub, "export") == 0) {
        if (nargs)
            return ps_cli_usage_error(&SPEC, "export takes no arguments", args[0]);
        if (o->out == NULL)
            return ps_cli_usage_error(&SPEC, "export needs --out FILE", NULL);
        if (o->full && o->since)
            return ps_cli_usage_error(&SPEC, "--full and --since exclude each other", NULL);
        return do_export(o);
    }
    if (strcmp(sub, "import") == 0)
        return nargs ? do_read(o, nargs, args, 0)
                     : ps_cli_usage_error(&SPEC, "import needs a bundle", NULL);
    if (strcmp(sub, "verify") == 0)
        return nargs ? do_read(o, nargs, args, 1)
                     : ps_cli_usage_error(&SPEC, "verify needs a bundle", NULL);
    if (strcmp(sub, "list") == 0)
        return nargs ? ps_cli_usage_error(&SPEC, "list takes no arguments", args[0]) : do_list(o);
    return ps_cli_usage_error(&SPEC, "unknown subcommand", sub);
}

static int run(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ps_cli_usage(&SPEC, argc < 2 ? stderr : stdout);
        return argc < 2 ? 64 : 0;
    }
    opts o = {.root = getenv("PKGSMITH_REPO_ROOT")};
    if (o.root == NULL || *o.root == '\0')
        o.root = PS_REPO_DEFAULT_ROOT;
    int first = 0, status = ps_cli_parse(&SPEC, argc - 1, argv + 1, &o, &first);
    if (status < 0)
        status = dispatch(&o, argv[1], argc - 1 - first, argv + 1 + first);
    ps_strv_free(&o.mirrors), ps_strv_free(&o.keys);
    return status;
}

const ps_command ps_cmd_bundle = {&SPEC, "carry mirrors across an air gap (export/import/verify)", run};
