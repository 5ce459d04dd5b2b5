#include "ps_pkginfo.h"

#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <createrepo_c/createrepo_c.h>
#include <rpm/header.h>
#include <rpm/rpmkeyring.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmts.h>

#include "ps_apt.h"
#include "ps_deb.h"
#include "ps_pgp.h"

struct ps_pkgkeys {
    ps_verifier *gpg; /* for debsigs signatures */
    rpmKeyring rpm;   /* the same keys, for rpm header signatures */
};

struct ps_pkginfo {
    ps_pkg_kind kind;
    char *path;
    char *name, *version, *arch, *filename, *signer;
    ps_hashes h;
    ps_deb822 *control; /* deb */
    cr_Package *pkg;    /* rpm */
};

void ps_pkginfo_global_init(void)
{
    cr_package_parser_init();
    cr_xml_dump_init();
}

/* ---- keys ---------------------------------------------------------- */

static ps_code add_rpm_key(rpmKeyring kr, const ps_buf *pkt, const char *fpr, ps_error *err)
{
    rpmPubkey key = rpmPubkeyNew(pkt->data, pkt->len);
    if (key == NULL)
        return ps_error_set(err, PS_EKEY, "librpm cannot use key %s", fpr);
    rpmKeyringAddKey(kr, key);
    int n = 0;
    rpmPubkey *subs = rpmGetSubkeys(key, &n);
    for (int i = 0; i < n; i++) {
        rpmKeyringAddKey(kr, subs[i]);
        rpmPubkeyFree(subs[i]);
    }
    free(subs);
    rpmPubkeyFree(key);
    return PS_OK;
}

/* gpg splits a file into keys; each goes to rpm as its own packets. */
static ps_code keys_to_rpm(ps_pkgkeys *k, ps_error *err)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < ps_verifier_nkeys(k->gpg); i++) {
        ps_buf pkt = {0};
        rc = ps_verifier_export(k->gpg, i, 0, &pkt, err);
        if (rc == PS_OK)
            rc = add_rpm_key(k->rpm, &pkt, ps_verifier_key(k->gpg, i), err);
        ps_buf_free(&pkt);
    }
    return rc;
}

ps_pkgkeys *ps_pkgkeys_new(const char *const *files, size_t nfiles, ps_error *err)
{
    ps_pkgkeys *k = ps_zalloc(sizeof *k, err);
    if (k == NULL)
        return NULL;
    ps_code rc = (k->gpg = ps_verifier_new(err)) ? PS_OK : PS_ELIB;
    if (rc == PS_OK && (k->rpm = rpmKeyringNew()) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PS_OK && i < nfiles; i++)
        rc = ps_verifier_import_file(k->gpg, files[i], err);
    if (rc == PS_OK)
        rc = keys_to_rpm(k, err);
    return PS_BUILT(rc, k, ps_pkgkeys_free);
}

void ps_pkgkeys_free(ps_pkgkeys *k)
{
    if (k == NULL)
        return;
    ps_verifier_free(k->gpg);
    rpmKeyringFree(k->rpm); /* it takes NULL */
    free(k);
}

/* ---- deb ----------------------------------------------------------- */

/* Opens a tar member (any compression libarchive knows). */
static struct archive *open_tar(const ps_span *s)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, s->data, s->len) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static ps_code read_control(const char *path, const ps_deb_member *m, ps_buf *out,
                            ps_error *err)
{
    struct archive *a = open_tar(&m->span);
    struct archive_entry *e;
    ps_code rc = a ? PS_OK : ps_error_set(err, PS_EINPUT, "%s: damaged %s", path, m->name);
    int found = 0, r;
    while (rc == PS_OK && !found && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *n = archive_entry_pathname(e);
        if (strcmp(n, "./control") != 0 && strcmp(n, "control") != 0)
            continue;
        found = 1;
        char buf[16384];
        la_ssize_t got;
        while (rc == PS_OK && (got = archive_read_data(a, buf, sizeof buf)) > 0)
            rc = ps_buf_append(out, buf, (size_t)got, err);
        if (rc == PS_OK && got < 0)
            rc = ps_error_set(err, PS_EINPUT, "%s: damaged %s: %s", path, m->name,
                              archive_error_string(a));
    }
    if (rc == PS_OK && !found)
        rc = archive_errno(a) != 0
                 ? ps_error_set(err, PS_EINPUT, "%s: damaged %s: %s", path, m->name,
                                archive_error_string(a))
                 : ps_error_set(err, PS_EINPUT, "%s: %s has no control file", path, m->name);
    if (a)
        archive_read_free(a);
    return rc;
}

/* Decompresses data.tar to its end: a truncated or corrupt download is
 * refused here rather than by the first client that installs it. */
static ps_code check_data(const char *path, const ps_deb_member *m, ps_error *err)
{
    struct archive *a = open_tar(&m->span);
    struct archive_entry *e;
    int r = ARCHIVE_FATAL;
    if (a != NULL)
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
            ;
    ps_code rc = r == ARCHIVE_EOF ? PS_OK
                                  : ps_error_set(err, PS_EINPUT, "%s: damaged %s: %s", path,
                                                 m->name, a ? archive_error_string(a) : "unreadable");
    if (a)
        archive_read_free(a);
    return rc;
}

static ps_code deb_verify(ps_pkginfo *p, const ps_deb_member *mem, const ps_pkgkeys *keys,
                          int require, ps_error *err)
{
    if (mem[PS_DEB_SIG].span.data == NULL)
        return require ? ps_error_set(err, PS_EVERIFY,
                                      "%s: unsigned package (no debsigs _gpgorigin member), and "
                                      "the repository requires signed packages",
                                      p->path)
                       : PS_OK;
    if (keys == NULL)
        return PS_OK;
    ps_span parts[3] = {mem[PS_DEB_BINARY].span, mem[PS_DEB_CONTROL].span,
                        mem[PS_DEB_DATA].span};
    const ps_span *sig = &mem[PS_DEB_SIG].span;
    char fpr[41];
    ps_code rc = ps_verifier_verify(keys->gpg, sig->data, sig->len, parts, 3, NULL, p->path, fpr,
                                    err);
    if (rc == PS_OK && (p->signer = strdup(fpr)) == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    return rc;
}

static ps_code deb_identity(ps_pkginfo *p, ps_error *err)
{
    static const char *const required[] = {"Package", "Version", "Architecture"};
    if (ps_deb822_count(p->control) != 1)
        return ps_error_set(err, PS_EINPUT, "%s: control file has %zu stanzas, not 1", p->path,
                            ps_deb822_count(p->control));
    for (size_t i = 0; i < 3; i++) {
        const char *v = ps_deb822_get(p->control, 0, required[i]);
        if (v == NULL || *v == '\0' || strpbrk(v, " \t\n/") != NULL)
            return ps_error_set(err, PS_EINPUT, "%s: control field %s is %s", p->path,
                                required[i], v ? "not a single word" : "missing");
    }
    p->name = strdup(ps_deb822_get(p->control, 0, "Package"));
    p->version = strdup(ps_deb822_get(p->control, 0, "Version"));
    p->arch = strdup(ps_deb822_get(p->control, 0, "Architecture"));
    if (p->name == NULL || p->version == NULL || p->arch == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    if (!ps_apt_version_valid(p->version))
        return ps_error_set(err, PS_EINPUT, "%s: invalid Version '%s'", p->path, p->version);
    const char *colon = strchr(p->version, ':');
    p->filename = ps_strdupf("%s_%s_%s.deb", p->name, colon ? colon + 1 : p->version, p->arch);
    return p->filename ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
}

static ps_code read_deb(ps_pkginfo *p, const ps_map *m, const ps_pkgkeys *keys, int require,
                        ps_error *err)
{
    ps_deb_member mem[PS_DEB_NMEMBERS];
    ps_buf control = {0};
    char name[512];
    ps_code rc = ps_deb_members(p->path, m->data, m->len, 0, mem, err);
    if (rc == PS_OK)
        rc = read_control(p->path, &mem[PS_DEB_CONTROL], &control, err);
    if (rc == PS_OK) {
        snprintf(name, sizeof name, "%s: control", p->path);
        p->control = ps_deb822_parse_mem((const char *)control.data, control.len, name, err);
        rc = p->control ? deb_identity(p, err) : PS_EINPUT;
    }
    if (rc == PS_OK)
        rc = check_data(p->path, &mem[PS_DEB_DATA], err);
    if (rc == PS_OK)
        rc = deb_verify(p, mem, keys, require, err);
    ps_buf_free(&control);
    return rc;
}

/* ---- rpm ----------------------------------------------------------- */

static int has_signature(Header h)
{
    return headerIsEntry(h, RPMTAG_RSAHEADER) || headerIsEntry(h, RPMTAG_DSAHEADER) ||
           headerIsEntry(h, RPMTAG_SIGPGP) || headerIsEntry(h, RPMTAG_SIGGPG);
}

/* The signer's key ID (hex), and in *HASH the signature's OpenPGP digest
 * algorithm when HASH is not NULL. */
static char *signer_keyid(Header h, int *hash)
{
    static const rpmTagVal tags[] = {RPMTAG_RSAHEADER, RPMTAG_DSAHEADER, RPMTAG_SIGPGP,
                                     RPMTAG_SIGGPG};
    char *id = NULL;
    for (size_t i = 0; id == NULL && i < 4; i++) {
        struct rpmtd_s td;
        pgpDigParams dig = NULL;
        if (!headerGet(h, tags[i], &td, HEADERGET_MINMEM))
            continue;
        if (pgpPrtParams(td.data, td.count, PGPTAG_SIGNATURE, &dig) == 0 && dig) {
            char hex[17];
            ps_hex_encode(pgpDigParamsSignID(dig), 8, hex);
            id = strdup(hex);
            if (hash)
                *hash = (int)pgpDigParamsAlgo(dig, PGPVAL_HASHALGO);
        }
        pgpDigParamsFree(dig);
        rpmtdFreeData(&td);
    }
    return id;
}

/* librpm checks the header digests and, against KEYS, its signature. */
static ps_code rpm_verify(ps_pkginfo *p, const ps_pkgkeys *keys, int require, Header *hp,
                          ps_error *err)
{
    rpmts ts = rpmtsCreate();
    rpmKeyring empty = keys ? NULL : rpmKeyringNew();
    rpmtsSetKeyring(ts, keys ? keys->rpm : empty);
    FD_t fd = Fopen(p->path, "r.ufdio");
    /* Our own message says what failed; rpm's warnings would repeat it. */
    int mask = rpmlogSetMask(RPMLOG_UPTO(RPMLOG_CRIT));
    rpmRC r = fd && !Ferror(fd) ? rpmReadPackageFile(ts, fd, p->path, hp) : RPMRC_FAIL;
    rpmlogSetMask(mask);
    if (fd)
        Fclose(fd);
    rpmtsFree(ts);
    if (empty)
        rpmKeyringFree(empty);
    int signed_ = *hp && has_signature(*hp);
    if (r == RPMRC_NOTFOUND || (r != RPMRC_OK && *hp == NULL && r != RPMRC_NOKEY))
        return ps_error_set(err, PS_EINPUT, "%s: damaged or not an rpm package", p->path);
    if (r == RPMRC_FAIL || r == RPMRC_NOTTRUSTED)
        return ps_error_set(err, PS_EINPUT, "%s: damaged rpm: header digest or signature is BAD",
                            p->path);
    if (r == RPMRC_NOKEY && keys) {
        char *id = signer_keyid(*hp, NULL);
        ps_error_set(err, PS_EVERIFY, "%s: signed by key ID %s, which is not in Package-Keys",
                     p->path, id ? id : "?");
        free(id);
        return PS_EVERIFY;
    }
    if (!signed_ && require)
        return ps_error_set(err, PS_EVERIFY,
                            "%s: unsigned package, and the repository requires signed packages",
                            p->path);
    int hash = 0;
    if (signed_ && keys && (p->signer = signer_keyid(*hp, &hash)) == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    /* librpm accepts SHA-1 and small keys; the verifier's policy (what
     * apt and RHEL 9's rpm refuse) applies to packages as to indices. */
    if (signed_ && keys)
        return ps_verifier_policy(keys->gpg, p->signer, hash, p->path, err);
    return PS_OK;
}

/* The header protects the payload with its SHA-256 (rpm >= 4.14); a
 * flipped payload byte would otherwise only show at install time. */
static ps_code check_payload(ps_pkginfo *p, Header h, const ps_map *m, ps_error *err)
{
    const char *want = headerGetString(h, RPMTAG_PAYLOADDIGEST);
    uint64_t algo = headerGetNumber(h, RPMTAG_PAYLOADDIGESTALGO);
    uint64_t start = (uint64_t)p->pkg->rpm_header_end;
    if (want == NULL || algo != PGPHASHALGO_SHA256)
        return PS_OK;
    char hex[65];
    if (start > m->len)
        return ps_error_set(err, PS_EINPUT, "%s: damaged rpm: truncated", p->path);
    ps_code rc = ps_digest_hex(PS_DIGEST_SHA256, m->data + start, m->len - start, hex, err);
    if (rc == PS_OK && strcmp(hex, want) != 0)
        rc = ps_error_set(err, PS_EINPUT, "%s: damaged rpm: payload digest mismatch", p->path);
    return rc;
}

static ps_code rpm_identity(ps_pkginfo *p, ps_error *err)
{
    cr_Package *c = p->pkg;
    int epoch = c->epoch && strcmp(c->epoch, "0") != 0;
    p->name = strdup(c->name);
    p->arch = strdup(c->arch);
    p->version = epoch ? ps_strdupf("%s:%s-%s", c->epoch, c->version, c->release)
                       : ps_strdupf("%s-%s", c->version, c->release);
    p->filename = ps_strdupf("%s-%s-%s.%s.rpm", c->name, c->version, c->release, c->arch);
    if (!p->name || !p->arch || !p->version || !p->filename)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    return PS_OK;
}

static ps_code read_rpm(ps_pkginfo *p, const ps_map *m, const ps_pkgkeys *keys, int require,
                        ps_error *err)
{
    Header h = NULL;
    GError *gerr = NULL;
    ps_pkginfo_global_init();
    ps_code rc = rpm_verify(p, keys, require, &h, err);
    if (rc == PS_OK && headerIsSource(h))
        rc = ps_error_set(err, PS_EINPUT, "%s: source rpms are not supported", p->path);
    if (rc == PS_OK && (p->pkg = cr_package_from_header(h, 10, CR_HDRR_NONE, &gerr)) == NULL)
        rc = ps_error_set(err, PS_EINPUT, "%s: createrepo_c: %s", p->path,
                          gerr ? gerr->message : "cannot read header");
    if (rc == PS_OK) {
        struct cr_HeaderRangeStruct r = cr_get_header_byte_range(p->path, &gerr);
        p->pkg->rpm_header_start = r.start;
        p->pkg->rpm_header_end = r.end;
        if (r.end == 0)
            rc = ps_error_set(err, PS_EINPUT, "%s: damaged rpm: %s", p->path,
                              gerr ? gerr->message : "no header");
    }
    if (rc == PS_OK)
        rc = check_payload(p, h, m, err);
    if (rc == PS_OK)
        rc = rpm_identity(p, err);
    if (gerr)
        g_error_free(gerr);
    headerFree(h);
    return rc;
}

/* ---- common -------------------------------------------------------- */

ps_pkginfo *ps_pkginfo_read(const char *path, const ps_pkgkeys *keys, int require_signature,
                            ps_error *err)
{
    static const unsigned char rpm_magic[4] = {0xed, 0xab, 0xee, 0xdb};
    ps_pkginfo *p = ps_zalloc(sizeof *p, err);
    if (p == NULL)
        return NULL;
    ps_map m = {0};
    ps_code rc = (p->path = strdup(path)) ? ps_map_file(path, &m, err)
                                          : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_hashes_of_mem(m.data, m.len, &p->h, err);
    if (rc == PS_OK && m.len >= 8 && memcmp(m.data, "!<arch>\n", 8) == 0) {
        p->kind = PS_PKG_DEB;
        rc = read_deb(p, &m, keys, require_signature, err);
    } else if (rc == PS_OK && m.len >= 4 && memcmp(m.data, rpm_magic, 4) == 0) {
        p->kind = PS_PKG_RPM;
        rc = read_rpm(p, &m, keys, require_signature, err);
    } else if (rc == PS_OK) {
        rc = ps_error_set(err, PS_EINPUT, "%s: neither a .deb nor an .rpm package", path);
    }
    ps_map_free(&m);
    return PS_BUILT(rc, p, ps_pkginfo_free);
}

void ps_pkginfo_free(ps_pkginfo *p)
{
    if (p == NULL)
        return;
    free(p->path);
    free(p->name);
    free(p->version);
    free(p->arch);
    free(p->filename);
    free(p->signer);
    ps_deb822_free(p->control);
    if (p->pkg)
        cr_package_free(p->pkg);
    free(p);
}

ps_pkg_kind ps_pkginfo_kind(const ps_pkginfo *p) { return p->kind; }
const char *ps_pkginfo_name(const ps_pkginfo *p) { return p->name; }
const char *ps_pkginfo_version(const ps_pkginfo *p) { return p->version; }
const char *ps_pkginfo_arch(const ps_pkginfo *p) { return p->arch; }
const char *ps_pkginfo_filename(const ps_pkginfo *p) { return p->filename; }
const ps_hashes *ps_pkginfo_hashes(const ps_pkginfo *p) { return &p->h; }
const char *ps_pkginfo_signer(const ps_pkginfo *p) { return p->signer; }

/* ---- index records ------------------------------------------------- */

static int is_ours(const char *field)
{
    static const char *const ours[] = {"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512",
                                       "Description-md5", NULL};
    for (size_t i = 0; ours[i]; i++)
        if (strcasecmp(field, ours[i]) == 0)
            return 1;
    return 0;
}

static ps_code put_field(ps_pkginfo *p, const char *field, const char *href, ps_buf *out,
                         ps_error *err)
{
    if (strcmp(field, "Filename") == 0)
        return ps_buf_appendf(out, err, "Filename: %s\n", href);
    if (strcmp(field, "Size") == 0)
        return ps_buf_appendf(out, err, "Size: %llu\n", (unsigned long long)p->h.size);
    if (strcmp(field, "MD5sum") == 0)
        return ps_buf_appendf(out, err, "MD5sum: %s\n", p->h.md5);
    if (strcmp(field, "SHA256") == 0)
        return ps_buf_appendf(out, err, "SHA256: %s\n", p->h.sha256);
    if (is_ours(field))
        return PS_OK;
    const char *v = ps_deb822_get(p->control, 0, field);
    return v ? ps_buf_appendf(out, err, "%s: %s\n", field, v) : PS_OK;
}

static int in_order(const char *const *order, const char *field)
{
    for (size_t i = 0; order[i]; i++)
        if (strcasecmp(order[i], field) == 0)
            return 1;
    return 0;
}

/* The control fields in apt's canonical order, then any others in the
 * order the package has them, then a blank line. */
static ps_code deb_record(ps_pkginfo *p, const char *href, ps_buf *out, ps_error *err)
{
    const char *const *order = ps_apt_package_field_order();
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && order[i]; i++)
        rc = put_field(p, order[i], href, out, err);
    for (size_t f = 0; rc == PS_OK && f < ps_deb822_nfields(p->control, 0); f++) {
        const char *name = ps_deb822_name_at(p->control, 0, f);
        if (!in_order(order, name) && !is_ours(name))
            rc = ps_buf_appendf(out, err, "%s: %s\n", name, ps_deb822_value_at(p->control, 0, f));
    }
    return rc == PS_OK ? ps_buf_append(out, "\n", 1, err) : rc;
}

static ps_code rpm_record(ps_pkginfo *p, const char *href, ps_buf *out, ps_error *err)
{
    cr_Package *c = p->pkg;
    GError *gerr = NULL;
    c->location_href = g_string_chunk_insert(c->chunk, href);
    c->pkgId = g_string_chunk_insert(c->chunk, p->h.sha256);
    c->checksum_type = g_string_chunk_insert(c->chunk, "sha256");
    c->size_package = (gint64)p->h.size;
    /* The file's time in the pool would differ between two repos holding
     * the same bytes; the build time does not. */
    c->time_file = c->time_build;
    struct cr_XmlStruct x = cr_xml_dump(c, &gerr);
    ps_code rc = PS_OK;
    if (x.primary == NULL || x.filelists == NULL || x.other == NULL)
        rc = ps_error_set(err, PS_ELIB, "%s: createrepo_c: %s", p->path,
                          gerr ? gerr->message : "cannot write XML");
    const char *parts[3] = {x.primary, x.filelists, x.other};
    for (int i = 0; rc == PS_OK && i < 3; i++)
        rc = ps_buf_append(out, parts[i], strlen(parts[i]) + 1, err);
    g_free(x.primary);
    g_free(x.filelists);
    g_free(x.other);
    if (gerr)
        g_error_free(gerr);
    return rc;
}

ps_code ps_pkginfo_record(ps_pkginfo *p, const char *href, ps_buf *out, ps_error *err)
{
    return p->kind == PS_PKG_DEB ? deb_record(p, href, out, err) : rpm_record(p, href, out, err);
}
