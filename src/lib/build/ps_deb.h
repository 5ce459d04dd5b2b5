/* ps_deb.h - build .deb packages from debian/, in process.
 *
 * debian/control (parsed by libapt-pkg) gives one package per binary
 * stanza.  For package P the builder reads, preferring debian/P.<x> over
 * debian/<x>: the maintainer scripts (preinst, postinst, prerm, postrm,
 * config), templates (debconf), conffiles (extra; files under /etc are
 * conffiles anyway, as debhelper does) and P.install (lines "SRC DESTDIR"
 * as dh_install, or "SRC => /DEST/PATH").  A source ending in ".in" is
 * rendered with the build settings and installed without the suffix.
 * debian/changelog and debian/copyright are installed under
 * /usr/share/doc/P/ as Debian policy asks.
 *
 * The .deb is an ar archive (debian-binary, control.tar.xz, data.tar.xz)
 * written with libarchive: sorted entries, mtimes clamped to
 * SOURCE_DATE_EPOCH, root:root.  With a signer, a debsigs "origin"
 * signature (_gpgorigin) over the three members is added.
 */
#ifndef PS_DEB_H
#define PS_DEB_H

#include <stdint.h>

#include "ps_error.h"
#include "ps_pgp.h"
#include "ps_source.h"
#include "ps_util.h"

ps_code ps_deb_build(const ps_source *src, ps_signer *signer,
                     const char *outdir, ps_strv *outputs, ps_error *err);

/* The members of a .deb, located in a buffer holding the whole file:
 * each member is a span of that buffer (ar stores them as they are). */
enum { PS_DEB_BINARY, PS_DEB_CONTROL, PS_DEB_DATA, PS_DEB_SIG, PS_DEB_NMEMBERS };
typedef struct ps_deb_member {
    ps_span span;      /* NULL data: no such member */
    char name[17];
    int64_t mtime;
} ps_deb_member;

/* Locates debian-binary (2.x), control.tar*, data.tar* and _gpgorigin in
 * the LEN bytes of DATA, the .deb PATH (for messages).  Refuses a
 * truncated member or a missing one.  STRICT also refuses members out of
 * that order and any member but _gpg* after data.tar (what a re-write
 * would lose); otherwise the first member of each kind counts and others
 * are ignored, as dpkg does. */
ps_code ps_deb_members(const char *path, const void *data, size_t len, int strict,
                       ps_deb_member out[PS_DEB_NMEMBERS], ps_error *err);

/* Re-writes the .deb PATH with SIGNER's origin signature (_gpgorigin) as
 * its only signature, or with none when SIGNER is NULL, into DEST (NULL:
 * PATH itself), atomically.  The other members are kept byte for byte, so
 * a signed build, stripped, equals the unsigned build.  Members other than
 * debian-binary, control.tar*, data.tar* and _gpg* are refused. */
ps_code ps_deb_sign_file(const char *path, ps_signer *signer, const char *dest,
                         ps_error *err);

#endif
