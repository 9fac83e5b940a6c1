/* The operator table: every kernel family contributes a table terminated by
 * LD_KERNEL_TABLE_END; lookup is a linear scan done once per op at session
 * creation, never during invoke. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/opt.h"
#include "kernels/ref/ref.h"

static const ld_kernel *const families[] = {
    ld_ref_conv, ld_ref_fully_connected, ld_ref_pool, ld_ref_arith, ld_ref_activation,
    ld_ref_softmax, ld_ref_quantize, ld_ref_reshape, ld_ref_concat, ld_ref_transpose,
    ld_ref_strided_slice, ld_ref_pad, ld_ref_mean, ld_ref_resize, ld_ref_depth_to_space,
    ld_ref_densify, ld_ref_detection_postprocess,
};

const ld_kernel *ld_kernel_find(const ld_op_desc *op)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (const ld_kernel *k = families[f]; k->builtin >= 0; k++) {
            if (k->builtin != op->builtin)
                continue;
            if (op->builtin != LD_OP_CUSTOM)
                return k;
            if (op->custom_name && k->custom_name && strcmp(op->custom_name, k->custom_name) == 0)
                return k;
        }
    }
    return NULL;
}

const ld_kernel *ld_kernel_select(const ld_op_ctx *c, ld_backend backend, const char **isa)
{
    if (backend == LD_BACKEND_AUTO) {
        for (const ld_opt_kernel *const *f = ld_opt_families(); *f; f++) {
            for (const ld_opt_kernel *k = *f; k->k.builtin >= 0; k++) {
                if (k->k.builtin == c->op->builtin && k->accepts && k->accepts(c)) {
                    if (isa)
                        *isa = k->isa;
                    return &k->k;
                }
            }
        }
    }
    if (isa)
        *isa = "ref";
    return ld_kernel_find(c->op);
}
