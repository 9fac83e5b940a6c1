#include "kernels/ref/ref.h"

/* Placeholder: filled in by the kernel's implementation. */
const ld_kernel ld_ref_quantize[] = { LD_KERNEL_TABLE_END };
