/* deb822 as we read it from outside: Packages and Release stanzas, the
 * .mirror and repo.conf files (libapt-pkg through ps_apt), and the
 * relation and version checks run on their values. */
#include "fuzz.h"
#include "ps_apt.h"

static void on_rel(void *ud, size_t group, const char *name, const char *op, const char *ver)
{
    (void)ud, (void)group, (void)name, (void)op, (void)ver;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_error err = {0};
    ps_deb822 *d = ps_deb822_parse_mem((const char *)data, size, "fuzz", &err);
    for (size_t i = 0; d && i < ps_deb822_count(d); i++) {
        (void)ps_deb822_line(d, i);
        (void)ps_deb822_get(d, i, "Package");
        for (size_t f = 0; f < ps_deb822_nfields(d, i); f++) {
            const char *v = ps_deb822_value_at(d, i, f), *bad = NULL;
            (void)ps_deb822_field_line(d, i, ps_deb822_name_at(d, i, f));
            (void)ps_apt_relations_valid(v, &bad);
            (void)ps_apt_relations_each(v, on_rel, NULL);
            if (ps_apt_version_valid(v))
                (void)ps_apt_version_cmp(v, "1.0-1");
        }
    }
    ps_deb822_free(d);
    /* the streaming reader of Packages files */
    char *path = fuzz_file("Packages", data, size);
    ps_deb822_reader *r = ps_deb822_reader_open(path, 1 << 20, &err);
    for (ps_deb822 *s; r && (s = ps_deb822_reader_next(r, &err)) != NULL;)
        ps_deb822_free(s);
    ps_deb822_reader_free(r);
    free(path);
    return 0;
}
