#include "kernels/x86/float_common.h"

const int32_t ld_f32_lane_mask[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

int ld_f32_has_avx512(void)
{
#if defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

leandet_status ld_f32_ref_prepare(ld_op_ctx *c)
{
    const ld_kernel *ref = ld_kernel_find(c->op);
    if (!ref)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "has no reference kernel");
    leandet_status st = ref->prepare(c);
    ld_free(c->alloc, c->state);
    c->state = NULL;
    c->scratch_bytes = 0;
    return st;
}

int ld_f32_parts(const ld_pool *pool, size_t n, size_t grain, int per_thread)
{
    const int threads = ld_pool_threads(pool);
    if (threads <= 1 || n == 0)
        return 1;
    size_t most = grain ? n / grain : n;
    size_t want = (size_t)threads * (size_t)(per_thread > 0 ? per_thread : 1);
    if (most < 1)
        most = 1;
    return (int)(want < most ? want : most);
}
