/* ps_apt.h - the C face of libapt-pkg (implemented in ps_apt.cc).
 *
 * deb822 parsing (debian/control, Packages, Release, .sources-style
 * configs) and Debian version comparison are libapt-pkg's job; this shim
 * copies results into C-owned memory so no C++ object crosses the line.
 */
#ifndef PS_APT_H
#define PS_APT_H

#include <stddef.h>

#include "ps_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_deb822 ps_deb822;

/* Parses a deb822 file ('#' comment lines allowed).  Errors name PATH and
 * the line. */
ps_deb822 *ps_deb822_parse_file(const char *path, ps_error *err);
/* Same for text in memory; NAME is used in error messages. */
ps_deb822 *ps_deb822_parse_mem(const char *data, size_t len, const char *name,
                               ps_error *err);
void ps_deb822_free(ps_deb822 *d);

/* Number of stanzas. */
size_t ps_deb822_count(const ps_deb822 *d);
/* Value of FIELD (case-insensitive) in stanza I, or NULL.  Leading and
 * trailing whitespace of the whole value is stripped; continuation lines
 * are kept as written ("\n " separated). */
const char *ps_deb822_get(const ps_deb822 *d, size_t i, const char *field);
/* Fields of stanza I in file order. */
size_t ps_deb822_nfields(const ps_deb822 *d, size_t i);
const char *ps_deb822_name_at(const ps_deb822 *d, size_t i, size_t f);
const char *ps_deb822_value_at(const ps_deb822 *d, size_t i, size_t f);
/* 1-based line of stanza I, and of FIELD in it (the stanza's line when
 * FIELD is absent). */
unsigned ps_deb822_line(const ps_deb822 *d, size_t i);
unsigned ps_deb822_field_line(const ps_deb822 *d, size_t i, const char *field);
/* PS_OK when every field of stanza I is in KNOWN (NULL-terminated,
 * compared case-insensitively); otherwise PS_EINPUT naming PATH, the line
 * and the first unknown field.  Configuration files (repo, mirror) refuse
 * fields they do not know, so that a typo is not silently ignored. */
ps_code ps_deb822_check_fields(const ps_deb822 *d, size_t i, const char *const *known,
                               const char *path, ps_error *err);

/* A Packages-style file read one stanza at a time, so memory does not
 * grow with the file: plain, .gz or .xz (by extension), decompressed by
 * libapt's FileFd.  LIMIT > 0 caps the uncompressed bytes read; more is
 * an error naming PATH (a decompression bomb stops there). */
typedef struct ps_deb822_reader ps_deb822_reader;
ps_deb822_reader *ps_deb822_reader_open(const char *path, unsigned long long limit,
                                        ps_error *err);
/* The next stanza as a one-stanza ps_deb822 (the caller frees it); NULL
 * at the end (ERR untouched) or on an error (ERR set). */
ps_deb822 *ps_deb822_reader_next(ps_deb822_reader *r, ps_error *err);
void ps_deb822_reader_free(ps_deb822_reader *r);

/* One alternative of a Depends-style field: GROUP counts the
 * comma-separated relations, alternatives ("a | b") share it.  OP is
 * "", "<<", "<=", "=", ">=", ">>" or "!="; ARCH qualifiers are stripped. */
typedef void (*ps_apt_relation_cb)(void *ud, size_t group, const char *name, const char *op,
                                   const char *version);
/* Calls CB for each alternative of VALUE; 0 when VALUE does not parse. */
int ps_apt_relations_each(const char *value, ps_apt_relation_cb cb, void *ud);
/* Non-zero when VERSION satisfies "OP REF" (OP as above; "" always). */
int ps_apt_version_satisfies(const char *version, const char *op, const char *ref);

/* Debian version order (libapt-pkg's debVS): <0, 0, >0. */
int ps_apt_version_cmp(const char *a, const char *b);
/* Non-zero when V is a syntactically valid Debian version. */
int ps_apt_version_valid(const char *v);
/* Non-zero when VALUE parses as a Depends-style relation list
 * ("a (>= 1) | b, c"); on failure *BAD points into VALUE near the error. */
int ps_apt_relations_valid(const char *value, const char **bad);

/* The field order of a Packages stanza, as apt-ftparchive and dak write
 * it (libapt's TFRewritePackageOrder); NULL-terminated. */
const char *const *ps_apt_package_field_order(void);

#ifdef __cplusplus
}
#endif

#endif
