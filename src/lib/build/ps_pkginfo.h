/* ps_pkginfo.h - what a repository needs to know about one .deb or .rpm:
 * its identity, digests, signature, and its index record.
 *
 * A .deb is read with libarchive (its control stanza through the libapt
 * shim); an .rpm through librpm (header digests and signatures) and
 * libcreaterepo_c (the primary/filelists/other XML of the package). */
#ifndef PS_PKGINFO_H
#define PS_PKGINFO_H

#include <stddef.h>

#include "ps_error.h"
#include "ps_util.h"

typedef enum ps_pkg_kind {
    PS_PKG_DEB,
    PS_PKG_RPM
} ps_pkg_kind;

/* The OpenPGP keys packages may be signed with: one set, used both as a
 * gpgme keyring (debsigs) and as an rpm keyring. */
typedef struct ps_pkgkeys ps_pkgkeys;

ps_pkgkeys *ps_pkgkeys_new(const char *const *files, size_t nfiles, ps_error *err);
void ps_pkgkeys_free(ps_pkgkeys *k);

typedef struct ps_pkginfo ps_pkginfo;

/* Reads and validates PATH.  With KEYS, a package that carries a
 * signature must verify against them; with REQUIRE_SIGNATURE an unsigned
 * package is refused too.  A damaged file (truncated, bad digest, no
 * control data) fails with PS_EINPUT naming PATH and what is wrong. */
ps_pkginfo *ps_pkginfo_read(const char *path, const ps_pkgkeys *keys, int require_signature,
                            ps_error *err);
void ps_pkginfo_free(ps_pkginfo *p);

ps_pkg_kind ps_pkginfo_kind(const ps_pkginfo *p);
const char *ps_pkginfo_name(const ps_pkginfo *p);
/* deb: the Version field; rpm: [EPOCH:]VERSION-RELEASE. */
const char *ps_pkginfo_version(const ps_pkginfo *p);
const char *ps_pkginfo_arch(const ps_pkginfo *p);
/* The canonical file name: NAME_VERSION_ARCH.deb (no epoch) or
 * NAME-VERSION-RELEASE.ARCH.rpm. */
const char *ps_pkginfo_filename(const ps_pkginfo *p);
const ps_hashes *ps_pkginfo_hashes(const ps_pkginfo *p);
/* Fingerprint (deb) or key ID (rpm) of the verified signer, or NULL. */
const char *ps_pkginfo_signer(const ps_pkginfo *p);

/* Appends the package's index record for a repository that serves the
 * file at HREF (relative to the repository root): a complete Packages
 * stanza (deb), or the primary, filelists and other XML chunks each
 * followed by a NUL byte (rpm). */
ps_code ps_pkginfo_record(ps_pkginfo *p, const char *href, ps_buf *out, ps_error *err);

/* One-time set-up of librpm and libcreaterepo_c, for callers that use
 * them from several threads (idempotent, not itself thread-safe). */
void ps_pkginfo_global_init(void);

#endif
