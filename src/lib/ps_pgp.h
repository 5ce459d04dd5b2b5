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
 * key FPR.  Fails with PS_EKEY naming FPR when the key is missing, has no
 * secret part, cannot sign, or is expired/revoked. */
ps_signer *ps_signer_new(const char *homedir, const char *fpr, ps_error *err);
void ps_signer_free(ps_signer *s);

/* Full fingerprint of the selected key (upper-case hex). */
const char *ps_signer_fpr(const ps_signer *s);

/* Signs the concatenation of PARTS; appends the signature to OUT.
 * Refuses a SHA-1 (or weaker) signature: RHEL 9 rejects those. */
ps_code ps_signer_sign(ps_signer *s, const ps_span *parts, size_t nparts,
                       ps_sign_mode mode, ps_buf *out, ps_error *err);

/* Appends the armored public key to OUT. */
ps_code ps_signer_export_public(ps_signer *s, ps_buf *out, ps_error *err);

#endif
