/* Optimized kernel families. Each family file exports one table of
 * ld_opt_kernel; ld_opt_families() lists the tables usable on this CPU
 * (detected once, without global mutable state: the CPU does not change). */
#ifndef LD_KERNELS_OPT_H
#define LD_KERNELS_OPT_H

#include "kernels/kernel.h"

/* NULL-terminated list of optimized tables for the running CPU. */
const ld_opt_kernel *const *ld_opt_families(void);

#endif
