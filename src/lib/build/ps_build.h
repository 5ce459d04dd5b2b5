/* ps_build.h - `pkgsmith build`: every package of a source tree, in every
 * asked-for format, signed, published into the output dir all together.
 *
 * Packages are first written into a private directory inside OUTDIR; only
 * when every one of them is complete (and signed) are they renamed into
 * OUTDIR.  A failed build therefore leaves no output file at all. */
#ifndef PS_BUILD_H
#define PS_BUILD_H

#include <stddef.h>

#include "ps_error.h"
#include "ps_util.h"

enum {
    PS_FORMAT_DEB = 1 << 0,
    PS_FORMAT_RPM = 1 << 1
};

typedef struct ps_build_opts {
    const char *srcdir;       /* default "." */
    const char *outdir;       /* default "out" */
    unsigned formats;         /* PS_FORMAT_*; 0 means both */
    const char *key;          /* fingerprint; NULL with no_sign */
    const char *gnupg_home;   /* NULL: $GNUPGHOME or ~/.gnupg */
    int no_sign;
    const char *const *sets;  /* "NAME=VALUE" overrides */
    size_t nsets;
} ps_build_opts;

/* Builds; on success OUTPUTS holds the final paths (sorted). */
ps_code ps_build_run(const ps_build_opts *opts, ps_strv *outputs, ps_error *err);

#endif
