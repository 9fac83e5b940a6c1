/* Error reporting shared by every layer: format a message into the caller's
 * leandet_error (which may be NULL) and hand back the status so callers can
 * write `return ld_fail(err, LEANDET_ERR_MODEL, "...", ...);`. */
#ifndef LD_CORE_ERROR_H
#define LD_CORE_ERROR_H

#include "leandet.h"

#if defined(__GNUC__)
#define LD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LD_PRINTF(a, b)
#endif

leandet_status ld_fail(leandet_error *err, leandet_status st, const char *fmt, ...) LD_PRINTF(3, 4);

/* Prepend context ("model.tflite: ") to an existing message, keeping status. */
leandet_status ld_fail_prefix(leandet_error *err, leandet_status st, const char *fmt, ...) LD_PRINTF(3, 4);

#endif
