/* ps_error.h - the one error convention of libpkgsmith.
 *
 * Every fallible function returns a ps_code (PS_OK == 0) and fills a
 * caller-owned ps_error with the same code and one line of text that names
 * the offending file (and line), URL or field.  A NULL ps_error is allowed
 * when the caller only wants the code.
 */
#ifndef PS_ERROR_H
#define PS_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ps_code {
    PS_OK = 0,
    PS_EINPUT,    /* bad input: syntax, missing field/file, bad setting   */
    PS_EKEY,      /* signing key missing, no secret part, unusable        */
    PS_EIO,       /* reading or writing a file failed                     */
    PS_ENOMEM,    /* out of memory                                        */
    PS_ELIB,      /* a library (librpm, libarchive, gpgme...) failed      */
    PS_EVERIFY,   /* a signature or digest did not verify                 */
    PS_EBUSY      /* another process holds the lock                       */
} ps_code;

typedef struct ps_error {
    ps_code code;
    char msg[1024];
} ps_error;

/* Records CODE and a printf-style message in ERR (if not NULL), unless ERR
 * already holds an error: the first, most specific message wins.
 * Returns CODE so callers can write `return ps_error_set(...)`. */
ps_code ps_error_set(ps_error *err, ps_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The end of every constructor: OBJ when RC is PS_OK, otherwise OBJ
 * handed to FREE_FN (the type's own destructor, which takes a half-built
 * object) and NULL.  A macro because it must take each type's destructor
 * as it is; it makes the failure path one expression that a constructor
 * cannot get subtly different from the others:
 *     return PS_BUILT(rc, s, ps_signer_free); */
#define PS_BUILT(rc, obj, free_fn) ((rc) == PS_OK ? (obj) : ((free_fn)(obj), NULL))

/* Clears ERR to PS_OK and an empty message. */
void ps_error_clear(ps_error *err);

/* Process exit status for CODE: 2 for bad input and key problems (the
 * caller can fix them), 75 (EX_TEMPFAIL) when a lock is busy (retry
 * later), 1 for everything else, 0 for PS_OK. */
int ps_error_exit_status(ps_code code);

/* Short stable name of CODE for --json output ("input", "key", ...). */
const char *ps_code_name(ps_code code);

#ifdef __cplusplus
}
#endif

#endif
