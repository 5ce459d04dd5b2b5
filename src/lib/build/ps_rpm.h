/* ps_rpm.h - build .rpm packages from specs/NAME.spec, in process.
 *
 * The spec is parsed by librpmbuild (macros, %if, scriptlets, Requires...).
 * Every build setting of the source is defined as a macro of the same name
 * (%{loki_host}); %{pkgversion} and %{pkgrelease} carry the version; and
 * %{_sourcedir} is the source dir.  The spec's %install runs through
 * librpmbuild into a private build root; %files (with %attr, %defattr,
 * %config(noreplace), %dir, %doc, %license, %ghost) is read from the parsed
 * spec.  The package itself - lead, signature header, header with an
 * immutable region, xz cpio payload - is assembled here with librpm's
 * header API and libarchive, and signed with gpgme (RSA/EdDSA header and
 * header+payload signatures, SHA-256 digests), readable by rpm >= 4.14.
 */
#ifndef PS_RPM_H
#define PS_RPM_H

#include "ps_error.h"
#include "ps_pgp.h"
#include "ps_source.h"
#include "ps_util.h"

/* Builds every specs/NAME.spec of SRC into OUTDIR as
 * <name>-<version>-<release>.<arch>.rpm.  SIGNER may be NULL (unsigned).
 * Appends the written paths to OUTPUTS.  Errors name the spec (and line). */
ps_code ps_rpm_build(const ps_source *src, ps_signer *signer,
                     const char *outdir, ps_strv *outputs, ps_error *err);

/* Re-writes the rpm PATH with a new signature header: the digests, and
 * SIGNER's header and header+payload signatures (none when SIGNER is NULL),
 * into DEST (NULL: PATH itself), atomically.  The lead, header and payload
 * are kept byte for byte, so a signed build, stripped, equals the unsigned
 * build.  The caller checks the package first (ps_pkginfo_read). */
ps_code ps_rpm_sign_file(const char *path, ps_signer *signer, const char *dest,
                         ps_error *err);

#endif
