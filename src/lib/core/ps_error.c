#include "ps_error.h"

#include <stdarg.h>
#include <stdio.h>

ps_code ps_error_set(ps_error *err, ps_code code, const char *fmt, ...)
{
    if (err == NULL || err->code != PS_OK)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void ps_error_clear(ps_error *err)
{
    if (err == NULL)
        return;
    err->code = PS_OK;
    err->msg[0] = '\0';
}

int ps_error_exit_status(ps_code code)
{
    switch (code) {
    case PS_OK: return 0;
    case PS_EINPUT:
    case PS_EKEY: return 2;
    case PS_EBUSY: return 75;
    default: return 1;
    }
}

const char *ps_code_name(ps_code code)
{
    switch (code) {
    case PS_OK: return "ok";
    case PS_EINPUT: return "input";
    case PS_EKEY: return "key";
    case PS_EIO: return "io";
    case PS_ENOMEM: return "nomem";
    case PS_ELIB: return "library";
    case PS_EVERIFY: return "verify";
    case PS_EBUSY: return "busy";
    }
    return "unknown";
}
