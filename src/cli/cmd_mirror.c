/* pkgsmith mirror */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ps_mirror.h"
#include "ps_repo.h"


typedef struct opts {
    const char *root, *config, *metrics;
    long wait, connections, retries, timeout;
    int json, force, verbose, dry_run;
    uint64_t rate;
} opts;

/* --retries before it is given: the library's default then applies. */
#define RETRIES_UNSET (-2L)

static const ps_opt OPTS[] = {
    PS_OPT_ROOT(opts, "the repository (default /var/lib/pkgsmith)"),
    PS_STRING_OPT(opts, "config", 0, config, "DIR",
        "mirror definitions (default /etc/pkgsmith/mirrors.d)"),
    PS_OPT_WAIT(opts, "wait for a busy lock (default 0: refuse; -1: for ever)"),
    PS_FLAG_OPT(opts, "force", 0, force, "accept an index that shrank past Max-Shrink"),
    PS_NUMBER_OPT(opts, "connections", 0, connections, "N",
        "parallel downloads (overrides Connections)", 1, 64),
    PS_SIZE_OPT(opts, "rate-limit", 0, rate, "SIZE",
        "bytes per second over all downloads, e.g. 10M", 0),
    PS_NUMBER_OPT(opts, "retries", 0, retries, "N",
        "attempts after a failed request (default 4; 0: none);\n"
        "5xx, 429 (Retry-After honoured), timeouts, drops", 0, 100),
    PS_NUMBER_OPT(opts, "timeout", 0, timeout, "SECONDS",
        "stop a mirror's sync after this long, publishing\n"
        "nothing of it (overrides Timeout; partial downloads\n"
        "are kept for the next run)", 1, 7L * 86400),
    PS_FLAG_OPT(opts, "dry-run", 0, dry_run,
        "verify the signed files and indices and print what\n"
        "would be fetched, added, removed and published;\n"
        "change nothing"),
    PS_STRING_OPT(opts, "metrics-file", 0, metrics, "PATH",
        "write Prometheus metrics (node_exporter textfile)"),
    PS_OPT_JSON(opts),
    PS_FLAG_OPT(opts, "verbose", 0, verbose,
        "print the one-line summary per mirror even when\n"
        "stdout is not a terminal (by default a sync run\n"
        "by cron or a timer prints only errors)"),
    PS_OPT_END};

static const ps_cli_spec SPEC = {
    "mirror", "sync upstream apt and rpm repositories into ours",
    "    pkgsmith mirror sync [--force] [--connections N] [--rate-limit SIZE]\n"
    "                         [--retries N] [--timeout SECONDS] [--dry-run]\n"
    "                         [--metrics-file PATH] [NAME...]\n"
    "    pkgsmith mirror status [NAME...]\n"
    "    (both also take --root DIR, --config DIR, --wait SECONDS, --json, --help)\n",
    "    Mirrors are deb822 files, CONFIG/*.mirror (default\n"
    "    /etc/pkgsmith/mirrors.d, or $PKGSMITH_MIRROR_CONFIG), one stanza each:\n"
    "      Name, Type (apt|rpm), URIs, Suites, Components, Architectures,\n"
    "      Signed-By (key files, and the fingerprints to pin; several for a key\n"
    "      rotation), Include / Exclude (name globs), Keep-Versions, \n"
    "      Follow-Dependencies (yes|no), Max-Shrink (percent, default 50),\n"
    "      Max-Clock-Skew (seconds a Date may be ahead of this host, 3600),\n"
    "      Target (suite[/component] or rpm repo of the repository),\n"
    "      Connections (4), Rate-Limit, Max-Index-Size, Max-Index-Unpacked-Size,\n"
    "      Max-File-Size, Resign-Packages (rpm: sign the verified packages\n"
    "      with our key instead of keeping upstream's signature; default no),\n"
    "      Low-Speed-Limit (1K) and Low-Speed-Time (60): a download slower\n"
    "      than that many bytes/s for that many seconds is aborted and retried,\n"
    "      Timeout (seconds a sync may take; default none).\n"
    "\n"
    "    sync fetches the upstream InRelease (or Release + Release.gpg, or\n"
    "    repodata/repomd.xml + .asc) with a conditional request; when upstream\n"
    "    has not changed (a 304, or from a server without validators the very\n"
    "    bytes last accepted) it stops there.  Otherwise it verifies the\n"
    "    signature against the pinned keys (refusing what apt and rpm refuse:\n"
    "    SHA-1, MD5 or RIPEMD160 digests, RSA/DSA keys under 2048 bits,\n"
    "    ElGamal), refuses a Date older than the last one accepted or ahead of\n"
    "    this host's clock by more than Max-Clock-Skew, and a Valid-Until that\n"
    "    has passed, fetches the indices the signed file pins (by-hash where\n"
    "    offered; .xz, .gz, .zst, .bz2, .lz4, plain), unpacks every stream and\n"
    "    checks them against the uncompressed hash and size where listed,\n"
    "    selects the packages (filters, the newest Keep-Versions of each name\n"
    "    by the format's own version order, dependencies if asked), downloads\n"
    "    what the pool lacks in parallel (resumed, retried, size and SHA-256\n"
    "    checked; rpm signatures checked by librpm), and makes them the\n"
    "    mirror's share of the repository, published with our key in one\n"
    "    atomic switch: one generation for all the mirrors of a run that\n"
    "    changed.  The upstream signed files and signer are kept next\n"
    "    to each generation (generations/N/provenance/NAME/).  A sync that\n"
    "    reaches its Timeout stops, names the URL and publishes nothing of\n"
    "    that mirror.  --dry-run verifies as a sync does (into a scratch\n"
    "    directory), downloads no package and changes nothing.\n"
    "\n"
    "    status shows each mirror's last sync, its upstream Date and\n"
    "    Valid-Until, and the key that signed it.\n",
    OPTS,
    "    0 every mirror synced; 1 a sync failed (a signature, hash or download:\n"
    "    named on stderr); 2 bad configuration or key; 64 usage error; 75 a\n"
    "    lock is held by another sync.\n",
    "    pkgsmith mirror sync --root /srv/repo --config /etc/pkgsmith/mirrors.d\n"
    "    pkgsmith mirror status --root /srv/repo\n",
    1};

static void json_kv(const char *k, const char *v, int comma)
{
    printf("%s\"%s\":", comma ? "," : "", k);
    ps_cli_json_string(stdout, v ? v : "");
}

/* The mirrors named on the command line, or all of them. */
static int pick(const ps_mirror_set *set, int argc, char **argv, const ps_mirror_conf ***out,
                size_t *n)
{
    size_t want = argc ? (size_t)argc : ps_mirror_set_count(set);
    *out = calloc(want ? want : 1, sizeof **out);
    *n = 0;
    for (size_t i = 0; *out && i < want; i++) {
        const ps_mirror_conf *c = argc ? ps_mirror_set_find(set, argv[i]) : ps_mirror_set_at(set, i);
        if (c == NULL) {
            fprintf(stderr, "pkgsmith mirror: error: no mirror named '%s'\n", argv[i]);
            return 2;
        }
        (*out)[(*n)++] = c;
    }
    return *out ? 0 : 1;
}

/* ---- progress ------------------------------------------------------- */

typedef struct bar {
    const ps_mirror_conf *c;
    const char *name;
    double t0;
} bar;

static void draw(void *ud, const ps_mirror_conf *c, size_t fd, size_t ft, uint64_t bd,
                 uint64_t bt)
{
    bar *b = ud;
    if (b->c != c) /* the next mirror's downloads */
        *b = (bar){c, ps_mirror_conf_name(c), ps_now()};
    double el = ps_now() - b->t0;
    double rate = el > 0 ? (double)bd / el : 0;
    char done[32], total[32], r[32];
    ps_cli_human(bd, done, sizeof done), ps_cli_human(bt, total, sizeof total), ps_cli_human((uint64_t)rate, r, sizeof r);
    int width = 24, fill = bt ? (int)((double)bd / (double)bt * width) : width;
    char meter[32];
    for (int i = 0; i < width; i++)
        meter[i] = i < fill ? '#' : '.';
    meter[width] = '\0';
    double eta = rate > 0 && bt > bd ? (double)(bt - bd) / rate : 0;
    fprintf(stderr, "\r%s [%s] %zu/%zu files  %s/%s  %s/s  ETA %02d:%02d ", b->name, meter, fd,
            ft, done, total, r, (int)eta / 60, (int)eta % 60);
    if (fd == ft)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---- sync ------------------------------------------------------------ */

/* What a dry run would do, per mirror: text lines, or JSON objects. */
typedef struct changes {
    const ps_mirror_conf **list;
    size_t n;
    ps_buf *out;
    int json;
} changes;

static void on_change(void *ud, const ps_mirror_conf *c, const char *action, const char *name,
                      const char *version, const char *arch, uint64_t size)
{
    changes *ch = ud;
    size_t i = 0;
    while (i < ch->n && ch->list[i] != c)
        i++;
    if (i == ch->n)
        return;
    ps_buf *b = &ch->out[i];
    if (!ch->json) {
        char h[32];
        ps_cli_human(size, h, sizeof h);
        ps_buf_appendf(b, NULL, "%s: would %s %s %s %s (%s)\n", ps_mirror_conf_name(c), action,
                       name, version, arch, h);
        return;
    }
    /* JSON strings: the names come from an upstream index */
    char *esc[4] = {NULL, NULL, NULL, NULL};
    const char *v[4] = {action, name, version, arch};
    for (size_t k = 0; k < 4; k++) {
        size_t len = 0;
        FILE *f = open_memstream(&esc[k], &len);
        if (f)
            ps_cli_json_string(f, v[k]), fclose(f);
    }
    ps_buf_appendf(b, NULL, "%s{\"action\":%s,\"name\":%s,\"version\":%s,\"arch\":%s,\"size\":%llu}",
                   b->len ? "," : "", esc[0] ? esc[0] : "\"\"", esc[1] ? esc[1] : "\"\"",
                   esc[2] ? esc[2] : "\"\"", esc[3] ? esc[3] : "\"\"", (unsigned long long)size);
    for (size_t k = 0; k < 4; k++)
        free(esc[k]);
}

static void print_result(const ps_mirror_conf *c, const ps_mirror_result *r, const ps_buf *ch,
                         int dry, int first)
{
    printf("%s{", first ? "" : ",");
    json_kv("name", ps_mirror_conf_name(c), 0);
    printf(",\"ok\":true,\"dry_run\":%s,\"unchanged\":%s,\"published\":%s,\"generation\":%ld",
           dry ? "true" : "false", r->unchanged ? "true" : "false",
           r->published ? "true" : "false", r->generation);
    printf(",\"fetched\":%zu,\"reused\":%zu,\"added\":%zu,\"removed\":%zu,\"packages\":%zu",
           r->fetched, r->reused, r->added, r->removed, r->selected);
    printf(",\"upstream_entries\":%zu,\"bytes\":%llu,\"requests\":%llu,\"duration\":%.3f",
           r->upstream_entries, (unsigned long long)r->bytes, (unsigned long long)r->requests,
           r->duration);
    json_kv("signer", r->signer, 1), json_kv("upstream_date", r->upstream_date, 1);
    json_kv("upstream_valid_until", r->upstream_valid_until, 1);
    if (dry)
        printf(",\"changes\":[%.*s]", (int)ch->len, ch->data ? (const char *)ch->data : "");
    printf("}");
}

static void print_failure(const ps_mirror_conf *c, const ps_error *err, int first)
{
    printf("%s{", first ? "" : ",");
    json_kv("name", ps_mirror_conf_name(c), 0);
    printf(",\"ok\":false,\"error\":{");
    json_kv("code", ps_code_name(err->code), 0), json_kv("message", err->msg, 1);
    printf("}}");
}

static void say(const ps_mirror_conf *c, const ps_mirror_result *r)
{
    char b[32];
    ps_cli_human(r->bytes, b, sizeof b);
    if (r->unchanged)
        printf("%s: upstream unchanged (%zu packages, generation %ld)\n",
               ps_mirror_conf_name(c), r->selected, r->generation);
    else
        printf("%s: %zu packages (%zu fetched, %zu reused, +%zu -%zu), %s in %.1fs, %s "
               "generation %ld, upstream signed by %s\n",
               ps_mirror_conf_name(c), r->selected, r->fetched, r->reused, r->added, r->removed,
               b, r->duration, r->published ? "published" : "unchanged", r->generation,
               r->signer);
}

static void say_dry(const ps_mirror_conf *c, const ps_mirror_result *r, const ps_buf *ch)
{
    fwrite(ch->data ? (const void *)ch->data : "", 1, ch->len, stdout);
    const char *n = ps_mirror_conf_name(c);
    if (r->unchanged)
        printf("%s: dry run: upstream unchanged, nothing would change (generation %ld)\n", n,
               r->generation);
    else if (r->published)
        printf("%s: dry run: %zu packages (%zu to fetch, +%zu -%zu), upstream signed by %s; "
               "would publish generation %ld\n",
               n, r->selected, r->fetched, r->added, r->removed, r->signer, r->generation + 1);
    else
        printf("%s: dry run: %zu packages, upstream signed by %s; nothing to publish "
               "(generation %ld)\n", n, r->selected, r->signer, r->generation);
}

/* ---- metrics (node_exporter textfile) -------------------------------- */

typedef struct metric {
    const char *name, *type, *help;
} metric;

static const metric METRICS[] = {
    {"pkgsmith_mirror_last_success_timestamp_seconds", "gauge",
     "Unix time of the last successful sync"},
    {"pkgsmith_mirror_last_attempt_timestamp_seconds", "gauge",
     "Unix time of the last sync, successful or not"},
    {"pkgsmith_mirror_last_sync_ok", "gauge", "1 when the last sync succeeded"},
    {"pkgsmith_mirror_last_sync_duration_seconds", "gauge", "duration of the last sync"},
    {"pkgsmith_mirror_last_sync_bytes", "gauge", "bytes downloaded by the last sync"},
    {"pkgsmith_mirror_packages", "gauge", "packages the mirror holds"},
    {"pkgsmith_mirror_errors_total", "counter", "failed syncs"},
    {"pkgsmith_mirror_upstream_date_timestamp_seconds", "gauge",
     "the Date of the upstream signed file last accepted"},
    {"pkgsmith_mirror_upstream_valid_until_timestamp_seconds", "gauge",
     "the Valid-Until of the upstream signed file last accepted (when it has one)"},
    {"pkgsmith_mirror_last_failure", "gauge",
     "1 for the reason the last sync failed, 0 for the others (all 0 after a success)"}};
#define NMETRICS (sizeof METRICS / sizeof METRICS[0])

static void metric_lines(ps_buf *b, ps_error *err, size_t m, const char *name,
                         const ps_mirror_status *st, const ps_mirror_result *res, int ok)
{
    double v[] = {(double)st->last_success, (double)st->last_attempt, ok, res->duration,
                  (double)res->bytes, (double)st->packages, (double)st->errors_total,
                  (double)st->upstream_date_ts, (double)st->upstream_valid_until_ts};
    const char *mn = METRICS[m].name;
    if (m == NMETRICS - 1) {
        static const char *const REASONS[] = PS_MIRROR_REASONS;
        for (size_t r = 0; r < PS_MIRROR_NREASONS; r++)
            ps_buf_appendf(b, err, "%s{mirror=\"%s\",reason=\"%s\"} %d\n", mn, name, REASONS[r],
                           strcmp(st->last_failure, REASONS[r]) == 0);
        return;
    }
    /* a missing Date or Valid-Until is no series, not the year 1970 */
    if ((m == 7 && st->upstream_date_ts == 0) || (m == 8 && st->upstream_valid_until_ts == 0) ||
        (m == 1 && st->last_attempt == 0))
        return;
    ps_buf_appendf(b, err, "%s{mirror=\"%s\"} %.3f\n", mn, name, v[m]);
}

static int write_metrics(const opts *o, const ps_mirror_conf **list, size_t n,
                         const ps_mirror_result *res, const int *ok)
{
    ps_buf b = {0};
    ps_error err = {0};
    for (size_t m = 0; m < NMETRICS; m++) {
        ps_buf_appendf(&b, &err, "# HELP %s %s\n# TYPE %s %s\n", METRICS[m].name,
                       METRICS[m].help, METRICS[m].name, METRICS[m].type);
        for (size_t i = 0; i < n; i++) {
            ps_mirror_status st;
            ps_error e2 = {0};
            if (ps_mirror_status_get(o->root, list[i], &st, &e2) == PS_OK)
                metric_lines(&b, &err, m, ps_mirror_conf_name(list[i]), &st, &res[i], ok[i]);
        }
    }
    ps_code rc = err.code ? err.code : ps_file_write_atomic(o->metrics, b.data, b.len, 0644, &err);
    ps_buf_free(&b);
    if (rc != PS_OK)
        return ps_cli_fail("mirror", &err, 0);
    return 0;
}

static int report(const opts *o, const ps_mirror_conf **list, size_t n,
                  const ps_mirror_result *res, const ps_error *errs, const ps_buf *ch, int *ok)
{
    int status = 0;
    if (o->json)
        printf("{\"mirrors\":[");
    for (size_t i = 0; i < n; i++) {
        ok[i] = errs[i].code == PS_OK;
        if (ok[i] && o->json)
            print_result(list[i], &res[i], &ch[i], o->dry_run, i == 0);
        else if (ok[i] && o->dry_run)
            say_dry(list[i], &res[i], &ch[i]);
        else if (ok[i] && (o->verbose || isatty(STDOUT_FILENO)))
            say(list[i], &res[i]); /* quiet under cron: errors only */
        if (ok[i])
            continue;
        int st = ps_error_exit_status(errs[i].code);
        status = status == 0 || st == 1 ? st : status;
        fprintf(stderr, "pkgsmith mirror: error: %s: %s\n", ps_mirror_conf_name(list[i]),
                errs[i].msg);
        if (o->json)
            print_failure(list[i], &errs[i], i == 0);
    }
    if (o->json)
        printf("],\"ok\":%s}\n", status == 0 ? "true" : "false");
    return status;
}

static int do_sync(opts *o, const ps_mirror_conf **list, size_t n)
{
    ps_mirror_result *res = calloc(n ? n : 1, sizeof *res);
    ps_error *errs = calloc(n ? n : 1, sizeof *errs);
    ps_buf *ch = calloc(n ? n : 1, sizeof *ch);
    int *ok = calloc(n ? n : 1, sizeof *ok), status = 1;
    int tty = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) && !o->json;
    bar b = {NULL, NULL, 0};
    changes chg = {list, n, ch, o->json};
    ps_mirror_opts mo = {.root = o->root, .wait_seconds = (int)o->wait, .force = o->force,
                         .connections = (int)o->connections, .rate_limit = o->rate,
                         .retries = (int)o->retries, .timeout = o->timeout,
                         .dry_run = o->dry_run, .progress = tty ? draw : NULL, .progress_ud = &b,
                         .on_change = on_change, .change_ud = &chg};
    if (res && errs && ch && ok) {
        ps_mirror_sync_all(list, n, &mo, res, errs);
        status = report(o, list, n, res, errs, ch, ok);
    }
    if (o->metrics && res && ok && !o->dry_run) {
        int m = write_metrics(o, list, n, res, ok);
        status = status ? status : m;
    }
    for (size_t i = 0; ch && i < n; i++)
        ps_buf_free(&ch[i]);
    free(res), free(errs), free(ch), free(ok);
    return status;
}

/* ---- status ---------------------------------------------------------- */

static void when(long t, char *out, size_t n)
{
    if (t <= 0) {
        snprintf(out, n, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int do_status(opts *o, const ps_mirror_conf **list, size_t n)
{
    if (o->json)
        printf("{\"ok\":true,\"mirrors\":[");
    for (size_t i = 0; i < n; i++) {
        ps_mirror_status st;
        ps_error err = {0};
        if (ps_mirror_status_get(o->root, list[i], &st, &err) != PS_OK) {
            if (o->json)
                printf("]}\n");
            return ps_cli_fail("mirror", &err, 0);
        }
        char last[32], ok[32];
        when(st.last_attempt, last, sizeof last), when(st.last_success, ok, sizeof ok);
        if (o->json) {
            printf("%s{", i ? "," : "");
            json_kv("name", ps_mirror_conf_name(list[i]), 0);
            json_kv("type", ps_mirror_conf_type(list[i]), 1);
            json_kv("last_attempt", last, 1), json_kv("last_success", ok, 1);
            json_kv("last_error", st.last_error, 1);
            json_kv("upstream_date", st.upstream_date, 1);
            json_kv("upstream_valid_until", st.upstream_valid_until, 1);
            json_kv("signer", st.signer, 1);
            printf(",\"packages\":%zu,\"upstream_entries\":%zu,\"generation\":%ld,"
                   "\"duration\":%.3f,\"errors_total\":%lu}",
                   st.packages, st.upstream_entries, st.generation, st.last_duration,
                   st.errors_total);
            continue;
        }
        printf("%s (%s -> %s)\n", ps_mirror_conf_name(list[i]), ps_mirror_conf_type(list[i]),
               ps_mirror_conf_target(list[i]));
        printf("  last sync:     %s%s\n", last,
               st.last_error[0] ? " (FAILED)" : st.synced ? " (ok)" : "");
        printf("  last success:  %s\n", ok);
        if (st.last_error[0])
            printf("  last error:    %s\n", st.last_error);
        printf("  upstream Date: %s\n", st.upstream_date[0] ? st.upstream_date : "-");
        printf("  Valid-Until:   %s\n",
               st.upstream_valid_until[0] ? st.upstream_valid_until : "-");
        printf("  signed by:     %s\n", st.signer[0] ? st.signer : "-");
        printf("  packages:      %zu of %zu upstream, generation %ld\n", st.packages,
               st.upstream_entries, st.generation);
    }
    if (o->json)
        printf("]}\n");
    return 0;
}

/* ---- dispatch ------------------------------------------------------- */

static int run(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ps_cli_usage(&SPEC, argc < 2 ? stderr : stdout);
        return argc < 2 ? 64 : 0;
    }
    int is_sync = strcmp(argv[1], "sync") == 0;
    if (!is_sync && strcmp(argv[1], "status") != 0)
        return ps_cli_usage_error(&SPEC, "unknown subcommand", argv[1]);
    opts o = {.root = getenv("PKGSMITH_REPO_ROOT"), .config = getenv("PKGSMITH_MIRROR_CONFIG"),
              .retries = RETRIES_UNSET};
    if (o.root == NULL || *o.root == '\0')
        o.root = PS_REPO_DEFAULT_ROOT;
    if (o.config == NULL || *o.config == '\0')
        o.config = PS_MIRROR_DEFAULT_CONFIG;
    int first = 0, status = ps_cli_parse(&SPEC, argc - 1, argv + 1, &o, &first);
    if (status >= 0)
        return status;
    /* the library: 0 is its default, -1 no retry at all */
    o.retries = o.retries == RETRIES_UNSET ? 0 : o.retries == 0 ? -1 : o.retries;
    ps_error err = {0};
    ps_mirror_set *set = ps_mirror_set_load(o.config, &err);
    if (set == NULL)
        return ps_cli_fail("mirror", &err, o.json);
    const ps_mirror_conf **list = NULL;
    size_t n = 0;
    int nargs = argc - 1 - first;
    status = pick(set, nargs, argv + 1 + first, &list, &n);
    if (status == 0 && n == 0) {
        fprintf(stderr, "pkgsmith mirror: error: no *.mirror files in %s\n", o.config);
        status = 2;
    }
    if (status == 0)
        status = is_sync ? do_sync(&o, list, n) : do_status(&o, list, n);
    free(list);
    ps_mirror_set_free(set);
    return status;
}

const ps_command ps_cmd_mirror = {&SPEC, "sync upstream apt and rpm repositories into ours", run};
