/* Package files from outside: a .deb (ar, control.tar, control fields)
 * or an .rpm (lead, signature header, header: librpm, and our own span
 * parser in ps_rpm_sign_file), as `repo add` and `sign --strip` read them. */
#include "fuzz.h"
#include "ps_pkginfo.h"
#include "ps_rpm.h"
#include "ps_deb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init)
        ps_pkginfo_global_init(), init = 1;
    int rpm = size >= 4 && memcmp(data, "\xed\xab\xee\xdb", 4) == 0;
    char *path = fuzz_file(rpm ? "x.rpm" : "x.deb", data, size);
    char *dest = ps_strdupf("%s.out", path);
    ps_error err = {0};
    ps_pkginfo *p = ps_pkginfo_read(path, NULL, 0, &err);
    ps_buf rec = {0};
    if (p)
        (void)ps_pkginfo_record(p, "pool/x", &rec, &err);
    ps_buf_free(&rec);
    ps_pkginfo_free(p);
    ps_error_clear(&err);
    if (rpm)
        (void)ps_rpm_sign_file(path, NULL, dest, &err);
    else
        (void)ps_deb_sign_file(path, NULL, dest, &err);
    free(path), free(dest);
    return 0;
}
