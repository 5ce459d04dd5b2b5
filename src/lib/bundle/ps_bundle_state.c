/* ps_bundle_state.c - ROOT/bundles/: the origin id and the log of every
 * export and import (`bundle list`), each rewritten crash-safely. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_bundle_priv.h"

char *ps_bundle_path(const char *root, const char *rel)
{
    return ps_strdupf("%s/bundles/%s", root, rel);
}

static ps_code random_hex(char out[33], ps_error *err)
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof b)
        return ps_error_set(err, PS_EIO, "/dev/urandom: %s", strerror(errno));
    ps_hex_encode(b, sizeof b, out);
    return PS_OK;
}

ps_code ps_bundle_origin(const char *root, char out[33], ps_error *err)
{
    char *dir = ps_bundle_path(root, ""), *path = ps_bundle_path(root, "origin");
    ps_buf b = {0};
    ps_code rc = dir && path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_path_exists(path)) {
        rc = ps_file_read(path, &b, err);
        if (rc == PS_OK && (b.len < 32 || strspn((char *)b.data, "0123456789abcdef") < 32))
            rc = ps_error_set(err, PS_EINPUT, "%s: not an origin id", path);
        if (rc == PS_OK)
            memcpy(out, b.data, 32), out[32] = '\0';
    } else if (rc == PS_OK) {
        char line[34];
        rc = ps_mkdir_p(dir, 0755, err);
        if (rc == PS_OK)
            rc = random_hex(out, err);
        snprintf(line, sizeof line, "%s\n", out);
        if (rc == PS_OK)
            rc = ps_file_write_atomic(path, line, 33, 0644, err);
    }
    ps_buf_free(&b);
    free(dir), free(path);
    return rc;
}

/* kind origin generation base time members bytes status file */
static int parse_event(char *line, ps_bundle_event *ev)
{
    char *f[9], *save = NULL;
    size_t n = 0;
    for (char *t = strtok_r(line, "\t", &save); t && n < 9; t = strtok_r(NULL, "\t", &save))
        f[n++] = t;
    if (n != 9 || strlen(f[0]) >= sizeof ev->kind || strlen(f[1]) >= sizeof ev->origin ||
        strlen(f[7]) >= sizeof ev->status)
        return 0;
    memset(ev, 0, sizeof *ev);
    strcpy(ev->kind, f[0]), strcpy(ev->origin, f[1]), strcpy(ev->status, f[7]);
    ev->generation = strtol(f[2], NULL, 10), ev->base = strtol(f[3], NULL, 10);
    ev->time = strtol(f[4], NULL, 10), ev->members = strtoul(f[5], NULL, 10);
    ev->bytes = strtoull(f[6], NULL, 10);
    snprintf(ev->file, sizeof ev->file, "%s", f[8]);
    return 1;
}

ps_code ps_bundle_list(const char *root, ps_bundle_event **out, size_t *n, ps_error *err)
{
    char *path = ps_bundle_path(root, "log");
    ps_buf b = {0};
    *out = NULL, *n = 0;
    ps_code rc = path ? PS_OK : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK && ps_path_exists(path))
        rc = ps_file_read(path, &b, err);
    size_t lines = 0, lineno = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    *out = calloc(lines + 1, sizeof **out);
    if (rc == PS_OK && *out == NULL)
        rc = ps_error_set(err, PS_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *l = rc == PS_OK && b.data ? strtok_r((char *)b.data, "\n", &save) : NULL;
         rc == PS_OK && l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (!parse_event(l, &(*out)[*n]))
            rc = ps_error_set(err, PS_EINPUT, "%s:%zu: not a bundle log line", path, lineno);
        else
            (*n)++;
    }
    if (rc != PS_OK)
        free(*out), *out = NULL, *n = 0;
    ps_buf_free(&b);
    free(path);
    return rc;
}

const ps_bundle_event *ps_bundle_log_find(const ps_bundle_event *evs, size_t n,
                                          const char *kind, const char *origin, long gen)
{
    for (size_t i = n; i-- > 0;)
        if (strcmp(evs[i].kind, kind) == 0 && strcmp(evs[i].origin, origin) == 0 &&
            evs[i].generation == gen)
            return &evs[i];
    return NULL;
}

static ps_code put_line(ps_buf *b, const ps_bundle_event *e, ps_error *err)
{
    char file[sizeof e->file];
    snprintf(file, sizeof file, "%s", e->file);
    for (char *c = file; *c; c++)
        if (*c == '\t' || *c == '\n')
            *c = ' ';
    return ps_buf_appendf(b, err, "%s\t%s\t%ld\t%ld\t%ld\t%zu\t%llu\t%s\t%s\n", e->kind,
                          e->origin, e->generation, e->base, e->time, e->members,
                          (unsigned long long)e->bytes, e->status, file[0] ? file : "-");
}

ps_code ps_bundle_log_put(const char *root, const ps_bundle_event *ev, ps_error *err)
{
    ps_bundle_event *evs = NULL;
    size_t n = 0;
    ps_buf b = {0};
    char *path = ps_bundle_path(root, "log"), *dir = ps_bundle_path(root, "");
    ps_code rc = path && dir ? ps_mkdir_p(dir, 0755, err)
                             : ps_error_set(err, PS_ENOMEM, "out of memory");
    if (rc == PS_OK)
        rc = ps_bundle_list(root, &evs, &n, err);
    /* An import's row moves from pending to done; every export is a row
     * of its own (the same generation on a second medium, or split). */
    int replaces = strcmp(ev->kind, "import") == 0;
    for (size_t i = 0; rc == PS_OK && i < n; i++)
        if (!replaces || strcmp(evs[i].kind, ev->kind) != 0 ||
            strcmp(evs[i].origin, ev->origin) != 0 || evs[i].generation != ev->generation)
            rc = put_line(&b, &evs[i], err);
    if (rc == PS_OK)
        rc = put_line(&b, ev, err);
    if (rc == PS_OK)
        rc = ps_file_write_atomic(path, b.data, b.len, 0644, err);
    ps_buf_free(&b);
    free(evs), free(path), free(dir);
    return rc;
}

void ps_bundle_result_free(ps_bundle_result *r)
{
    if (r)
        ps_strv_free(&r->outputs);
}
