#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

leandet_status ld_fail(leandet_error *err, leandet_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

leandet_status ld_fail_prefix(leandet_error *err, leandet_status st, const char *fmt, ...)
{
    if (err) {
        char prefix[256], old[sizeof err->message];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->message, sizeof old);
        old[sizeof old - 1] = '\0';
        /* Truncation is acceptable: the message is for people. */
        size_t np = strlen(prefix), no = strlen(old), cap = sizeof err->message - 1;
        if (np > cap)
            np = cap;
        if (no > cap - np)
            no = cap - np;
        memcpy(err->message, prefix, np);
        memcpy(err->message + np, old, no);
        err->message[np + no] = '\0';
        err->status = st;
    }
    return st;
}

const char *leandet_status_name(leandet_status s)
{
    switch (s) {
    case LEANDET_OK: return "ok";
    case LEANDET_ERR_ARGUMENT: return "argument";
    case LEANDET_ERR_IO: return "io";
    case LEANDET_ERR_MODEL: return "model";
    case LEANDET_ERR_UNSUPPORTED: return "unsupported";
    case LEANDET_ERR_IMAGE: return "image";
    case LEANDET_ERR_NO_MEMORY: return "no-memory";
    case LEANDET_ERR_BUDGET: return "budget";
    case LEANDET_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
