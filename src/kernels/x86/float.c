#include "kernels/x86/x86.h"

/* Placeholder: filled in by the optimized implementation. */
const ld_opt_kernel ld_avx2_float[] = { LD_OPT_KERNEL_TABLE_END };
