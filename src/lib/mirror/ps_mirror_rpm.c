/* ps_mirror_rpm.c - an rpm upstream: repomd.xml + repomd.xml.asc, the
 * primary index they pin (unpacked with a limit and checked against its
 * open-checksum, then stream-parsed by libcreaterepo_c), and the
 * selection by rpm's own version order. */
#include <archive.h>
#include <createrepo_c/createrepo_c.h>
#include <errno.h>
#include <fcntl.h>
#include <rpm/rpmver.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ps_mirror_kind.h"
#include "ps_pkginfo.h"

#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmsign.h>

#define REPOMD_MAX (16u << 20)

static int evr_cmp(const char *a, const char *b)
{
    rpmver x = rpmverParse(a), y = rpmverParse(b);
    int c = x && y ? rpmverCmp(x, y) : strcmp(a, b);
    rpmverFree(x);
    rpmverFree(y);
    return c;
}

/* ---- repomd ---------------------------------------------------------- */

typedef struct md {
    ps_fetch_response xml, asc;
    cr_Repomd *repomd;
    cr_RepomdRecord *primary;
    char *url;
} md;

static void md_free(md *m)
{
    ps_fetch_response_free(&m->xml);
    ps_fetch_response_free(&m->asc);
    if (m->repomd)
        cr_repomd_free(m->repomd);
    free(m->url);
}

static ps_code fetch_repomd(ps_sync *s, md *m, ps_error *err)
{
    char *asc = ps_mirror_url(s, "repodata/repomd.xml.asc");
    m->url = ps_mirror_url(s, "repodata/repomd.xml");
    ps_code rc = asc && m->url ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_mirror_get(s, m->url,
                           s->conditional ? ps_kv_get(&s->state, "ETag-repomd") : NULL,
                           s->conditional ? ps_kv_get(&s->state, "Last-Modified-repomd") : NULL,
                           REPOMD_MAX, &m->xml, err);
    /* A 304, or the very bytes last accepted (a server without validators). */
    if (rc == PS_OK && (m->xml.status == 304 ||
                        (m->xml.status == 200 &&
                         ps_mirror_seen(s, "Signed-SHA256-repomd", &m->xml.body))))
        s->res->unchanged = 1;
    else if (rc == PS_OK && m->xml.status != 200)
        rc = ps_mirror_blame(s, "transfer", ps_error_set(err, PS_EINPUT, "%s: HTTP %ld", m->url,
                                                         m->xml.status));
    if (rc == PS_OK && !s->res->unchanged)
        rc = ps_mirror_get(s, asc, NULL, NULL, 1u << 20, &m->asc, err);
    if (rc == PS_OK && !s->res->unchanged && m->asc.status != 200)
        rc = ps_mirror_blame(s, "signature",
                             ps_error_set(err, PS_EVERIFY,
                                          "%s: HTTP %ld: an unsigned repomd.xml is refused", asc,
                                          m->asc.status));
    free(asc);
    return rc;
}

static ps_code xml_head_check(const char *head, size_t n, const char *url, ps_error *err);

ps_code ps_mirror_xml_check(const char *path, const char *url, ps_error *err)
{
    static const size_t HEAD = 65536;
    char *head = calloc(1, HEAD + 1);
    FILE *f = head ? fopen(path, "rb") : NULL;
    size_t n = f ? fread(head, 1, HEAD, f) : 0;
    if (f)
        fclose(f);
    if (f == NULL) {
        free(head);
        return head ? ps_error_set(err, PS_EIO, "%s: %s", path, strerror(errno))
                    : ps_error_set(err, PS_ENOMEM, "out of memory");
    }
    ps_code rc = xml_head_check(head, n, url, err);
    free(head);
    return rc;
}

/* Repodata never needs a DTD: one could only declare entities, whose
 * expansion (a "billion laughs") is the attack. */
static ps_code xml_head_check(const char *head, size_t n, const char *url, ps_error *err)
{
    if (strstr(head, "<!DOCTYPE") || strstr(head, "<!ENTITY"))
        return ps_error_set(err, PS_EVERIFY, "%s: a DTD (entity declarations) in repodata: "
                            "refused", url);
    if (n != strlen(head) || (n >= 2 && ((unsigned char)head[0] >= 0xfe)))
        return ps_error_set(err, PS_EVERIFY, "%s: not UTF-8 XML (NUL bytes or a UTF-16 mark): "
                            "refused", url);
    const char *end = strncmp(head, "<?xml", 5) == 0 ? strstr(head, "?>") : NULL;
    const char *enc = end ? strstr(head, "encoding=") : NULL;
    if (enc == NULL || enc > end)
        return PS_OK;
    enc += 10;
    if (g_ascii_strncasecmp(enc, "UTF-8", 5) != 0 || (enc[5] != '"' && enc[5] != '\''))
        return ps_error_set(err, PS_EVERIFY, "%s: XML in an encoding other than UTF-8: refused",
                            url);
    return PS_OK;
}

static ps_code check_record_place(const char *url, const cr_RepomdRecord *r, ps_error *err)
{
    if (r->location_base && *r->location_base)
        return ps_error_set(err, PS_EVERIFY, "%s: %s record has xml:base '%s': refused", url,
                            r->type, r->location_base);
    return ps_mirror_check_path(url, r->location_href, err);
}

static ps_code parse_repomd(ps_sync *s, md *m, ps_error *err)
{
    char *path = ps_strdupf("%s/indices/repomd.xml", s->dir);
    GError *gerr = NULL;
    ps_code rc = path ? ps_file_write_atomic(path, m->xml.body.data, m->xml.body.len, 0644, err)
                      : ps_error_set(err, PS_ENOMEM, "out of memory");
    m->repomd = cr_repomd_new();
    if (rc == PS_OK)
        rc = ps_mirror_xml_check(path, m->url, err);
    if (rc == PS_OK && cr_xml_parse_repomd(path, m->repomd, NULL, NULL, &gerr) != CRE_OK)
        rc = ps_error_set(err, PS_EINPUT, "%s: %s", m->url, gerr ? gerr->message : "bad XML");
    for (GSList *l = rc == PS_OK ? m->repomd->records : NULL; rc == PS_OK && l; l = l->next)
        rc = check_record_place(m->url, l->data, err);
    if (rc == PS_OK && (m->primary = cr_repomd_get_record(m->repomd, "primary")) == NULL)
        rc = ps_error_set(err, PS_EINPUT, "%s: no primary record", m->url);
    const cr_RepomdRecord *p = m->primary;
    if (rc == PS_OK && (p->checksum_type == NULL || strcmp(p->checksum_type, "sha256") != 0 ||
                        p->checksum == NULL || strlen(p->checksum) != 64))
        rc = ps_error_set(err, PS_EVERIFY, "%s: primary checksum type '%s': only sha256 is "
                          "accepted", m->url, p->checksum_type ? p->checksum_type : "(none)");
    if (rc == PS_OK && (p->size <= 0 || (uint64_t)p->size > s->c->max_index))
        rc = ps_error_set(err, PS_EVERIFY, "%s: primary size %lld is missing or above "
                          "Max-Index-Size: refused", m->url, (long long)p->size);
    if (gerr)
        g_error_free(gerr);
    free(path);
    return rc;
}

/* The newest record timestamp stands for the repository's Date. */
static ps_code check_freshness(ps_sync *s, md *m, ps_error *err)
{
    gint64 newest = 0;
    for (GSList *l = m->repomd->records; l; l = l->next) {
        const cr_RepomdRecord *r = l->data;
        if (r->timestamp > newest)
            newest = r->timestamp;
    }
    char date[64];
    ps_format_date((long)newest, date, sizeof date);
    snprintf(s->res->upstream_date, sizeof s->res->upstream_date, "%s", date);
    return ps_mirror_check_date(s, "Date-repomd", date, m->url, err);
}

/* ---- primary: unpacked with a limit, checked, then streamed ---------- */

static ps_code fetch_primary(ps_sync *s, md *m, char **plain, ps_error *err)
{
    const cr_RepomdRecord *p = m->primary;
    const char *base = strrchr(p->location_href, '/');
    base = base ? base + 1 : p->location_href;
    const char *ext = strrchr(base, '.');
    char *packed = ps_strdupf("%s/indices/%s%s", s->dir, p->checksum, ext ? ext : "");
    char *url = ps_mirror_url(s, p->location_href);
    *plain = ps_strdupf("%s/indices/%s.xml", s->dir, p->checksum);
    ps_code rc = packed && url && *plain ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_fetch_file f = {url, packed, (uint64_t)p->size, p->checksum, NULL};
    if (rc == PS_OK && ps_path_exists(*plain))
        utimes(*plain, NULL); /* still pinned: keep it in the cache */
    if (rc == PS_OK && !ps_path_exists(*plain) && !ps_path_exists(packed))
        rc = ps_mirror_fetch_files(s, &f, 1, 0, err);
    /* The open-checksum and open-size repomd.xml gives bind the unpacked
     * bytes, every stream or member of them. */
    int open_sha = p->checksum_open && p->checksum_open_type &&
                   strcmp(p->checksum_open_type, "sha256") == 0;
    ps_unpack_want want = {open_sha ? p->checksum_open : NULL,
                           p->size_open > 0 ? (uint64_t)p->size_open : 0, "repomd.xml"};
    if (rc == PS_OK && !ps_path_exists(*plain))
        rc = ps_mirror_unpack(s, packed, *plain, &want, url, err);
    if (rc == PS_OK)
        rc = ps_mirror_xml_check(*plain, url, err);
    if (packed)
        unlink(packed); /* the unpacked copy is what later syncs reuse */
    free(packed), free(url);
    return rc;
}

typedef struct pass {
    ps_sync *s;
    ps_select *sel;    /* pass 0 */
    GHashTable *need;  /* later: required name -> GPtrArray of providers */
    size_t entries;
    ps_error *err;
    const char *where;
} pass;

static int arch_ok(const ps_mirror_conf *c, const char *arch)
{
    if (c->archs.n == 0 || strcmp(arch, "noarch") == 0)
        return 1;
    for (size_t i = 0; i < c->archs.n; i++)
        if (strcmp(c->archs.v[i], arch) == 0)
            return 1;
    return 0;
}

static char *evr_of(const cr_Package *p)
{
    const char *e = p->epoch && *p->epoch && strcmp(p->epoch, "0") != 0 ? p->epoch : NULL;
    return ps_strdupf("%s%s%s-%s", e ? e : "", e ? ":" : "", p->version, p->release);
}

/* Requires one per line (rpmlib() ones are rpm's own); provides and the
 * listed files in STANZA, one per line, for the dependency passes. */
static char *dep_lines(GSList *deps, GSList *files)
{
    ps_buf b = {0};
    for (GSList *l = deps; l; l = l->next) {
        const cr_Dependency *d = l->data;
        if (strncmp(d->name, "rpmlib(", 7) != 0)
            ps_buf_appendf(&b, NULL, "%s\n", d->name);
    }
    for (GSList *l = files; l; l = l->next) {
        const cr_PackageFile *f = l->data;
        ps_buf_appendf(&b, NULL, "%s%s\n", f->path, f->name);
    }
    return b.data ? (char *)b.data : strdup("");
}

static ps_cand *make_cand(pass *p, const cr_Package *pkg)
{
    ps_cand *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->name = strdup(pkg->name), c->arch = strdup(pkg->arch), c->version = evr_of(pkg);
    c->path = strdup(pkg->location_href), c->sha256 = strdup(pkg->pkgId);
    c->size = (uint64_t)pkg->size_package;
    c->deps = dep_lines(pkg->requires, NULL);
    c->stanza = dep_lines(pkg->provides, pkg->files);
    if (!c->name || !c->arch || !c->version || !c->path || !c->sha256 || !c->deps ||
        !c->stanza) {
        ps_cand_free(c);
        return NULL;
    }
    (void)p;
    return c;
}

static int provides(const cr_Package *pkg, GHashTable *need, const char **which)
{
    for (GSList *l = pkg->provides; l; l = l->next)
        if (g_hash_table_contains(need, ((cr_Dependency *)l->data)->name))
            return *which = ((cr_Dependency *)l->data)->name, 1;
    for (GSList *l = pkg->files; l; l = l->next) {
        const cr_PackageFile *f = l->data;
        char path[4096];
        snprintf(path, sizeof path, "%s%s", f->path, f->name);
        gpointer key;
        if (g_hash_table_lookup_extended(need, path, &key, NULL))
            return *which = key, 1;
    }
    return 0;
}

static ps_code check_pkg(pass *p, const cr_Package *pkg)
{
    if (pkg->location_base && *pkg->location_base)
        return ps_error_set(p->err, PS_EVERIFY, "%s: %s has xml:base '%s': refused", p->where,
                            pkg->name, pkg->location_base);
    if (ps_mirror_check_path(p->where, pkg->location_href, p->err) != PS_OK)
        return PS_EVERIFY;
    if (pkg->checksum_type == NULL || strcmp(pkg->checksum_type, "sha256") != 0 ||
        pkg->pkgId == NULL || strlen(pkg->pkgId) != 64)
        return ps_error_set(p->err, PS_EVERIFY, "%s: %s: checksum type '%s': only sha256 is "
                            "accepted", p->where, pkg->name,
                            pkg->checksum_type ? pkg->checksum_type : "(none)");
    if (pkg->size_package <= 0 || (uint64_t)pkg->size_package > p->s->c->max_file)
        return ps_error_set(p->err, PS_EVERIFY, "%s: %s: size %lld is missing or above "
                            "Max-File-Size: refused", p->where, pkg->name,
                            (long long)pkg->size_package);
    return PS_OK;
}

static int on_pkg(cr_Package *pkg, void *ud, GError **gerr)
{
    pass *p = ud;
    const char *which = NULL;
    (void)gerr;
    p->entries++;
    int want = pkg->name && pkg->arch && arch_ok(p->s->c, pkg->arch) &&
               (p->sel ? ps_mirror_wants(p->s->c, pkg->name) : provides(pkg, p->need, &which));
    int ok = check_pkg(p, pkg) == PS_OK;
    ps_cand *c = ok && want ? make_cand(p, pkg) : NULL;
    if (ok && want && c == NULL)
        ps_error_set(p->err, PS_ENOMEM, "out of memory"), ok = 0;
    if (c && p->sel)
        ps_select_offer(p->sel, c);
    else if (c) {
        c->is_dep = 1;
        g_ptr_array_add(g_hash_table_lookup(p->need, which), c);
    }
    cr_package_free(pkg);
    return ok ? CR_CB_RET_OK : CR_CB_RET_ERR;
}

static ps_code scan(pass *p, const char *plain, ps_error *err)
{
    GError *gerr = NULL;
    p->entries = 0;
    p->err = err;
    int files = p->need != NULL;
    int r = cr_xml_parse_primary(plain, NULL, NULL, on_pkg, p, NULL, NULL, files, &gerr);
    ps_code rc = PS_OK;
    if (err && err->code != PS_OK)
        rc = err->code;
    else if (r != CRE_OK)
        rc = ps_error_set(err, PS_EINPUT, "%s: %s", p->where, gerr ? gerr->message : "bad XML");
    if (gerr)
        g_error_free(gerr);
    return rc;
}

/* ---- dependencies ---------------------------------------------------- */

static int lines_have(const char *lines, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = lines; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l == n && strncmp(p, want, n) == 0)
            return 1;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

static int chosen_provide(GPtrArray *chosen, const char *name)
{
    for (guint i = 0; i < chosen->len; i++) {
        const ps_cand *c = chosen->pdata[i];
        if (strcmp(c->name, name) == 0 || lines_have(c->stanza, name))
            return 1;
    }
    return 0;
}

static GHashTable *missing(GPtrArray *chosen)
{
    GHashTable *need = g_hash_table_new_full(g_str_hash, g_str_equal, free, (GDestroyNotify)g_ptr_array_unref);
    for (guint i = 0; i < chosen->len; i++) {
        const char *p = ((ps_cand *)chosen->pdata[i])->deps;
        while (p && *p) {
            const char *nl = strchr(p, '\n');
            char *name = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
            if (name && !chosen_provide(chosen, name) && !g_hash_table_contains(need, name))
                g_hash_table_insert(need, name,
                                    g_ptr_array_new_with_free_func((GDestroyNotify)ps_cand_free));
            else
                free(name);
            p = nl ? nl + 1 : NULL;
        }
    }
    return need;
}

/* For each need upstream can meet: its newest provider. */
static size_t resolve(GPtrArray *chosen, GHashTable *need)
{
    size_t added = 0;
    GHashTableIter it;
    gpointer key, v;
    g_hash_table_iter_init(&it, need);
    while (g_hash_table_iter_next(&it, &key, &v)) {
        GPtrArray *pool = v;
        ps_cand *best = NULL;
        guint at = 0;
        for (guint i = 0; i < pool->len; i++) {
            ps_cand *c = pool->pdata[i];
            if (!best || evr_cmp(c->version, best->version) > 0)
                best = c, at = i;
        }
        if (best == NULL || chosen_provide(chosen, key))
            continue;
        g_ptr_array_steal_index_fast(pool, at);
        g_ptr_array_add(chosen, best);
        added++;
    }
    return added;
}

static ps_code follow(ps_sync *s, const char *plain, const char *where, ps_error *err)
{
    ps_code rc = PS_OK;
    for (int round = 0; rc == PS_OK && round < 32; round++) {
        GHashTable *need = missing(s->chosen);
        size_t added = 0;
        if (g_hash_table_size(need) > 0) {
            pass q = {s, NULL, need, 0, err, where};
            rc = scan(&q, plain, err);
            added = rc == PS_OK ? resolve(s->chosen, need) : 0;
        }
        g_hash_table_destroy(need);
        if (added == 0)
            break;
    }
    return rc;
}

/* ---- the whole rpm side ---------------------------------------------- */

static ps_code keep_repomd(ps_sync *s, md *m, ps_error *err)
{
    ps_code rc = ps_mirror_keep_provenance(s, "repomd.xml", m->xml.body.data, m->xml.body.len,
                                           err);
    if (rc == PS_OK)
        rc = ps_mirror_keep_provenance(s, "repomd.xml.asc", m->asc.body.data, m->asc.body.len,
                                       err);
    if (rc == PS_OK)
        rc = ps_kv_set(&s->next, "ETag-repomd", m->xml.etag, err);
    if (rc == PS_OK)
        rc = ps_kv_set(&s->next, "Last-Modified-repomd", m->xml.last_modified, err);
    return rc;
}

static ps_code rpm_select(ps_sync *s, ps_error *err)
{
    md m = {0};
    char *plain = NULL;
    ps_select sel;
    ps_select_init(&sel, s->c->keep, evr_cmp);
    ps_code rc = fetch_repomd(s, &m, err);
    if (rc == PS_OK && !s->res->unchanged) {
        rc = ps_mirror_verify(s, &m.xml.body, &m.asc.body, NULL, m.url, err);
        if (rc == PS_OK)
            rc = parse_repomd(s, &m, err);
        if (rc == PS_OK)
            rc = ps_mirror_blame(s, "freshness", check_freshness(s, &m, err));
        if (rc == PS_OK)
            rc = keep_repomd(s, &m, err);
        if (rc == PS_OK)
            rc = fetch_primary(s, &m, &plain, err);
        pass p = {s, &sel, NULL, 0, err, m.url};
        if (rc == PS_OK)
            rc = scan(&p, plain, err);
        s->res->upstream_entries = p.entries;
        if (rc == PS_OK)
            rc = ps_select_check(&sel, m.url, err);
        if (rc == PS_OK)
            ps_select_take(&sel, s->chosen);
        if (rc == PS_OK && s->c->follow)
            rc = follow(s, plain, m.url, err);
    }
    ps_select_free(&sel);
    md_free(&m);
    free(plain);
    return rc;
}

/* Resign-Packages: once the upstream signature has been checked, the
 * package is signed with the repository's key by librpmsign (which runs
 * gpg with %_gpg_name and %_gpg_path), and read again: its bytes, digest
 * and size are now ours. */
static ps_code resign(ps_sync *s, ps_mirror_plan *p, ps_repo_item *it, const ps_cand *c,
                      ps_pkginfo **pi, ps_error *err)
{
    /* (rpm would pass the hash as a number, which gpg refuses: named here) */
    struct rpmSignArgs args = {NULL, 0, 0};
    const char *home = p->sign_home ? p->sign_home : getenv("GNUPGHOME");
    /* A copy is signed: the verified download stays upstream's bytes, so
     * a failure later in this sync leaves it reusable by the next. */
    char *copy = ps_strdupf("%s.ours", it->file);
    if (copy == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    unlink(copy);
    ps_code rc = ps_copy_file(it->file, copy, err);
    it->file = ps_mirror_own(p, copy);
    if (rc != PS_OK)
        return rc;
    rpmPushMacro(NULL, "_gpg_name", NULL, p->sign_key, RMIL_GLOBAL);
    /* Debian's rpm names /usr/bin/gpg2, which GnuPG 2.2 no longer ships. */
    rpmPushMacro(NULL, "__gpg", NULL, "/usr/bin/gpg", RMIL_GLOBAL);
    rpmPushMacro(NULL, "_gpg_digest_algo", NULL, "sha256", RMIL_GLOBAL);
    if (home)
        rpmPushMacro(NULL, "_gpg_path", NULL, home, RMIL_GLOBAL);
    /* rpmPkgSign prints the file name on stdout, which is --json's. */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && null >= 0)
        dup2(null, STDOUT_FILENO);
    int mask = rpmlogSetMask(RPMLOG_UPTO(RPMLOG_ERR)); /* not "Could not set GPG_TTY" */
    int r = rpmPkgSign(it->file, &args);
    rpmlogSetMask(mask);
    fflush(stdout);
    if (saved >= 0)
        dup2(saved, STDOUT_FILENO), close(saved);
    if (null >= 0)
        close(null);
    rpmPopMacro(NULL, "_gpg_name");
    rpmPopMacro(NULL, "__gpg");
    rpmPopMacro(NULL, "_gpg_digest_algo");
    if (home)
        rpmPopMacro(NULL, "_gpg_path");
    if (r != 0) {
        unlink(it->file);
        return ps_error_set(err, PS_EKEY, "%s: re-signing with %s (librpmsign) failed", it->file,
                            p->sign_key);
    }
    ps_pkginfo_free(*pi);
    *pi = ps_pkginfo_read(it->file, NULL, 0, err);
    if (*pi == NULL)
        return err ? err->code : PS_EINPUT;
    const ps_hashes *h = ps_pkginfo_hashes(*pi);
    it->sha256 = ps_mirror_own(p, strdup(h->sha256));
    it->size = h->size;
    if (it->sha256 == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    return ps_kv_set(&s->resigned_next, c->sha256, h->sha256, err);
}

/* An rpm is read through librpm: its signature must be a pinned key's,
 * and its header must say what the index said. */
static ps_code rpm_item(ps_sync *s, ps_mirror_plan *p, size_t i, const ps_cand *c, void *ctx,
                        ps_error *err)
{
    ps_pkgkeys *keys = ctx;
    ps_repo_item *it = &p->items[i];
    char *url = ps_mirror_url(s, c->path);
    ps_pkginfo *pi = ps_pkginfo_read(it->file, keys, 1, err);
    ps_code rc = pi ? PS_OK : (err ? err->code : PS_EVERIFY);
    if (rc != PS_OK && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        ps_error_clear(err);
        unlink(it->file);
        rc = ps_error_set(err, rc, "%s: %s", url ? url : c->path, msg);
    }
    if (rc == PS_OK && (strcmp(ps_pkginfo_name(pi), c->name) != 0 ||
                        strcmp(ps_pkginfo_arch(pi), c->arch) != 0 ||
                        strcmp(ps_pkginfo_version(pi), c->version) != 0))
        rc = ps_error_set(err, PS_EVERIFY, "%s: the header says %s %s (%s), the index %s %s (%s)",
                          url ? url : c->path, ps_pkginfo_name(pi), ps_pkginfo_version(pi),
                          ps_pkginfo_arch(pi), c->name, c->version, c->arch);
    if (rc == PS_OK && s->c->resign)
        rc = resign(s, p, it, c, &pi, err);
    if (rc == PS_OK)
        it->href = ps_mirror_own(p, ps_repo_pool_href(it->sha256, ps_pkginfo_filename(pi)));
    if (rc == PS_OK && it->href == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_pkginfo_record(pi, it->href, &p->records[i], err);
    ps_pkginfo_free(pi);
    free(url);
    return rc;
}

/* The rpm keyring holds the pinned keys only. */
static ps_pkgkeys *pinned_keys(ps_sync *s, ps_error *err)
{
    ps_strv files = {0};
    ps_code rc = ps_mirror_verifier(s, err);
    char *dir = ps_strdupf("%s/keys", s->dir);
    if (rc == PS_OK && dir) {
        ps_rm_rf(dir, NULL);
        rc = ps_mkdir_p(dir, 0700, err);
    }
    for (size_t i = 0; rc == PS_OK && i < ps_verifier_nkeys(s->verifier); i++) {
        if (!ps_mirror_pinned(s->c, ps_verifier_key(s->verifier, i)))
            continue;
        ps_buf b = {0};
        char *path = ps_strdupf("%s/%zu.asc", dir, i);
        rc = path ? ps_verifier_export(s->verifier, i, 1, &b, err) : PS_ENOMEM;
        if (rc == PS_OK)
            rc = ps_file_write_atomic(path, b.data, b.len, 0644, err);
        if (rc == PS_OK)
            rc = ps_strv_take(&files, path, err), path = NULL;
        free(path);
        ps_buf_free(&b);
    }
    ps_pkgkeys *k = NULL;
    if (rc == PS_OK && files.n == 0)
        ps_error_set(err, PS_EKEY, "%s: none of the pinned keys is in the Signed-By key files",
                     s->c->path);
    else if (rc == PS_OK)
        k = ps_pkgkeys_new((const char *const *)files.v, files.n, err);
    ps_strv_free(&files);
    free(dir);
    return k;
}

/* The pinned keys pinned_keys() exported stay as client-keys/ for the
 * client package (dnf checks mirrored rpms against them), unless the
 * packages were re-signed with our key. */
static ps_code keep_client_keys(ps_sync *s, ps_error *err)
{
    char *keys = ps_strdupf("%s/keys", s->dir), *ck = ps_strdupf("%s/client-keys", s->dir);
    ps_code rc = keys && ck ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (ck)
        ps_rm_rf(ck, NULL);
    if (rc == PS_OK && !s->c->resign && rename(keys, ck) != 0)
        rc = ps_error_set(err, PS_EIO, "%s: %s", ck, strerror(errno));
    free(keys), free(ck);
    return rc;
}

/* The rpm keyring of the pinned keys, for every entry's signature. */
static ps_code items_begin(ps_sync *s, void **ctx, ps_error *err)
{
    *ctx = pinned_keys(s, err);
    return *ctx ? PS_OK : (err && err->code ? err->code : PS_EKEY);
}

static ps_code items_end(ps_sync *s, void *ctx, ps_code rc, ps_error *err)
{
    ps_pkgkeys_free(ctx);
    return rc == PS_OK ? keep_client_keys(s, err) : rc;
}

static char *rpm_target(const ps_sync *s, const ps_repo *r)
{
    (void)r;
    return strdup(s->c->target);
}

const ps_mirror_kind ps_mirror_kind_rpm = {
    .name = "rpm",
    .pkg_type = "rpm",
    .target_what = "an rpm repo of repo.conf",
    .target_is = "an rpm repo",
    .select = rpm_select,
    .target = rpm_target,
    .items_begin = items_begin,
    .items_end = items_end,
    .verify_entry = rpm_item,
};
