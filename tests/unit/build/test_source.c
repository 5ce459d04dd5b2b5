#include "testutil.h"

#include "ps_source.h"

static void test_version_and_settings_from_tree(void **state)
{
    (void)state;
    unsetenv("SOURCE_DATE_EPOCH");
    char *d = tu_source_tree();
    ps_error err = {0};
    ps_source *src = ps_source_open(d, &err);
    assert_non_null(src);
    assert_string_equal(ps_source_get(src, "version"), "1.2.3");
    assert_string_equal(ps_source_get(src, "release"), "4");
    assert_string_equal(ps_source_get(src, "greeting"), "hello");
    assert_string_equal(ps_source_deb_version(src), "1.2.3-4");
    assert_int_equal(ps_source_epoch(src), 1795521600); /* 2026-11-24 12:00 UTC */
    assert_null(ps_source_get(src, "nope"));
    ps_source_free(src);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_set_overrides_and_refuses_unknown(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    ps_error err = {0};
    ps_source *src = ps_source_open(d, &err);
    assert_int_equal(ps_source_set(src, "greeting", "hi there", &err), PS_OK);
    assert_string_equal(ps_source_get(src, "greeting"), "hi there");
    assert_int_equal(ps_source_set(src, "version", "2.0", &err), PS_OK);
    assert_string_equal(ps_source_deb_version(src), "2.0-4");
    assert_int_equal(ps_source_set(src, "grreting", "x", &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, "grreting"));
    assert_non_null(strstr(err.msg, "greeting")); /* lists the known names */
    ps_error_clear(&err);
    assert_int_equal(ps_source_set(src, "greeting", "a\nb", &err), PS_EINPUT);
    ps_error_clear(&err);
    assert_int_equal(ps_source_set(src, "version", "1.0-1", &err), PS_EINPUT);
    ps_source_free(src);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_render_replaces_only_declared(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    ps_source *src = ps_source_open(d, NULL);
    ps_buf out = {0};
    assert_int_equal(ps_source_read(src, "files/demo.conf.in", &out, NULL), PS_OK);
    assert_string_equal((char *)out.data, "greeting=hello port=3100 other=@unknown@\n");
    ps_buf_free(&out);
    const char *t = "@@greeting@@ @port";
    assert_int_equal(ps_source_render(src, t, strlen(t), &out, NULL), PS_OK);
    assert_string_equal((char *)out.data, "@hello@ @port");
    ps_buf_free(&out);
    ps_source_free(src);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_epoch_env_and_bad_changelog(void **state)
{
    (void)state;
    char *d = tu_source_tree();
    setenv("SOURCE_DATE_EPOCH", "1000", 1);
    ps_source *src = ps_source_open(d, NULL);
    assert_int_equal(ps_source_epoch(src), 1000);
    ps_source_free(src);
    setenv("SOURCE_DATE_EPOCH", "soon", 1);
    ps_error err = {0};
    assert_null(ps_source_open(d, &err));
    assert_int_equal(err.code, PS_EINPUT);
    unsetenv("SOURCE_DATE_EPOCH");
    tu_write(d, "debian/changelog", "demo 1.0 unstable\n", 0644);
    ps_error_clear(&err);
    assert_null(ps_source_open(d, &err));
    assert_non_null(strstr(err.msg, "debian/changelog:1"));
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_settings_from_tree),
        cmocka_unit_test(test_set_overrides_and_refuses_unknown),
        cmocka_unit_test(test_render_replaces_only_declared),
        cmocka_unit_test(test_epoch_env_and_bad_changelog),
    };
    return cmocka_run_group_tests_name("source", tests, NULL, NULL);
}
