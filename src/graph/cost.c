#include "graph/cost.h"

/* Weights are [O,KH,KW,I] for CONV_2D, [1,KH,KW,O*M] for DEPTHWISE_CONV_2D
 * and [O,I] for FULLY_CONNECTED: every output element costs one MAC per
 * weight along the reduced dims. */
uint64_t ld_op_macs(const ld_op_ctx *c)
{
    if (c->n_in < 2 || c->n_out < 1 || !c->in[1] || !c->out[0])
        return 0;
    const ld_shape *w = &c->in[1]->shape;
    uint64_t per_out;
    switch (c->op->builtin) {
    case LD_OP_CONV_2D:
        if (w->rank != 4)
            return 0;
        per_out = (uint64_t)w->d[1] * (uint64_t)w->d[2] * (uint64_t)w->d[3];
        break;
    case LD_OP_DEPTHWISE_CONV_2D:
        if (w->rank != 4)
            return 0;
        per_out = (uint64_t)w->d[1] * (uint64_t)w->d[2];
        break;
    case LD_OP_FULLY_CONNECTED:
        if (w->rank != 2)
            return 0;
        per_out = (uint64_t)w->d[1];
        break;
    default:
        return 0;
    }
    return per_out * (uint64_t)ld_shape_count(&c->out[0]->shape);
}
