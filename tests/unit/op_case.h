/* One operator run by hand on tensors the test owns, for the sweeps that
 * compare an optimized kernel with the reference (test_opt_ew8.c,
 * test_opt_move.c): tensors with their own description, quantization and
 * random contents, and a context whose prepare, eval and free are checked
 * (eval allocates nothing, free leaves nothing behind). */
#ifndef LD_TEST_OP_CASE_H
#define LD_TEST_OP_CASE_H

#include <stdint.h>

#include "kernels/kernel.h"
#include "runtime/threadpool.h"

#define OC_MAX_INPUTS 32

/* The random stream behind tt_make's contents (xorshift32). */
uint32_t oc_rnd(void);
void oc_seed(uint32_t seed);

typedef struct tt {
    ld_tensor t;
    ld_tensor_desc d;
    ld_quant q;
    float scale;
    int32_t zp;
} tt;

/* Random bytes (floats: finite, in [-8, 8)); 8-bit types get (scale, zp). */
void tt_make(tt *x, ld_dtype type, int rank, const int *dims, float scale, int32_t zp);
/* A constant int32 tensor holding v. */
void tt_const_ints(tt *x, const int32_t *v, int rank, const int *dims);
void tt_free(tt *x);

typedef struct run {
    ld_op_ctx c;
    ld_alloc al;
    leandet_error err;
    ld_tensor *in[OC_MAX_INPUTS], *out[1];
    ld_tensor o;              /* the output: out's type and quantization, shaped by prepare */
} run;

void run_init(run *r, const ld_op_desc *op, ld_tensor **ins, int n_in, const tt *out);
/* prepare, then an output buffer of 0xA5 bytes (every byte must be written). */
leandet_status run_prepare(run *r, const ld_kernel *k);
leandet_status run_eval(run *r, const ld_kernel *k, ld_pool *pool);
void run_free(run *r);

#endif
