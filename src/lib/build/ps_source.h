/* ps_source.h - a package source tree: its version, build settings and
 * template rendering.  Shared by the deb and rpm builders so that both
 * formats take one version from one place and the same settings.
 *
 * SOURCE-DIR layout:
 *   debian/changelog    the version (top entry) and its date
 *   pkgsmith.settings   optional deb822 stanza declaring build-time
 *                       settings and their defaults ("loki_host: localhost")
 *   debian/, specs/     the package definitions
 *
 * Settings: "version" and "release" (from the changelog: 1.2.3-4 gives
 * version 1.2.3 and release 4) plus every name in pkgsmith.settings.
 * `--set NAME=VALUE` may only override a declared name.
 */
#ifndef PS_SOURCE_H
#define PS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_util.h"

typedef struct ps_source ps_source;

/* Reads DIR's changelog and settings.  SOURCE_DATE_EPOCH comes from the
 * environment variable when set, else from the changelog entry's date. */
ps_source *ps_source_open(const char *dir, ps_error *err);
void ps_source_free(ps_source *src);

const char *ps_source_dir(const ps_source *src);

/* Overrides a declared setting; PS_EINPUT for an unknown name or a value
 * with a control character (a newline could inject into control files). */
ps_code ps_source_set(ps_source *src, const char *name, const char *value,
                      ps_error *err);

/* The current value of NAME, or NULL when NAME is not declared. */
const char *ps_source_get(const ps_source *src, const char *name);
size_t ps_source_nsettings(const ps_source *src);
const char *ps_source_name_at(const ps_source *src, size_t i);
const char *ps_source_value_at(const ps_source *src, size_t i);

/* The Debian version: version-release (or just version when release is
 * empty). */
const char *ps_source_deb_version(const ps_source *src);
int64_t ps_source_epoch(const ps_source *src);

/* Replaces every @NAME@ of a declared setting in TEXT, appending to OUT.
 * Other @...@ sequences are left alone. */
ps_code ps_source_render(const ps_source *src, const char *text, size_t len,
                         ps_buf *out, ps_error *err);

/* Reads RELPATH (relative to the source dir) into OUT; when RELPATH ends
 * in ".in" the content is rendered.  Errors name the path. */
ps_code ps_source_read(const ps_source *src, const char *relpath, ps_buf *out,
                       ps_error *err);

#endif
