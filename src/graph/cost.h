/* Arithmetic cost of one op as prepared: multiply-accumulates of the
 * convolution-like ops, which dominate detection models. Used by the plan
 * report and to rank candidate models. */
#ifndef LD_GRAPH_COST_H
#define LD_GRAPH_COST_H

#include <stdint.h>

#include "kernels/kernel.h"

/* MACs of one evaluation of the op (0 for ops without multiply-accumulates:
 * element-wise, shape, pooling, post-processing). Shapes must be prepared. */
uint64_t ld_op_macs(const ld_op_ctx *c);

#endif
