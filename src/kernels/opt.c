/* Which optimized kernel tables this CPU can run. Optimized families add
 * themselves here, guarded by the CPU feature they need. */
#include "kernels/opt.h"

static const ld_opt_kernel *const none[] = {NULL};

const ld_opt_kernel *const *ld_opt_families(void)
{
    return none;
}
