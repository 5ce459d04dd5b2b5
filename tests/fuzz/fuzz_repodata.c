/* rpm repodata from upstream: repomd.xml and primary.xml as the mirror
 * reads them (createrepo_c's parsers, libxml2 underneath) and the path
 * checks applied to every location they give.  The first byte picks
 * the document. */
#include <createrepo_c/createrepo_c.h>

#include "fuzz.h"
#include "ps_mirror_priv.h"

static int on_pkg(cr_Package *pkg, void *ud, GError **gerr)
{
    (void)ud, (void)gerr;
    ps_error err = {0};
    if (pkg->location_href)
        (void)ps_mirror_check_path("fuzz", pkg->location_href, &err);
    cr_package_free(pkg);
    return CR_CB_RET_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *path = fuzz_file("doc.xml", data + 1, size - 1);
    GError *gerr = NULL;
    ps_error err = {0};
    if (ps_mirror_xml_check(path, "fuzz", &err) != PS_OK) {
        free(path);
        return 0; /* what the mirror refuses never reaches createrepo_c */
    }
    if (data[0] & 1) {
        cr_Repomd *md = cr_repomd_new();
        if (cr_xml_parse_repomd(path, md, NULL, NULL, &gerr) == CRE_OK)
            for (GSList *l = md->records; l; l = l->next) {
                cr_RepomdRecord *r = l->data;
                if (r->location_href)
                    (void)ps_mirror_check_path("fuzz", r->location_href, &err);
            }
        cr_repomd_free(md);
    } else {
        (void)cr_xml_parse_primary(path, NULL, NULL, on_pkg, NULL, NULL, NULL, data[0] & 2, &gerr);
    }
    if (gerr)
        g_error_free(gerr);
    free(path);
    return 0;
}
