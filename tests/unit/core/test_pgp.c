#include "testutil.h"

#include <gpgme.h>

#include "ps_pgp.h"

typedef struct fixture {
    char *home;
    char fpr[64];
} fixture;

/* A throwaway ed25519 key (fast to make); gpg itself is not mocked. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->home = tu_tmpdir();
    char *cmd = ps_strdupf(
        "gpg --homedir %s --batch --quiet --passphrase '' --quick-gen-key "
        "'unit <u@pkgsmith.invalid>' ed25519 sign never 2>/dev/null && "
        "gpg --homedir %s --batch --with-colons --list-secret-keys | "
        "awk -F: '$1 == \"fpr\" { print $10; exit }'",
        f->home, f->home);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (p == NULL || fgets(f->fpr, sizeof f->fpr, p) == NULL)
        return -1;
    pclose(p);
    ps_rstrip(f->fpr);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char *cmd = ps_strdupf("gpgconf --homedir %s --kill all", f->home);
    if (system(cmd) != 0)
        fprintf(stderr, "gpgconf --kill failed\n");
    free(cmd);
    ps_rm_rf(f->home, NULL);
    free(f->home);
    free(f);
    return 0;
}

/* Verifies SIG over DATA with gpgme; returns the signer's fingerprint
 * status (GPG_ERR_NO_ERROR when good). */
static gpgme_error_t verify(const char *home, const char *data, const ps_buf *sig)
{
    gpgme_ctx_t ctx;
    gpgme_data_t d, s;
    assert_int_equal(gpgme_new(&ctx), 0);
    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, home);
    gpgme_data_new_from_mem(&d, data, strlen(data), 0);
    gpgme_data_new_from_mem(&s, (const char *)sig->data, sig->len, 0);
    gpgme_error_t ge = gpgme_op_verify(ctx, s, d, NULL);
    if (ge == 0) {
        gpgme_verify_result_t r = gpgme_op_verify_result(ctx);
        ge = r->signatures ? r->signatures->status : GPG_ERR_NO_DATA;
    }
    gpgme_data_release(d);
    gpgme_data_release(s);
    gpgme_release(ctx);
    return gpgme_err_code(ge);
}

static void test_detached_signature_over_parts_verifies(void **state)
{
    fixture *f = *state;
    ps_error err = {0};
    ps_signer *s = ps_signer_new(f->home, f->fpr, &err);
    if (s == NULL)
        fail_msg("%s", err.msg);
    assert_string_equal(ps_signer_fpr(s), f->fpr);
    ps_span parts[] = {{"hello ", 6}, {"", 0}, {"world", 5}};
    ps_buf sig = {0};
    assert_int_equal(ps_signer_sign(s, parts, 3, PS_SIGN_DETACHED, &sig, &err), PS_OK);
    assert_true(sig.len > 0 && sig.data[0] != '-'); /* binary, not armored */
    assert_int_equal(verify(f->home, "hello world", &sig), GPG_ERR_NO_ERROR);
    assert_int_not_equal(verify(f->home, "hello worlD", &sig), GPG_ERR_NO_ERROR);
    ps_buf_free(&sig);
    assert_int_equal(ps_signer_sign(s, parts, 3, PS_SIGN_DETACHED_ARMOR, &sig, &err), PS_OK);
    assert_memory_equal(sig.data, "-----BEGIN PGP SIGNATURE-----", 29);
    ps_buf_free(&sig);
    ps_buf pub = {0};
    assert_int_equal(ps_signer_export_public(s, &pub, &err), PS_OK);
    assert_non_null(strstr((char *)pub.data, "BEGIN PGP PUBLIC KEY BLOCK"));
    ps_buf_free(&pub);
    ps_signer_free(s);
}

static void test_missing_key_is_a_key_error(void **state)
{
    fixture *f = *state;
    ps_error err = {0};
    assert_null(ps_signer_new(f->home, "0000000000000000000000000000000000000000", &err));
    assert_int_equal(err.code, PS_EKEY);
    assert_non_null(strstr(err.msg, "0000000000000000000000000000000000000000"));
    assert_non_null(strstr(err.msg, f->home));
    ps_error_clear(&err);
    assert_null(ps_signer_new(f->home, "", &err));
    assert_int_equal(err.code, PS_EKEY);
}

/* Once keys are pinned, a signature by an imported but unpinned key is
 * refused, naming it; pinning it too accepts it. */
static void test_pinned_keys_only(void **state)
{
    fixture *f = *state;
    ps_error err = {0};
    ps_signer *s = ps_signer_new(f->home, f->fpr, &err);
    ps_verifier *v = ps_verifier_new(&err);
    ps_span part = {"pinned", 6};
    ps_buf sig = {0}, pub = {0};
    assert_int_equal(ps_signer_sign(s, &part, 1, PS_SIGN_DETACHED, &sig, &err), PS_OK);
    assert_int_equal(ps_signer_export_public(s, &pub, &err), PS_OK);
    assert_int_equal(ps_verifier_import(v, pub.data, pub.len, "pub", &err), PS_OK);
    assert_int_equal(ps_verifier_pin(v, "0000000000000000000000000000000000000000", &err), PS_OK);
    char fpr[41] = "";
    assert_int_equal(ps_verifier_verify(v, sig.data, sig.len, &part, 1, NULL, "f", fpr, &err),
                     PS_EVERIFY);
    assert_non_null(strstr(err.msg, "not pinned"));
    assert_non_null(strstr(err.msg, f->fpr));
    assert_string_equal(fpr, f->fpr);
    ps_error_clear(&err);
    fpr[0] = '\0';
    assert_int_equal(ps_verifier_pin(v, f->fpr, &err), PS_OK);
    assert_int_equal(ps_verifier_verify(v, sig.data, sig.len, &part, 1, NULL, "f", fpr, &err),
                     PS_OK);
    assert_string_equal(fpr, f->fpr);
    ps_buf_free(&sig), ps_buf_free(&pub);
    ps_verifier_free(v);
    ps_signer_free(s);
}

/* A detached signature by the fixture's key over DATA with DIGEST. */
static void gpg_sign(const fixture *f, const char *data, const char *digest, ps_buf *sig)
{
    char *in = ps_strdupf("%s/data", f->home), *out = ps_strdupf("%s/data.sig", f->home);
    FILE *fp = fopen(in, "w");
    assert_non_null(fp);
    fputs(data, fp);
    fclose(fp);
    char *cmd = ps_strdupf("gpg --homedir %s --batch --yes --quiet --digest-algo %s -u %s "
                           "-b -o %s %s 2>/dev/null",
                           f->home, digest, f->fpr, out, in);
    assert_int_equal(system(cmd), 0);
    ps_error err = {0};
    assert_int_equal(ps_file_read(out, sig, &err), PS_OK);
    free(cmd), free(in), free(out);
}

/* The verifier refuses what apt and rpm refuse, naming key and digest,
 * and accepts the same key with SHA-256. */
static void test_verifier_refuses_weak_digests(void **state)
{
    fixture *f = *state;
    ps_error err = {0};
    ps_signer *s = ps_signer_new(f->home, f->fpr, &err);
    assert_non_null(s);
    ps_buf pub = {0};
    assert_int_equal(ps_signer_export_public(s, &pub, &err), PS_OK);
    ps_signer_free(s);
    ps_verifier *v = ps_verifier_new(&err);
    assert_non_null(v);
    assert_int_equal(ps_verifier_import(v, pub.data, pub.len, "up.asc", &err), PS_OK);
    ps_span part = {"hello\n", 6};
    char fpr[41];
    const char *digests[] = {"SHA256", "SHA1", "RIPEMD160"};
    for (size_t i = 0; i < 3; i++) {
        ps_buf sig = {0};
        gpg_sign(f, "hello\n", digests[i], &sig);
        ps_code rc = ps_verifier_verify(v, sig.data, sig.len, &part, 1, NULL, "Release.gpg", fpr,
                                        &err);
        if (i == 0) {
            assert_int_equal(rc, PS_OK);
            assert_string_equal(fpr, f->fpr);
        } else {
            assert_int_equal(rc, PS_EVERIFY);
            char *want = ps_strdupf("Release.gpg: signature by %s uses %s digest", f->fpr,
                                    digests[i]);
            if (strstr(err.msg, want) == NULL)
                fail_msg("'%s' not in: %s", want, err.msg);
            free(want);
        }
        ps_error_clear(&err);
        ps_buf_free(&sig);
    }
    /* The same policy, for signatures librpm checked: by key ID. */
    assert_int_equal(ps_verifier_policy(v, f->fpr + 24, 8 /* SHA256 */, "a.rpm", &err), PS_OK);
    assert_int_equal(ps_verifier_policy(v, f->fpr + 24, 2 /* SHA1 */, "a.rpm", &err), PS_EVERIFY);
    assert_non_null(strstr(err.msg, "a.rpm: signature by"));
    ps_verifier_free(v);
    ps_buf_free(&pub);
}

#define SIGBLK "-----BEGIN PGP SIGNATURE-----\n\niQEz\n=abcd\n-----END PGP SIGNATURE-----\n"
#define HEAD "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"

static void split_refused(const char *text, const char *needle)
{
    ps_error err = {0};
    assert_int_equal(ps_clearsign_split(text, strlen(text), NULL, NULL, "InRelease", &err),
                     PS_EVERIFY);
    if (strstr(err.msg, needle) == NULL || strstr(err.msg, "InRelease: line ") == NULL)
        fail_msg("'%s' not in: %s", needle, err.msg);
}

static void test_clearsign_frame(void **state)
{
    (void)state;
    const char *good = "\n" HEAD "Origin: Grafana\n- -dashed\n" SIGBLK "\n";
    ps_buf text = {0}, sig = {0};
    ps_error err = {0};
    assert_int_equal(ps_clearsign_split(good, strlen(good), &text, &sig, "InRelease", &err), PS_OK);
    assert_string_equal((char *)text.data, "Origin: Grafana\n-dashed\n");
    assert_non_null(strstr((char *)sig.data, "iQEz\n=abcd\n-----END PGP SIGNATURE-----"));
    ps_buf_free(&text), ps_buf_free(&sig);
    split_refused("Origin: evil\n" HEAD "Origin: Grafana\n" SIGBLK, "text before the signed part");
    split_refused(HEAD "Origin: Grafana\n" SIGBLK "Origin: evil\n", "text after the signature");
    split_refused(HEAD "a\n" SIGBLK HEAD "b\n" SIGBLK, "text after the signature");
    split_refused(HEAD "a\n" HEAD "b\n" SIGBLK, "not dash-escaped");
    split_refused("-----BEGIN PGP SIGNED MESSAGE-----\nComment: x\n\na\n" SIGBLK, "other than Hash");
    split_refused("-----BEGIN PGP SIGNED MESSAGE-----\n\na\n" SIGBLK, "no Hash");
    split_refused(HEAD "a\n", "no signature");
    split_refused(HEAD "a\n-----BEGIN PGP SIGNATURE-----\niQEz\n", "does not end");
    split_refused("Origin: unsigned\n", "text before the signed part");
    split_refused("", "no cleartext signed message");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detached_signature_over_parts_verifies),
        cmocka_unit_test(test_missing_key_is_a_key_error),
        cmocka_unit_test(test_pinned_keys_only),
        cmocka_unit_test(test_clearsign_frame),
        cmocka_unit_test(test_verifier_refuses_weak_digests),
    };
    return cmocka_run_group_tests_name("pgp", tests, setup, teardown);
}
