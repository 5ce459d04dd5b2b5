/* The bundle manifest, read from removable media.  What parses must
 * write back to text that parses to the same text. */
#include "fuzz.h"
#include "ps_bundle_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_error err = {0};
    ps_bundle_manifest *m = ps_bundle_manifest_parse(data, size, "fuzz", &err);
    if (m == NULL)
        return 0;
    ps_buf a = {0}, b = {0};
    if (ps_bundle_manifest_write(m, &a, &err) != PS_OK)
        abort();
    ps_bundle_manifest *again = ps_bundle_manifest_parse(a.data, a.len, "again", &err);
    if (again == NULL || ps_bundle_manifest_write(again, &b, &err) != PS_OK || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    for (size_t i = 0; i < ps_bundle_manifest_nmembers(m); i++)
        if (!ps_bundle_path_ok(ps_bundle_manifest_member(m, i, NULL, NULL)))
            abort();
    ps_buf_free(&a), ps_buf_free(&b);
    ps_bundle_manifest_free(again);
    ps_bundle_manifest_free(m);
    return 0;
}
