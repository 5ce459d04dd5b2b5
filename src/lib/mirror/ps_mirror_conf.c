/* ps_mirror_conf.c - mirror definitions (*.mirror, deb822 through the
 * libapt shim); Type: names a kind of ps_mirror_kinds.c. */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ps_mirror_kind.h"

static const char *const FIELDS[] = {
    "Name", "Type", "URIs", "Suites", "Components", "Architectures", "Signed-By", "Include",
    "Exclude", "Keep-Versions", "Follow-Dependencies", "Max-Shrink", "Target", "Connections",
    "Rate-Limit", "Max-Index-Size", "Max-Index-Unpacked-Size", "Max-File-Size", "Resign-Packages",
    "Max-Clock-Skew", "Low-Speed-Limit", "Low-Speed-Time", "Timeout", NULL};

typedef struct src {
    const ps_deb822 *d;
    const char *path;
} src;

static ps_code bad(const src *s, const char *field, ps_error *err, const char *what)
{
    return ps_error_set(err, PS_EINPUT, "%s:%u: %s: %s", s->path,
                        ps_deb822_field_line(s->d, 0, field), field, what);
}

static ps_code words(const src *s, const char *field, ps_strv *out, ps_error *err)
{
    const char *v = ps_deb822_get(s->d, 0, field);
    char *copy = v ? strdup(v) : NULL, *save = NULL;
    ps_code rc = v && !copy ? ps_error_set(err, PS_ENOMEM, "out of memory") : PS_OK;
    for (char *w = copy ? strtok_r(copy, " \t\n,", &save) : NULL; rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n,", &save))
        rc = ps_strv_add(out, w, err);
    free(copy);
    return rc;
}

/* "10M", "512k", "2G" (powers of 1024); 0 for an empty value. */
static ps_code size_value(const src *s, const char *field, uint64_t def, uint64_t *out,
                          ps_error *err)
{
    const char *v = ps_deb822_get(s->d, 0, field);
    *out = def;
    if (v == NULL)
        return PS_OK;
    if (ps_parse_size(v, out) != 0)
        return bad(s, field, err, "want a size such as 512K, 10M or 2G");
    return PS_OK;
}

static ps_code int_value(const src *s, const char *field, long def, long lo, long hi, long *out,
                         ps_error *err)
{
    const char *v = ps_deb822_get(s->d, 0, field);
    *out = def;
    if (v == NULL)
        return PS_OK;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || (*end && strcmp(end, "%") != 0) || n < lo || n > hi) {
        char what[96];
        snprintf(what, sizeof what, "want a whole number from %ld to %ld", lo, hi);
        return bad(s, field, err, what);
    }
    *out = n;
    return PS_OK;
}

static int is_fpr(const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)w[i]))
            return 0;
    return n == 40;
}

/* Signed-By: key files (relative to the .mirror file) and fingerprints. */
static ps_code signed_by(const src *s, ps_mirror_conf *c, ps_error *err)
{
    ps_strv w = {0};
    ps_code rc = words(s, "Signed-By", &w, err);
    for (size_t i = 0; rc == PS_OK && i < w.n; i++) {
        if (is_fpr(w.v[i])) {
            for (char *p = w.v[i]; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            rc = ps_strv_add(&c->fprs, w.v[i], err);
        } else if (w.v[i][0] == '/') {
            rc = ps_strv_add(&c->key_files, w.v[i], err);
        } else {
            const char *slash = strrchr(s->path, '/');
            int dl = slash ? (int)(slash - s->path) : 1;
            rc = ps_strv_take(&c->key_files,
                              ps_strdupf("%.*s/%s", dl, slash ? s->path : ".", w.v[i]), err);
        }
    }
    ps_strv_free(&w);
    if (rc == PS_OK && c->key_files.n == 0)
        rc = bad(s, "Signed-By", err,
                 "name a key file (armored or binary), optionally with the fingerprints to pin");
    return rc;
}

static ps_code need(const src *s, const char *field, const ps_strv *v, ps_error *err)
{
    if (v->n > 0)
        return PS_OK;
    return ps_error_set(err, PS_EINPUT, "%s:%u: %s is required", s->path,
                        ps_deb822_line(s->d, 0), field);
}

static int valid_name(const char *n)
{
    if (*n == '\0' || *n == '.')
        return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && !strchr("-_.+", *n))
            return 0;
    return 1;
}

static ps_code name_and_type(const src *s, ps_mirror_conf *c, ps_error *err)
{
    const char *name = ps_deb822_get(s->d, 0, "Name");
    const char *base = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path;
    c->name = name ? strdup(name) : strndup(base, strlen(base) - strlen(".mirror"));
    if (c->name == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    if (!valid_name(c->name))
        return bad(s, "Name", err, "use letters, digits and - _ . + only");
    const char *type = ps_deb822_get(s->d, 0, "Type");
    char names[128], want[160];
    c->kind = ps_mirror_kind_find(type);
    if (c->kind)
        return PS_OK;
    ps_mirror_kind_names(names, sizeof names);
    snprintf(want, sizeof want, "want %s", names);
    return type ? bad(s, "Type", err, want)
                : ps_error_set(err, PS_EINPUT, "%s:%u: Type is required (%s)", s->path,
                               ps_deb822_line(s->d, 0), names);
}

/* The fields that are lists of words, where each goes, and who must
 * have it: one table, so a new list field is one line. */
/* APT_MIRROR: needed by a kind that has suites (ps_mirror_kind.suites). */
enum { OPTIONAL, EVERY_MIRROR, APT_MIRROR };
static const struct {
    const char *field;
    size_t off;
    int needed_by;
} LISTS[] = {
    {"URIs", offsetof(ps_mirror_conf, uris), EVERY_MIRROR},
    {"Suites", offsetof(ps_mirror_conf, suites), APT_MIRROR},
    {"Components", offsetof(ps_mirror_conf, components), APT_MIRROR},
    {"Architectures", offsetof(ps_mirror_conf, archs), APT_MIRROR},
    {"Include", offsetof(ps_mirror_conf, include), OPTIONAL},
    {"Exclude", offsetof(ps_mirror_conf, exclude), OPTIONAL},
};
#define NLISTS (sizeof LISTS / sizeof *LISTS)

static ps_strv *list_of(ps_mirror_conf *c, size_t i)
{
    return (ps_strv *)((char *)c + LISTS[i].off);
}

static ps_code need_lists(const src *s, ps_mirror_conf *c, int needed_by, ps_error *err)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < NLISTS; i++)
        if (LISTS[i].needed_by == needed_by)
            rc = need(s, LISTS[i].field, list_of(c, i), err);
    return rc;
}

static ps_code lists(const src *s, ps_mirror_conf *c, ps_error *err)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < NLISTS; i++)
        rc = words(s, LISTS[i].field, list_of(c, i), err);
    if (rc == PS_OK)
        rc = need_lists(s, c, EVERY_MIRROR, err);
    for (size_t i = 0; rc == PS_OK && i < c->uris.n; i++)
        if (strncmp(c->uris.v[i], "http://", 7) != 0 && strncmp(c->uris.v[i], "https://", 8) != 0 &&
            strncmp(c->uris.v[i], "file://", 7) != 0)
            rc = bad(s, "URIs", err, "want http://, https:// or file:// URIs");
    if (rc == PS_OK && c->kind->suites)
        rc = need_lists(s, c, APT_MIRROR, err);
    return rc;
}

/* A transfer slower than Low-Speed-Limit for Low-Speed-Time seconds is
 * aborted (and retried); a sync still running after Timeout seconds
 * stops, publishing nothing. */
static ps_code transfer_limits(const src *s, ps_mirror_conf *c, ps_error *err)
{
    long t = 0, deadline = 0;
    ps_code rc = size_value(s, "Low-Speed-Limit", 1024, &c->low_speed, err);
    if (rc == PS_OK && c->low_speed == 0)
        rc = bad(s, "Low-Speed-Limit", err, "want a size of at least 1 (bytes per second)");
    if (rc == PS_OK)
        rc = int_value(s, "Low-Speed-Time", 60, 1, 86400, &t, err);
    if (rc == PS_OK)
        rc = int_value(s, "Timeout", 0, 0, 7L * 86400, &deadline, err);
    c->low_speed_time = t, c->timeout = deadline;
    return rc;
}

static ps_code numbers(const src *s, ps_mirror_conf *c, ps_error *err)
{
    long keep = 0, shrink = 0, conns = 0, skew = 0; /* read below even on an error */
    ps_code rc = int_value(s, "Keep-Versions", 0, 0, 100000, &keep, err);
    if (rc == PS_OK)
        rc = int_value(s, "Max-Shrink", 50, 0, 100, &shrink, err);
    if (rc == PS_OK)
        rc = int_value(s, "Connections", 4, 1, 64, &conns, err);
    if (rc == PS_OK) /* seconds; a week at most */
        rc = int_value(s, "Max-Clock-Skew", 3600, 0, 604800, &skew, err);
    if (rc == PS_OK)
        rc = size_value(s, "Rate-Limit", 0, &c->rate_limit, err);
    if (rc == PS_OK)
        rc = size_value(s, "Max-Index-Size", 256ULL << 20, &c->max_index, err);
    if (rc == PS_OK)
        rc = size_value(s, "Max-Index-Unpacked-Size", 2048ULL << 20, &c->max_index_unpacked, err);
    if (rc == PS_OK)
        rc = size_value(s, "Max-File-Size", 4096ULL << 20, &c->max_file, err);
    if (rc == PS_OK)
        rc = transfer_limits(s, c, err);
    c->keep = (int)keep, c->max_shrink = (double)shrink, c->connections = (int)conns;
    c->max_skew = skew;
    const char *f = ps_deb822_get(s->d, 0, "Follow-Dependencies");
    if (rc == PS_OK && f && strcmp(f, "yes") != 0 && strcmp(f, "no") != 0)
        rc = bad(s, "Follow-Dependencies", err, "want yes or no");
    c->follow = f && strcmp(f, "yes") == 0;
    const char *rs = ps_deb822_get(s->d, 0, "Resign-Packages");
    if (rc == PS_OK && rs && strcmp(rs, "yes") != 0 && strcmp(rs, "no") != 0)
        rc = bad(s, "Resign-Packages", err, "want yes or no");
    c->resign = rs && strcmp(rs, "yes") == 0;
    if (rc == PS_OK && c->resign && c->kind->resign_refused)
        rc = bad(s, "Resign-Packages", err, c->kind->resign_refused);
    return rc;
}

static ps_code load_one(const char *path, ps_mirror_conf *c, ps_error *err)
{
    ps_buf text = {0};
    ps_code rc = ps_file_read(path, &text, err);
    ps_deb822 *d = rc == PS_OK ? ps_deb822_parse_mem((const char *)text.data, text.len, path, err)
                               : NULL;
    src s = {d, path};
    if (rc == PS_OK && d == NULL)
        rc = err ? err->code : PS_EINPUT;
    if (rc == PS_OK && ps_deb822_count(d) != 1)
        rc = ps_error_set(err, PS_EINPUT, "%s: want exactly one stanza, found %zu", path,
                          ps_deb822_count(d));
    if (rc == PS_OK && (c->path = strdup(path)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_deb822_check_fields(d, 0, FIELDS, path, err);
    if (rc == PS_OK)
        rc = name_and_type(&s, c, err);
    if (rc == PS_OK)
        rc = lists(&s, c, err);
    if (rc == PS_OK)
        rc = signed_by(&s, c, err);
    if (rc == PS_OK)
        rc = numbers(&s, c, err);
    const char *t = d ? ps_deb822_get(d, 0, "Target") : NULL;
    if (rc == PS_OK && (t == NULL || *t == '\0'))
        rc = ps_error_set(err, PS_EINPUT, "%s:%u: Target is required (%s)", path,
                          ps_deb822_line(d, 0),
                          c->kind->target_what);
    if (rc == PS_OK && (c->target = strdup(t)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_digest_hex(PS_DIGEST_SHA256, text.data, text.len, c->digest, err);
    ps_deb822_free(d);
    ps_buf_free(&text);
    return rc;
}

static void conf_free(ps_mirror_conf *c)
{
    free(c->name), free(c->path), free(c->target);
    ps_strv *l[] = {&c->uris, &c->suites, &c->components, &c->archs, &c->key_files,
                    &c->fprs, &c->include, &c->exclude};
    for (size_t i = 0; i < sizeof l / sizeof *l; i++)
        ps_strv_free(l[i]);
}

void ps_mirror_set_free(ps_mirror_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        conf_free(&s->v[i]);
    free(s->v);
    free(s);
}

static ps_code list_dir(const char *dir, ps_strv *files, ps_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return ps_error_set(err, PS_EINPUT, "%s: cannot read the mirror configuration: %s",
                            dir, strerror(errno));
    ps_code rc = PS_OK;
    for (struct dirent *de; rc == PS_OK && (de = readdir(d));)
        if (de->d_name[0] != '.' && ps_str_ends_with(de->d_name, ".mirror"))
            rc = ps_strv_take(files, ps_strdupf("%s/%s", dir, de->d_name), err);
    closedir(d);
    ps_strv_sort(files);
    return rc;
}

ps_mirror_set *ps_mirror_set_load(const char *dir, ps_error *err)
{
    ps_strv files = {0};
    ps_mirror_set *s = calloc(1, sizeof *s);
    ps_code rc = s ? list_dir(dir, &files, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && files.n && (s->v = calloc(files.n, sizeof *s->v)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < files.n; i++) {
        rc = load_one(files.v[i], &s->v[i], err);
        s->n++;
        for (size_t j = 0; rc == PS_OK && j + 1 < s->n; j++)
            if (strcmp(s->v[j].name, s->v[i].name) == 0)
                rc = ps_error_set(err, PS_EINPUT, "%s: mirror name '%s' is also used by %s",
                                  files.v[i], s->v[i].name, s->v[j].path);
    }
    ps_strv_free(&files);
    return PS_BUILT(rc, s, ps_mirror_set_free);
}

size_t ps_mirror_set_count(const ps_mirror_set *s) { return s->n; }
const ps_mirror_conf *ps_mirror_set_at(const ps_mirror_set *s, size_t i) { return &s->v[i]; }
const char *ps_mirror_conf_name(const ps_mirror_conf *c) { return c->name; }
const char *ps_mirror_conf_path(const ps_mirror_conf *c) { return c->path; }
const char *ps_mirror_conf_target(const ps_mirror_conf *c) { return c->target; }

const char *ps_mirror_conf_type(const ps_mirror_conf *c)
{
    return c->kind->name;
}

const ps_mirror_conf *ps_mirror_set_find(const ps_mirror_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}
