/* Which optimized kernel tables this CPU can run. Optimized families add
 * themselves here, guarded by the CPU feature they need. The answer depends
 * only on the CPU, so it is computed on each call (cheap: once per op at
 * session creation) rather than cached in mutable global state. */
#include "kernels/opt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/x86/float_ew.h"
#include "kernels/x86/move.h"
#include "kernels/x86/x86.h"
static const ld_opt_kernel *const avx2[] = {ld_avx2_conv8, ld_avx2_float, ld_avx2_ew8, ld_avx2_move,
                                               ld_avx2_postprocess, NULL};
#endif

static const ld_opt_kernel *const none[] = {NULL};

static int avx2_fma(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const ld_opt_kernel *const *ld_opt_families(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (avx2_fma())
        return avx2;
#endif
    return none;
}

int ld_opt_fuse(ld_op_ctx *producer, const ld_kernel *producer_kernel, ld_op_ctx *consumer, ld_alloc *alloc,
                const ld_kernel **kernel, const char **isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!avx2_fma())
        return 0;
    int r = ld_fuse_silu(producer, consumer, alloc, kernel);
    if (r == 0)
        r = ld_fuse_conv_silu(producer, producer_kernel, consumer, alloc, kernel);
    if (r == 0)
        r = ld_fuse_binary_act_f32(producer, consumer, alloc, kernel);
    if (r == 0)
        r = ld_fuse_add_prelu_f32(producer, consumer, alloc, kernel);
    if (r > 0)
        *isa = "avx2";
    return r;
#else
    (void)producer, (void)producer_kernel, (void)consumer, (void)alloc, (void)kernel, (void)isa;
#endif
    return 0;
}
