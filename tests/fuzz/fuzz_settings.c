/* The settings and template renderer of a package source: the input up
 * to the first NUL is pkgsmith.settings (or, with a leading '!', a
 * `--set` NAME=VALUE list), the rest is a template (*.in) to render. */
#include "fuzz.h"
#include "ps_source.h"

static const char CHANGELOG[] =
    "demo (1.2.3-4) unstable; urgency=medium\n\n  * Fuzz.\n\n"
    " -- A B <a@example.test>  Tue, 24 Nov 2026 12:00:00 +0000\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t head = nul ? (size_t)(nul - data) : size;
    const char *tmpl = nul ? (const char *)nul + 1 : "";
    size_t tlen = nul ? size - head - 1 : 0;
    free(fuzz_file("debian", "", 0)); /* makes the directory */
    char *dir = ps_strdupf("%s/src", fuzz_dir);
    char *deb = ps_strdupf("%s/debian", dir);
    ps_error err = {0};
    ps_mkdir_p(deb, 0755, NULL);
    char *cl = ps_strdupf("%s/changelog", deb), *st = ps_strdupf("%s/pkgsmith.settings", dir);
    ps_file_write_unsynced(cl, CHANGELOG, sizeof CHANGELOG - 1, NULL);
    int sets = head && data[0] == '!';
    ps_file_write_unsynced(st, sets ? "greeting: hi\n" : (const char *)data, sets ? 13 : head, NULL);
    ps_source *src = ps_source_open(dir, &err);
    if (src && sets) {
        char *list = strndup((const char *)data + 1, head - 1), *save = NULL;
        for (char *kv = strtok_r(list, "\n", &save); kv; kv = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(kv, '=');
            if (eq)
                *eq = '\0', (void)ps_source_set(src, kv, eq + 1, &err);
        }
        free(list);
    }
    ps_buf out = {0};
    if (src)
        (void)ps_source_render(src, tmpl, tlen, &out, &err);
    ps_buf_free(&out);
    ps_source_free(src);
    free(dir), free(deb), free(cl), free(st);
    return 0;
}
