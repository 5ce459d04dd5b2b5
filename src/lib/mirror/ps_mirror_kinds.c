/* ps_mirror_kinds.c - where the upstream kinds register: the table a
 * .mirror file's Type: is looked up in.  A new kind is one more line
 * here (see ps_mirror_kind.h). */
#include <stdio.h>
#include <string.h>

#include "ps_mirror_kind.h"

static const ps_mirror_kind *const KINDS[] = {
    &ps_mirror_kind_apt,
    &ps_mirror_kind_rpm,
};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])

const ps_mirror_kind *ps_mirror_kind_find(const char *name)
{
    for (size_t i = 0; name && i < NKINDS; i++)
        if (strcmp(KINDS[i]->name, name) == 0)
            return KINDS[i];
    return NULL;
}

void ps_mirror_kind_names(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NKINDS && used < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == NKINDS ? " or " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", sep, KINDS[i]->name);
        used += n > 0 ? (size_t)n : 0;
    }
}
