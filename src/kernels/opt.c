/* Which optimized kernel tables this CPU can run. Optimized families add
 * themselves here, guarded by the CPU feature they need. The answer depends
 * only on the CPU, so it is computed on each call (cheap: once per op at
 * session creation) rather than cached in mutable global state. */
#include "kernels/opt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/x86/x86.h"
static const ld_opt_kernel *const avx2[] = {ld_avx2_conv8, ld_avx2_float, ld_avx2_ew8, NULL};
#endif

static const ld_opt_kernel *const none[] = {NULL};

const ld_opt_kernel *const *ld_opt_families(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return avx2;
#endif
    return none;
}
