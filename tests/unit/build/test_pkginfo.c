#include "testutil.h"

#include "ps_deb.h"
#include "ps_pkginfo.h"
#include "ps_source.h"

static char *build_demo(const char *d)
{
    ps_error err = {0};
    ps_source *src = ps_source_open(d, &err);
    assert_non_null(src);
    ps_strv outputs = {0};
    assert_int_equal(ps_deb_build(src, NULL, d, &outputs, &err), PS_OK);
    char *path = strdup(outputs.v[0]);
    ps_strv_free(&outputs);
    ps_source_free(src);
    return path;
}

static void test_deb_identity_and_record(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    char *deb = build_demo(d);
    ps_error err = {0};
    ps_pkginfo *p = ps_pkginfo_read(deb, NULL, 0, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(ps_pkginfo_kind(p), PS_PKG_DEB);
    assert_string_equal(ps_pkginfo_name(p), "demo");
    assert_string_equal(ps_pkginfo_version(p), "1.2.3-4");
    assert_string_equal(ps_pkginfo_arch(p), "all");
    assert_string_equal(ps_pkginfo_filename(p), "demo_1.2.3-4_all.deb");
    assert_null(ps_pkginfo_signer(p));
    ps_hashes h;
    assert_int_equal(ps_hashes_of_file(deb, &h, NULL), PS_OK);
    assert_string_equal(ps_pkginfo_hashes(p)->sha256, h.sha256);
    ps_buf rec = {0};
    assert_int_equal(ps_pkginfo_record(p, "pool/x/demo.deb", &rec, &err), PS_OK);
    const char *r = (const char *)rec.data;
    /* apt's field order: Package first, our fields in place, blank line */
    assert_memory_equal(r, "Package: demo\n", 14);
    assert_non_null(strstr(r, "\nFilename: pool/x/demo.deb\n"));
    char *sha = ps_strdupf("\nSHA256: %s\n", h.sha256);
    assert_non_null(strstr(r, sha));
    assert_true(ps_str_ends_with(r, "\n\n"));
    free(sha);
    ps_buf_free(&rec);
    ps_pkginfo_free(p);
    free(deb);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_damage_is_named(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    char *deb = build_demo(d);
    ps_buf b = {0};
    assert_int_equal(ps_file_read(deb, &b, NULL), PS_OK);
    char *cut = ps_strdupf("%s/cut.deb", d);
    assert_int_equal(ps_file_write_atomic(cut, b.data, b.len / 2, 0644, NULL), PS_OK);
    ps_error err = {0};
    assert_null(ps_pkginfo_read(cut, NULL, 0, &err));
    assert_int_equal(err.code, PS_EINPUT);
    assert_non_null(strstr(err.msg, "cut.deb: damaged"));
    ps_error_clear(&err);
    assert_null(ps_pkginfo_read(deb, NULL, 1, &err));
    assert_int_equal(err.code, PS_EVERIFY); /* unsigned, signatures required */
    ps_error_clear(&err);
    char *junk = ps_strdupf("%s/junk.rpm", d);
    assert_int_equal(ps_file_write_atomic(junk, "hello", 5, 0644, NULL), PS_OK);
    assert_null(ps_pkginfo_read(junk, NULL, 0, &err));
    assert_non_null(strstr(err.msg, "junk.rpm: neither a .deb nor an .rpm"));
    ps_buf_free(&b);
    free(cut), free(junk), free(deb);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deb_identity_and_record),
        cmocka_unit_test(test_damage_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
