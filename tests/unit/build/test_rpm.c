#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

#include <rpm/header.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmts.h>

#include "ps_rpm.h"
#include "ps_source.h"

static const char SPEC[] =
    "Name: demo\nVersion: %{pkgversion}\nRelease: %{pkgrelease}\n"
    "Summary: demo for %{greeting}\nLicense: MIT\nBuildArch: noarch\n"
    "Requires: coreutils\n\n%description\nDemo.\n\n"
    "%install\ninstall -D -m 0755 %{_sourcedir}/files/demo.sh %{buildroot}/usr/bin/demo\n"
    "install -D -m 0600 %{_sourcedir}/files/defaults.in %{buildroot}/etc/demo.conf\n\n"
    "%post\necho %{greeting}\n\n"
    "%files\n%attr(0750,root,root) /usr/bin/demo\n%config(noreplace) /etc/demo.conf\n";

/* Builds DIR's specs into DIR/out; returns the error code, the single
 * output's header in *H (caller frees). */
static ps_code build(const char *dir, Header *h, ps_error *err)
{
    ps_source *src = ps_source_open(dir, err);
    assert_non_null(src);
    char *out = ps_strdupf("%s/out", dir);
    ps_mkdir_p(out, 0755, NULL);
    ps_strv outputs = {0};
    ps_code rc = ps_rpm_build(src, NULL, out, &outputs, err);
    if (rc == PS_OK) {
        assert_int_equal(outputs.n, 1);
        char *want = ps_strdupf("%s/demo-1.2.3-4.noarch.rpm", out);
        assert_string_equal(outputs.v[0], want);
        free(want);
        rpmts ts = rpmtsCreate();
        rpmtsSetVSFlags(ts, RPMVSF_MASK_NOSIGNATURES);
        FD_t fd = Fopen(outputs.v[0], "r.ufdio");
        assert_int_equal(rpmReadPackageFile(ts, fd, outputs.v[0], h), RPMRC_OK);
        Fclose(fd);
        rpmtsFree(ts);
    }
    ps_strv_free(&outputs);
    free(out);
    ps_source_free(src);
    return rc;
}

static void test_header_from_spec_and_settings(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    tu_write(d, "specs/demo.spec", SPEC, 0644);
    ps_error err = {0};
    Header h = NULL;
    if (build(d, &h, &err) != PS_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(headerGetString(h, RPMTAG_VERSION), "1.2.3");
    assert_string_equal(headerGetString(h, RPMTAG_RELEASE), "4");
    assert_string_equal(headerGetString(h, RPMTAG_SUMMARY), "demo for hello");
    assert_string_equal(headerGetString(h, RPMTAG_BUILDHOST), "pkgsmith");
    assert_int_equal(headerGetNumber(h, RPMTAG_BUILDTIME), 1795521600);
    char *files = headerFormat(h, "[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILEMTIMES} %{FILENAMES}\n]", NULL);
    assert_string_equal(files, "-rw------- cn 1795521600 /etc/demo.conf\n"
                               "-rwxr-x---  1795521600 /usr/bin/demo\n");
    free(files);
    assert_string_equal(headerGetString(h, RPMTAG_POSTIN), "echo hello");
    headerFree(h);
    /* A second build in the same process: our macros were popped. */
    assert_int_equal(build(d, &h, &err), PS_OK);
    headerFree(h);
    ps_rm_rf(d, NULL);
    free(d);
}

static void expect(const char *spec, const char *needle)
{
    char *d = tu_source_tree();
    tu_write(d, "specs/demo.spec", spec, 0644);
    ps_error err = {0};
    Header h = NULL;
    assert_int_equal(build(d, &h, &err), PS_EINPUT);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' lacks '%s'", err.msg, needle);
    char *out = ps_strdupf("%s/out", d);
    assert_int_equal(rmdir(out), 0); /* nothing left behind */
    free(out);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_errors_name_spec_and_line(void **state)
{
    (void)state;
    expect("Name: demo\nVersion: 1\nRelease: 1\nSumary: x\n", "specs/demo.spec:4: ");
    expect("Name: demo\nVersion: 1\nRelease: 1\nSummary: x\nLicense: MIT\n\n%description\nx\n"
           "%install\ninstall -m 0644 %{_sourcedir}/nope %{buildroot}/x\n%files\n/x\n",
           "specs/demo.spec: %install failed: install: cannot stat");
    expect("Name: demo\nVersion: 1\nRelease: 1\nSummary: x\nLicense: MIT\n\n%description\nx\n"
           "%files\n/usr/bin/missing\n",
           "File not found: /usr/bin/missing");
}

/* Stripping an unsigned rpm gives it back byte for byte; a truncated
 * one is refused by name. */
static void test_sign_file_strip_and_truncated(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    tu_write(d, "specs/demo.spec", SPEC, 0644);
    ps_error err = {0};
    Header h = NULL;
    if (build(d, &h, &err) != PS_OK)
        fail_msg("%s", err.msg);
    headerFree(h);
    char *path = ps_strdupf("%s/out/demo-1.2.3-4.noarch.rpm", d);
    char *copy = ps_strdupf("%s/copy.rpm", d);
    ps_buf a = {0}, b = {0};
    assert_int_equal(ps_file_read(path, &a, NULL), PS_OK);
    assert_int_equal(ps_rpm_sign_file(path, NULL, copy, &err), PS_OK);
    assert_int_equal(ps_file_read(copy, &b, NULL), PS_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    ps_file_write_atomic(copy, a.data, 400, 0644, NULL);
    assert_int_equal(ps_rpm_sign_file(copy, NULL, NULL, &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, "copy.rpm: damaged rpm"));
    ps_buf_free(&a);
    ps_buf_free(&b);
    free(path);
    free(copy);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    unsetenv("SOURCE_DATE_EPOCH");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_from_spec_and_settings),
        cmocka_unit_test(test_errors_name_spec_and_line),
        cmocka_unit_test(test_sign_file_strip_and_truncated),
    };
    return cmocka_run_group_tests_name("rpm", tests, NULL, NULL);
}
