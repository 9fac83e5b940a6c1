/* Optimized kernel families. Each family file exports one table of
 * ld_opt_kernel; ld_opt_families() lists the tables usable on this CPU
 * (detected once, without global mutable state: the CPU does not change). */
#ifndef LD_KERNELS_OPT_H
#define LD_KERNELS_OPT_H

#include "kernels/kernel.h"

/* NULL-terminated list of optimized tables for the running CPU. */
const ld_opt_kernel *const *ld_opt_families(void);

/* Fusion of two prepared ops into one kernel (e.g. LOGISTIC + MUL = SiLU).
 * `producer`'s only output feeds `consumer` alone (the caller checks this
 * in the graph). On success the consumer's state is replaced, *kernel and
 * *isa receive the kernel that does both (its eval runs in the consumer's
 * place; its prepare is never called) and the producer must be skipped;
 * returns 1. 0: not fused, nothing changed. -1: out of memory while
 * fusing (nothing changed; the caller fails like any allocation). */
int ld_opt_fuse(ld_op_ctx *producer, const ld_kernel *producer_kernel, ld_op_ctx *consumer, ld_alloc *alloc,
                const ld_kernel **kernel, const char **isa);

#endif
