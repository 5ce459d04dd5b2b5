/* ps_mirror_conf.c - mirror definitions (*.mirror, deb822 through the
 * libapt shim), the state file, and the selection rules. */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ps_mirror_priv.h"

static const char *const FIELDS[] = {
    "Name", "Type", "URIs", "Suites", "Components", "Architectures", "Signed-By", "Include",
    "Exclude", "Keep-Versions", "Follow-Dependencies", "Max-Shrink", "Target", "Connections",
    "Rate-Limit", "Max-Index-Size", "Max-Index-Unpacked-Size", "Max-File-Size", "Resign-Packages",
    NULL};

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
    if (type && strcmp(type, "apt") == 0)
        c->type = PS_MIRROR_APT;
    else if (type && strcmp(type, "rpm") == 0)
        c->type = PS_MIRROR_RPM;
    else
        return type ? bad(s, "Type", err, "want apt or rpm")
                    : ps_error_set(err, PS_EINPUT, "%s:%u: Type is required (apt or rpm)",
                                   s->path, ps_deb822_line(s->d, 0));
    return PS_OK;
}

/* The fields that are lists of words, where each goes, and who must
 * have it: one table, so a new list field is one line. */
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
    if (rc == PS_OK && c->type == PS_MIRROR_APT)
        rc = need_lists(s, c, APT_MIRROR, err);
    return rc;
}

static ps_code numbers(const src *s, ps_mirror_conf *c, ps_error *err)
{
    long keep = 0, shrink = 0, conns = 0; /* read below even on an error */
    ps_code rc = int_value(s, "Keep-Versions", 0, 0, 100000, &keep, err);
    if (rc == PS_OK)
        rc = int_value(s, "Max-Shrink", 50, 0, 100, &shrink, err);
    if (rc == PS_OK)
        rc = int_value(s, "Connections", 4, 1, 64, &conns, err);
    if (rc == PS_OK)
        rc = size_value(s, "Rate-Limit", 0, &c->rate_limit, err);
    if (rc == PS_OK)
        rc = size_value(s, "Max-Index-Size", 256ULL << 20, &c->max_index, err);
    if (rc == PS_OK)
        rc = size_value(s, "Max-Index-Unpacked-Size", 2048ULL << 20, &c->max_index_unpacked, err);
    if (rc == PS_OK)
        rc = size_value(s, "Max-File-Size", 4096ULL << 20, &c->max_file, err);
    c->keep = (int)keep, c->max_shrink = (double)shrink, c->connections = (int)conns;
    const char *f = ps_deb822_get(s->d, 0, "Follow-Dependencies");
    if (rc == PS_OK && f && strcmp(f, "yes") != 0 && strcmp(f, "no") != 0)
        rc = bad(s, "Follow-Dependencies", err, "want yes or no");
    c->follow = f && strcmp(f, "yes") == 0;
    const char *rs = ps_deb822_get(s->d, 0, "Resign-Packages");
    if (rc == PS_OK && rs && strcmp(rs, "yes") != 0 && strcmp(rs, "no") != 0)
        rc = bad(s, "Resign-Packages", err, "want yes or no");
    c->resign = rs && strcmp(rs, "yes") == 0;
    if (rc == PS_OK && c->resign && c->type == PS_MIRROR_APT)
        rc = bad(s, "Resign-Packages", err,
                 "only rpm mirrors: a .deb carries no signature of its own here");
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
                          c->type == PS_MIRROR_APT ? "a suite, or suite/component, of repo.conf"
                                                   : "an rpm repo of repo.conf");
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
    return c->type == PS_MIRROR_APT ? "apt" : "rpm";
}

const ps_mirror_conf *ps_mirror_set_find(const ps_mirror_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

/* ---- state ---------------------------------------------------------- */

ps_code ps_kv_load(const char *path, ps_kv *kv, ps_error *err)
{
    if (!ps_path_exists(path))
        return PS_OK;
    ps_deb822 *d = ps_deb822_parse_file(path, err);
    ps_code rc = d ? PS_OK : (err ? err->code : PS_EINPUT);
    for (size_t f = 0; rc == PS_OK && ps_deb822_count(d) && f < ps_deb822_nfields(d, 0); f++)
        rc = ps_kv_set(kv, ps_deb822_name_at(d, 0, f), ps_deb822_value_at(d, 0, f), err);
    ps_deb822_free(d);
    return rc;
}

ps_code ps_kv_save(const char *path, const ps_kv *kv, ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < kv->keys.n; i++)
        if (kv->values.v[i][0])
            rc = ps_buf_appendf(&b, err, "%s: %s\n", kv->keys.v[i], kv->values.v[i]);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(path, b.data ? (const void *)b.data : "", b.len, 0644, err);
    ps_buf_free(&b);
    return rc;
}

const char *ps_kv_get(const ps_kv *kv, const char *key)
{
    for (size_t i = 0; i < kv->keys.n; i++)
        if (strcasecmp(kv->keys.v[i], key) == 0)
            return kv->values.v[i];
    return NULL;
}

ps_code ps_kv_set(ps_kv *kv, const char *key, const char *value, ps_error *err)
{
    /* One line per value: a newline would end the field. */
    char *v = strdup(value ? value : "");
    if (v == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    for (char *p = v; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    for (size_t i = 0; i < kv->keys.n; i++)
        if (strcasecmp(kv->keys.v[i], key) == 0) {
            free(kv->values.v[i]);
            kv->values.v[i] = v;
            return PS_OK;
        }
    ps_code rc = ps_strv_add(&kv->keys, key, err);
    return rc == PS_OK ? ps_strv_take(&kv->values, v, err) : (free(v), rc);
}

void ps_kv_free(ps_kv *kv)
{
    ps_strv_free(&kv->keys);
    ps_strv_free(&kv->values);
}

/* ---- selection ------------------------------------------------------ */

void ps_cand_free(ps_cand *c)
{
    if (c == NULL)
        return;
    free(c->name), free(c->version), free(c->arch), free(c->path), free(c->sha256);
    free(c->stanza), free(c->deps);
    free(c);
}

void ps_select_init(ps_select *s, int keep, ps_vercmp_fn cmp)
{
    s->groups = g_hash_table_new_full(g_str_hash, g_str_equal, free,
                                      (GDestroyNotify)g_ptr_array_unref);
    s->keep = keep;
    s->cmp = cmp;
    s->conflict[0] = '\0';
}

void ps_select_free(ps_select *s)
{
    if (s->groups)
        g_hash_table_destroy(s->groups);
    s->groups = NULL;
}

void ps_select_offer(ps_select *s, ps_cand *c)
{
    char *key = ps_strdupf("%s %s", c->name, c->arch);
    GPtrArray *g = key ? g_hash_table_lookup(s->groups, key) : NULL;
    if (key && g == NULL) {
        g = g_ptr_array_new_with_free_func((GDestroyNotify)ps_cand_free);
        g_hash_table_insert(s->groups, key, g);
        key = NULL;
    }
    free(key);
    if (g == NULL) {
        ps_cand_free(c);
        return;
    }
    guint at = 0;
    for (; at < g->len; at++) {
        const ps_cand *o = g->pdata[at];
        int d = s->cmp(c->version, o->version);
        if (d == 0) { /* the same version twice: keep the first */
            if (c->sha256 && o->sha256 && strcmp(c->sha256, o->sha256) != 0 &&
                s->conflict[0] == '\0')
                snprintf(s->conflict, sizeof s->conflict,
                         "%s %s (%s) is listed twice, with SHA-256 %.64s and %.64s", c->name,
                         c->version, c->arch, o->sha256, c->sha256);
            ps_cand_free(c);
            return;
        }
        if (d > 0)
            break;
    }
    if (s->keep > 0 && at >= (guint)s->keep) {
        ps_cand_free(c);
        return;
    }
    g_ptr_array_insert(g, (gint)at, c);
    if (s->keep > 0 && g->len > (guint)s->keep)
        g_ptr_array_remove_index(g, g->len - 1);
}

ps_code ps_select_check(const ps_select *s, const char *where, ps_error *err)
{
    if (s->conflict[0] == '\0')
        return PS_OK;
    return ps_error_set(err, PS_EVERIFY, "%s: %s: refused (the same identity must mean the same "
                        "bytes)", where, s->conflict);
}

static gint cand_cmp(gconstpointer a, gconstpointer b)
{
    const ps_cand *x = *(ps_cand *const *)a, *y = *(ps_cand *const *)b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->arch, y->arch);
    return c ? c : strcmp(x->version, y->version);
}

GPtrArray *ps_select_list(const ps_select *s)
{
    GPtrArray *all = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->groups);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        GPtrArray *g = v;
        for (guint i = 0; i < g->len; i++)
            g_ptr_array_add(all, g->pdata[i]);
    }
    g_ptr_array_sort(all, cand_cmp);
    return all;
}

void ps_select_take(ps_select *s, GPtrArray *into)
{
    GPtrArray *list = ps_select_list(s);
    for (guint i = 0; i < list->len; i++)
        g_ptr_array_add(into, list->pdata[i]);
    g_ptr_array_free(list, TRUE);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->groups);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_set_free_func(v, NULL); /* INTO owns them now */
}

int ps_select_has_name(const ps_select *s, const char *name)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->groups);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        GPtrArray *g = v;
        if (g->len && strcmp(((ps_cand *)g->pdata[0])->name, name) == 0)
            return 1;
    }
    return 0;
}

int ps_mirror_wants(const ps_mirror_conf *c, const char *name)
{
    int in = c->include.n == 0;
    for (size_t i = 0; !in && i < c->include.n; i++)
        in = fnmatch(c->include.v[i], name, 0) == 0;
    for (size_t i = 0; in && i < c->exclude.n; i++)
        in = fnmatch(c->exclude.v[i], name, 0) != 0;
    return in;
}

ps_code ps_mirror_check_path(const char *what, const char *path, ps_error *err)
{
    const char *why = NULL;
    if (path == NULL || *path == '\0')
        why = "empty";
    else if (path[0] == '/')
        why = "absolute path";
    else if (strstr(path, "://") || strchr(path, ':'))
        why = "a URL or a scheme";
    else if (strchr(path, '\\'))
        why = "backslash";
    for (const char *p = path; !why && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            why = "control character";
    for (const char *p = path; !why && p && *p;) {
        size_t n = strcspn(p, "/");
        if ((n == 2 && strncmp(p, "..", 2) == 0) || (n == 1 && *p == '.') || n == 0)
            why = "'..', '.' or an empty component";
        p += n + (p[n] == '/');
    }
    if (why == NULL)
        return PS_OK;
    return ps_error_set(err, PS_EVERIFY, "%s: unsafe path '%.200s' (%s): refused", what,
                        path ? path : "", why);
}
