/* The clearsign frame of an upstream InRelease (ps_clearsign_split). */
#include "fuzz.h"
#include "ps_pgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_buf text = {0}, sig = {0};
    ps_error err = {0};
    if (ps_clearsign_split(data, size, &text, &sig, "fuzz", &err) == PS_OK &&
        (text.len > size || sig.len > size + 64))
        abort(); /* the parts never grow past the input */
    ps_buf_free(&text), ps_buf_free(&sig);
    return 0;
}
