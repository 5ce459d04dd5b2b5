#include "ps_deb.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <archive.h>
#include <archive_entry.h>

#include "ps_apt.h"
#include "ps_archive.h"

/* A conffile, in ps_file.flags. */
#define DEB_CONFFILE 1u

/* What one binary package is built from. */
typedef struct deb_pkg {
    const ps_source *src;
    const ps_deb822 *control;
    size_t stanza;
    int first;          /* debian/<x> (no package prefix) belongs to it */
    const char *name;
    char *arch;
    char *control_path; /* for messages */
    ps_filelist files;
} deb_pkg;

static const char *const SOURCE_FIELDS[] = {
    "Source", "Section", "Priority", "Maintainer", "Uploaders", "Build-Depends",
    "Build-Depends-Indep", "Build-Depends-Arch", "Build-Conflicts",
    "Build-Conflicts-Indep", "Build-Conflicts-Arch", "Standards-Version", "Homepage",
    "Rules-Requires-Root", "Testsuite", "Testsuite-Triggers", "Vcs-Arch", "Vcs-Bzr",
    "Vcs-Cvs", "Vcs-Darcs", "Vcs-Git", "Vcs-Hg", "Vcs-Mtn", "Vcs-Svn", "Vcs-Browser",
    "Origin", "Bugs", NULL};

static const char *const BINARY_FIELDS[] = {
    "Package", "Architecture", "Section", "Priority", "Essential", "Pre-Depends",
    "Depends", "Recommends", "Suggests", "Enhances", "Breaks", "Conflicts",
    "Provides", "Replaces", "Description", "Homepage", "Multi-Arch", "Built-Using",
    "Package-Type", "Protected", "Build-Profiles", NULL};

/* Relationship fields in the order dpkg-gencontrol writes them. */
static const char *const RELATION_FIELDS[] = {
    "Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances",
    "Conflicts", "Breaks", "Replaces", "Provides", "Built-Using", NULL};

static const char *const SCRIPTS[] = {"preinst", "postinst", "prerm", "postrm", "config",
                                      NULL};

static ps_file *files_find(ps_filelist *fs, const char *path)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->v[i].path, path) == 0)
            return &fs->v[i];
    return NULL;
}

/* Adds (or replaces, as a later install line would) PATH. Takes DATA. */
static ps_code files_add(ps_filelist *fs, const char *path, mode_t mode, ps_buf *data,
                         int64_t mtime, ps_error *err)
{
    ps_file *f = files_find(fs, path);
    if (f == NULL) {
        ps_file *v = realloc(fs->v, (fs->n + 1) * sizeof *v);
        char *p = strdup(path);
        if (v == NULL || p == NULL) {
            free(p);
            if (v)
                fs->v = v;
            ps_buf_free(data);
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        }
        fs->v = v;
        f = &fs->v[fs->n++];
        memset(f, 0, sizeof *f);
        f->path = p;
    }
    ps_buf_free(&f->data);
    f->mode = mode;
    f->mtime = mtime;
    if (data) {
        f->data = *data;
        memset(data, 0, sizeof *data);
    }
    return PS_OK;
}

/* Every parent directory gets its own entry, as dpkg-deb would archive. */
static ps_code files_add_parents(ps_filelist *fs, int64_t epoch, ps_error *err)
{
    size_t n = fs->n;
    for (size_t i = 0; i < n; i++) {
        char *p = strdup(fs->v[i].path);
        if (p == NULL)
            return ps_error_set(err, PS_ENOMEM, "out of memory");
        for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
            *slash = '\0';
            if (files_find(fs, p) == NULL &&
                files_add(fs, p, S_IFDIR | 0755, NULL, epoch, err) != PS_OK) {
                free(p);
                return err ? err->code : PS_ENOMEM;
            }
        }
        free(p);
    }
    return PS_OK;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const ps_file *)a)->path, ((const ps_file *)b)->path);
}

/* ---- locating per-package files ---- */

/* debian/P.<what>, or debian/<what> for the first package (debhelper's
 * rule); NULL when neither exists. */
static char *pkg_file(const deb_pkg *pkg, const char *what)
{
    const char *dir = ps_source_dir(pkg->src);
    char *p = ps_strdupf("%s/debian/%s.%s", dir, pkg->name, what);
    if (p && ps_path_exists(p))
        return p;
    free(p);
    if (!pkg->first)
        return NULL;
    p = ps_strdupf("%s/debian/%s", dir, what);
    if (p && ps_path_exists(p))
        return p;
    free(p);
    return NULL;
}

/* PATH relative to the source dir, for messages and ps_source_read. */
static const char *relative(const deb_pkg *pkg, const char *path)
{
    size_t n = strlen(ps_source_dir(pkg->src));
    return strncmp(path, ps_source_dir(pkg->src), n) == 0 && path[n] == '/' ? path + n + 1
                                                                           : path;
}

static int64_t clamp_mtime(const deb_pkg *pkg, const char *path)
{
    struct stat st;
    int64_t epoch = ps_source_epoch(pkg->src);
    if (stat(path, &st) != 0 || st.st_mtime > epoch)
        return epoch;
    return st.st_mtime;
}

/* ---- data.tar content ---- */

/* Installs source file REL (relative to the source dir) at DEST ("/usr/x"). */
static ps_code install_one(deb_pkg *pkg, const char *rel, const char *dest,
                           const char *where, ps_error *err)
{
    char *abs = ps_strdupf("%s/%s", ps_source_dir(pkg->src), rel);
    if (abs == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    struct stat st;
    ps_code rc = PS_OK;
    if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ps_error_set(err, PS_EINPUT, "%s: '%s' does not exist or is not a regular file",
                          where, rel);
    } else {
        ps_buf data = {0};
        rc = ps_source_read(pkg->src, rel, &data, err);
        /* dh_fixperms: executables 0755, everything else 0644. */
        mode_t mode = S_IFREG | ((st.st_mode & 0111) ? 0755 : 0644);
        while (*dest == '/')
            dest++;
        if (rc == PS_OK)
            rc = files_add(&pkg->files, dest, mode, &data, clamp_mtime(pkg, abs), err);
        ps_buf_free(&data);
    }
    free(abs);
    return rc;
}

/* "SRC DESTDIR", "SRC" (same path) or "SRC => /DEST/PATH". */
static ps_code install_line(deb_pkg *pkg, char *line, const char *where, ps_error *err)
{
    char *save = NULL;
    char *srcpat = strtok_r(line, " \t", &save);
    char *dest = strtok_r(NULL, " \t", &save);
    char *rename_to = NULL;
    if (dest && strcmp(dest, "=>") == 0) {
        rename_to = strtok_r(NULL, " \t", &save);
        if (rename_to == NULL || *rename_to != '/')
            return ps_error_set(err, PS_EINPUT, "%s: '=>' needs an absolute destination path",
                                where);
    }
    if (strtok_r(NULL, " \t", &save) != NULL)
        return ps_error_set(err, PS_EINPUT, "%s: expected 'SRC [DESTDIR]' or 'SRC => /PATH'",
                            where);
    char *pattern = ps_strdupf("%s/%s", ps_source_dir(pkg->src), srcpat);
    glob_t g;
    int grc = pattern ? glob(pattern, GLOB_NOSORT, NULL, &g) : GLOB_NOSPACE;
    free(pattern);
    if (grc != 0) {
        if (grc != GLOB_NOSPACE)
            globfree(&g);
        return ps_error_set(err, PS_EINPUT, "%s: '%s' does not exist", where, srcpat);
    }
    if (rename_to && g.gl_pathc != 1) {
        globfree(&g);
        return ps_error_set(err, PS_EINPUT, "%s: '=>' needs exactly one source file", where);
    }
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < g.gl_pathc; i++) {
        const char *rel = relative(pkg, g.gl_pathv[i]);
        char *base = strdup(strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel);
        if (base && ps_str_ends_with(base, ".in"))
            base[strlen(base) - 3] = '\0';
        char *to = rename_to ? strdup(rename_to)
                   : dest    ? ps_strdupf("%s/%s", dest, base)
                             : strdup(rel);
        rc = (base && to) ? install_one(pkg, rel, to, where, err)
                          : ps_error_set(err, PS_ENOMEM, "out of memory");
        free(base);
        free(to);
    }
    globfree(&g);
    return rc;
}

static ps_code read_install_file(deb_pkg *pkg, ps_error *err)
{
    char *path = pkg_file(pkg, "install");
    if (path == NULL)
        return PS_OK;
    ps_buf b = {0};
    ps_code rc = ps_file_read(path, &b, err);
    char *line = rc == PS_OK ? (char *)b.data : NULL;
    for (unsigned lineno = 1; rc == PS_OK && line && *line; lineno++) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*ps_rstrip(line) != '\0' && *line != '#') {
            char *where = ps_strdupf("%s:%u", relative(pkg, path), lineno);
            rc = where ? install_line(pkg, line, where, err)
                       : ps_error_set(err, PS_ENOMEM, "out of memory");
            free(where);
        }
        line = next;
    }
    ps_buf_free(&b);
    free(path);
    return rc;
}

/* /usr/share/doc/P/copyright and changelog.Debian.gz (gzip -9n). */
static ps_code add_docs(deb_pkg *pkg, ps_error *err)
{
    int64_t epoch = ps_source_epoch(pkg->src);
    char *copyright = pkg_file(pkg, "copyright");
    char *dest = ps_strdupf("usr/share/doc/%s/copyright", pkg->name);
    ps_buf data = {0}, gz = {0};
    ps_code rc = PS_OK;
    if (dest == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    else if (copyright == NULL)
        rc = ps_error_set(err, PS_EINPUT, "%s/debian/copyright: missing (Debian policy 12.5)",
                          ps_source_dir(pkg->src));
    else if ((rc = ps_file_read(copyright, &data, err)) == PS_OK)
        rc = files_add(&pkg->files, dest, S_IFREG | 0644, &data, epoch, err);
    free(dest);
    free(copyright);
    if (rc == PS_OK)
        rc = ps_source_read(pkg->src, "debian/changelog", &data, err);
    if (rc == PS_OK)
        rc = ps_compress(PS_FILTER_GZIP, data.data, data.len, &gz, err);
    dest = ps_strdupf("usr/share/doc/%s/changelog.Debian.gz", pkg->name);
    if (rc == PS_OK)
        rc = dest ? files_add(&pkg->files, dest, S_IFREG | 0644, &gz, epoch, err)
                  : ps_error_set(err, PS_ENOMEM, "out of memory");
    free(dest);
    ps_buf_free(&data);
    ps_buf_free(&gz);
    return rc;
}

/* ---- debian/control ---- */

static int in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcasecmp(*list, name) == 0)
            return 1;
    return 0;
}

/* Edit distance, to suggest the field a typo meant. */
static size_t distance(const char *a, const char *b)
{
    size_t n = strlen(b), prev[64], cur[64];
    if (n >= 63 || strlen(a) >= 63)
        return 99;
    for (size_t j = 0; j <= n; j++)
        prev[j] = j;
    for (size_t i = 1; a[i - 1]; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (n + 1) * sizeof *prev);
    }
    return prev[n];
}

static ps_code check_fields(const ps_deb822 *d, size_t i, const char *path,
                            const char *const *known, ps_error *err)
{
    for (size_t f = 0; f < ps_deb822_nfields(d, i); f++) {
        const char *name = ps_deb822_name_at(d, i, f);
        if (in_list(known, name) || strncasecmp(name, "X", 1) == 0)
            continue;
        const char *best = NULL;
        for (const char *const *k = known; *k; k++)
            if (distance(name, *k) <= 2 && best == NULL)
                best = *k;
        return ps_error_set(err, PS_EINPUT, "%s:%u: unknown field '%s'%s%s%s", path,
                            ps_deb822_field_line(d, i, name), name,
                            best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    }
    return PS_OK;
}

static ps_code require_field(const ps_deb822 *d, size_t i, const char *path,
                             const char *field, ps_error *err)
{
    const char *v = ps_deb822_get(d, i, field);
    if (v == NULL || *v == '\0')
        return ps_error_set(err, PS_EINPUT, "%s:%u: stanza has no '%s' field", path,
                            ps_deb822_line(d, i), field);
    return PS_OK;
}

/* dpkg's architecture names for the machine we run on. */
static const char *host_arch(void)
{
    static const char *const map[][2] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "armhf"},
        {"ppc64le", "ppc64el"}, {"s390x", "s390x"}, {"i686", "i386"},
        {"riscv64", "riscv64"}, {NULL, NULL}};
    struct utsname u;
    if (uname(&u) == 0)
        for (size_t i = 0; map[i][0]; i++)
            if (strcmp(u.machine, map[i][0]) == 0)
                return map[i][1];
    return "amd64";
}

static ps_code resolve_arch(deb_pkg *pkg, ps_error *err)
{
    const char *a = ps_deb822_get(pkg->control, pkg->stanza, "Architecture");
    if (strcmp(a, "all") == 0 || strcmp(a, "any") != 0)
        pkg->arch = strdup(strcmp(a, "all") == 0 ? "all" : a);
    else
        pkg->arch = strdup(host_arch());
    if (pkg->arch == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    if (strchr(pkg->arch, ' ') != NULL)
        return ps_error_set(err, PS_EINPUT,
                            "%s:%u: Architecture '%s': give 'all', 'any' or one architecture",
                            pkg->control_path,
                            ps_deb822_field_line(pkg->control, pkg->stanza, "Architecture"), a);
    return PS_OK;
}

/* ${NAME} from debian/P.substvars ("NAME=VALUE" lines, what
 * dpkg-shlibdeps writes and dpkg-gencontrol reads; scripts/shlibdeps
 * writes it for pkgsmith's own package).  *FOUND says whether it is set. */
static ps_code substvar(const deb_pkg *pkg, const char *name, size_t n, ps_buf *out,
                        int *found, ps_error *err)
{
    *found = 0;
    char *path = pkg_file(pkg, "substvars");
    if (path == NULL)
        return PS_OK;
    ps_buf b = {0};
    ps_code rc = ps_file_read(path, &b, err);
    char *save = NULL;
    for (char *l = rc == PS_OK && b.data ? strtok_r((char *)b.data, "\n", &save) : NULL;
         l && !*found; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, name, n) == 0 && l[n] == '=') {
            *found = 1;
            rc = ps_buf_append(out, l + n + 1, strlen(l + n + 1), err);
        }
    }
    ps_buf_free(&b);
    free(path);
    return rc;
}

/* Expands ${misc:Depends} and friends; drops the empty items they leave. */
static ps_code expand_substvars(const deb_pkg *pkg, const char *field, const char *value,
                                int has_templates, ps_buf *out, ps_error *err)
{
    ps_buf raw = {0};
    ps_code rc = PS_OK;
    for (const char *p = value; rc == PS_OK && *p;) {
        const char *open = strstr(p, "${");
        const char *close = open ? strchr(open, '}') : NULL;
        if (open == NULL || close == NULL) {
            rc = ps_buf_append(&raw, p, strlen(p), err);
            break;
        }
        rc = ps_buf_append(&raw, p, (size_t)(open - p), err);
        size_t n = (size_t)(close - open - 2);
        const char *name = open + 2;
        int found = 0;
        if (rc == PS_OK)
            rc = substvar(pkg, name, n, &raw, &found, err);
        if (rc != PS_OK || found) {
            /* set by debian/P.substvars */
        } else if (n == 12 && strncmp(name, "misc:Depends", 12) == 0) {
            if (has_templates && rc == PS_OK)
                rc = ps_buf_append(&raw, "debconf (>= 0.5) | debconf-2.0", 30, err);
        } else if ((n == 16 && strncmp(name, "misc:Pre-Depends", 16) == 0) ||
                   (n == 14 && strncmp(name, "shlibs:Depends", 14) == 0)) {
            /* nothing: no shared libraries (none named in P.substvars), no
             * dpkg features to pre-depend on */
        } else {
            rc = ps_error_set(err, PS_EINPUT,
                              "%s:%u: %s: unknown substitution variable '${%.*s}'",
                              pkg->control_path,
                              ps_deb822_field_line(pkg->control, pkg->stanza, field), field,
                              (int)n, name);
        }
        p = close + 1;
    }
    /* Join the non-empty comma-separated items again. */
    char *save = NULL;
    int first = 1;
    for (char *item = rc == PS_OK && raw.data ? strtok_r((char *)raw.data, ",", &save) : NULL;
         item && rc == PS_OK; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ' || *item == '\n' || *item == '\t')
            item++;
        if (*ps_rstrip(item) == '\0')
            continue;
        rc = ps_buf_appendf(out, err, "%s%s", first ? "" : ", ", item);
        first = 0;
    }
    ps_buf_free(&raw);
    return rc;
}

static size_t kib_of(const ps_filelist *fs)
{
    size_t kib = 0;
    for (size_t i = 0; i < fs->n; i++)
        kib += S_ISREG(fs->v[i].mode) ? (fs->v[i].data.len + 1023) / 1024 : 1;
    return kib;
}

/* dpkg-gencontrol's rule: each file rounded up to KiB, 1 for any other
 * entry, over the whole staging tree: "./", DEBIAN/ and the control
 * members written before the control file itself. */
static size_t installed_size_kib(const ps_filelist *data, const ps_filelist *control)
{
    return kib_of(data) + kib_of(control) + 2;
}

static ps_code control_field(ps_buf *out, const char *name, const char *value, ps_error *err)
{
    if (value == NULL || *value == '\0')
        return PS_OK;
    return ps_buf_appendf(out, err, "%s: %s\n", name, value);
}

static ps_code control_relations(const deb_pkg *pkg, int has_templates, ps_buf *out,
                                 ps_error *err)
{
    ps_code rc = PS_OK;
    for (const char *const *f = RELATION_FIELDS; rc == PS_OK && *f; f++) {
        const char *v = ps_deb822_get(pkg->control, pkg->stanza, *f);
        if (v == NULL)
            continue;
        ps_buf exp = {0};
        const char *bad = NULL;
        rc = expand_substvars(pkg, *f, v, has_templates, &exp, err);
        if (rc == PS_OK && exp.data && !ps_apt_relations_valid((char *)exp.data, &bad))
            rc = ps_error_set(err, PS_EINPUT, "%s:%u: %s: cannot parse relation near '%s'",
                              pkg->control_path,
                              ps_deb822_field_line(pkg->control, pkg->stanza, *f), *f,
                              bad ? bad : "");
        if (rc == PS_OK && exp.data)
            rc = control_field(out, *f, (char *)exp.data, err);
        ps_buf_free(&exp);
    }
    return rc;
}

/* The binary control file, fields in dpkg-gencontrol's order. */
static ps_code make_control(const deb_pkg *pkg, int has_templates, size_t kib, ps_buf *out,
                            ps_error *err)
{
    const ps_deb822 *d = pkg->control;
    size_t b = pkg->stanza;
    const char *source = ps_deb822_get(d, 0, "Source");
    char size[32];
    snprintf(size, sizeof size, "%zu", kib);
#define BIN_OR_SRC(f) (ps_deb822_get(d, b, f) ? ps_deb822_get(d, b, f) : ps_deb822_get(d, 0, f))
    ps_code rc = control_field(out, "Package", pkg->name, err);
    if (rc == PS_OK && strcmp(source, pkg->name) != 0)
        rc = control_field(out, "Source", source, err);
    if (rc == PS_OK)
        rc = control_field(out, "Version", ps_source_deb_version(pkg->src), err);
    if (rc == PS_OK)
        rc = control_field(out, "Architecture", pkg->arch, err);
    if (rc == PS_OK)
        rc = control_field(out, "Maintainer", ps_deb822_get(d, 0, "Maintainer"), err);
    if (rc == PS_OK)
        rc = control_field(out, "Installed-Size", size, err);
    if (rc == PS_OK)
        rc = control_relations(pkg, has_templates, out, err);
    if (rc == PS_OK)
        rc = control_field(out, "Section", BIN_OR_SRC("Section"), err);
    if (rc == PS_OK)
        rc = control_field(out, "Priority", BIN_OR_SRC("Priority"), err);
    if (rc == PS_OK)
        rc = control_field(out, "Multi-Arch", ps_deb822_get(d, b, "Multi-Arch"), err);
    if (rc == PS_OK)
        rc = control_field(out, "Essential", ps_deb822_get(d, b, "Essential"), err);
    if (rc == PS_OK)
        rc = control_field(out, "Homepage", BIN_OR_SRC("Homepage"), err);
    if (rc == PS_OK)
        rc = control_field(out, "Description", ps_deb822_get(d, b, "Description"), err);
#undef BIN_OR_SRC
    return rc;
}

/* ---- control.tar content ---- */

static ps_code add_control_member(ps_filelist *cf, const char *name, mode_t perm, ps_buf *data,
                                  int64_t epoch, ps_error *err)
{
    return files_add(cf, name, S_IFREG | perm, data, epoch, err);
}

/* Maintainer scripts and templates, rendered with the build settings. */
static ps_code add_scripts(const deb_pkg *pkg, ps_filelist *cf, int *has_templates,
                           ps_error *err)
{
    int64_t epoch = ps_source_epoch(pkg->src);
    ps_code rc = PS_OK;
    *has_templates = 0;
    for (size_t i = 0; rc == PS_OK && i <= 5; i++) {
        const char *what = i < 5 ? SCRIPTS[i] : "templates";
        char *path = pkg_file(pkg, what);
        if (path == NULL)
            continue;
        ps_buf raw = {0}, data = {0};
        rc = ps_file_read(path, &raw, err);
        if (rc == PS_OK)
            rc = ps_source_render(pkg->src, (char *)raw.data, raw.len, &data, err);
        ps_buf_free(&raw);
        if (rc == PS_OK && i < 5 && strncmp((char *)data.data, "#!", 2) != 0)
            rc = ps_error_set(err, PS_EINPUT, "%s:1: maintainer script has no #! line",
                              relative(pkg, path));
        if (rc == PS_OK)
            rc = add_control_member(cf, what, i < 5 ? 0755 : 0644, &data, epoch, err);
        *has_templates |= i == 5;
        ps_buf_free(&data);
        free(path);
    }
    return rc;
}

/* conffiles: every file under /etc (as debhelper does) plus P.conffiles. */
static ps_code make_conffiles(deb_pkg *pkg, ps_buf *out, ps_error *err)
{
    char *path = pkg_file(pkg, "conffiles");
    ps_buf extra = {0};
    ps_code rc = path ? ps_file_read(path, &extra, err) : PS_OK;
    char *save = NULL;
    for (char *l = rc == PS_OK && extra.data ? strtok_r((char *)extra.data, "\n", &save) : NULL;
         rc == PS_OK && l; l = strtok_r(NULL, "\n", &save)) {
        ps_file *f = *ps_rstrip(l) == '/' ? files_find(&pkg->files, l + 1) : NULL;
        if (f == NULL && *l != '\0' && *l != '#')
            rc = ps_error_set(err, PS_EINPUT, "%s: '%s' is not a file of package %s",
                              relative(pkg, path), l, pkg->name);
        if (f)
            f->flags |= DEB_CONFFILE;
    }
    for (size_t i = 0; rc == PS_OK && i < pkg->files.n; i++) {
        ps_file *f = &pkg->files.v[i];
        if (S_ISREG(f->mode) && strncmp(f->path, "etc/", 4) == 0)
            f->flags |= DEB_CONFFILE;
        if (f->flags & DEB_CONFFILE)
            rc = ps_buf_appendf(out, err, "/%s\n", f->path);
    }
    ps_buf_free(&extra);
    free(path);
    return rc;
}

/* md5sums of every regular file that is not a conffile (dh_md5sums). */
static ps_code make_md5sums(const deb_pkg *pkg, ps_buf *out, ps_error *err)
{
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < pkg->files.n; i++) {
        const ps_file *f = &pkg->files.v[i];
        char hex[33];
        if (!S_ISREG(f->mode) || (f->flags & DEB_CONFFILE))
            continue;
        rc = ps_digest_hex(PS_DIGEST_MD5, f->data.data, f->data.len, hex, err);
        if (rc == PS_OK)
            rc = ps_buf_appendf(out, err, "%s  %s\n", hex, f->path);
    }
    return rc;
}

/* ---- archives ---- */

/* A sorted tar.xz of FS, entries "./" then "./path" as dpkg-deb writes. */
static ps_code write_tar(const ps_filelist *fs, int64_t epoch, const char *name, ps_buf *out,
                         ps_error *err)
{
    size_t size = 0;
    for (size_t i = 0; i < fs->n; i++)
        size += 512 + fs->v[i].data.len; /* a tar header and the content */
    ps_archive *a = ps_archive_new(PS_AR_TAR_GNU, PS_FILTER_XZ, size, out, name, err);
    if (a == NULL)
        return err ? err->code : PS_ELIB;
    ps_archive_entry root = {.path = "./", .mode = S_IFDIR | 0755, .uname = "root",
                             .gname = "root", .mtime = epoch};
    ps_code rc = ps_archive_add(a, &root, err);
    for (size_t i = 0; rc == PS_OK && i < fs->n; i++) {
        const ps_file *f = &fs->v[i];
        char *path = ps_strdupf(S_ISDIR(f->mode) ? "./%s/" : "./%s", f->path);
        ps_archive_entry e = {.path = path, .mode = f->mode, .uname = "root", .gname = "root",
                              .mtime = f->mtime, .data = f->data.data, .len = f->data.len};
        rc = path ? ps_archive_add(a, &e, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        free(path);
    }
    return ps_archive_end(a, rc, err);
}

static ps_code write_ar(const ps_span *members, const char *const *names, size_t n,
                        int64_t epoch, ps_buf *out, ps_error *err)
{
    ps_archive *a = ps_archive_new(PS_AR_AR, PS_FILTER_NONE, 0, out, "ar", err);
    if (a == NULL)
        return err ? err->code : PS_ELIB;
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        ps_archive_entry e = {.path = names[i], .mode = S_IFREG | 0644, .mtime = epoch,
                              .data = members[i].data, .len = members[i].len};
        rc = ps_archive_add(a, &e, err);
    }
    return ps_archive_end(a, rc, err);
}

/* ---- one package ---- */

static ps_code build_control_tar(deb_pkg *pkg, ps_buf *out, ps_error *err)
{
    int64_t epoch = ps_source_epoch(pkg->src);
    ps_filelist cf = {0};
    ps_buf control = {0}, conffiles = {0}, md5sums = {0};
    int has_templates = 0;
    ps_code rc = add_scripts(pkg, &cf, &has_templates, err);
    if (rc == PS_OK)
        rc = make_conffiles(pkg, &conffiles, err);
    if (rc == PS_OK)
        rc = make_md5sums(pkg, &md5sums, err);
    if (rc == PS_OK && conffiles.len)
        rc = add_control_member(&cf, "conffiles", 0644, &conffiles, epoch, err);
    if (rc == PS_OK && md5sums.len)
        rc = add_control_member(&cf, "md5sums", 0644, &md5sums, epoch, err);
    if (rc == PS_OK)
        rc = make_control(pkg, has_templates, installed_size_kib(&pkg->files, &cf), &control,
                          err);
    if (rc == PS_OK)
        rc = add_control_member(&cf, "control", 0644, &control, epoch, err);
    if (rc == PS_OK) {
        qsort(cf.v, cf.n, sizeof *cf.v, cmp_file);
        rc = write_tar(&cf, epoch, "control.tar.xz", out, err);
    }
    ps_buf_free(&control);
    ps_buf_free(&conffiles);
    ps_buf_free(&md5sums);
    ps_filelist_free(&cf);
    return rc;
}

static ps_code write_deb(deb_pkg *pkg, ps_signer *signer, const char *outdir,
                         ps_strv *outputs, ps_error *err)
{
    int64_t epoch = ps_source_epoch(pkg->src);
    ps_buf control = {0}, data = {0}, sig = {0}, deb = {0};
    ps_code rc = build_control_tar(pkg, &control, err);
    if (rc == PS_OK)
        rc = write_tar(&pkg->files, epoch, "data.tar.xz", &data, err);
    ps_span members[4] = {{"2.0\n", 4}, {control.data, control.len}, {data.data, data.len},
                          {NULL, 0}};
    const char *names[4] = {"debian-binary", "control.tar.xz", "data.tar.xz", "_gpgorigin"};
    /* debsigs: the origin signature covers the three members, in order. */
    if (rc == PS_OK && signer)
        rc = ps_signer_sign(signer, members, 3, PS_SIGN_DETACHED, &sig, err);
    members[3] = (ps_span){sig.data, sig.len};
    if (rc == PS_OK)
        rc = write_ar(members, names, signer ? 4 : 3, epoch, &deb, err);
    const char *version = ps_source_deb_version(pkg->src);
    const char *colon = strchr(version, ':');
    char *path = ps_strdupf("%s/%s_%s_%s.deb", outdir, pkg->name, colon ? colon + 1 : version,
                            pkg->arch);
    if (rc == PS_OK)
        rc = ps_write_output(path, &deb, outputs, err);
    free(path);
    ps_buf_free(&control);
    ps_buf_free(&data);
    ps_buf_free(&sig);
    ps_buf_free(&deb);
    return rc;
}

static ps_code check_binary_stanza(const deb_pkg *pkg, ps_error *err)
{
    const ps_deb822 *d = pkg->control;
    const char *path = pkg->control_path;
    ps_code rc = require_field(d, pkg->stanza, path, "Architecture", err);
    if (rc == PS_OK)
        rc = require_field(d, pkg->stanza, path, "Description", err);
    const char *desc = ps_deb822_get(d, pkg->stanza, "Description");
    if (rc == PS_OK && (*desc == '\n' || strlen(desc) == 0))
        rc = ps_error_set(err, PS_EINPUT, "%s:%u: Description has no synopsis line", path,
                          ps_deb822_field_line(d, pkg->stanza, "Description"));
    return rc;
}

static ps_code build_package(deb_pkg *pkg, ps_signer *signer, const char *outdir,
                             ps_strv *outputs, ps_error *err)
{
    ps_code rc = check_binary_stanza(pkg, err);
    if (rc == PS_OK)
        rc = resolve_arch(pkg, err);
    if (rc == PS_OK)
        rc = read_install_file(pkg, err);
    if (rc == PS_OK)
        rc = add_docs(pkg, err);
    if (rc == PS_OK)
        rc = files_add_parents(&pkg->files, ps_source_epoch(pkg->src), err);
    if (rc == PS_OK) {
        qsort(pkg->files.v, pkg->files.n, sizeof *pkg->files.v, cmp_file);
        rc = write_deb(pkg, signer, outdir, outputs, err);
    }
    return rc;
}

static ps_code check_source_stanza(const ps_deb822 *d, const char *path, ps_error *err)
{
    if (ps_deb822_count(d) < 2)
        return ps_error_set(err, PS_EINPUT,
                            "%s: needs a source stanza and at least one binary stanza", path);
    ps_code rc = check_fields(d, 0, path, SOURCE_FIELDS, err);
    if (rc == PS_OK)
        rc = require_field(d, 0, path, "Source", err);
    if (rc == PS_OK)
        rc = require_field(d, 0, path, "Maintainer", err);
    /* Field names first: a misspelled "Package" is reported as such. */
    for (size_t i = 1; rc == PS_OK && i < ps_deb822_count(d); i++) {
        rc = check_fields(d, i, path, BINARY_FIELDS, err);
        if (rc == PS_OK)
            rc = require_field(d, i, path, "Package", err);
    }
    return rc;
}

ps_code ps_deb_build(const ps_source *src, ps_signer *signer, const char *outdir,
                     ps_strv *outputs, ps_error *err)
{
    char *path = ps_strdupf("%s/debian/control", ps_source_dir(src));
    if (path == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    ps_deb822 *d = ps_deb822_parse_file(path, err);
    ps_code rc = d ? check_source_stanza(d, path, err) : (err ? err->code : PS_EINPUT);
    for (size_t i = 1; rc == PS_OK && i < ps_deb822_count(d); i++) {
        deb_pkg pkg = {.src = src, .control = d, .stanza = i, .first = i == 1,
                       .name = ps_deb822_get(d, i, "Package"), .control_path = path};
        rc = build_package(&pkg, signer, outdir, outputs, err);
        ps_filelist_free(&pkg.files);
        free(pkg.arch);
    }
    ps_deb822_free(d);
    free(path);
    return rc;
}

/* ---- signing an existing package ---- */

static const char *const MEMBER_PREFIX[PS_DEB_NMEMBERS] = {"debian-binary", "control.tar",
                                                            "data.tar", "_gpgorigin"};

/* Which member NAME is (a PS_DEB_* index), or -1. */
static int member_kind(const char *name)
{
    for (int i = 0; i < PS_DEB_NMEMBERS; i++)
        if (strncmp(name, MEMBER_PREFIX[i], strlen(MEMBER_PREFIX[i])) == 0)
            return i;
    return -1;
}

/* STRICT's order: the three members first and in turn, then _gpg* only. */
static ps_code check_order(const char *path, const char *name, int kind, int seen,
                           ps_error *err)
{
    int ok = seen < 3 ? kind == seen : strncmp(name, "_gpg", 4) == 0;
    return ok ? PS_OK
              : ps_error_set(err, PS_EINPUT, "%s: unexpected member %s in a .deb", path, name);
}

/* libarchive walks the ar headers; the members themselves are stored
 * uncompressed, so each is a span of DATA, 60 bytes after its header. */
ps_code ps_deb_members(const char *path, const void *data, size_t len, int strict,
                       ps_deb_member out[PS_DEB_NMEMBERS], ps_error *err)
{
    const unsigned char *d = data;
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    ps_code rc = PS_OK;
    int seen = 0, r = ARCHIVE_OK;
    memset(out, 0, PS_DEB_NMEMBERS * sizeof *out);
    archive_read_support_format_ar(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
        rc = ps_error_set(err, PS_EINPUT, "%s: not a .deb (ar) archive: %s", path,
                          archive_error_string(a));
    while (rc == PS_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        /* libarchive counts the first member's header from after the
         * "!<arch>\n" magic; the rest are file offsets. */
        uint64_t hdr = (uint64_t)archive_read_header_position(a);
        uint64_t off = (hdr < 8 ? 8 : hdr) + 60, size = (uint64_t)archive_entry_size(e);
        if (name == NULL || off + size > len ||
            memcmp(d + off - 60, name, strnlen(name, 16)) != 0) {
            rc = ps_error_set(err, PS_EINPUT, "%s: damaged .deb: member %s is truncated", path,
                              name ? name : "?");
            break;
        }
        int kind = member_kind(name);
        if (strict && (rc = check_order(path, name, kind, seen, err)) != PS_OK)
            break;
        seen++;
        if (kind >= 0 && out[kind].span.data == NULL) {
            out[kind].span = (ps_span){d + off, (size_t)size};
            snprintf(out[kind].name, sizeof out[kind].name, "%s", name);
            out[kind].mtime = (int64_t)archive_entry_mtime(e);
        }
    }
    if (rc == PS_OK && r != ARCHIVE_EOF)
        rc = ps_error_set(err, PS_EINPUT, "%s: damaged .deb: %s", path, archive_error_string(a));
    archive_read_free(a);
    for (int i = 0; rc == PS_OK && i < PS_DEB_SIG; i++)
        if (out[i].span.data == NULL)
            rc = ps_error_set(err, PS_EINPUT, "%s: damaged .deb: no %s member", path,
                              MEMBER_PREFIX[i]);
    const ps_span *bin = &out[PS_DEB_BINARY].span;
    if (rc == PS_OK && (bin->len < 4 || memcmp(bin->data, "2.", 2) != 0))
        rc = ps_error_set(err, PS_EINPUT, "%s: unsupported .deb format (debian-binary is not 2.x)",
                          path);
    return rc;
}

ps_code ps_deb_sign_file(const char *path, ps_signer *signer, const char *dest, ps_error *err)
{
    ps_buf deb = {0}, sig = {0}, out = {0};
    ps_deb_member m[PS_DEB_NMEMBERS];
    ps_code rc = ps_file_read(path, &deb, err);
    if (rc == PS_OK)
        rc = ps_deb_members(path, deb.data, deb.len, 1, m, err);
    if (rc != PS_OK) {
        ps_buf_free(&deb);
        return rc;
    }
    ps_span members[4] = {m[0].span, m[1].span, m[2].span, {NULL, 0}};
    const char *names[4] = {m[0].name, m[1].name, m[2].name, "_gpgorigin"};
    /* The same origin signature, over the same three members, as a
     * signed build writes: signing later gives the same package. */
    if (signer)
        rc = ps_signer_sign(signer, members, 3, PS_SIGN_DETACHED, &sig, err);
    members[3] = (ps_span){sig.data, sig.len};
    if (rc == PS_OK)
        rc = write_ar(members, names, signer ? 4 : 3, m[PS_DEB_BINARY].mtime, &out, err);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(dest ? dest : path, out.data, out.len, 0644, err);
    ps_buf_free(&deb);
    ps_buf_free(&sig);
    ps_buf_free(&out);
    return rc;
}
