#include "ps_source.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <time.h>

#include "ps_apt.h"

#define SETTINGS_FILE "pkgsmith.settings"
#define CHANGELOG_FILE "debian/changelog"

struct ps_source {
    char *dir;
    ps_strv names;   /* "version", "release", then declared settings */
    ps_strv values;
    char *deb_version;
    int64_t epoch;
    int has_settings; /* the tree has a pkgsmith.settings */
};

static ps_code add_setting(ps_source *src, const char *name, const char *value,
                           ps_error *err)
{
    ps_code rc = ps_strv_add(&src->names, name, err);
    if (rc == PS_OK)
        rc = ps_strv_add(&src->values, value, err);
    return rc;
}

static long find_setting(const ps_source *src, const char *name)
{
    for (size_t i = 0; i < src->names.n; i++)
        if (strcmp(src->names.v[i], name) == 0)
            return (long)i;
    return -1;
}

/* Names become rpm macros and @NAME@ placeholders: keep them simple. */
static int valid_name(const char *s)
{
    if (!islower((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

/* "Tue, 24 Nov 2026 12:00:00 +0000" (Debian policy 4.4) as a time_t, or
 * -1.  strptime reads the fields; the zone offset is applied by hand
 * because %z is not applied by timegm. */
static int64_t rfc2822_time(const char *s)
{
    struct tm tm = {0};
    const char *rest = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    int sign = 1, hh = 0, mm = 0;
    if (rest == NULL)
        return -1;
    while (*rest == ' ')
        rest++;
    if (*rest == '-' || *rest == '+') {
        sign = *rest == '-' ? -1 : 1;
        if (sscanf(rest + 1, "%2d%2d", &hh, &mm) != 2)
            return -1;
    }
    return (int64_t)timegm(&tm) - sign * (hh * 3600 + mm * 60);
}

/* Top entry "name (1.2.3-4) unstable; urgency=medium" and its trailer
 * " -- Name <mail>  Tue, 24 Nov 2026 12:00:00 +0000". */
static ps_code parse_changelog(const char *path, char **version, int64_t *when,
                               ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = ps_file_read(path, &b, err);
    if (rc != PS_OK)
        return rc;
    char *text = (char *)b.data;
    char *open = strchr(text, '(');
    char *eol = strchr(text, '\n');
    char *close = open ? strchr(open, ')') : NULL;
    if (open == NULL || close == NULL || (eol && close > eol)) {
        ps_buf_free(&b);
        return ps_error_set(err, PS_EINPUT,
                            "%s:1: expected 'package (version) distribution; urgency=...'",
                            path);
    }
    *close = '\0';
    *version = strdup(open + 1);
    *close = ')';
    char *trailer = strstr(text, "\n -- ");
    char *date = trailer ? strstr(trailer, ">  ") : NULL;
    *when = -1;
    if (date != NULL) {
        char *end = strchr(date, '\n');
        if (end)
            *end = '\0';
        *when = rfc2822_time(date + 3);
    }
    ps_buf_free(&b);
    if (*version == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    if (!ps_apt_version_valid(*version))
        return ps_error_set(err, PS_EINPUT, "%s:1: invalid version '%s'", path, *version);
    if (*when < 0)
        return ps_error_set(err, PS_EINPUT,
                            "%s: top entry has no ' -- Name <mail>  date' trailer with an RFC 2822 date",
                            path);
    return PS_OK;
}

static ps_code load_version(ps_source *src, ps_error *err)
{
    char *path = ps_strdupf("%s/" CHANGELOG_FILE, src->dir);
    if (path == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    char *version = NULL;
    int64_t when = 0;
    ps_code rc = parse_changelog(path, &version, &when, err);
    free(path);
    if (rc != PS_OK) {
        free(version);
        return rc;
    }
    /* The Debian revision is what follows the last '-'. */
    char *dash = strrchr(version, '-');
    if (dash)
        *dash = '\0';
    rc = add_setting(src, "version", version, err);
    if (rc == PS_OK)
        rc = add_setting(src, "release", dash ? dash + 1 : "", err);
    free(version);
    src->epoch = when;
    return rc;
}

static ps_code load_settings(ps_source *src, ps_error *err)
{
    char *path = ps_strdupf("%s/" SETTINGS_FILE, src->dir);
    if (path == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_code rc = PS_OK;
    if (!ps_path_exists(path))
        goto out;
    src->has_settings = 1;
    ps_deb822 *d = ps_deb822_parse_file(path, err);
    if (d == NULL) {
        rc = err ? err->code : PS_EINPUT;
        goto out;
    }
    if (ps_deb822_count(d) > 1)
        rc = ps_error_set(err, PS_EINPUT, "%s:%u: only one stanza is allowed", path,
                          ps_deb822_line(d, 1));
    for (size_t f = 0; rc == PS_OK && ps_deb822_count(d) > 0 && f < ps_deb822_nfields(d, 0); f++) {
        const char *name = ps_deb822_name_at(d, 0, f);
        if (!valid_name(name) || find_setting(src, name) >= 0)
            rc = ps_error_set(err, PS_EINPUT,
                              "%s:%u: '%s': setting names are lower-case [a-z0-9_], unique, and not 'version' or 'release'",
                              path, ps_deb822_field_line(d, 0, name), name);
        else
            rc = add_setting(src, name, ps_deb822_value_at(d, 0, f), err);
    }
    ps_deb822_free(d);
out:
    free(path);
    return rc;
}

static ps_code load_epoch_env(ps_source *src, ps_error *err)
{
    const char *env = getenv("SOURCE_DATE_EPOCH");
    if (env == NULL || *env == '\0')
        return PS_OK;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(env, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return ps_error_set(err, PS_EINPUT,
                            "SOURCE_DATE_EPOCH='%s': expected seconds since 1970", env);
    src->epoch = v;
    return PS_OK;
}

static ps_code make_deb_version(ps_source *src, ps_error *err)
{
    const char *v = ps_source_get(src, "version");
    const char *r = ps_source_get(src, "release");
    free(src->deb_version);
    src->deb_version = *r ? ps_strdupf("%s-%s", v, r) : strdup(v);
    if (src->deb_version == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

ps_source *ps_source_open(const char *dir, ps_error *err)
{
    if (!ps_path_is_dir(dir)) {
        ps_error_set(err, PS_EINPUT, "%s: not a directory", dir);
        return NULL;
    }
    ps_source *src = calloc(1, sizeof *src);
    /* Absolute: it becomes rpm's %{_sourcedir}, used from another cwd. */
    if (src == NULL || (src->dir = realpath(dir, NULL)) == NULL) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        ps_source_free(src);
        return NULL;
    }
    /* Each step reads what the ones before it set. */
    static ps_code (*const steps[])(ps_source *, ps_error *) = {
        load_version, load_settings, load_epoch_env, make_deb_version};
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < sizeof steps / sizeof *steps; i++)
        rc = steps[i](src, err);
    return PS_BUILT(rc, src, ps_source_free);
}

void ps_source_free(ps_source *src)
{
    if (src == NULL)
        return;
    free(src->dir);
    ps_strv_free(&src->names);
    ps_strv_free(&src->values);
    free(src->deb_version);
    free(src);
}

const char *ps_source_dir(const ps_source *src)
{
    return src->dir;
}

/* The message lists what may be set, so a typo is obvious. */
static ps_code unknown_setting(const ps_source *src, const char *name, ps_error *err)
{
    ps_buf known = {0};
    for (size_t i = 0; i < src->names.n; i++)
        ps_buf_appendf(&known, NULL, "%s%s", i ? ", " : "", src->names.v[i]);
    ps_code rc = ps_error_set(err, PS_EINPUT,
                              "--set %s: unknown setting (known: %s; declare new ones in %s/" SETTINGS_FILE ")",
                              name, known.data ? (char *)known.data : "", src->dir);
    ps_buf_free(&known);
    return rc;
}

ps_code ps_source_set(ps_source *src, const char *name, const char *value,
                      ps_error *err)
{
    long i = find_setting(src, name);
    if (i < 0)
        return unknown_setting(src, name, err);
    for (const char *p = value; *p; p++)
        if (iscntrl((unsigned char)*p))
            return ps_error_set(err, PS_EINPUT,
                                "--set %s: control characters (such as newlines) are not allowed",
                                name);
    if (strcmp(name, "version") == 0 && (*value == '\0' || !ps_apt_version_valid(value) ||
                                         strchr(value, '-') != NULL))
        return ps_error_set(err, PS_EINPUT,
                            "--set version=%s: not a valid upstream version (no '-', starts with a digit)",
                            value);
    char *copy = strdup(value);
    if (copy == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    free(src->values.v[i]);
    src->values.v[i] = copy;
    return make_deb_version(src, err);
}

const char *ps_source_get(const ps_source *src, const char *name)
{
    long i = find_setting(src, name);
    return i < 0 ? NULL : src->values.v[i];
}

size_t ps_source_nsettings(const ps_source *src)
{
    return src->names.n;
}

const char *ps_source_name_at(const ps_source *src, size_t i)
{
    return i < src->names.n ? src->names.v[i] : NULL;
}

const char *ps_source_value_at(const ps_source *src, size_t i)
{
    return i < src->values.n ? src->values.v[i] : NULL;
}

const char *ps_source_deb_version(const ps_source *src)
{
    return src->deb_version;
}

int64_t ps_source_epoch(const ps_source *src)
{
    return src->epoch;
}

/* Length of a declared @NAME@ at P (0 if none), its value in *VALUE. */
static size_t match_placeholder(const ps_source *src, const char *p, size_t left,
                                const char **value)
{
    for (size_t i = 0; i < src->names.n; i++) {
        size_t n = strlen(src->names.v[i]);
        if (n + 2 <= left && p[n + 1] == '@' && memcmp(p + 1, src->names.v[i], n) == 0) {
            *value = src->values.v[i];
            return n + 2;
        }
    }
    return 0;
}

ps_code ps_source_render(const ps_source *src, const char *text, size_t len,
                         ps_buf *out, ps_error *err)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *value = NULL;
        size_t n = text[i] == '@' ? match_placeholder(src, text + i, len - i, &value) : 0;
        if (n == 0)
            continue;
        ps_code rc = ps_buf_append(out, text + start, i - start, err);
        if (rc == PS_OK)
            rc = ps_buf_append(out, value, strlen(value), err);
        if (rc != PS_OK)
            return rc;
        i += n - 1;
        start = i + 1;
    }
    return ps_buf_append(out, text + start, len - start, err);
}

/* Without pkgsmith.settings every @name@ of a template stays as it is: a
 * tree copied without that file would build, exit 0, and ship literal
 * placeholders (an alloy that never starts).  Name the first one. */
static ps_code check_undeclared(const ps_source *src, const char *path, const char *t,
                                size_t len, ps_error *err)
{
    unsigned line = 1;
    for (size_t i = 0; !src->has_settings && i < len; i++) {
        line += t[i] == '\n';
        size_t n = 1;
        while (t[i] == '@' && i + n < len && (islower((unsigned char)t[i + n]) || t[i + n] == '_' ||
                                              (n > 1 && isdigit((unsigned char)t[i + n]))))
            n++;
        const char *value;
        if (n > 1 && i + n < len && t[i + n] == '@' && match_placeholder(src, t + i, len - i, &value) == 0)
            return ps_error_set(err, PS_EINPUT,
                                "%s:%u: @%.*s@ is not a declared setting, and %s/" SETTINGS_FILE
                                ", which declares them, is missing: copy it with the sources",
                                path, line, (int)(n - 1), t + i + 1, src->dir);
    }
    return PS_OK;
}

ps_code ps_source_read(const ps_source *src, const char *relpath, ps_buf *out,
                       ps_error *err)
{
    char *path = ps_strdupf("%s/%s", src->dir, relpath);
    if (path == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_code rc;
    if (!ps_str_ends_with(relpath, ".in")) {
        rc = ps_file_read(path, out, err);
    } else {
        ps_buf raw = {0};
        rc = ps_file_read(path, &raw, err);
        if (rc == PS_OK)
            rc = check_undeclared(src, path, (const char *)raw.data, raw.len, err);
        if (rc == PS_OK)
            rc = ps_source_render(src, (const char *)raw.data, raw.len, out, err);
        ps_buf_free(&raw);
    }
    free(path);
    return rc;
}
