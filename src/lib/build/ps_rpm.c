#include "ps_rpm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rpm/header.h>
#include <rpm/rpmbuild.h>
#include <rpm/argv.h>
#include <rpm/rpmds.h>
#include <rpm/rpmfc.h>
#include <rpm/rpmfiles.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmspec.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>

#include "ps_archive.h"

/* What one spec build needs; lives for one ps_rpm_build call. */
typedef struct rpm_job {
    const ps_source *src;
    const char *spec_rel; /* "specs/x.spec", for messages */
    char *tmp;            /* private: build root, builddir */
    char *buildroot;
    ps_strv macros;       /* names we pushed, popped at the end */
    ps_buf log;           /* rpm's first error message */
    int autoprov;         /* the spec's AutoProv switch */
} rpm_job;

/* ---- librpm setup: macros, log capture ---- */

/* librpm reports through its log; keep the first error for our message
 * and keep rpm itself quiet. */
static int log_cb(rpmlogRec rec, rpmlogCallbackData data)
{
    rpm_job *job = data;
    if (rpmlogRecPriority(rec) <= RPMLOG_ERR && job->log.len == 0)
        ps_buf_append(&job->log, rpmlogRecMessage(rec), strlen(rpmlogRecMessage(rec)), NULL);
    return 0;
}

static ps_code push_macro(rpm_job *job, const char *name, const char *value, ps_error *err)
{
    /* rpm macro bodies expand %; the value must stay literal. */
    ps_buf esc = {0};
    ps_code rc = PS_OK;
    for (const char *p = value; rc == PS_OK && *p; p++)
        rc = ps_buf_append(&esc, *p == '%' ? "%%" : p, *p == '%' ? 2 : 1, err);
    if (rc == PS_OK)
        rc = ps_strv_add(&job->macros, name, err);
    if (rc == PS_OK)
        rpmPushMacro(NULL, name, NULL, esc.data ? (char *)esc.data : "", RMIL_CMDLINE);
    ps_buf_free(&esc);
    return rc;
}

/* A file attribute set that matches nothing (rpm insists on having one). */
static char *empty_fileattrs(rpm_job *job, ps_error *err)
{
    char *dir = ps_strdupf("%s/fileattrs", job->tmp);
    char *file = dir ? ps_strdupf("%s/none.attr", dir) : NULL;
    static const char attr[] = "%__none_path ^$\n";
    if (file == NULL || ps_mkdir_p(dir, 0755, err) != PS_OK ||
        ps_file_write_atomic(file, attr, sizeof attr - 1, 0644, err) != PS_OK) {
        ps_error_set(err, PS_EIO, "%s: cannot write", file ? file : "fileattrs");
        free(dir);
        dir = NULL;
    }
    free(file);
    return dir;
}

static ps_code define_macros(rpm_job *job, ps_error *err)
{
    const ps_source *src = job->src;
    char *builddir = ps_strdupf("%s/build", job->tmp);
    char *fileattrs = empty_fileattrs(job, err);
    const char *fixed[][2] = {
        {"pkgversion", ps_source_get(src, "version")},
        {"pkgrelease", ps_source_get(src, "release")},
        {"_sourcedir", ps_source_dir(src)},
        {"_builddir", builddir},
        {"_tmppath", job->tmp},
        {"_buildhost", "pkgsmith"},
        /* No brp-* post-processing: what %install wrote is what ships. */
        {"__spec_install_post", ""},
        {"__os_install_post", ""},
        {"__arch_install_post", ""},
        {"debug_package", ""},
        /* rpmbuild's check-files script: done in process, see
         * check_unpackaged(). */
        {"__check_files", ""},
        /* Our packages are small: OpenMP workers only spin. */
        {"_smp_build_nthreads", "1"},
        /* rpm's packaging step keeps the dependencies its generators find;
         * we run the generators once ourselves (add_auto_deps), so the
         * INSTALL step gets none. */
        {"_fileattrsdir", fileattrs},
    };
    ps_code rc = (builddir && fileattrs) ? ps_mkdir_p(builddir, 0755, err)
                                         : ps_error_set(err, PS_EIO, "%s: cannot prepare", job->tmp);
    for (size_t i = 0; rc == PS_OK && i < sizeof fixed / sizeof *fixed; i++)
        rc = push_macro(job, fixed[i][0], fixed[i][1], err);
    for (size_t i = 0; rc == PS_OK && i < ps_source_nsettings(src); i++)
        rc = push_macro(job, ps_source_name_at(src, i), ps_source_value_at(src, i), err);
    free(builddir);
    free(fileattrs);
    return rc;
}

static void pop_macros(rpm_job *job)
{
    for (size_t i = job->macros.n; i > 0; i--)
        if (strcmp(job->macros.v[i - 1], "_fileattrsdir") != 0) /* popped early */
            rpmPopMacro(NULL, job->macros.v[i - 1]);
    ps_strv_free(&job->macros);
}

/* rpm says "line 12: Unknown tag: Sumary:"; we say "specs/x.spec:12: ...". */
static ps_code spec_error(rpm_job *job, const char *what, ps_error *err)
{
    char *msg = job->log.len ? (char *)job->log.data : NULL;
    /* "File not found: /tmp/.../root/usr/x" reads better as "/usr/x". */
    for (char *at; msg && (at = strstr(msg, job->buildroot)) != NULL;)
        memmove(at, at + strlen(job->buildroot), strlen(at + strlen(job->buildroot)) + 1);
    unsigned line = 0;
    int used = 0;
    if (msg && sscanf(msg, "line %u: %n", &line, &used) == 1 && used > 0)
        msg += used;
    if (msg)
        ps_rstrip(msg);
    if (line)
        return ps_error_set(err, PS_EINPUT, "%s:%u: %s", job->spec_rel, line, msg);
    return ps_error_set(err, PS_EINPUT, "%s: %s%s%s", job->spec_rel, what, msg ? ": " : "",
                        msg ? msg : "");
}

/* The last line the script printed that is not rpm's own tracing: the
 * line that says why %install failed ("install: cannot stat ..."). */
static char *last_script_line(char *text)
{
    char *last = NULL, *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "RPM build errors:", 17) == 0)
            break; /* rpm's own summary follows */
        if (*l != '+' && strncmp(l, "Executing(", 10) != 0 && strstr(l, "Bad exit status") == NULL)
            last = l;
    }
    return last;
}

/* Runs %install with stdout and stderr captured in a file of ours, so the
 * build prints one line on failure and nothing on success. */
static int run_install(rpm_job *job, rpmSpec spec, ps_buf *output)
{
    char *path = ps_strdupf("%s/install.log", job->tmp);
    int fd = path ? open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int saved_out = dup(1), saved_err = dup(2);
    fflush(stdout);
    fflush(stderr);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    struct rpmBuildArguments_s ba = {0};
    ba.buildAmount = RPMBUILD_INSTALL;
    rpmts ts = rpmtsCreate();
    int rc = rpmSpecBuild(ts, spec, &ba);
    rpmtsFree(ts);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    if (fd >= 0) {
        close(fd);
        ps_file_read(path, output, NULL);
    }
    free(path);
    return rc;
}

/* Parses the spec and runs its %install into our private build root. */
static rpmSpec parse_and_install(rpm_job *job, const char *spec_path, ps_error *err)
{
    rpmSpec spec = rpmSpecParse(spec_path, RPMSPEC_NONE, job->buildroot);
    if (spec == NULL) {
        spec_error(job, "cannot parse", err);
        return NULL;
    }
    ps_buf output = {0};
    int rc = run_install(job, spec, &output);
    rpmPopMacro(NULL, "_fileattrsdir"); /* our own rpmfc run needs them */
    if (rc != 0) {
        /* A failing script: its own last words.  A %files problem: rpm's. */
        int script = job->log.len && strstr((char *)job->log.data, "Bad exit status");
        char *why = script && output.data ? last_script_line((char *)output.data) : NULL;
        if (why)
            ps_error_set(err, PS_EINPUT, "%s: %%install failed: %s", job->spec_rel, why);
        else
            spec_error(job, "%install failed", err);
        spec = rpmSpecFree(spec);
    }
    ps_buf_free(&output);
    return spec;
}

/* ---- files: rpm's own %files processing, read back ---- */

/* librpmbuild has already processed %files (with %attr, %defattr,
 * %config(noreplace), %dir, %doc, %license, %ghost, globs) into the
 * package header during the INSTALL step.  We take that list, so there is
 * one truth, and read the content of each file from the build root. */
static ps_code load_files(rpm_job *job, Header h, ps_filelist *fs, ps_error *err)
{
    rpmfi fi = rpmfiNew(NULL, h, RPMTAG_BASENAMES, RPMFI_KEEPHEADER);
    rpm_count_t n = fi ? rpmfiFC(fi) : 0;
    int64_t epoch = ps_source_epoch(job->src);
    ps_code rc = PS_OK;
    fs->v = n ? calloc(n, sizeof *fs->v) : NULL;
    if (n && fs->v == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    while (rc == PS_OK && fi && rpmfiNext(fi) >= 0) {
        ps_file *f = &fs->v[fs->n++];
        f->path = strdup(rpmfiFN(fi));
        f->mode = rpmfiFMode(fi);
        f->flags = rpmfiFFlags(fi);
        f->mtime = epoch;
        char *abs = ps_strdupf("%s%s", job->buildroot, f->path);
        if (f->path == NULL || abs == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        else if (S_ISLNK(f->mode))
            rc = ps_buf_append(&f->data, rpmfiFLink(fi), strlen(rpmfiFLink(fi)), err);
        else if (S_ISREG(f->mode) && !(f->flags & RPMFILE_GHOST))
            rc = ps_file_read(abs, &f->data, err);
        free(abs);
    }
    rpmfiFree(fi);
    return rc;
}

/* rpmbuild refuses a build root with files that no %files lists ("Installed
 * (but unpackaged) file(s) found"); so do we, without its shell script. */
static ps_code check_unpackaged(rpm_job *job, const char *dir, const ps_strv *listed,
                                ps_error *err)
{
    char *abs = ps_strdupf("%s%s", job->buildroot, dir);
    DIR *d = abs ? opendir(abs) : NULL;
    ps_code rc = PS_OK;
    for (struct dirent *de; d && rc == PS_OK && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = ps_strdupf("%s/%s", dir, de->d_name);
        int found = 0;
        for (size_t i = 0; path && !found && i < listed->n; i++)
            found = strcmp(listed->v[i], path) == 0;
        if (path == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        else if (de->d_type == DT_DIR)
            rc = check_unpackaged(job, path, listed, err);
        else if (!found)
            rc = ps_error_set(err, PS_EINPUT,
                              "%s: installed but unpackaged file: %s (add it to %%files)",
                              job->spec_rel, path);
        free(path);
    }
    if (d)
        closedir(d);
    free(abs);
    return rc;
}

/* Replaces the array TAG of H with COUNT values of 32 bits. */
static void set_u32_array(Header h, rpmTagVal tag, const uint32_t *v, rpm_count_t count)
{
    struct rpmtd_s td = {.tag = tag, .type = RPM_INT32_TYPE, .count = count, .data = (void *)v};
    headerDel(h, tag);
    headerPut(h, &td, HEADERPUT_DEFAULT);
}

/* What the build machine leaks into the file tags: mtimes (clamped to
 * SOURCE_DATE_EPOCH), inode and device numbers (made sequential, keeping
 * hard links together as rpm does). */
static ps_code normalize_file_tags(Header h, const ps_filelist *fs, ps_error *err)
{
    size_t n = fs->n;
    uint32_t *mtimes = calloc(n + 1, 4), *inodes = calloc(n + 1, 4), *devs = calloc(n + 1, 4);
    struct rpmtd_s old;
    ps_code rc = (mtimes && inodes && devs) ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && n > 0 && headerGet(h, RPMTAG_FILEINODES, &old, HEADERGET_MINMEM)) {
        const uint32_t *orig = old.data;
        for (size_t i = 0; i < n; i++) {
            mtimes[i] = (uint32_t)fs->v[i].mtime;
            devs[i] = 1;
            inodes[i] = (uint32_t)i + 1;
            for (size_t j = 0; j < i; j++)
                if (orig[j] == orig[i])
                    inodes[i] = inodes[j];
        }
        rpmtdFreeData(&old);
        set_u32_array(h, RPMTAG_FILEMTIMES, mtimes, (rpm_count_t)n);
        set_u32_array(h, RPMTAG_FILEINODES, inodes, (rpm_count_t)n);
        set_u32_array(h, RPMTAG_FILEDEVICES, devs, (rpm_count_t)n);
    }
    free(mtimes);
    free(inodes);
    free(devs);
    return rc;
}

/* ---- payload ---- */

/* The cpio (newc) stream, uncompressed: its size goes in the signature
 * header, then it is compressed on its own. */
static ps_code write_cpio(const ps_filelist *fs, ps_buf *cpio, ps_error *err)
{
    ps_archive *a = ps_archive_new(PS_AR_CPIO_NEWC, PS_FILTER_NONE, 0, cpio, "payload", err);
    if (a == NULL)
        return err ? err->code : PS_ELIB;
    ps_code rc = PS_OK;
    for (size_t i = 0; rc == PS_OK && i < fs->n; i++) {
        const ps_file *f = &fs->v[i];
        if (f->flags & RPMFILE_GHOST)
            continue; /* ghosts are in the header only */
        char *path = ps_strdupf(".%s", f->path);
        ps_archive_entry e = {.path = path, .mode = f->mode, .mtime = f->mtime,
                              .ino = (int64_t)i + 1,
                              .data = S_ISREG(f->mode) ? f->data.data : NULL,
                              .len = S_ISREG(f->mode) ? f->data.len : 0,
                              .link = S_ISLNK(f->mode) ? (char *)f->data.data : NULL};
        rc = path ? ps_archive_add(a, &e, err) : ps_error_set(err, PS_ENOMEM, "out of memory");
        free(path);
    }
    return ps_archive_end(a, rc, err);
}

/* ---- headers ---- */

static int put(Header h, rpmTagVal tag, rpmTagType type, const void *data, rpm_count_t count)
{
    struct rpmtd_s td = {.tag = tag, .type = type, .count = count, .data = (void *)data};
    return headerPut(h, &td, HEADERPUT_DEFAULT);
}

static int put_u32(Header h, rpmTagVal tag, uint32_t v)
{
    return put(h, tag, RPM_INT32_TYPE, &v, 1);
}

static int put_str(Header h, rpmTagVal tag, const char *s)
{
    return put(h, tag, RPM_STRING_TYPE, s, 1);
}

/* Appends one dependency to the NAME/FLAGS/VERSION triple of TAG. */
static void add_dep(Header h, rpmTagVal name_tag, const char *name, rpmsenseFlags flags,
                    const char *evr)
{
    rpmds ds = rpmdsSingle(name_tag, name, evr, flags);
    rpmdsPutToHeader(ds, h);
    rpmdsFree(ds);
}

static void set_str(Header h, rpmTagVal tag, const char *v)
{
    headerDel(h, tag);
    put_str(h, tag, v);
}

/* Non-zero when H already has dependency NAME (with FLAGS and EVR, unless
 * ANY_FLAGS) under NAME_TAG: rpm keeps one entry per name, flags, EVR. */
static int has_dep_with(Header h, rpmTagVal name_tag, const char *name, int any_flags,
                        rpmsenseFlags flags, const char *evr)
{
    rpmds ds = rpmdsNew(h, name_tag, 0);
    int found = 0;
    while (!found && rpmdsNext(ds) >= 0)
        found = strcmp(rpmdsN(ds), name) == 0 &&
                (any_flags || (rpmdsFlags(ds) == flags &&
                               strcmp(rpmdsEVR(ds) ? rpmdsEVR(ds) : "", evr ? evr : "") == 0));
    rpmdsFree(ds);
    return found;
}

static int has_dep(Header h, rpmTagVal name_tag, const char *name)
{
    return has_dep_with(h, name_tag, name, 1, 0, NULL);
}

/* Non-zero unless the spec says "AutoReqProv: no" or "AutoProv: no";
 * librpmbuild keeps that switch private, so read the tag ourselves. */
static int autoprov_enabled(const char *spec_path)
{
    ps_buf b = {0};
    int enabled = 1;
    if (ps_file_read(spec_path, &b, NULL) != PS_OK)
        return 1;
    char *save = NULL;
    for (char *l = strtok_r((char *)b.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char tag[32], value[16];
        if (sscanf(l, " %31[A-Za-z]: %15s", tag, value) == 2 &&
            (strcasecmp(tag, "AutoReqProv") == 0 || strcasecmp(tag, "AutoProv") == 0))
            enabled = !(strcasecmp(value, "no") == 0 || strcmp(value, "0") == 0);
    }
    ps_buf_free(&b);
    return enabled;
}

/* rpmbuild's "config(N) = EVR" provide and require, for packages with
 * %config files. */
static void add_config_deps(Header h, const ps_filelist *fs)
{
    size_t i = 0;
    while (i < fs->n && !(fs->v[i].flags & RPMFILE_CONFIG))
        i++;
    if (i == fs->n)
        return;
    char *name = headerFormat(h, "config(%{NAME})", NULL);
    char *evr = headerFormat(h, "%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}", NULL);
    if (name && evr && !has_dep(h, RPMTAG_PROVIDENAME, name))
        add_dep(h, RPMTAG_PROVIDENAME, name, RPMSENSE_EQUAL | RPMSENSE_CONFIG, evr);
    if (name && evr && !has_dep(h, RPMTAG_REQUIRENAME, name))
        add_dep(h, RPMTAG_REQUIRENAME, name, RPMSENSE_EQUAL | RPMSENSE_CONFIG, evr);
    free(name);
    free(evr);
}

/* Automatic dependencies, found by rpm's own file classifier and
 * generators (rpmfc: interpreters of scripts, shared libraries...). */
static ps_code add_auto_deps(rpm_job *job, Header h, const ps_filelist *fs, ps_error *err)
{
    ARGV_t paths = NULL;
    rpm_mode_t *modes = calloc(fs->n + 1, sizeof *modes);
    if (modes == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    for (size_t i = 0; i < fs->n; i++) {
        char *abs = ps_strdupf("%s%s", job->buildroot, fs->v[i].path);
        argvAdd(&paths, abs ? abs : "");
        free(abs);
        modes[i] = (rpm_mode_t)fs->v[i].mode;
    }
    rpmfc fc = rpmfcCreate(job->buildroot, 0);
    ps_code rc = PS_OK;
    if (fs->n && (rpmfcClassify(fc, paths, modes) != RPMRC_OK || rpmfcApply(fc) != RPMRC_OK))
        rc = spec_error(job, "automatic dependency generation failed", err);
    static const rpmTagVal tags[] = {RPMTAG_PROVIDENAME, RPMTAG_REQUIRENAME};
    for (size_t t = 0; rc == PS_OK && fs->n && t < 2; t++) {
        rpmds ds = rpmfcDependencies(fc, tags[t]);
        rpmdsInit(ds);
        while (rpmdsNext(ds) >= 0)
            if (!has_dep_with(h, tags[t], rpmdsN(ds), 0, rpmdsFlags(ds), rpmdsEVR(ds)))
                add_dep(h, tags[t], rpmdsN(ds), rpmdsFlags(ds), rpmdsEVR(ds));
    }
    rpmfcFree(fc);
    argvFree(paths);
    free(modes);
    add_config_deps(h, fs);
    return rc;
}

/* The tags rpmbuild's packaging step adds (librpmbuild keeps that step
 * private, and it is where we differ: our payload, our signatures). */
static ps_code put_build_tags(rpm_job *job, Header h, const ps_filelist *fs,
                              const ps_buf *payload, size_t cpio_size, ps_error *err)
{
    char hex[65];
    ps_code rc = normalize_file_tags(h, fs, err);
    if (rc == PS_OK)
        rc = ps_digest_hex(PS_DIGEST_SHA256, payload->data, payload->len, hex, err);
    if (rc != PS_OK)
        return rc;
    const char *digests[] = {hex};
    char *srpm = headerFormat(h, "%{NAME}-%{VERSION}-%{RELEASE}.src.rpm", NULL);
    set_str(h, RPMTAG_RPMVERSION, RPMVERSION);
    set_str(h, RPMTAG_BUILDHOST, "pkgsmith");
    headerDel(h, RPMTAG_BUILDTIME);
    put_u32(h, RPMTAG_BUILDTIME, (uint32_t)ps_source_epoch(job->src));
    set_str(h, RPMTAG_SOURCERPM, srpm);
    set_str(h, RPMTAG_PAYLOADFORMAT, "cpio");
    set_str(h, RPMTAG_PAYLOADCOMPRESSOR, "xz");
    char level[4];
    snprintf(level, sizeof level, "%d", ps_xz_preset(cpio_size));
    set_str(h, RPMTAG_PAYLOADFLAGS, level);
    set_str(h, RPMTAG_ENCODING, "utf-8");
    headerDel(h, RPMTAG_PAYLOADDIGEST);
    put(h, RPMTAG_PAYLOADDIGEST, RPM_STRING_ARRAY_TYPE, digests, 1);
    headerDel(h, RPMTAG_PAYLOADDIGESTALGO);
    put_u32(h, RPMTAG_PAYLOADDIGESTALGO, PGPHASHALGO_SHA256);
    free(srpm);
    if (job->autoprov && (rc = add_auto_deps(job, h, fs, err)) != PS_OK)
        return rc;
    /* The rpm features this package's format needs, as rpmbuild declares
     * them; rpm 4.14 (RHEL 8) has all of them. */
    static const char *const features[][2] = {
        {"rpmlib(CompressedFileNames)", "3.0.4-1"},
        {"rpmlib(FileDigests)", "4.6.0-1"},
        {"rpmlib(PayloadFilesHavePrefix)", "4.0-1"},
        {"rpmlib(PayloadIsXz)", "5.2-1"}};
    for (size_t i = 0; i < sizeof features / sizeof *features; i++)
        if (!has_dep(h, RPMTAG_REQUIRENAME, features[i][0]))
            add_dep(h, RPMTAG_REQUIRENAME, features[i][0],
                    RPMSENSE_RPMLIB | RPMSENSE_LESS | RPMSENSE_EQUAL, features[i][1]);
    return PS_OK;
}

/* ---- the package file ---- */

static const unsigned char HEADER_MAGIC[8] = {0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0};

/* Export with the immutable region that rpm verifies signatures over. */
static ps_code export_header(Header *h, rpmTagVal region, ps_buf *out, ps_error *err)
{
    Header reloaded = headerReload(*h, region);
    if (reloaded == NULL) {
        *h = NULL;
        return ps_error_set(err, PS_ELIB, "librpm: cannot create the header region");
    }
    *h = reloaded;
    unsigned int size = 0;
    void *blob = headerExport(*h, &size);
    if (blob == NULL)
        return ps_error_set(err, PS_ELIB, "librpm: cannot export the header");
    ps_code rc = ps_buf_append(out, HEADER_MAGIC, sizeof HEADER_MAGIC, err);
    if (rc == PS_OK)
        rc = ps_buf_append(out, blob, size, err);
    free(blob);
    return rc;
}

static ps_code signature_header(const ps_buf *hdr, const ps_buf *payload, uint32_t cpio_size,
                                ps_signer *signer, ps_buf *out, ps_error *err)
{
    char sha1[41], sha256[65];
    unsigned char md5[16];
    ps_buf both = {0}, rsa = {0}, pgp = {0};
    ps_span parts[2] = {{hdr->data, hdr->len}, {payload->data, payload->len}};
    ps_code rc = ps_digest_hex(PS_DIGEST_SHA1, hdr->data, hdr->len, sha1, err);
    if (rc == PS_OK)
        rc = ps_digest_hex(PS_DIGEST_SHA256, hdr->data, hdr->len, sha256, err);
    if (rc == PS_OK)
        rc = ps_buf_append(&both, hdr->data, hdr->len, err);
    if (rc == PS_OK)
        rc = ps_buf_append(&both, payload->data, payload->len, err);
    if (rc == PS_OK)
        rc = ps_digest(PS_DIGEST_MD5, both.data, both.len, md5, err);
    /* rpm uses the "RSA" tag for every non-DSA header signature.  (Two
     * concurrent gpg processes on one agent were tried: a race in the
     * agent made one fail now and then, for ~10 ms of gain.) */
    if (rc == PS_OK && signer)
        rc = ps_signer_sign(signer, parts, 1, PS_SIGN_DETACHED, &rsa, err);
    if (rc == PS_OK && signer)
        rc = ps_signer_sign(signer, parts, 2, PS_SIGN_DETACHED, &pgp, err);
    Header sig = headerNew();
    if (rc == PS_OK) {
        put_u32(sig, RPMSIGTAG_SIZE, (uint32_t)both.len);
        put(sig, RPMSIGTAG_MD5, RPM_BIN_TYPE, md5, 16);
        put_u32(sig, RPMSIGTAG_PAYLOADSIZE, cpio_size);
        put_str(sig, RPMSIGTAG_SHA1, sha1);
        put_str(sig, RPMSIGTAG_SHA256, sha256);
        if (signer) {
            put(sig, RPMSIGTAG_RSA, RPM_BIN_TYPE, rsa.data, (rpm_count_t)rsa.len);
            put(sig, RPMSIGTAG_PGP, RPM_BIN_TYPE, pgp.data, (rpm_count_t)pgp.len);
        }
        rc = export_header(&sig, RPMTAG_HEADERSIGNATURES, out, err);
    }
    /* The signature header is padded to 8 bytes; the main header is not. */
    static const unsigned char zeros[8] = {0};
    if (rc == PS_OK)
        rc = ps_buf_append(out, zeros, (8 - out->len % 8) % 8, err);
    headerFree(sig);
    ps_buf_free(&both);
    ps_buf_free(&rsa);
    ps_buf_free(&pgp);
    return rc;
}

/* The 96-byte lead: obsolete, but every rpm still checks its magic. */
static ps_code write_lead(Header h, ps_buf *out, ps_error *err)
{
    unsigned char lead[96] = {0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0, 0, 1};
    char *nvr = headerFormat(h, "%{NAME}-%{VERSION}-%{RELEASE}", NULL);
    if (nvr == NULL)
        return ps_error_set(err, PS_ENOMEM, "out of memory");
    snprintf((char *)lead + 10, 66, "%s", nvr);
    free(nvr);
    lead[76] = 0;
    lead[77] = 1; /* osnum: Linux */
    lead[78] = 0;
    lead[79] = 5; /* signature type: header-style signature */
    return ps_buf_append(out, lead, sizeof lead, err);
}

/* Takes H (the package header, files already processed). */
static ps_code write_package(rpm_job *job, Header h, const ps_filelist *fs, ps_signer *signer,
                             const char *outdir, ps_strv *outputs, ps_error *err)
{
    ps_buf cpio = {0}, payload = {0}, hdr = {0}, pkg = {0};
    ps_code rc = write_cpio(fs, &cpio, err);
    if (rc == PS_OK)
        rc = ps_compress(PS_FILTER_XZ, cpio.data, cpio.len, &payload, err);
    if (rc == PS_OK)
        rc = put_build_tags(job, h, fs, &payload, cpio.len, err);
    if (rc == PS_OK)
        rc = export_header(&h, RPMTAG_HEADERIMMUTABLE, &hdr, err);
    if (rc == PS_OK)
        rc = write_lead(h, &pkg, err);
    if (rc == PS_OK)
        rc = signature_header(&hdr, &payload, (uint32_t)cpio.len, signer, &pkg, err);
    if (rc == PS_OK)
        rc = ps_buf_append(&pkg, hdr.data, hdr.len, err);
    if (rc == PS_OK)
        rc = ps_buf_append(&pkg, payload.data, payload.len, err);
    char *base = h ? headerFormat(h, "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm", NULL) : NULL;
    char *path = base ? ps_strdupf("%s/%s", outdir, base) : NULL;
    if (rc == PS_OK)
        rc = ps_write_output(path, &pkg, outputs, err);
    free(base);
    free(path);
    headerFree(h);
    ps_buf bufs[] = {cpio, payload, hdr, pkg};
    for (size_t i = 0; i < 4; i++)
        ps_buf_free(&bufs[i]);
    return rc;
}

/* ---- driver ---- */

static ps_code build_spec(rpm_job *job, const char *spec_path, ps_signer *signer,
                          const char *outdir, ps_strv *outputs, ps_error *err)
{
    ps_code rc = define_macros(job, err);
    rpmSpec spec = rc == PS_OK ? parse_and_install(job, spec_path, err) : NULL;
    if (spec == NULL && rc == PS_OK)
        rc = err ? err->code : PS_EINPUT;
    rpmSpecPkgIter it = spec ? rpmSpecPkgIterInit(spec) : NULL;
    ps_strv listed = {0};
    for (rpmSpecPkg pkg; rc == PS_OK && it && (pkg = rpmSpecPkgIterNext(it)) != NULL;) {
        char *list = rpmSpecPkgGetSection(pkg, RPMBUILD_FILE_LIST);
        int has_files = list != NULL;
        free(list);
        if (!has_files)
            continue; /* rpmbuild writes no package without %files */
        ps_filelist fs = {0};
        Header h = headerCopy(rpmSpecPkgHeader(pkg));
        rc = load_files(job, h, &fs, err);
        for (size_t i = 0; rc == PS_OK && i < fs.n; i++)
            rc = ps_strv_add(&listed, fs.v[i].path, err);
        if (rc == PS_OK)
            rc = write_package(job, h, &fs, signer, outdir, outputs, err);
        else
            headerFree(h);
        ps_filelist_free(&fs);
    }
    if (rc == PS_OK && spec)
        rc = check_unpackaged(job, "", &listed, err);
    ps_strv_free(&listed);
    rpmSpecPkgIterFree(it);
    rpmSpecFree(spec);
    pop_macros(job);
    return rc;
}

static int is_spec(const struct dirent *de)
{
    size_t n = strlen(de->d_name);
    return n > 5 && strcmp(de->d_name + n - 5, ".spec") == 0 && de->d_name[0] != '.';
}

/* rpmReadConfigFiles is librpm's one-time global setup. */
static ps_code rpm_init(ps_error *err)
{
    if (rpmReadConfigFiles(NULL, NULL) != 0)
        return ps_error_set(err, PS_ELIB, "librpm: cannot read its configuration (rpmrc, macros)");
    return PS_OK;
}

static ps_code build_one_spec(const ps_source *src, const char *name, ps_signer *signer,
                              const char *outdir, ps_strv *outputs, ps_error *err)
{
    rpm_job job = {.src = src};
    char *spec_rel = ps_strdupf("specs/%s", name);
    char *spec_path = ps_strdupf("%s/specs/%s", ps_source_dir(src), name);
    job.spec_rel = spec_rel;
    job.autoprov = spec_path ? autoprov_enabled(spec_path) : 1;
    job.tmp = ps_mkdtemp_in(outdir, ".rpm-", err);
    job.buildroot = job.tmp ? ps_strdupf("%s/root", job.tmp) : NULL;
    ps_code rc = (spec_rel && spec_path && job.buildroot) ? PS_OK
                 : job.tmp ? ps_error_set(err, PS_ENOMEM, "out of memory")
                           : (err ? err->code : PS_EIO);
    rpmlogCallback old = NULL;
    rpmlogCallbackData old_data = NULL;
    if (rc == PS_OK) {
        /* librpm keeps every logged record and prints them all after a
         * failed build: start each spec with none. */
        rpmlogClose();
        old = rpmlogSetCallback(log_cb, &job);
        (void)old_data;
        rc = build_spec(&job, spec_path, signer, outdir, outputs, err);
        rpmlogSetCallback(old, NULL);
    }
    if (job.tmp)
        ps_rm_rf(job.tmp, NULL);
    free(job.tmp);
    free(job.buildroot);
    free(spec_rel);
    free(spec_path);
    ps_buf_free(&job.log);
    return rc;
}

ps_code ps_rpm_build(const ps_source *src, ps_signer *signer, const char *outdir,
                     ps_strv *outputs, ps_error *err)
{
    char *dir = ps_strdupf("%s/specs", ps_source_dir(src));
    struct dirent **names = NULL;
    int n = dir ? scandir(dir, &names, is_spec, alphasort) : -1;
    ps_code rc = PS_OK;
    if (n < 0)
        rc = ps_error_set(err, PS_EINPUT, "%s: %s", dir ? dir : "specs",
                          dir ? strerror(errno) : "out of memory");
    else if (n == 0)
        rc = ps_error_set(err, PS_EINPUT, "%s: no *.spec file", dir);
    else
        rc = rpm_init(err);
    for (int i = 0; rc == PS_OK && i < n; i++)
        rc = build_one_spec(src, names[i]->d_name, signer, outdir, outputs, err);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(dir);
    return rc;
}

/* ---- signing an existing package ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The size of the header structure at OFF (magic, counts, index, data),
 * or 0 when it is not one or does not fit in LEN. */
static size_t header_size_at(const ps_buf *b, size_t off)
{
    if (off + 16 > b->len || memcmp(b->data + off, HEADER_MAGIC, 3) != 0)
        return 0;
    uint64_t il = be32(b->data + off + 8), dl = be32(b->data + off + 12);
    uint64_t size = 16 + il * 16 + dl;
    return il > 0x10000 || dl > 0x10000000 || off + size > b->len ? 0 : (size_t)size;
}

/* The uncompressed payload size the old signature header records. */
static ps_code old_payload_size(const char *path, const ps_buf *b, size_t size, uint32_t *out,
                                ps_error *err)
{
    Header sig = headerImport(b->data + 96 + 8, (unsigned)(size - 8), HEADERIMPORT_COPY);
    uint64_t v = sig ? headerGetNumber(sig, RPMSIGTAG_PAYLOADSIZE) : 0;
    headerFree(sig);
    if (v == 0 || v > UINT32_MAX)
        return ps_error_set(err, PS_EINPUT, "%s: the signature header has no payload size",
                            path);
    *out = (uint32_t)v;
    return PS_OK;
}

ps_code ps_rpm_sign_file(const char *path, ps_signer *signer, const char *dest, ps_error *err)
{
    static const unsigned char LEAD_MAGIC[4] = {0xed, 0xab, 0xee, 0xdb};
    ps_buf b = {0}, out = {0};
    size_t sig_size = 0, hdr_off = 0, hdr_size = 0;
    uint32_t cpio_size = 0;
    ps_code rc = ps_file_read(path, &b, err);
    if (rc == PS_OK && (b.len < 96 || memcmp(b.data, LEAD_MAGIC, 4) != 0))
        rc = ps_error_set(err, PS_EINPUT, "%s: not an rpm package", path);
    if (rc == PS_OK && (sig_size = header_size_at(&b, 96)) != 0) {
        hdr_off = 96 + sig_size + (8 - sig_size % 8) % 8;
        hdr_size = header_size_at(&b, hdr_off);
    }
    if (rc == PS_OK && hdr_size == 0)
        rc = ps_error_set(err, PS_EINPUT, "%s: damaged rpm: bad header structure", path);
    if (rc == PS_OK)
        rc = old_payload_size(path, &b, sig_size, &cpio_size, err);
    /* The lead, header and payload are kept byte for byte; the signature
     * header is made anew, exactly as a build makes it.  (Spans are only
     * made once the file is known to hold them.) */
    if (rc == PS_OK) {
        ps_buf hdr = {b.data + hdr_off, hdr_size, 0};
        ps_buf payload = {b.data + hdr_off + hdr_size, b.len - hdr_off - hdr_size, 0};
        rc = ps_buf_append(&out, b.data, 96, err);
        if (rc == PS_OK)
            rc = signature_header(&hdr, &payload, cpio_size, signer, &out, err);
    }
    if (rc == PS_OK)
        rc = ps_buf_append(&out, b.data + hdr_off, b.len - hdr_off, err);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(dest ? dest : path, out.data, out.len, 0644, err);
    ps_buf_free(&b);
    ps_buf_free(&out);
    return rc;
}
