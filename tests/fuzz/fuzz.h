/* fuzz.h - what the libFuzzer harnesses share (header-only).
 *
 * Parsers that take a path get the input through a file in a private
 * directory made once per process and removed at exit. */
#ifndef PS_FUZZ_H
#define PS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dir;

static void fuzz_cleanup(void)
{
    if (fuzz_dir)
        ps_rm_rf(fuzz_dir, NULL);
    free(fuzz_dir);
}

/* DIR/NAME with DATA in it (the path is malloc'd). */
static inline char *fuzz_file(const char *name, const void *data, size_t len)
{
    if (fuzz_dir == NULL) {
        const char *t = getenv("TMPDIR");
        fuzz_dir = ps_mkdtemp_in(t ? t : "/tmp", "ps-fuzz-", NULL);
        if (fuzz_dir == NULL)
            abort();
        atexit(fuzz_cleanup);
    }
    char *path = ps_strdupf("%s/%s", fuzz_dir, name);
    if (path == NULL || ps_file_write_unsynced(path, len ? data : "", len, NULL) != PS_OK)
        abort();
    return path;
}

#endif
