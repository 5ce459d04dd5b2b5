#include "testutil.h"

#include <unistd.h>

static void test_buf_append_and_format(void **state)
{
    (void)state;
    ps_buf b = {0};
    assert_int_equal(ps_buf_append(&b, "ab", 2, NULL), PS_OK);
    assert_int_equal(ps_buf_appendf(&b, NULL, "-%d-", 42), PS_OK);
    assert_string_equal((char *)b.data, "ab-42-");
    assert_int_equal(b.len, 6);
    ps_buf_free(&b);
    assert_null(b.data);
}

/* appendf formats in place after what the buffer holds: a long result
 * (more than the first allocation) and an empty one both come out whole. */
static void test_appendf_in_place(void **state)
{
    (void)state;
    ps_buf b = {0};
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ps_buf_appendf(&b, NULL, "%s", ""), PS_OK);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(ps_buf_appendf(&b, NULL, "<%s>%d", big, 7), PS_OK);
    assert_int_equal(b.len, sizeof big + 2);
    assert_memory_equal(b.data + 1, big, sizeof big - 1);
    assert_string_equal((char *)b.data + sizeof big, ">7");
    ps_buf_free(&b);
}

/* Appending one element at a time keeps every element: the array grows
 * at each chunk boundary and only there. */
static void test_array_reserve_grows_by_chunks(void **state)
{
    (void)state;
    long *v = NULL;
    size_t n = 0;
    for (; n < 3 * PS_ARRAY_CHUNK + 1; n++) {
        assert_int_equal(ps_array_reserve(&v, n, sizeof *v, NULL), PS_OK);
        v[n] = (long)n * 3;
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i], (long)i * 3);
    long *before = v;
    assert_int_equal(ps_array_reserve(&v, n, sizeof *v, NULL), PS_OK);
    assert_ptr_equal(v, before); /* n is not on a boundary: nothing moved */
    free(v);
    ps_error err = {0};
    void *p = ps_zalloc(16, &err);
    assert_non_null(p);
    assert_memory_equal(p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    assert_int_equal(err.code, PS_OK);
    free(p);
}

static void test_error_keeps_first_message(void **state)
{
    (void)state;
    ps_error err = {0};
    assert_int_equal(ps_error_set(&err, PS_EINPUT, "first %s", "x"), PS_EINPUT);
    ps_error_set(&err, PS_EIO, "second");
    assert_string_equal(err.msg, "first x");
    assert_int_equal(err.code, PS_EINPUT);
    assert_int_equal(ps_error_exit_status(PS_EINPUT), 2);
    assert_int_equal(ps_error_exit_status(PS_EKEY), 2);
    assert_int_equal(ps_error_exit_status(PS_EIO), 1);
    assert_int_equal(ps_error_exit_status(PS_OK), 0);
}

static void test_atomic_write_replaces_and_reads_back(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char *p = ps_strdupf("%s/f", d);
    assert_int_equal(ps_file_write_atomic(p, "one", 3, 0640, NULL), PS_OK);
    assert_int_equal(ps_file_write_atomic(p, "two!", 4, 0600, NULL), PS_OK);
    ps_buf b = {0};
    assert_int_equal(ps_file_read(p, &b, NULL), PS_OK);
    assert_string_equal((char *)b.data, "two!");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ps_buf_free(&b);
    assert_int_equal(ps_rm_rf(d, NULL), PS_OK);
    assert_false(ps_path_exists(d));
    free(p);
    free(d);
}

static void test_read_missing_names_path(void **state)
{
    (void)state;
    ps_error err = {0};
    ps_buf b = {0};
    assert_int_equal(ps_file_read("/nonexistent/x.conf", &b, &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.conf"));
}

static void test_digests_match_known_vectors(void **state)
{
    (void)state;
    char hex[129];
    assert_int_equal(ps_digest_hex(PS_DIGEST_SHA256, "abc", 3, hex, NULL), PS_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ps_digest_hex(PS_DIGEST_MD5, "abc", 3, hex, NULL), PS_OK);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    assert_int_equal(ps_digest_hex(PS_DIGEST_SHA1, "abc", 3, hex, NULL), PS_OK);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void test_strv_sorts_bytewise(void **state)
{
    (void)state;
    ps_strv sv = {0};
    assert_int_equal(ps_strv_add(&sv, "b", NULL), PS_OK);
    assert_int_equal(ps_strv_add(&sv, "B", NULL), PS_OK);
    assert_int_equal(ps_strv_add(&sv, "a", NULL), PS_OK);
    ps_strv_sort(&sv);
    assert_string_equal(sv.v[0], "B");
    assert_string_equal(sv.v[1], "a");
    assert_string_equal(sv.v[2], "b");
    assert_null(sv.v[3]);
    ps_strv_free(&sv);
}

static void test_sha256_stream_equals_one_shot(void **state)
{
    (void)state;
    char one[65], streamed[65];
    const char *text = "the quick brown fox jumps over the lazy dog";
    assert_int_equal(ps_digest_hex(PS_DIGEST_SHA256, text, strlen(text), one, NULL), PS_OK);
    ps_sha256 *h = ps_sha256_new(NULL);
    assert_non_null(h);
    for (size_t i = 0; i < strlen(text); i += 7)
        ps_sha256_update(h, text + i, strlen(text) - i < 7 ? strlen(text) - i : 7);
    ps_sha256_final(h, streamed);
    assert_string_equal(one, streamed);
    h = ps_sha256_new(NULL);
    ps_sha256_final(h, streamed); /* the empty input */
    assert_string_equal(streamed, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ps_sha256_free(ps_sha256_new(NULL));
    ps_sha256_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_and_format),
        cmocka_unit_test(test_appendf_in_place),
        cmocka_unit_test(test_array_reserve_grows_by_chunks),
        cmocka_unit_test(test_error_keeps_first_message),
        cmocka_unit_test(test_atomic_write_replaces_and_reads_back),
        cmocka_unit_test(test_read_missing_names_path),
        cmocka_unit_test(test_digests_match_known_vectors),
        cmocka_unit_test(test_strv_sorts_bytewise),
        cmocka_unit_test(test_sha256_stream_equals_one_shot),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
