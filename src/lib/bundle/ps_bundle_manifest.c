/* ps_bundle_manifest.c - the signed table of contents of a bundle.
 *
 * It is read on the offline side from removable media, before anything
 * else, so every field is checked here: a path that could leave the
 * staging directory, a hash that is not one, or a pool file without the
 * package that names it never reaches the importer. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_apt.h"
#include "ps_bundle_priv.h"

#define MAX_SIZE (1ULL << 50)

void ps_bundle_member_free(ps_bundle_member *x)
{
    free(x->path);
}

void ps_bundle_pkg_free(ps_bundle_pkg *p)
{
    free(p->kind), free(p->target), free(p->name), free(p->version), free(p->arch);
    free(p->href);
}

void ps_bundle_mirror_free(ps_bundle_mirror *x)
{
    for (size_t i = 0; i < x->npkgs; i++)
        ps_bundle_pkg_free(&x->pkgs[i]);
    free(x->pkgs);
    free(x->name);
}

void ps_bundle_manifest_free(ps_bundle_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nmembers; i++)
        ps_bundle_member_free(&m->members[i]);
    for (size_t i = 0; i < m->nmirrors; i++)
        ps_bundle_mirror_free(&m->mirrors[i]);
    free(m->members), free(m->mirrors);
    free(m);
}

long ps_bundle_manifest_generation(const ps_bundle_manifest *m) { return m->generation; }
long ps_bundle_manifest_base(const ps_bundle_manifest *m) { return m->base; }
const char *ps_bundle_manifest_origin(const ps_bundle_manifest *m) { return m->origin; }
size_t ps_bundle_manifest_nmembers(const ps_bundle_manifest *m) { return m->nmembers; }

const char *ps_bundle_manifest_member(const ps_bundle_manifest *m, size_t i, uint64_t *size,
                                      const char **sha256)
{
    if (i >= m->nmembers)
        return NULL;
    if (size)
        *size = m->members[i].size;
    if (sha256)
        *sha256 = m->members[i].sha256;
    return m->members[i].path;
}

/* ---- the shape of names, hashes and paths ---------------------------- */

static int hex_ok(const char *s, size_t n, int upper)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (!upper && s[i] >= 'a' && s[i] <= 'f') ||
              (upper && s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

int ps_bundle_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || !g_ascii_isalnum(s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* A file name of a pool or state file: visible ASCII, no separator, not
 * hidden (so never "." or ".."). */
static int file_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/' || s[i] == '\\')
            return 0;
    return 1;
}

/* "HH/SHA256" at P with HH the hash's first two digits; returns the
 * part after it, or NULL. */
static const char *hashed(const char *p)
{
    if (strlen(p) < 67 || p[2] != '/' || strncmp(p, p + 3, 2) != 0)
        return NULL;
    char sha[65];
    memcpy(sha, p + 3, 64);
    sha[64] = '\0';
    return hex_ok(sha, 64, 0) ? p + 67 : NULL;
}

int ps_bundle_path_ok(const char *path)
{
    const char *rest;
    if (strncmp(path, "meta/", 5) == 0)
        return (rest = hashed(path + 5)) != NULL && *rest == '\0';
    if (strncmp(path, "pool/", 5) == 0)
        return (rest = hashed(path + 5)) != NULL && rest[0] == '/' &&
               file_ok(rest + 1, strlen(rest + 1));
    if (strncmp(path, "mirrors/", 8) != 0)
        return 0;
    const char *name = path + 8, *slash = strchr(name, '/');
    if (slash == NULL || slash - name > 100)
        return 0;
    char buf[101];
    memcpy(buf, name, (size_t)(slash - name));
    buf[slash - name] = '\0';
    if (!ps_bundle_name_ok(buf))
        return 0;
    if (strncmp(slash, "/provenance/", 12) == 0)
        rest = slash + 12;
    else if (strncmp(slash, "/client-keys/", 13) == 0)
        rest = slash + 13;
    else
        return 0;
    return file_ok(rest, strlen(rest));
}

/* ---- writing ---------------------------------------------------------- */

ps_code ps_bundle_manifest_write(const ps_bundle_manifest *m, ps_buf *out, ps_error *err)
{
    char base[32];
    snprintf(base, sizeof base, m->base ? "%ld" : "none", m->base);
    ps_code rc = ps_buf_appendf(out, err,
                                "Format: " PS_BUNDLE_FORMAT "\nOrigin: %s\nGeneration: %ld\n"
                                "Base: %s\nCreated: %s\nTransfer-Key: %s\nSplit: %llu\nMembers:\n",
                                m->origin, m->generation, base, m->created, m->key,
                                (unsigned long long)m->split);
    for (size_t i = 0; rc == PS_OK && i < m->nmembers; i++)
        rc = ps_buf_appendf(out, err, " %s %llu %s\n", m->members[i].sha256,
                            (unsigned long long)m->members[i].size, m->members[i].path);
    for (size_t k = 0; rc == PS_OK && k < m->nmirrors; k++) {
        const ps_bundle_mirror *x = &m->mirrors[k];
        rc = ps_buf_appendf(out, err, "\nMirror: %s\nPackages:\n", x->name);
        for (size_t i = 0; rc == PS_OK && i < x->npkgs; i++) {
            const ps_bundle_pkg *p = &x->pkgs[i];
            rc = ps_buf_appendf(out, err, " %s %s %s %s %s %s %llu %s\n", p->kind, p->target,
                                p->name, p->version, p->arch, p->sha256,
                                (unsigned long long)p->size, p->href);
        }
    }
    return rc;
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct parse {
    ps_bundle_manifest *m;
    const char *name;
    ps_error *err;
} parse;

static ps_code bad(parse *p, const char *what, const char *value)
{
    return ps_error_set(p->err, PS_EVERIFY, "%s: %s: '%.80s'", p->name, what,
                        value ? value : "(missing)");
}

static int size_of(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 16 || strspn(s, "0123456789") != n)
        return 0;
    *out = strtoull(s, NULL, 10);
    return *out <= MAX_SIZE;
}

static int long_of(const char *s, long *out)
{
    uint64_t v;
    if (!size_of(s, &v) || v > 1000000000000ULL)
        return 0;
    *out = (long)v;
    return 1;
}

/* Splits VALUE (a multi-line field) into its lines' words; calls LINE
 * with each line's words. */
typedef ps_code (*line_fn)(parse *p, char **w, size_t nw, void *ud);
static ps_code each_line(parse *p, const char *value, size_t want, line_fn fn, void *ud)
{
    char *copy = strdup(value ? value : "");
    ps_code rc = copy ? PS_OK : ps_error_set(p->err, PS_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; rc == PS_OK && l;
         l = strtok_r(NULL, "\n", &save)) {
        char *w[9], *s2 = NULL;
        size_t nw = 0;
        for (char *t = strtok_r(l, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2))
            if (nw < 9)
                w[nw++] = t;
            else
                nw = 9;
        if (nw == 0)
            continue;
        rc = nw == want ? fn(p, w, nw, ud) : bad(p, "a line with the wrong number of words", l);
    }
    free(copy);
    return rc;
}

static ps_code member_line(parse *p, char **w, size_t nw, void *ud)
{
    (void)nw, (void)ud;
    ps_bundle_manifest *m = p->m;
    ps_bundle_member x = {0};
    if (!hex_ok(w[0], 64, 0))
        return bad(p, "a member's SHA-256 is not 64 hex digits", w[0]);
    if (!size_of(w[1], &x.size))
        return bad(p, "a member's size is not a size", w[1]);
    if (!ps_bundle_path_ok(w[2]))
        return bad(p, "a member path a bundle may not carry", w[2]);
    if (ps_array_reserve(&m->members, m->nmembers, sizeof *m->members, p->err) != PS_OK)
        return PS_ENOMEM;
    memcpy(x.sha256, w[0], 65);
    if ((x.path = strdup(w[2])) == NULL)
        return ps_error_set(p->err, PS_ENOMEM, "out of memory");
    m->members[m->nmembers++] = x;
    return PS_OK;
}

static int word_ok(const char *s, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(s[i]) && !strchr(extra, s[i]))
            return 0;
    return 1;
}

static ps_code pkg_line(parse *p, char **w, size_t nw, void *ud)
{
    (void)nw;
    ps_bundle_mirror *x = ud;
    ps_bundle_pkg k = {0};
    if (strcmp(w[0], "deb") != 0 && strcmp(w[0], "rpm") != 0)
        return bad(p, "a package kind other than deb or rpm", w[0]);
    if (!word_ok(w[1], "._/-") || !word_ok(w[2], "._+-") || !word_ok(w[3], ".:_+~^-") ||
        !word_ok(w[4], "_-"))
        return bad(p, "a package field with characters it may not hold", w[2]);
    if (!hex_ok(w[5], 64, 0) || !size_of(w[6], &k.size))
        return bad(p, "a package's SHA-256 or size is malformed", w[2]);
    if (strncmp(w[7], "pool/", 5) != 0 || !ps_bundle_path_ok(w[7]) ||
        strncmp(w[7] + 8, w[5], 64) != 0)
        return bad(p, "a package href that is not pool/HH/SHA256/FILE of its hash", w[7]);
    if (ps_array_reserve(&x->pkgs, x->npkgs, sizeof *x->pkgs, p->err) != PS_OK)
        return PS_ENOMEM;
    k.kind = strdup(w[0]), k.target = strdup(w[1]), k.name = strdup(w[2]);
    k.version = strdup(w[3]), k.arch = strdup(w[4]), k.href = strdup(w[7]);
    memcpy(k.sha256, w[5], 65);
    x->pkgs[x->npkgs++] = k;
    if (!k.kind || !k.target || !k.name || !k.version || !k.arch || !k.href)
        return ps_error_set(p->err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

static ps_code header(parse *p, const ps_deb822 *d)
{
    ps_bundle_manifest *m = p->m;
    const char *f = ps_deb822_get(d, 0, "Format"), *o = ps_deb822_get(d, 0, "Origin");
    const char *g = ps_deb822_get(d, 0, "Generation"), *b = ps_deb822_get(d, 0, "Base");
    const char *c = ps_deb822_get(d, 0, "Created"), *k = ps_deb822_get(d, 0, "Transfer-Key");
    const char *s = ps_deb822_get(d, 0, "Split");
    if (f == NULL || strcmp(f, PS_BUNDLE_FORMAT) != 0)
        return bad(p, "Format is not '" PS_BUNDLE_FORMAT "'", f);
    if (o == NULL || !hex_ok(o, 32, 0))
        return bad(p, "Origin is not 32 hex digits", o);
    if (g == NULL || !long_of(g, &m->generation) || m->generation < 1)
        return bad(p, "Generation is not a generation number", g);
    if (b == NULL || (strcmp(b, "none") != 0 && (!long_of(b, &m->base) || m->base < 1)))
        return bad(p, "Base is neither 'none' nor a generation number", b);
    if (m->base >= m->generation)
        return bad(p, "Base is not older than Generation", b);
    if (c == NULL || strlen(c) >= sizeof m->created || strchr(c, '\n'))
        return bad(p, "Created is missing or too long", c);
    if (k == NULL || !hex_ok(k, 40, 1))
        return bad(p, "Transfer-Key is not a fingerprint", k);
    if (s == NULL || !size_of(s, &m->split))
        return bad(p, "Split is not a size", s);
    memcpy(m->origin, o, 33);
    snprintf(m->created, sizeof m->created, "%s", c);
    memcpy(m->key, k, 41);
    return each_line(p, ps_deb822_get(d, 0, "Members"), 3, member_line, NULL);
}

static ps_code mirrors(parse *p, const ps_deb822 *d)
{
    ps_bundle_manifest *m = p->m;
    size_t n = ps_deb822_count(d);
    m->mirrors = calloc(n, sizeof *m->mirrors);
    if (m->mirrors == NULL)
        return ps_error_set(p->err, PS_ENOMEM, "out of memory");
    ps_code rc = PS_OK;
    for (size_t i = 1; rc == PS_OK && i < n; i++) {
        const char *name = ps_deb822_get(d, i, "Mirror");
        if (name == NULL || !ps_bundle_name_ok(name))
            return bad(p, "a stanza's Mirror is not a mirror name", name);
        for (size_t j = 0; j < m->nmirrors; j++)
            if (strcmp(m->mirrors[j].name, name) == 0)
                return bad(p, "a mirror is listed twice", name);
        ps_bundle_mirror *x = &m->mirrors[m->nmirrors++];
        if ((x->name = strdup(name)) == NULL)
            return ps_error_set(p->err, PS_ENOMEM, "out of memory");
        rc = each_line(p, ps_deb822_get(d, i, "Packages"), 8, pkg_line, x);
    }
    return rc;
}

/* Every member unique; pool members named by a package and matched by
 * their meta member; state members of a mirror the manifest lists. */
static ps_code cross_check(parse *p)
{
    ps_bundle_manifest *m = p->m;
    GHashTable *paths = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *hrefs = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
    ps_code rc = PS_OK;
    for (size_t k = 0; k < m->nmirrors; k++) {
        g_hash_table_add(names, m->mirrors[k].name);
        for (size_t i = 0; i < m->mirrors[k].npkgs; i++)
            g_hash_table_add(hrefs, m->mirrors[k].pkgs[i].href);
    }
    for (size_t i = 0; rc == PS_OK && i < m->nmembers; i++)
        if (!g_hash_table_add(paths, m->members[i].path))
            rc = bad(p, "a member is listed twice", m->members[i].path);
    for (size_t i = 0; rc == PS_OK && i < m->nmembers; i++) {
        const ps_bundle_member *x = &m->members[i];
        char meta[80], name[101];
        if (strncmp(x->path, "pool/", 5) == 0) {
            snprintf(meta, sizeof meta, "meta/%.2s/%.64s", x->sha256, x->sha256);
            if (strncmp(x->path + 8, x->sha256, 64) != 0)
                rc = bad(p, "a pool member whose path is not its SHA-256", x->path);
            else if (!g_hash_table_contains(hrefs, x->path))
                rc = bad(p, "a pool member no listed package names", x->path);
            else if (!g_hash_table_contains(paths, meta))
                rc = bad(p, "a pool member without its meta member", x->path);
        } else if (strncmp(x->path, "mirrors/", 8) == 0) {
            size_t n = strcspn(x->path + 8, "/");
            snprintf(name, sizeof name, "%.*s", (int)n, x->path + 8);
            if (!g_hash_table_contains(names, name))
                rc = bad(p, "a member of a mirror the manifest does not list", x->path);
        }
    }
    g_hash_table_destroy(paths), g_hash_table_destroy(hrefs), g_hash_table_destroy(names);
    return rc;
}

/* A meta member with no pool member is allowed by cross_check only when
 * some listed package has that hash (it then refreshes a record). */
static ps_code meta_check(parse *p)
{
    ps_bundle_manifest *m = p->m;
    GHashTable *shas = g_hash_table_new(g_str_hash, g_str_equal);
    ps_code rc = PS_OK;
    for (size_t k = 0; k < m->nmirrors; k++)
        for (size_t i = 0; i < m->mirrors[k].npkgs; i++)
            g_hash_table_add(shas, m->mirrors[k].pkgs[i].sha256);
    for (size_t i = 0; rc == PS_OK && i < m->nmembers; i++)
        if (strncmp(m->members[i].path, "meta/", 5) == 0 &&
            !g_hash_table_contains(shas, m->members[i].path + 8))
            rc = bad(p, "a meta member no listed package needs", m->members[i].path);
    g_hash_table_destroy(shas);
    return rc;
}

ps_bundle_manifest *ps_bundle_manifest_parse(const void *data, size_t len, const char *name,
                                             ps_error *err)
{
    if (len > PS_BUNDLE_MANIFEST_MAX || memchr(data, '\0', len)) {
        ps_error_set(err, PS_EVERIFY, "%s: not a manifest (too large, or binary)", name);
        return NULL;
    }
    ps_deb822 *d = ps_deb822_parse_mem(data, len, name, err);
    parse p = {calloc(1, sizeof *p.m), name, err};
    ps_code rc = d == NULL ? (err && err->code ? err->code : PS_EINPUT)
                 : p.m ? PS_OK
                       : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_deb822_count(d) == 0)
        rc = bad(&p, "an empty manifest", "");
    if (rc == PS_OK)
        rc = header(&p, d);
    if (rc == PS_OK)
        rc = mirrors(&p, d);
    if (rc == PS_OK)
        rc = cross_check(&p);
    if (rc == PS_OK)
        rc = meta_check(&p);
    ps_deb822_free(d);
    if (rc != PS_OK) {
        if (err && err->code == PS_EINPUT)
            err->code = PS_EVERIFY; /* outside data: a damaged bundle, not our input */
        ps_bundle_manifest_free(p.m);
        return NULL;
    }
    return p.m;
}
