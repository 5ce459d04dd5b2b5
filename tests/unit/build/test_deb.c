#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>

#include "ps_deb.h"
#include "ps_source.h"

/* Reads member NAME of the archive in DATA (any format libarchive knows,
 * compressed or not) into OUT; returns its mode, or 0 when absent. */
static mode_t read_member(const void *data, size_t len, const char *name, ps_buf *out)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    assert_int_equal(archive_read_open_memory(a, data, len), ARCHIVE_OK);
    struct archive_entry *e;
    mode_t mode = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (strcmp(archive_entry_pathname(e), name) != 0)
            continue;
        mode = archive_entry_mode(e);
        char chunk[8192];
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0)
            ps_buf_append(out, chunk, (size_t)n, NULL);
        if (out->data == NULL)
            ps_buf_append(out, "", 0, NULL);
        break;
    }
    archive_read_free(a);
    return mode;
}

static ps_buf build_one(const char *srcdir, const char *outdir)
{
    ps_error err = {0};
    ps_source *src = ps_source_open(srcdir, &err);
    assert_non_null(src);
    ps_strv outputs = {0};
    ps_code rc = ps_deb_build(src, NULL, outdir, &outputs, &err);
    if (rc != PS_OK)
        fail_msg("build failed: %s", err.msg);
    assert_int_equal(outputs.n, 1);
    char *want = ps_strdupf("%s/demo_1.2.3-4_all.deb", outdir);
    assert_string_equal(outputs.v[0], want);
    ps_buf deb = {0};
    assert_int_equal(ps_file_read(outputs.v[0], &deb, NULL), PS_OK);
    free(want);
    ps_strv_free(&outputs);
    ps_source_free(src);
    return deb;
}

static void test_members_control_and_data(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    ps_buf deb = build_one(d, d);
    assert_memory_equal(deb.data, "!<arch>\ndebian-binary   ", 24);
    ps_buf ctar = {0}, control = {0}, conffiles = {0}, dtar = {0}, f = {0}, scr = {0};
    assert_true(read_member(deb.data, deb.len, "control.tar.xz", &ctar));
    assert_true(read_member(ctar.data, ctar.len, "./control", &control));
    assert_non_null(strstr((char *)control.data, "Package: demo\nVersion: 1.2.3-4\n"
                                                 "Architecture: all\n"));
    /* no templates: ${misc:Depends} expands to nothing, its comma goes */
    assert_non_null(strstr((char *)control.data, "\nDepends: coreutils (>= 8)\n"));
    assert_non_null(strstr((char *)control.data, "Description: demo package\n this is a demo.\n"));
    assert_true(read_member(ctar.data, ctar.len, "./conffiles", &conffiles));
    assert_string_equal((char *)conffiles.data, "/etc/demo/demo.conf\n");
    assert_int_equal(read_member(ctar.data, ctar.len, "./postinst", &scr) & 0777, 0755);
    assert_string_equal((char *)scr.data, "#!/bin/sh\nset -e\necho hello\n");
    assert_true(read_member(deb.data, deb.len, "data.tar.xz", &dtar));
    assert_int_equal(read_member(dtar.data, dtar.len, "./usr/bin/demo.sh", &f) & 0777, 0755);
    ps_buf_free(&f);
    assert_int_equal(read_member(dtar.data, dtar.len, "./etc/demo/demo.conf", &f) & 0777, 0644);
    assert_string_equal((char *)f.data, "greeting=hello port=3100 other=@unknown@\n");
    ps_buf_free(&f);
    assert_true(read_member(dtar.data, dtar.len, "./usr/share/demo/defaults", &f));
    assert_string_equal((char *)f.data, "GREETING=hello\n");
    ps_buf_free(&f);
    assert_true(read_member(dtar.data, dtar.len, "./usr/share/doc/demo/copyright", &f));
    assert_true(read_member(dtar.data, dtar.len, "./usr/share/doc/demo/changelog.Debian.gz", &f));
    ps_buf bufs[] = {deb, ctar, control, conffiles, dtar, f, scr};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        ps_buf_free(&bufs[i]);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_reproducible(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    char *o1 = ps_strdupf("%s/o1", d), *o2 = ps_strdupf("%s/o2", d);
    ps_mkdir_p(o1, 0755, NULL);
    ps_mkdir_p(o2, 0755, NULL);
    ps_buf a = build_one(d, o1), b = build_one(d, o2);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    ps_buf_free(&a);
    ps_buf_free(&b);
    ps_rm_rf(d, NULL);
    free(o1);
    free(o2);
    free(d);
}

static void expect_error(const char *dir, const char *needle)
{
    ps_error err = {0};
    ps_source *src = ps_source_open(dir, &err);
    assert_non_null(src);
    ps_strv outputs = {0};
    assert_int_equal(ps_deb_build(src, NULL, dir, &outputs, &err), PS_EINPUT);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not contain '%s'", err.msg, needle);
    assert_int_equal(outputs.n, 0);
    ps_source_free(src);
}

static void test_bad_inputs_name_file_and_line(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    tu_write(d, "debian/control",
             "Source: demo\nMaintainer: A <a@example.test>\n\nPakage: demo\n"
             "Architecture: all\nDescription: x\n", 0644);
    expect_error(d, "debian/control:4: unknown field 'Pakage' (did you mean 'Package'?)");
    tu_write(d, "debian/control",
             "Source: demo\nMaintainer: A <a@example.test>\n\nPackage: demo\n"
             "Description: x\n", 0644);
    expect_error(d, "debian/control:4: stanza has no 'Architecture' field");
    tu_write(d, "debian/control",
             "Source: demo\nMaintainer: A <a@example.test>\n\nPackage: demo\n"
             "Architecture: all\nDepends: a (>= \nDescription: x\n", 0644);
    expect_error(d, "debian/control:6: Depends");
    tu_write(d, "debian/control",
             "Source: demo\nMaintainer: A <a@example.test>\n\nPackage: demo\n"
             "Architecture: all\nDescription: x\n", 0644);
    tu_write(d, "debian/demo.install", "\n# comment\nfiles/missing.sh usr/bin\n", 0644);
    expect_error(d, "debian/demo.install:3: 'files/missing.sh' does not exist");
    ps_rm_rf(d, NULL);
    free(d);
}

/* Stripping an unsigned .deb gives it back byte for byte; a foreign
 * member or a non-archive is refused by name. */
static void test_sign_file_strip_and_refusals(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    ps_buf a = build_one(d, d), b = {0};
    char *path = ps_strdupf("%s/demo_1.2.3-4_all.deb", d);
    char *copy = ps_strdupf("%s/copy.deb", d);
    ps_error err = {0};
    assert_int_equal(ps_deb_sign_file(path, NULL, copy, &err), PS_OK);
    assert_int_equal(ps_file_read(copy, &b, NULL), PS_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* An extra member after data.tar would be lost: refused. */
    static const char extra[] = "zzextra/        0           0     0     100644  1         `\nx\n";
    ps_buf c = {0};
    ps_buf_append(&c, a.data, a.len, NULL);
    ps_buf_append(&c, extra, sizeof extra - 1, NULL);
    ps_file_write_atomic(copy, c.data, c.len, 0644, NULL);
    assert_int_equal(ps_deb_sign_file(copy, NULL, NULL, &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, "unexpected member zzextra"));
    ps_error_clear(&err);
    ps_file_write_atomic(copy, "hello", 5, 0644, NULL);
    assert_int_equal(ps_deb_sign_file(copy, NULL, NULL, &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, copy));
    ps_buf_free(&a);
    ps_buf_free(&b);
    ps_buf_free(&c);
    free(path);
    free(copy);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    unsetenv("SOURCE_DATE_EPOCH");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_control_and_data),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_bad_inputs_name_file_and_line),
        cmocka_unit_test(test_sign_file_strip_and_refusals),
    };
    return cmocka_run_group_tests_name("deb", tests, NULL, NULL);
}
