#include "testutil.h"

#include "ps_apt.h"

static const char TEXT[] =
    "# leading comment\n"
    "Source: demo\n"
    "Maintainer: A <a@example.test>\n"
    "\n"
    "\n"
    "Package: demo\n"
    "# comment inside\n"
    "Description: short\n"
    " long line one\n"
    " .\n"
    " long line two\n"
    "depends: a (>= 1) | b, c\n";

static void test_stanzas_fields_and_lines(void **state)
{
    (void)state;
    ps_error err = {0};
    ps_deb822 *d = ps_deb822_parse_mem(TEXT, strlen(TEXT), "t", &err);
    assert_non_null(d);
    assert_int_equal(ps_deb822_count(d), 2);
    assert_int_equal(ps_deb822_line(d, 0), 2);
    assert_int_equal(ps_deb822_line(d, 1), 6);
    assert_string_equal(ps_deb822_get(d, 0, "source"), "demo");
    assert_string_equal(ps_deb822_get(d, 1, "Description"),
                        "short\n long line one\n .\n long line two");
    assert_string_equal(ps_deb822_get(d, 1, "Depends"), "a (>= 1) | b, c");
    assert_int_equal(ps_deb822_field_line(d, 1, "Depends"), 12);
    assert_int_equal(ps_deb822_field_line(d, 1, "Description"), 8);
    assert_null(ps_deb822_get(d, 1, "Missing"));
    assert_int_equal(ps_deb822_nfields(d, 1), 3);
    assert_string_equal(ps_deb822_name_at(d, 1, 2), "depends");
    ps_deb822_free(d);
}

static void expect_bad(const char *text, const char *needle)
{
    ps_error err = {0};
    assert_null(ps_deb822_parse_mem(text, strlen(text), "f.conf", &err));
    assert_int_equal(err.code, PS_EINPUT);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' lacks '%s'", err.msg, needle);
}

static void test_malformed_input_names_line(void **state)
{
    (void)state;
    expect_bad("A: b\nno colon here\n", "f.conf:2: expected 'Field: value'");
    expect_bad("\n continuation\n", "f.conf:2: continuation line outside a field");
    expect_bad("A: 1\nB: 2\na: 3\n", "f.conf:3: duplicate field 'a'");
    ps_error err = {0};
    assert_null(ps_deb822_parse_file("/nonexistent/x.mirror", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/x.mirror"));
    ps_deb822 *d = ps_deb822_parse_mem("", 0, "empty", &err);
    assert_non_null(d);
    assert_int_equal(ps_deb822_count(d), 0);
    ps_deb822_free(d);
}

static void test_versions(void **state)
{
    (void)state;
    assert_true(ps_apt_version_cmp("1.0~rc1", "1.0") < 0);
    assert_true(ps_apt_version_cmp("1.0", "1.0-1") < 0);
    assert_true(ps_apt_version_cmp("1.0-1", "1:0.1") < 0);
    assert_true(ps_apt_version_cmp("1.10", "1.9") > 0);
    assert_int_equal(ps_apt_version_cmp("2.0", "2.0"), 0);
    assert_true(ps_apt_version_valid("1:2.3~rc1+dfsg-1"));
    assert_true(ps_apt_version_valid("1.0"));
    assert_false(ps_apt_version_valid("v1.0"));
    assert_false(ps_apt_version_valid("1.0 beta"));
    assert_false(ps_apt_version_valid("x:1.0"));
    assert_false(ps_apt_version_valid("1.0-"));
}

static void test_relations(void **state)
{
    (void)state;
    const char *bad = NULL;
    assert_true(ps_apt_relations_valid("a (>= 1) | b, c", &bad));
    assert_true(ps_apt_relations_valid("debconf (>= 0.5) | debconf-2.0", &bad));
    assert_false(ps_apt_relations_valid("a (>= ", &bad));
    /* unclosed lists libapt would read past (found by fuzzing) */
    assert_false(ps_apt_relations_valid("a <pkgsmith@example", &bad));
    assert_false(ps_apt_relations_valid("a [amd64", &bad));
    assert_true(ps_apt_relations_valid("a (<< 2), b (>> 1) | c (<= 3)", &bad));
    assert_false(ps_apt_relations_valid("!6[ \n   ]  m\x8for pm", &bad));
    assert_false(ps_apt_relations_valid("a (>> 1", &bad));
    assert_false(ps_apt_relations_valid("a, , b", &bad));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stanzas_fields_and_lines),
        cmocka_unit_test(test_malformed_input_names_line),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_relations),
    };
    return cmocka_run_group_tests_name("apt", tests, NULL, NULL);
}
