/* `leandet plan --svg`: draw a planned session's arena. */
#ifndef LD_CLI_PLAN_SVG_H
#define LD_CLI_PLAN_SVG_H

#include "runtime/session_internal.h"

/* Write the SVG to `path`; 0 on success, -1 (errno set) on failure. */
int ld_plan_write_svg(const char *path, const leandet_session *s);

#endif
