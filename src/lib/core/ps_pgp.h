/* ps_pgp.h - OpenPGP signing through gpgme (gpgme drives gpg). */
#ifndef PS_PGP_H
#define PS_PGP_H

#include <stddef.h>

#include "ps_error.h"
#include "ps_util.h"

typedef struct ps_signer ps_signer;

/* A piece of the data to sign; pieces are signed as one concatenated
 * stream, so callers never copy (deb members, rpm header + payload). */
typedef struct ps_span {
    const void *data;
    size_t len;
} ps_span;

typedef enum ps_sign_mode {
    PS_SIGN_DETACHED,        /* binary detached signature (rpm, debsigs) */
    PS_SIGN_DETACHED_ARMOR,  /* ASCII-armored detached (Release.gpg, .asc) */
    PS_SIGN_CLEAR            /* cleartext signed (InRelease) */
} ps_sign_mode;

/* Opens GnuPG home HOMEDIR (NULL: $GNUPGHOME or ~/.gnupg) and selects the
 * key FPR, or several, separated by spaces or commas (a key rotation:
 * every signature then carries one signature packet by each).  Fails
 * with PS_EKEY naming the key when one is missing, has no secret part,
 * cannot sign, or is expired/revoked. */
ps_signer *ps_signer_new(const char *homedir, const char *fpr, ps_error *err);
void ps_signer_free(ps_signer *s);

/* Full fingerprint of the (first) selected key (upper-case hex). */
const char *ps_signer_fpr(const ps_signer *s);
/* Those of every selected key, space-separated. */
const char *ps_signer_fprs(const ps_signer *s);

/* Signs the concatenation of PARTS; appends the signature to OUT.
 * Refuses a SHA-1 (or weaker) signature: RHEL 9 rejects those. */
ps_code ps_signer_sign(ps_signer *s, const ps_span *parts, size_t nparts,
                       ps_sign_mode mode, ps_buf *out, ps_error *err);

/* Appends the armored public key (every selected key, one block) to OUT. */
ps_code ps_signer_export_public(ps_signer *s, ps_buf *out, ps_error *err);

/* Appends the armored public keys FPRS (one fingerprint, or several
 * separated by spaces: one block) of GnuPG home HOMEDIR (NULL:
 * $GNUPGHOME) to OUT.  Needs only the public key, so someone holding the
 * published key alone can rebuild what embeds it; PS_EKEY names FPR and
 * the home when the key is not there. */
ps_code ps_pgp_export_public(const char *homedir, const char *fprs, ps_buf *out, ps_error *err);

/* Stops the gpg-agent of GnuPG home HOME and removes its socket
 * directory (/run/user/UID/gnupg/d.*): for every home pkgsmith makes,
 * before the home itself goes. */
void ps_pgp_home_release(const char *home);

/* A verifier: its own throw-away keyring (a private GnuPG home, removed
 * by ps_verifier_free) holding only the keys it was given, so a
 * signature is accepted only when one of exactly those keys made it. */
typedef struct ps_verifier ps_verifier;

ps_verifier *ps_verifier_new(ps_error *err);
void ps_verifier_free(ps_verifier *v);

/* Imports the key(s) in DATA (armored or binary); NAME (a file or URL)
 * is for messages.  Fails when DATA holds no public key. */
ps_code ps_verifier_import(ps_verifier *v, const void *data, size_t len, const char *name,
                           ps_error *err);
ps_code ps_verifier_import_file(ps_verifier *v, const char *path, ps_error *err);

/* Pins primary key FPR: once any key is pinned, only a signature by a
 * pinned key (of those imported) is accepted; a file signed only by other
 * imported keys is refused naming one, which ps_verifier_verify then also
 * leaves in its FPR. */
ps_code ps_verifier_pin(ps_verifier *v, const char *fpr, ps_error *err);

/* Number of primary keys imported, and the I-th one's fingerprint. */
size_t ps_verifier_nkeys(const ps_verifier *v);
const char *ps_verifier_key(const ps_verifier *v, size_t i);

/* Appends the I-th key (binary OpenPGP packets, armored with ARMOR). */
ps_code ps_verifier_export(ps_verifier *v, size_t i, int armor, ps_buf *out, ps_error *err);

/* Verifies SIG, a detached signature over the concatenation of PARTS,
 * or, with NPARTS == 0, a cleartext-signed message whose signed text is
 * then appended to PLAIN (only that text may be trusted).  On success
 * FPR (41 bytes) holds the signing primary key's fingerprint.  Errors
 * (PS_EVERIFY) name NAME and the key: unknown, expired, revoked, bad. */
ps_code ps_verifier_verify(ps_verifier *v, const void *sig, size_t siglen, const ps_span *parts,
                           size_t nparts, ps_buf *plain, const char *name, char fpr[41],
                           ps_error *err);

/* The policy ps_verifier_verify applies to every good signature, for
 * signatures gpgme does not verify (rpm's, through librpm): KEYID (a key
 * id or fingerprint of a key in V) and HASH_ALGO (the OpenPGP digest
 * number) must not be what apt and rpm refuse -- MD5, SHA-1, RIPEMD160
 * digests, RSA/DSA keys under 2048 bits, ElGamal.  PS_EVERIFY names NAME,
 * the key's fingerprint and the algorithm. */
ps_code ps_verifier_policy(ps_verifier *v, const char *keyid, int hash_algo, const char *name,
                           ps_error *err);

/* Checks the structure of a cleartext-signed message (RFC 4880 7) before
 * any signature is looked at: blank lines at most around it, only Hash:
 * armor headers, every text line starting with '-' dash-escaped, exactly
 * one signature block, nothing after it.  So an InRelease with text
 * outside the signed part, or two signed parts, is refused by name.
 * Appends the (unescaped) signed text to TEXT and the armored signature
 * to SIG when they are not NULL.  NAME is for messages. */
ps_code ps_clearsign_split(const void *data, size_t len, ps_buf *text, ps_buf *sig,
                           const char *name, ps_error *err);

#endif
