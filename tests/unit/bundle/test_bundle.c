#include "testutil.h"

#include "ps_bundle_priv.h"

#define SHA_A "4ac46ab4febbaa9f0c2e52f886d265c1a4fd730e3ff1d594af5a2abcd397b950"
#define SHA_M "61afb765e0fcf6bcae189c6c5604c8b6f69e0cbdbaad02eab8f4b9661057a5fc"
#define SHA_P "e331a39cb25f3a7a295a861526afe6dede1066268dbfea489804de36eee4a150"
#define POOL_A "pool/4a/" SHA_A "/alloy_1.1.0-1_amd64.deb"
#define META_A "meta/4a/" SHA_A

static const char HEAD[] = "Format: pkgsmith-bundle 1\n"
                           "Origin: d6d11438f38b555632c058fbaaf1b8c6\n"
                           "Generation: 4\n"
                           "Base: 2\n"
                           "Created: Wed, 25 Nov 2026 03:33:05 UTC\n"
                           "Transfer-Key: F36BDB9E35921EA4E68A76A9AC5360B9FAC3E49A\n"
                           "Split: 0\n";

/* A valid manifest with MEMBERS (each " SHA SIZE PATH\n") and the mirror
 * stanza given. */
static char *manifest(const char *members, const char *mirror)
{
    return ps_strdupf("%sMembers:\n%s\n%s", HEAD, members, mirror);
}

static const char MIRROR[] = "Mirror: grafana-apt\nPackages:\n deb stable/main alloy 1.1.0-1 "
                             "amd64 " SHA_A " 4600 " POOL_A "\n";
static const char MEMBERS[] = " " SHA_P " 41 mirrors/grafana-apt/provenance/signer\n"
                              " " SHA_M " 622 " META_A "\n"
                              " " SHA_A " 4600 " POOL_A "\n";

static ps_bundle_manifest *parse(const char *text, ps_error *err)
{
    ps_error_clear(err);
    return ps_bundle_manifest_parse(text, strlen(text), "t:MANIFEST", err);
}

static void test_manifest_parses_and_round_trips(void **state)
{
    (void)state;
    ps_error err = {0};
    char *text = manifest(MEMBERS, MIRROR);
    ps_bundle_manifest *m = parse(text, &err);
    assert_non_null(m);
    assert_int_equal(ps_bundle_manifest_generation(m), 4);
    assert_int_equal(ps_bundle_manifest_base(m), 2);
    assert_string_equal(ps_bundle_manifest_origin(m), "d6d11438f38b555632c058fbaaf1b8c6");
    assert_int_equal(ps_bundle_manifest_nmembers(m), 3);
    uint64_t size;
    const char *sha;
    assert_string_equal(ps_bundle_manifest_member(m, 2, &size, &sha), POOL_A);
    assert_int_equal(size, 4600);
    assert_string_equal(sha, SHA_A);
    assert_null(ps_bundle_manifest_member(m, 3, NULL, NULL));
    ps_buf out = {0};
    assert_int_equal(ps_bundle_manifest_write(m, &out, &err), PS_OK);
    ps_bundle_manifest *again = ps_bundle_manifest_parse(out.data, out.len, "again", &err);
    assert_non_null(again);
    ps_buf out2 = {0};
    assert_int_equal(ps_bundle_manifest_write(again, &out2, &err), PS_OK);
    assert_int_equal(out.len, out2.len);
    assert_memory_equal(out.data, out2.data, out.len);
    ps_buf_free(&out), ps_buf_free(&out2);
    ps_bundle_manifest_free(m), ps_bundle_manifest_free(again);
    free(text);
}

/* Each broken manifest is refused with PS_EVERIFY and a message that
 * names the manifest and quotes the offending value. */
static void refused(const char *text, const char *needle)
{
    ps_error err = {0};
    ps_bundle_manifest *m = parse(text, &err);
    if (m != NULL)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.code, PS_EVERIFY);
    assert_non_null(strstr(err.msg, "t:MANIFEST"));
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' not in: %s", needle, err.msg);
}

static void test_manifest_refuses_what_could_escape(void **state)
{
    (void)state;
    const char *bad_paths[] = {
        " " SHA_P " 1 ../../etc/passwd\n",
        " " SHA_P " 1 /etc/passwd\n",
        " " SHA_P " 1 mirrors/grafana-apt/provenance/../../x\n",
        " " SHA_P " 1 mirrors/grafana-apt/provenance/.hidden\n",
        " " SHA_P " 1 mirrors/../provenance/x\n",
        " " SHA_P " 1 mirrors/grafana-apt/other/x\n",
        " " SHA_A " 1 pool/4a/" SHA_A "/a/b\n",
        " " SHA_A " 1 pool/4b/" SHA_A "/x.deb\n",
        " " SHA_A " 1 meta/4a/" SHA_A "/x\n",
        " " SHA_P " 1 MANIFEST\n",
    };
    for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
        char *t = manifest(bad_paths[i], MIRROR);
        refused(t, "a member path a bundle may not carry");
        free(t);
    }
}

static void test_manifest_refuses_inconsistency(void **state)
{
    (void)state;
    char *t;
    /* a pool member no package names */
    t = manifest(MEMBERS, "Mirror: grafana-apt\nPackages:\n");
    refused(t, "no listed package names");
    free(t);
    /* a pool member without its record */
    t = manifest(" " SHA_A " 4600 " POOL_A "\n", MIRROR);
    refused(t, "without its meta member");
    free(t);
    /* a record nobody needs */
    t = manifest(" " SHA_M " 622 meta/61/" SHA_M "\n", MIRROR);
    refused(t, "no listed package needs");
    free(t);
    /* the same member twice */
    t = ps_strdupf("%sMembers:\n%s%s\n%s", HEAD, MEMBERS, " " SHA_M " 622 " META_A "\n", MIRROR);
    refused(t, "listed twice");
    free(t);
    /* state of a mirror the manifest does not list */
    t = manifest(" " SHA_P " 41 mirrors/other/provenance/signer\n", MIRROR);
    refused(t, "a mirror the manifest does not list");
    free(t);
    /* a package whose href is not its hash */
    t = manifest("", "Mirror: m\nPackages:\n deb stable/main a 1 amd64 " SHA_P " 1 " POOL_A "\n");
    refused(t, "not pool/HH/SHA256/FILE of its hash");
    free(t);
    /* a package line with a word too many */
    t = manifest("", "Mirror: m\nPackages:\n deb stable/main a 1 amd64 " SHA_A " 1 " POOL_A " x\n");
    refused(t, "wrong number of words");
    free(t);
    /* a mirror twice */
    t = manifest("", "Mirror: m\nPackages:\n\nMirror: m\nPackages:\n");
    refused(t, "listed twice");
    free(t);
}

static void test_manifest_refuses_bad_header(void **state)
{
    (void)state;
    struct {
        const char *from, *to, *needle;
    } cases[] = {
        {"Format: pkgsmith-bundle 1", "Format: pkgsmith-bundle 2", "Format"},
        {"Origin: d6d11438f38b555632c058fbaaf1b8c6", "Origin: xyz", "Origin"},
        {"Generation: 4", "Generation: -4", "Generation"},
        {"Generation: 4", "Generation: 99999999999999999999", "Generation"},
        {"Base: 2", "Base: 4", "not older"},
        {"Base: 2", "Base: two", "Base"},
        {"Transfer-Key: F36BDB9E35921EA4E68A76A9AC5360B9FAC3E49A", "Transfer-Key: f36b", "Transfer-Key"},
        {"Split: 0", "Split: 1e9", "Split"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = manifest(MEMBERS, MIRROR);
        char *at = strstr(t, cases[i].from);
        char *u = ps_strdupf("%.*s%s%s", (int)(at - t), t, cases[i].to, at + strlen(cases[i].from));
        refused(u, cases[i].needle);
        free(t), free(u);
    }
    refused("", "empty");
    ps_error err = {0};
    assert_null(ps_bundle_manifest_parse("Format: x\0y", 11, "t:MANIFEST", &err));
    assert_int_equal(err.code, PS_EVERIFY);
}

static void test_path_ok(void **state)
{
    (void)state;
    assert_true(ps_bundle_path_ok(POOL_A));
    assert_true(ps_bundle_path_ok(META_A));
    assert_true(ps_bundle_path_ok("mirrors/grafana-rpm/client-keys/0.asc"));
    assert_true(ps_bundle_path_ok("mirrors/grafana-apt/provenance/stable.InRelease"));
    assert_false(ps_bundle_path_ok(""));
    assert_false(ps_bundle_path_ok("pool/"));
    assert_false(ps_bundle_path_ok("mirrors/-x/provenance/a"));
    assert_false(ps_bundle_path_ok("mirrors/x/provenance/a b"));
    assert_false(ps_bundle_path_ok("meta/4a/" SHA_A "X"));
    assert_true(ps_bundle_name_ok("grafana-apt"));
    assert_false(ps_bundle_name_ok(".."));
    assert_false(ps_bundle_name_ok("a/b"));
}

static void test_state_origin_and_log(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char o1[33], o2[33];
    ps_error err = {0};
    assert_int_equal(ps_bundle_origin(d, o1, &err), PS_OK);
    assert_int_equal(strlen(o1), 32);
    assert_int_equal(ps_bundle_origin(d, o2, &err), PS_OK);
    assert_string_equal(o1, o2); /* made once, then kept */
    ps_bundle_event ev = {"import", "", 4, 2, 1000, 12, 4096, "pending", "/media/b.tar"};
    memcpy(ev.origin, o1, 33);
    assert_int_equal(ps_bundle_log_put(d, &ev, &err), PS_OK);
    snprintf(ev.status, sizeof ev.status, "done");
    assert_int_equal(ps_bundle_log_put(d, &ev, &err), PS_OK); /* replaces */
    ev.generation = 6, ev.base = 4;
    assert_int_equal(ps_bundle_log_put(d, &ev, &err), PS_OK);
    ps_bundle_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(ps_bundle_list(d, &evs, &n, &err), PS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(evs[0].status, "done");
    assert_int_equal(evs[1].base, 4);
    assert_string_equal(evs[1].file, "/media/b.tar");
    assert_non_null(ps_bundle_log_find(evs, n, "import", o1, 6));
    assert_null(ps_bundle_log_find(evs, n, "export", o1, 6));
    free(evs);
    /* a damaged log is named with its line */
    char *log = ps_bundle_path(d, "log");
    FILE *f = fopen(log, "a");
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(ps_bundle_list(d, &evs, &n, &err), PS_EINPUT);
    assert_non_null(strstr(err.msg, "log:3"));
    free(log);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_parses_and_round_trips),
        cmocka_unit_test(test_manifest_refuses_what_could_escape),
        cmocka_unit_test(test_manifest_refuses_inconsistency),
        cmocka_unit_test(test_manifest_refuses_bad_header),
        cmocka_unit_test(test_path_ok),
        cmocka_unit_test(test_state_origin_and_log),
    };
    return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
