/* The parts of ps_s3 that need no server: key encoding, target parsing,
 * the credentials file.  Requests are tested against a real radosgw in
 * tests/e2e/s3_client.sh, never a mock. */
#include "testutil.h"

#include <unistd.h>

#include "ps_s3.h"

static void expect_key(const char *key, const char *want)
{
    char *enc = ps_s3_encode_key(key, NULL);
    assert_non_null(enc);
    assert_string_equal(enc, want);
    free(enc);
}

/* curl signs the path as given: a package version's '+' and ':' must be
 * encoded before, '/' and the unreserved characters kept. */
static void test_encode_key(void **state)
{
    (void)state;
    expect_key("pool/main/a/alloy/alloy_1.2+3:4~rc1_amd64.deb",
               "pool/main/a/alloy/alloy_1.2%2B3%3A4~rc1_amd64.deb");
    expect_key("A-Z_a.z~0", "A-Z_a.z~0");
    expect_key("sp ace/%/\xc3\xa9", "sp%20ace/%25/%C3%A9");
    expect_key("dists/stable/by-hash/SHA256/ab", "dists/stable/by-hash/SHA256/ab");
}

static void test_encode_key_refuses_odd_paths(void **state)
{
    (void)state;
    const char *bad[] = {"", "/lead", "trail/", "a//b", "a/./b", "a/../b", "..", "."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ps_error err = {0};
        assert_null(ps_s3_encode_key(bad[i], &err));
        assert_int_equal(err.code, PS_EINPUT);
        assert_non_null(strstr(err.msg, "object key"));
    }
}

static void expect_target(const char *uri, const char *bucket, const char *prefix)
{
    char *b = NULL, *p = NULL;
    assert_int_equal(ps_s3_parse_target(uri, &b, &p, NULL), PS_OK);
    assert_string_equal(b, bucket);
    assert_string_equal(p, prefix);
    free(b), free(p);
}

static void test_parse_target(void **state)
{
    (void)state;
    expect_target("s3://repo-1.example/apt/prod", "repo-1.example", "apt/prod");
    expect_target("s3://bkt", "bkt", "");
    expect_target("s3://bkt/", "bkt", "");
    expect_target("s3://bkt//deep/x//", "bkt", "deep/x");
}

static void test_parse_target_refuses(void **state)
{
    (void)state;
    struct { const char *uri, *want; } bad[] = {
        {"http://bkt/x", "not an S3 target"},
        {"s3://", "no valid bucket name"},
        {"s3://ab/x", "'ab' is no valid bucket name"},
        {"s3://Upper/x", "'Upper' is no valid bucket name"},
        {"s3://-bkt/x", "no valid bucket name"},
        {"s3://bkt_1/x", "no valid bucket name"},
        {"s3://bkt/a/../b", "'..'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ps_error err = {0};
        char *b = (char *)1, *p = (char *)1;
        assert_int_equal(ps_s3_parse_target(bad[i].uri, &b, &p, &err), PS_EINPUT);
        assert_null(b);
        assert_null(p);
        assert_non_null(strstr(err.msg, bad[i].want));
    }
}

static char *cred_file(const char *dir, const char *text, mode_t mode)
{
    char *path = ps_strdupf("%s/creds", dir);
    unlink(path);
    tu_write(dir, "creds", text, mode);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void expect_creds(const char *dir, const char *text, mode_t mode)
{
    char *path = cred_file(dir, text, mode);
    char *k = NULL, *s = NULL;
    ps_error err = {0};
    assert_int_equal(ps_s3_read_credentials(path, &k, &s, &err), PS_OK);
    assert_string_equal(k, "AKIAEXAMPLE");
    assert_string_equal(s, "se/cr+et:x");
    free(k), free(s), free(path);
}

/* One line or two, comments and blank lines allowed; 0600 and 0400. */
static void test_credentials_formats(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    expect_creds(d, "AKIAEXAMPLE se/cr+et:x\n", 0600);
    expect_creds(d, "# S3 key\n\nAKIAEXAMPLE\nse/cr+et:x", 0600);
    expect_creds(d, "  AKIAEXAMPLE\tse/cr+et:x \r\n", 0400);
    ps_rm_rf(d, NULL);
    free(d);
}

/* Group or other bits: refused, naming the file and its mode, never
 * showing the secret; wrong word counts and a missing file are named. */
static void test_credentials_refused(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    struct { const char *text; mode_t mode; const char *want; } bad[] = {
        {"AKIAEXAMPLE topsecret\n", 0640, "mode 0640"},
        {"AKIAEXAMPLE topsecret\n", 0604, "mode 0604"},
        {"AKIAEXAMPLE topsecret\n", 0644, "chmod 600"},
        {"AKIAEXAMPLE\n", 0600, "found fewer words"},
        {"", 0600, "found fewer words"},
        {"AKIAEXAMPLE topsecret extra\n", 0600, "found more words"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *path = cred_file(d, bad[i].text, bad[i].mode);
        char *k = (char *)1, *s = (char *)1;
        ps_error err = {0};
        assert_int_equal(ps_s3_read_credentials(path, &k, &s, &err), PS_EINPUT);
        assert_null(k);
        assert_null(s);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, bad[i].want));
        assert_null(strstr(err.msg, "topsecret"));
        free(path);
    }
    char *missing = ps_strdupf("%s/none", d);
    char *k, *s;
    ps_error err = {0};
    assert_int_equal(ps_s3_read_credentials(missing, &k, &s, &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, missing));
    free(missing);
    ps_rm_rf(d, NULL);
    free(d);
}

/* ps_s3_new checks everything it can before any request: the target,
 * the endpoint, the credentials file's mode. */
static void test_new_checks_configuration(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char *path = cred_file(d, "AKIAEXAMPLE topsecret\n", 0600);
    ps_s3_opts o = {.target = "s3://bkt/p", .endpoint = "http://127.0.0.1:1",
                    .credentials_file = path};
    ps_error err = {0};
    ps_s3 *s = ps_s3_new(&o, &err);
    assert_non_null(s);
    assert_string_equal(ps_s3_target(s), "s3://bkt/p");
    ps_s3_free(s);
    o.endpoint = "http://127.0.0.1:1/path";
    assert_null(ps_s3_new(&o, &err));
    assert_non_null(strstr(err.msg, "S3 endpoint 'http://127.0.0.1:1/path'"));
    ps_error_clear(&err);
    o.endpoint = "ftp://x";
    assert_null(ps_s3_new(&o, &err));
    assert_int_equal(err.code, PS_EINPUT);
    ps_error_clear(&err);
    o.endpoint = "http://127.0.0.1:1";
    assert_int_equal(chmod(path, 0644), 0);
    assert_null(ps_s3_new(&o, &err));
    assert_non_null(strstr(err.msg, "mode 0644"));
    free(path);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_key),
        cmocka_unit_test(test_encode_key_refuses_odd_paths),
        cmocka_unit_test(test_parse_target),
        cmocka_unit_test(test_parse_target_refuses),
        cmocka_unit_test(test_credentials_formats),
        cmocka_unit_test(test_credentials_refused),
        cmocka_unit_test(test_new_checks_configuration),
    };
    return cmocka_run_group_tests_name("s3", tests, NULL, NULL);
}
