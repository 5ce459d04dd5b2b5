#include "ps_pgp.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <gpgme.h>

struct ps_signer {
    gpgme_ctx_t ctx;
    char *fpr;    /* the first key's */
    char *fprs;   /* every key's, space-separated */
    size_t nkeys;
};

/* gpgme_check_version initialises gpgme's own state; calling it again is
 * cheap and harmless, so every entry point does. */
static ps_code new_ctx(const char *homedir, gpgme_ctx_t *out, ps_error *err)
{
    /* gpgme would otherwise run gpgconf three times, and gpg and gpgsm
     * for their versions, on every start: more than a signature costs.
     * Its built-in paths are Debian's.  (Only effective before the first
     * gpgme_check_version, and harmless after.) */
    gpgme_set_global_flag("disable-gpgconf", "1");
    gpgme_check_version(NULL);
    gpgme_error_t ge = gpgme_new(out);
    if (ge == 0)
        ge = gpgme_set_protocol(*out, GPGME_PROTOCOL_OpenPGP);
    if (ge == 0 && homedir != NULL)
        ge = gpgme_ctx_set_engine_info(*out, GPGME_PROTOCOL_OpenPGP, NULL, homedir);
    /* Never pop up a pinentry in a build: a key that needs a passphrase
     * fails with a clear error instead of hanging CI. */
    if (ge == 0)
        ge = gpgme_set_pinentry_mode(*out, GPGME_PINENTRY_MODE_LOOPBACK);
    /* Signing needs no trust computation: skip gpg's trustdb checks. */
    if (ge == 0)
        ge = gpgme_set_ctx_flag(*out, "trust-model", "always");
    if (ge != 0)
        return ps_error_set(err, PS_ELIB, "gpgme: cannot set up GnuPG home %s: %s",
                            homedir ? homedir : "(default)", gpgme_strerror(ge));
    return PS_OK;
}

static ps_code check_key(gpgme_key_t key, const char *fpr, ps_error *err)
{
    if (key->revoked)
        return ps_error_set(err, PS_EKEY, "signing key %s is revoked", fpr);
    if (key->expired)
        return ps_error_set(err, PS_EKEY, "signing key %s has expired", fpr);
    if (key->disabled || key->invalid)
        return ps_error_set(err, PS_EKEY, "signing key %s is disabled or invalid", fpr);
    if (!key->can_sign)
        return ps_error_set(err, PS_EKEY, "key %s cannot sign (no usable signing subkey)", fpr);
    return PS_OK;
}

/* Adds key FPR (one word of ps_signer_new's list) to S's signers. */
static ps_code add_signer(ps_signer *s, const char *homedir, const char *fpr, ps_error *err)
{
    gpgme_key_t key = NULL;
    gpgme_error_t ge = gpgme_get_key(s->ctx, fpr, &key, 1);
    const char *home = homedir ? homedir : getenv("GNUPGHOME") ? getenv("GNUPGHOME") : "~/.gnupg";
    if (ge != 0 || key == NULL)
        return ps_error_set(err, PS_EKEY, "no secret key %s in GnuPG home %s (%s)", fpr, home,
                            gpgme_strerror(ge));
    ps_code rc = check_key(key, fpr, err);
    if (rc == PS_OK && (ge = gpgme_signers_add(s->ctx, key)) != 0)
        rc = ps_error_set(err, PS_EKEY, "key %s: %s", fpr, gpgme_strerror(ge));
    char *all = rc == PS_OK ? ps_strdupf("%s%s%s", s->fprs ? s->fprs : "", s->fprs ? " " : "",
                                         key->fpr)
                            : NULL;
    if (rc == PS_OK && (all == NULL || (s->fpr == NULL && (s->fpr = strdup(key->fpr)) == NULL)))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    if (all) {
        free(s->fprs);
        s->fprs = all;
        s->nkeys++;
    }
    gpgme_key_unref(key); /* the context keeps its own reference */
    return rc;
}

ps_signer *ps_signer_new(const char *homedir, const char *fpr, ps_error *err)
{
    if (fpr == NULL || strspn(fpr, " \t\n,") == strlen(fpr)) {
        ps_error_set(err, PS_EKEY, "no signing key given");
        return NULL;
    }
    ps_signer *s = ps_zalloc(sizeof *s, err);
    if (s == NULL || new_ctx(homedir, &s->ctx, err) != PS_OK) {
        ps_signer_free(s);
        return NULL;
    }
    char *copy = strdup(fpr), *save = NULL;
    ps_code rc = copy ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    for (char *w = copy ? strtok_r(copy, " \t\n,", &save) : NULL; rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n,", &save))
        rc = add_signer(s, homedir, w, err);
    free(copy);
    return PS_BUILT(rc, s, ps_signer_free);
}

void ps_signer_free(ps_signer *s)
{
    if (s == NULL)
        return;
    gpgme_release(s->ctx); /* it takes NULL: a context never made */
    free(s->fpr);
    free(s->fprs);
    free(s);
}

const char *ps_signer_fpr(const ps_signer *s)
{
    return s->fpr;
}

const char *ps_signer_fprs(const ps_signer *s)
{
    return s->fprs;
}

/* gpgme reads the data to sign through this cursor over the caller's
 * spans, so nothing is concatenated into a copy. */
typedef struct span_reader {
    const ps_span *parts;
    size_t nparts;
    size_t part;
    size_t off;
} span_reader;

static ssize_t span_read(void *handle, void *buf, size_t size)
{
    span_reader *r = handle;
    size_t done = 0;
    while (done < size && r->part < r->nparts) {
        const ps_span *p = &r->parts[r->part];
        size_t n = p->len - r->off;
        if (n > size - done)
            n = size - done;
        memcpy((char *)buf + done, (const char *)p->data + r->off, n);
        done += n;
        r->off += n;
        if (r->off == p->len) {
            r->part++;
            r->off = 0;
        }
    }
    return (ssize_t)done;
}

/* One signature per key, none with a weak digest. */
static ps_code check_sign_result(gpgme_ctx_t ctx, const char *fpr, size_t nkeys, ps_error *err)
{
    gpgme_sign_result_t res = gpgme_op_sign_result(ctx);
    size_t n = 0;
    if (res == NULL || res->invalid_signers != NULL || res->signatures == NULL)
        return ps_error_set(err, PS_EKEY, "key %s did not produce a signature", fpr);
    for (gpgme_new_signature_t sig = res->signatures; sig; sig = sig->next, n++) {
        switch (sig->hash_algo) {
        case GPGME_MD_MD5:
        case GPGME_MD_SHA1:
        case GPGME_MD_RMD160:
            return ps_error_set(err, PS_EKEY,
                                "key %s signed with a weak digest (%s); set personal-digest-preferences SHA256 in gpg.conf",
                                sig->fpr ? sig->fpr : fpr, gpgme_hash_algo_name(sig->hash_algo));
        default:
            break;
        }
    }
    if (n != nkeys)
        return ps_error_set(err, PS_EKEY, "keys %s made %zu signatures, not %zu", fpr, n, nkeys);
    return PS_OK;
}

static gpgme_sig_mode_t gpgme_mode(ps_sign_mode mode)
{
    switch (mode) {
    case PS_SIGN_CLEAR: return GPGME_SIG_MODE_CLEAR;
    default: return GPGME_SIG_MODE_DETACH;
    }
}

/* The end of every operation that yields data: RC is how the operation
 * went.  DATA (NULL is fine) is released either way; on success its bytes
 * are appended to OUT first. */
static ps_code take_data(ps_code rc, gpgme_data_t data, ps_buf *out, ps_error *err)
{
    if (rc != PS_OK) {
        gpgme_data_release(data);
        return rc;
    }
    size_t len = 0;
    char *mem = gpgme_data_release_and_get_mem(data, &len);
    if (mem == NULL)
        return ps_error_set(err, PS_ENOMEM, "gpgme: out of memory");
    rc = ps_buf_append(out, mem, len, err);
    gpgme_free(mem);
    return rc;
}

ps_code ps_signer_sign(ps_signer *s, const ps_span *parts, size_t nparts,
                       ps_sign_mode mode, ps_buf *out, ps_error *err)
{
    span_reader reader = {parts, nparts, 0, 0};
    struct gpgme_data_cbs cbs = {.read = span_read};
    gpgme_data_t in = NULL, sig = NULL;
    gpgme_error_t ge = gpgme_data_new_from_cbs(&in, &cbs, &reader);
    if (ge == 0)
        ge = gpgme_data_new(&sig);
    if (ge != 0) {
        gpgme_data_release(in);
        return ps_error_set(err, PS_ELIB, "gpgme: %s", gpgme_strerror(ge));
    }
    gpgme_set_armor(s->ctx, mode != PS_SIGN_DETACHED);
    gpgme_set_textmode(s->ctx, 0);
    ge = gpgme_op_sign(s->ctx, in, sig, gpgme_mode(mode));
    gpgme_data_release(in);
    ps_code rc = ge == 0 ? check_sign_result(s->ctx, s->fprs, s->nkeys, err)
                         : ps_error_set(err, PS_EKEY, "signing with key %s failed: %s",
                                        s->fprs, gpgme_strerror(ge));
    return take_data(rc, sig, out, err);
}

/* Signer and verifier export keys the same way; FPR NULL is a key index
 * out of range. */
static ps_code export_key(gpgme_ctx_t ctx, const char *fpr, int armor,
                          gpgme_export_mode_t mode, ps_buf *out, ps_error *err)
{
    gpgme_data_t data = NULL;
    gpgme_error_t ge = fpr ? gpgme_data_new(&data) : GPG_ERR_INV_VALUE;
    if (ge == 0) {
        gpgme_set_armor(ctx, armor);
        ge = gpgme_op_export(ctx, fpr, mode, data);
    }
    ps_code rc = ge == 0 ? PS_OK
                         : ps_error_set(err, PS_ELIB, "exporting key %s: %s", fpr ? fpr : "?",
                                        gpgme_strerror(ge));
    return take_data(rc, data, out, err);
}

/* Every key in one armored block, as `gpg --armor --export A B` writes it:
 * one Signed-By file or gpgkey= file then trusts them all. */
ps_code ps_signer_export_public(ps_signer *s, ps_buf *out, ps_error *err)
{
    if (s->nkeys == 1)
        return export_key(s->ctx, s->fpr, 1, 0, out, err);
    char *copy = strdup(s->fprs), *save = NULL;
    const char **pat = calloc(s->nkeys + 1, sizeof *pat);
    gpgme_data_t data = NULL;
    size_t n = 0;
    gpgme_error_t ge = copy && pat ? gpgme_data_new(&data) : GPG_ERR_ENOMEM;
    for (char *w = ge == 0 ? strtok_r(copy, " ", &save) : NULL; w && n < s->nkeys;
         w = strtok_r(NULL, " ", &save))
        pat[n++] = w;
    if (ge == 0) {
        gpgme_set_armor(s->ctx, 1);
        ge = gpgme_op_export_ext(s->ctx, pat, 0, data);
    }
    ps_code rc = ge == 0 ? PS_OK
                         : ps_error_set(err, PS_ELIB, "exporting keys %s: %s", s->fprs,
                                        gpgme_strerror(ge));
    free(copy);
    free(pat);
    return take_data(rc, data, out, err);
}

/* FPRS: one fingerprint or several, space-separated (a Signing-Key in
 * rotation); all of them in one armored block, like ps_signer_export_public,
 * but from the public keyring alone. */
ps_code ps_pgp_export_public(const char *homedir, const char *fprs, ps_buf *out, ps_error *err)
{
    gpgme_ctx_t ctx = NULL;
    if (fprs == NULL || strspn(fprs, " \t\n,") == strlen(fprs))
        return ps_error_set(err, PS_EKEY, "no key given");
    ps_code rc = new_ctx(homedir, &ctx, err);
    const char *home = homedir ? homedir : getenv("GNUPGHOME") ? getenv("GNUPGHOME") : "~/.gnupg";
    char *copy = strdup(fprs), *save = NULL;
    size_t n = 0, max = strlen(fprs) / 2 + 2;
    char **prim = calloc(max, sizeof *prim);
    if (rc == PS_OK && (copy == NULL || prim == NULL))
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    for (char *w = rc == PS_OK ? strtok_r(copy, " \t\n,", &save) : NULL; rc == PS_OK && w;
         w = strtok_r(NULL, " \t\n,", &save)) {
        gpgme_key_t key = NULL;
        gpgme_error_t ge = gpgme_get_key(ctx, w, &key, 0);
        if (ge != 0 || key == NULL)
            rc = ps_error_set(err, PS_EKEY, "no public key %s in GnuPG home %s (%s)", w, home,
                              gpgme_strerror(ge));
        /* The primary fingerprint, so a subkey's FPR exports the whole key. */
        else if ((prim[n++] = strdup(key->fpr)) == NULL)
            rc = ps_error_set(err, PS_ENOMEM, "out of memory");
        gpgme_key_unref(key);
    }
    gpgme_data_t data = NULL;
    gpgme_error_t ge = rc == PS_OK ? gpgme_data_new(&data) : 0;
    if (rc == PS_OK && ge == 0) {
        gpgme_set_armor(ctx, 1);
        ge = gpgme_op_export_ext(ctx, (const char **)prim, 0, data);
    }
    if (rc == PS_OK && ge != 0)
        rc = ps_error_set(err, PS_ELIB, "exporting keys %s: %s", fprs, gpgme_strerror(ge));
    if (data)
        rc = take_data(rc, data, out, err); /* releases DATA either way */
    for (size_t i = 0; prim && i < n; i++)
        free(prim[i]);
    free(prim), free(copy);
    gpgme_release(ctx);
    return rc;
}

struct ps_verifier {
    gpgme_ctx_t ctx;
    char *home;
    ps_strv keys; /* primary fingerprints imported */
    ps_strv pins; /* if any: only these may sign */
};

ps_verifier *ps_verifier_new(ps_error *err)
{
    ps_verifier *v = ps_zalloc(sizeof *v, err);
    const char *tmp = getenv("TMPDIR");
    if (v == NULL)
        return NULL;
    v->home = ps_mkdtemp_in(tmp && *tmp ? tmp : "/tmp", "pkgsmith-keyring.", err);
    /* Importing public keys and verifying need no gpg-agent, and an agent
     * started in this home outlives it: it kept a process running and
     * could write into the directory while ps_verifier_free removed it,
     * leaving it behind. */
    static const char conf[] = "no-autostart\n";
    char *conf_path = v->home ? ps_strdupf("%s/gpg.conf", v->home) : NULL;
    ps_code rc = conf_path ? ps_file_write_unsynced(conf_path, conf, sizeof conf - 1, err)
                           : ps_error_set(err, PS_ENOMEM, "out of memory");
    free(conf_path);
    if (rc == PS_OK)
        rc = new_ctx(v->home, &v->ctx, err);
    return PS_BUILT(rc, v, ps_verifier_free);
}

extern char **environ;

/* gpgconf ARGS... for HOME, quietly; its status does not matter (a home
 * that never ran an agent has nothing to stop). */
static void gpgconf_run(const char *home, const char *what, const char *arg)
{
    char *argv[] = {"gpgconf", "--homedir", (char *)home, (char *)what, (char *)arg, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return;
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, "gpgconf", &fa, NULL, argv, environ) == 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    posix_spawn_file_actions_destroy(&fa);
}

void ps_pgp_home_release(const char *home)
{
    gpgconf_run(home, "--kill", "all");
    gpgconf_run(home, "--remove-socketdir", NULL);
}

void ps_verifier_free(ps_verifier *v)
{
    if (v == NULL)
        return;
    gpgme_release(v->ctx);
    /* gpg made a socket directory for this home under /run/user/UID/gnupg
     * (when that exists), even with no agent: it goes with the home. */
    if (v->home)
        ps_pgp_home_release(v->home);
    if (v->home)
        ps_rm_rf(v->home, NULL);
    free(v->home);
    ps_strv_free(&v->keys);
    ps_strv_free(&v->pins);
    free(v);
}

size_t ps_verifier_nkeys(const ps_verifier *v)
{
    return v->keys.n;
}

const char *ps_verifier_key(const ps_verifier *v, size_t i)
{
    return i < v->keys.n ? v->keys.v[i] : NULL;
}

static int has_key(const ps_verifier *v, const char *fpr)
{
    for (size_t i = 0; i < v->keys.n; i++)
        if (strcasecmp(v->keys.v[i], fpr) == 0)
            return 1;
    return 0;
}

ps_code ps_verifier_pin(ps_verifier *v, const char *fpr, ps_error *err)
{
    return ps_strv_add(&v->pins, fpr, err);
}

static int pinned(const ps_verifier *v, const char *fpr)
{
    for (size_t i = 0; i < v->pins.n; i++)
        if (strcasecmp(v->pins.v[i], fpr) == 0)
            return 1;
    return v->pins.n == 0;
}

ps_code ps_verifier_import(ps_verifier *v, const void *data, size_t len, const char *name,
                           ps_error *err)
{
    gpgme_data_t d = NULL;
    gpgme_error_t ge = gpgme_data_new_from_mem(&d, data, len, 0);
    if (ge == 0)
        ge = gpgme_op_import(v->ctx, d);
    gpgme_data_release(d);
    if (ge != 0)
        return ps_error_set(err, PS_EKEY, "%s: cannot import key: %s", name, gpgme_strerror(ge));
    gpgme_import_result_t r = gpgme_op_import_result(v->ctx);
    size_t before = v->keys.n;
    for (gpgme_import_status_t s = r ? r->imports : NULL; s; s = s->next)
        if (s->result == 0 && s->fpr && !has_key(v, s->fpr) &&
            ps_strv_add(&v->keys, s->fpr, err) != PS_OK)
            return err ? err->code : PS_ENOMEM;
    if (v->keys.n == before && (r == NULL || r->unchanged == 0))
        return ps_error_set(err, PS_EKEY, "%s: no OpenPGP public key in it", name);
    return PS_OK;
}

ps_code ps_verifier_import_file(ps_verifier *v, const char *path, ps_error *err)
{
    ps_buf b = {0};
    ps_code rc = ps_file_read(path, &b, err);
    if (rc == PS_OK)
        rc = ps_verifier_import(v, b.data, b.len, path, err);
    ps_buf_free(&b);
    return rc;
}

/* Primary fingerprint of the key owning (sub)key FPR, or NULL. */
static char *primary_of(gpgme_ctx_t ctx, const char *fpr)
{
    gpgme_key_t key = NULL;
    if (fpr == NULL || gpgme_get_key(ctx, fpr, &key, 0) != 0 || key == NULL)
        return NULL;
    char *p = key->fpr ? strdup(key->fpr) : NULL;
    gpgme_key_unref(key);
    return p;
}

static ps_code sig_failure(gpgme_signature_t sig, const char *name, ps_error *err)
{
    const char *who = sig->fpr ? sig->fpr : "(unknown)";
    switch (gpgme_err_code(sig->status)) {
    case GPG_ERR_NO_PUBKEY:
        return ps_error_set(err, PS_EVERIFY, "%s: signed by key %s, which is not a trusted key",
                            name, who);
    case GPG_ERR_KEY_EXPIRED:
        return ps_error_set(err, PS_EVERIFY, "%s: signing key %s has expired", name, who);
    case GPG_ERR_CERT_REVOKED:
        return ps_error_set(err, PS_EVERIFY, "%s: signing key %s is revoked", name, who);
    case GPG_ERR_SIG_EXPIRED:
        return ps_error_set(err, PS_EVERIFY, "%s: signature by %s has expired", name, who);
    case GPG_ERR_BAD_SIGNATURE:
        return ps_error_set(err, PS_EVERIFY, "%s: BAD signature by key %s", name, who);
    default:
        return ps_error_set(err, PS_EVERIFY, "%s: signature by key %s does not verify: %s", name,
                            who, gpgme_strerror(sig->status));
    }
}

/* The subkey of KEY that ID (a fingerprint or a key id) names, or NULL. */
static gpgme_subkey_t subkey_of(gpgme_key_t key, const char *id)
{
    size_t n = strlen(id);
    for (gpgme_subkey_t sk = key ? key->subkeys : NULL; sk; sk = sk->next) {
        size_t m = sk->fpr ? strlen(sk->fpr) : 0;
        if (n && m >= n && strcasecmp(sk->fpr + m - n, id) == 0)
            return sk;
    }
    return NULL;
}

/* What apt (2.6: weak digests; 2.7: --assert-pubkey-algo
 * >=rsa2048,ed25519,ed448,nist*) and rpm under RHEL 9's policy refuse:
 * an MD5, SHA-1 or RIPEMD160 digest, an RSA or DSA key under 2048 bits,
 * an ElGamal signing key.  Checked here so every caller gets it. */
static ps_code weak_policy(gpgme_ctx_t ctx, const char *keyid, int hash_algo, const char *name,
                           ps_error *err)
{
    gpgme_key_t key = NULL;
    if (keyid == NULL || gpgme_get_key(ctx, keyid, &key, 0) != 0 || key == NULL)
        return ps_error_set(err, PS_EVERIFY, "%s: signing key %s is not in the keyring", name,
                            keyid ? keyid : "(unknown)");
    gpgme_subkey_t sk = subkey_of(key, keyid);
    const char *who = key->fpr ? key->fpr : keyid;
    ps_code rc = PS_OK;
    if (hash_algo == GPGME_MD_MD5 || hash_algo == GPGME_MD_SHA1 || hash_algo == GPGME_MD_RMD160) {
        const char *h = gpgme_hash_algo_name((gpgme_hash_algo_t)hash_algo);
        rc = ps_error_set(err, PS_EVERIFY,
                          "%s: signature by %s uses %s digest, which apt and rpm refuse", name,
                          who, h ? h : "a weak");
    } else if (sk == NULL) {
        rc = ps_error_set(err, PS_EVERIFY, "%s: signing key %s has no subkey %s", name, who, keyid);
    } else if (sk->pubkey_algo == GPGME_PK_ELG || sk->pubkey_algo == GPGME_PK_ELG_E ||
               ((sk->pubkey_algo == GPGME_PK_RSA || sk->pubkey_algo == GPGME_PK_RSA_S ||
                 sk->pubkey_algo == GPGME_PK_RSA_E || sk->pubkey_algo == GPGME_PK_DSA) &&
                sk->length < 2048)) {
        const char *a = gpgme_pubkey_algo_name(sk->pubkey_algo);
        rc = ps_error_set(err, PS_EVERIFY,
                          "%s: signature by %s uses a %u-bit %s key, which apt and rpm refuse "
                          "(RSA or DSA under 2048 bits, ElGamal)",
                          name, who, sk->length, a ? a : "weak");
    }
    gpgme_key_unref(key);
    return rc;
}

ps_code ps_verifier_policy(ps_verifier *v, const char *keyid, int hash_algo, const char *name,
                           ps_error *err)
{
    return weak_policy(v->ctx, keyid, hash_algo, name, err);
}

/* A good signature counts when a pinned key made it and it passes the
 * policy; like apt, a weak signature beside a strong one is ignored, and
 * only when no signature counts is the first failure reported. */
static ps_code check_verify_result(ps_verifier *v, const char *name, char fpr[41], ps_error *err)
{
    gpgme_verify_result_t r = gpgme_op_verify_result(v->ctx);
    gpgme_signature_t bad = NULL;
    char unpinned[41] = "";
    ps_error weak = {0};
    for (gpgme_signature_t sig = r ? r->signatures : NULL; sig; sig = sig->next) {
        if (gpgme_err_code(sig->status) != GPG_ERR_NO_ERROR) {
            bad = bad ? bad : sig;
            continue;
        }
        /* A file may carry several signatures (Debian's InRelease has
         * three): one by a pinned key is enough, as for apt. */
        char *primary = primary_of(v->ctx, sig->fpr);
        int known = primary && has_key(v, primary), ok = known && pinned(v, primary);
        if (known && !ok && unpinned[0] == '\0')
            snprintf(unpinned, 41, "%s", primary);
        if (ok && weak_policy(v->ctx, sig->fpr, sig->hash_algo, name, &weak) != PS_OK)
            ok = 0;
        if (ok)
            snprintf(fpr, 41, "%s", primary);
        free(primary);
        if (ok)
            return PS_OK;
    }
    if (weak.code) {
        if (err)
            *err = weak;
        return weak.code;
    }
    if (unpinned[0]) {
        snprintf(fpr, 41, "%s", unpinned);
        return ps_error_set(err, PS_EVERIFY, "%s: signed by key %s, which is not pinned: refused",
                            name, unpinned);
    }
    if (bad)
        return sig_failure(bad, name, err);
    return ps_error_set(err, PS_EVERIFY, "%s: no OpenPGP signature in it", name);
}

ps_code ps_verifier_verify(ps_verifier *v, const void *sig, size_t siglen, const ps_span *parts,
                           size_t nparts, ps_buf *plain, const char *name, char fpr[41],
                           ps_error *err)
{
    span_reader reader = {parts, nparts, 0, 0};
    struct gpgme_data_cbs cbs = {.read = span_read};
    gpgme_data_t dsig = NULL, dtext = NULL, dplain = NULL;
    gpgme_error_t ge = gpgme_data_new_from_mem(&dsig, sig, siglen, 0);
    if (ge == 0)
        ge = nparts ? gpgme_data_new_from_cbs(&dtext, &cbs, &reader) : gpgme_data_new(&dplain);
    if (ge == 0)
        ge = gpgme_op_verify(v->ctx, dsig, dtext, dplain);
    gpgme_data_release(dsig);
    gpgme_data_release(dtext);
    ps_code rc = PS_OK;
    if (ge != 0)
        rc = ps_error_set(err, PS_EVERIFY, "%s: cannot verify: %s", name, gpgme_strerror(ge));
    if (rc == PS_OK)
        rc = check_verify_result(v, name, fpr, err);
    return dplain ? take_data(rc, dplain, plain, err) : rc;
}

ps_code ps_verifier_export(ps_verifier *v, size_t i, int armor, ps_buf *out, ps_error *err)
{
    return export_key(v->ctx, ps_verifier_key(v, i), armor, GPGME_EXPORT_MODE_MINIMAL, out, err);
}

/* ---- the clearsign frame ------------------------------------------------ */

typedef struct lines {
    const char *p, *end;
    size_t no;
} lines;

/* The next line without its LF (and CR); 0 at the end. */
static int next_line(lines *l, const char **s, size_t *n)
{
    if (l->p >= l->end)
        return 0;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *e = nl ? nl : l->end;
    *s = l->p;
    *n = (size_t)(e - l->p);
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    l->p = nl ? nl + 1 : l->end;
    l->no++;
    return 1;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

static int is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

static ps_code frame_error(const char *name, const lines *l, const char *why, ps_error *err)
{
    return ps_error_set(err, PS_EVERIFY, "%s: line %zu: %s: refused", name, l->no, why);
}

static ps_code split_text(lines *l, ps_buf *text, const char *name, ps_error *err)
{
    const char *s;
    size_t n;
    while (next_line(l, &s, &n)) {
        if (is(s, n, "-----BEGIN PGP SIGNATURE-----"))
            return PS_OK;
        if (n && s[0] == '-' && (n < 2 || s[1] != ' '))
            return frame_error(name, l, "a signed line starting with '-' that is not "
                                        "dash-escaped (a second signed part?)", err);
        size_t skip = n && s[0] == '-' ? 2 : 0;
        if (text && (ps_buf_append(text, s + skip, n - skip, err) != PS_OK ||
                     ps_buf_append(text, "\n", 1, err) != PS_OK))
            return PS_ENOMEM;
    }
    return frame_error(name, l, "no signature after the signed text", err);
}

ps_code ps_clearsign_split(const void *data, size_t len, ps_buf *text, ps_buf *sig,
                           const char *name, ps_error *err)
{
    lines l = {data, (const char *)data + len, 0};
    const char *s;
    size_t n;
    int found = 0;
    while (!found && next_line(&l, &s, &n))
        if (is(s, n, "-----BEGIN PGP SIGNED MESSAGE-----"))
            found = 1;
        else if (!blank(s, n))
            return frame_error(name, &l, "text before the signed part", err);
    if (!found)
        return frame_error(name, &l, "no cleartext signed message", err);
    int headers = 0;
    while ((found = next_line(&l, &s, &n)) && n) {
        if (n < 6 || memcmp(s, "Hash: ", 6) != 0)
            return frame_error(name, &l, "an armor header other than Hash:", err);
        headers++;
    }
    if (!found || headers == 0)
        return frame_error(name, &l, "no Hash: header and blank line", err);
    ps_code rc = split_text(&l, text, name, err);
    if (rc == PS_OK && sig)
        rc = ps_buf_append(sig, "-----BEGIN PGP SIGNATURE-----\n", 30, err);
    for (found = 0; rc == PS_OK && !found && next_line(&l, &s, &n);) {
        found = is(s, n, "-----END PGP SIGNATURE-----");
        if (!found && n >= 5 && memcmp(s, "-----", 5) == 0)
            rc = frame_error(name, &l, "an armor line inside the signature", err);
        if (rc == PS_OK && sig && (ps_buf_append(sig, s, n, err) != PS_OK ||
                                   ps_buf_append(sig, "\n", 1, err) != PS_OK))
            rc = PS_ENOMEM;
    }
    if (rc == PS_OK && !found)
        rc = frame_error(name, &l, "the signature does not end", err);
    while (rc == PS_OK && next_line(&l, &s, &n))
        if (!blank(s, n))
            rc = frame_error(name, &l, "text after the signature (outside the signed part)", err);
    return rc;
}
