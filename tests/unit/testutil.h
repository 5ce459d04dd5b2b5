/* testutil.h - helpers shared by the cmocka unit tests (header-only). */
#ifndef PS_TESTUTIL_H
#define PS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ps_util.h"

/* Writes TEXT to DIR/REL, creating parent directories. */
static inline void tu_write(const char *dir, const char *rel, const char *text, mode_t mode)
{
    char *path = ps_strdupf("%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(ps_mkdir_p(path, 0755, NULL), PS_OK);
    *slash = '/';
    assert_int_equal(ps_file_write_atomic(path, text, strlen(text), mode, NULL), PS_OK);
    free(path);
}

static inline char *tu_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char *d = ps_mkdtemp_in(t ? t : "/tmp", "ps-unit-", NULL);
    assert_non_null(d);
    return d;
}

/* A minimal source tree: changelog 1.2.3-4, one setting, a deb package. */
static inline char *tu_source_tree(void)
{
    char *d = tu_tmpdir();
    tu_write(d, "debian/changelog",
             "demo (1.2.3-4) unstable; urgency=medium\n\n  * Test.\n\n"
             " -- A B <a@example.test>  Tue, 24 Nov 2026 12:00:00 +0000\n", 0644);
    tu_write(d, "pkgsmith.settings", "# defaults\ngreeting: hello\nport: 3100\n", 0644);
    tu_write(d, "debian/control",
             "Source: demo\nMaintainer: A B <a@example.test>\nSection: misc\n"
             "Priority: optional\n\nPackage: demo\nArchitecture: all\n"
             "Depends: ${misc:Depends}, coreutils (>= 8)\n"
             "Description: demo package\n this is a demo.\n", 0644);
    tu_write(d, "debian/copyright", "Format: test\n", 0644);
    tu_write(d, "debian/postinst", "#!/bin/sh\nset -e\necho @greeting@\n", 0755);
    tu_write(d, "debian/demo.install",
             "files/demo.sh usr/bin\nfiles/demo.conf.in etc/demo\n"
             "files/defaults.in => /usr/share/demo/defaults\n", 0644);
    tu_write(d, "files/demo.sh", "#!/bin/sh\necho demo\n", 0755);
    tu_write(d, "files/demo.conf.in", "greeting=@greeting@ port=@port@ other=@unknown@\n", 0644);
    tu_write(d, "files/defaults.in", "GREETING=@greeting@\n", 0644);
    return d;
}

#endif
