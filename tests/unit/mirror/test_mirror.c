#include "testutil.h"

#include "ps_mirror_priv.h"

static void test_check_path(void **state)
{
    (void)state;
    ps_error err = {0};
    assert_int_equal(ps_mirror_check_path("x", "pool/main/a/alloy/alloy-1.0-1.amd64.deb", &err), PS_OK);
    assert_int_equal(ps_mirror_check_path("x", "alloy-1.0-1.x86_64.rpm", &err), PS_OK);
    const char *bad[] = {"../etc/passwd", "pool/../../x.deb", "/etc/passwd", "http://evil/x.deb",
                         "pool/./x.deb", "pool//x.deb", "pool\\x.deb", "pool/x\n.deb", "", "pool/..",
                         "file:x.deb"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ps_error_clear(&err);
        assert_int_equal(ps_mirror_check_path("Packages", bad[i], &err), PS_EVERIFY);
        assert_non_null(strstr(err.msg, "Packages: unsafe path"));
    }
}

static ps_cand *cand(const char *name, const char *version, const char *arch)
{
    ps_cand *c = calloc(1, sizeof *c);
    c->name = strdup(name), c->version = strdup(version), c->arch = strdup(arch);
    return c;
}

static void test_select_keeps_newest(void **state)
{
    (void)state;
    ps_select s;
    ps_select_init(&s, 2, ps_apt_version_cmp);
    const char *v[] = {"1.0-1", "1.10.0-1", "1.9.0-1", "1.2-1", "1.10.0-1", "1:0.1-1"};
    for (size_t i = 0; i < 6; i++)
        ps_select_offer(&s, cand("alloy", v[i], "amd64"));
    ps_select_offer(&s, cand("alloy", "0.1-1", "arm64"));
    GPtrArray *l = ps_select_list(&s);
    assert_int_equal(l->len, 3);
    /* the epoch wins; then 1.10 beats 1.9 (Debian order, not strcmp) */
    assert_string_equal(((ps_cand *)l->pdata[0])->version, "1.10.0-1");
    assert_string_equal(((ps_cand *)l->pdata[1])->version, "1:0.1-1");
    assert_string_equal(((ps_cand *)l->pdata[2])->arch, "arm64");
    assert_true(ps_select_has_name(&s, "alloy"));
    assert_false(ps_select_has_name(&s, "loki"));
    g_ptr_array_free(l, TRUE);
    ps_select_free(&s);
}

static void test_conf(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    ps_error err = {0};
    tu_write(d, "a.mirror",
             "Name: grafana-apt\nType: apt\nURIs: https://apt.example.test/\nSuites: stable\n"
             "Components: main\nArchitectures: amd64 arm64\n"
             "Signed-By: keys/up.asc\n b53ae77badb630a683046005963fa27710458545\n"
             "Include: alloy\nKeep-Versions: 5\nRate-Limit: 10M\nTarget: stable/main\n", 0644);
    ps_mirror_set *s = ps_mirror_set_load(d, &err);
    assert_non_null(s);
    assert_int_equal(ps_mirror_set_count(s), 1);
    const ps_mirror_conf *c = ps_mirror_set_find(s, "grafana-apt");
    assert_non_null(c);
    assert_string_equal(ps_mirror_conf_type(c), "apt");
    assert_int_equal(c->keep, 5);
    assert_int_equal(c->rate_limit, 10u << 20);
    assert_int_equal(c->max_shrink, 50);
    assert_int_equal(c->max_skew, 3600); /* Max-Clock-Skew: an hour unless set */
    assert_string_equal(c->fprs.v[0], "B53AE77BADB630A683046005963FA27710458545");
    assert_non_null(strstr(c->key_files.v[0], "/keys/up.asc"));
    assert_true(ps_mirror_wants(c, "alloy"));
    assert_false(ps_mirror_wants(c, "loki"));
    ps_mirror_set_free(s);
    /* errors name the file and line */
    tu_write(d, "a.mirror", "Type: apt\nURIs: https://x\nSuites: s\nComponents: c\n"
             "Architectures: amd64\nSigned-By: k.asc\nKeep-Versions: many\nTarget: s\n", 0644);
    assert_null(ps_mirror_set_load(d, &err));
    assert_non_null(strstr(err.msg, "a.mirror:7: Keep-Versions"));
    ps_error_clear(&err);
    tu_write(d, "a.mirror", "Type: apt\nURIs: https://x\nSuites: s\nComponents: c\n"
             "Architectures: amd64\nSigned-By: k.asc\nMax-Clock-Skew: 1h\nTarget: s\n", 0644);
    assert_null(ps_mirror_set_load(d, &err));
    assert_non_null(strstr(err.msg, "a.mirror:7: Max-Clock-Skew"));
    ps_error_clear(&err);
    tu_write(d, "a.mirror", "Type: yum\nURIs: https://x\nSigned-By: k.asc\nTarget: s\n", 0644);
    assert_null(ps_mirror_set_load(d, &err));
    assert_non_null(strstr(err.msg, "a.mirror:1: Type: want apt or rpm"));
    ps_error_clear(&err);
    tu_write(d, "a.mirror", "Type: rpm\nURIs: ftp://x\nSigned-By: k.asc\nTarget: s\n", 0644);
    assert_null(ps_mirror_set_load(d, &err));
    assert_non_null(strstr(err.msg, "URIs"));
    ps_error_clear(&err);
    tu_write(d, "a.mirror", "Type: rpm\nURIs: https://x\nSigned-By: k.asc\nTarget: s\n", 0644);
    tu_write(d, "b.mirror", "Name: a\nType: rpm\nURIs: https://y\nSigned-By: k.asc\nTarget: s\n", 0644);
    assert_null(ps_mirror_set_load(d, &err));
    assert_non_null(strstr(err.msg, "mirror name 'a' is also used"));
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_state_roundtrip(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char *p = ps_strdupf("%s/state", d);
    ps_kv kv = {0}, back = {0};
    ps_error err = {0};
    assert_int_equal(ps_kv_set(&kv, "ETag-stable", "\"5f-abc\"", &err), PS_OK);
    assert_int_equal(ps_kv_set(&kv, "Last-Error", "two\nlines", &err), PS_OK);
    assert_int_equal(ps_kv_set(&kv, "Empty", "", &err), PS_OK);
    assert_int_equal(ps_kv_save(p, &kv, &err), PS_OK);
    assert_int_equal(ps_kv_load(p, &back, &err), PS_OK);
    assert_string_equal(ps_kv_get(&back, "etag-stable"), "\"5f-abc\"");
    assert_string_equal(ps_kv_get(&back, "Last-Error"), "two lines");
    assert_null(ps_kv_get(&back, "Empty"));
    ps_kv_free(&kv), ps_kv_free(&back);
    free(p);
    ps_rm_rf(d, NULL);
    free(d);
}

static void collect(void *ud, size_t group, const char *name, const char *op, const char *version)
{
    ps_buf *b = ud;
    ps_buf_appendf(b, NULL, "%zu:%s:%s:%s;", group, name, op, version);
}

static void test_relations(void **state)
{
    (void)state;
    ps_buf b = {0};
    assert_true(ps_apt_relations_each("libc6 (>= 2.17), a | b:any (<< 2), c", collect, &b));
    assert_string_equal((char *)b.data, "0:libc6:>=:2.17;1:a::;1:b:<<:2;2:c::;");
    assert_true(ps_apt_version_satisfies("1.10", ">=", "1.9"));
    assert_false(ps_apt_version_satisfies("1.10", "<<", "1.9"));
    assert_true(ps_apt_version_satisfies("1.0", "", ""));
    ps_buf_free(&b);
}

static void test_reader_streams(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    tu_write(d, "Packages", "Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\nDescription: x\n y\n", 0644);
    char *p = ps_strdupf("%s/Packages", d);
    ps_error err = {0};
    ps_deb822_reader *r = ps_deb822_reader_open(p, 0, &err);
    assert_non_null(r);
    ps_deb822 *s1 = ps_deb822_reader_next(r, &err), *s2 = ps_deb822_reader_next(r, &err);
    assert_string_equal(ps_deb822_get(s1, 0, "Package"), "a");
    assert_string_equal(ps_deb822_get(s2, 0, "Description"), "x\n y");
    assert_null(ps_deb822_reader_next(r, &err));
    assert_int_equal(err.code, PS_OK);
    ps_deb822_free(s1), ps_deb822_free(s2);
    ps_deb822_reader_free(r);
    /* a limit on the unpacked bytes */
    r = ps_deb822_reader_open(p, 10, &err);
    ps_deb822 *s = ps_deb822_reader_next(r, &err);
    assert_null(s);
    assert_non_null(strstr(err.msg, "more than 10 bytes uncompressed"));
    ps_deb822_reader_free(r);
    free(p);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_path),     cmocka_unit_test(test_select_keeps_newest),
        cmocka_unit_test(test_conf),           cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_relations),      cmocka_unit_test(test_reader_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
