#include "op_case.h"

#include <stdlib.h>
#include <string.h>

#include "harness.h"

static uint32_t state = 0x2545F491u;

uint32_t oc_rnd(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

void oc_seed(uint32_t seed)
{
    state = seed ? seed : 1;
}

void tt_make(tt *x, ld_dtype type, int rank, const int *dims, float scale, int32_t zp)
{
    memset(x, 0, sizeof *x);
    x->d.name = "t";
    x->t.desc = &x->d;
    x->scale = scale;
    x->zp = zp;
    x->q.count = type == LEANDET_FLOAT32 ? 0 : 1;
    x->q.scale = &x->scale;
    x->q.zero_point = &x->zp;
    x->t.quant = &x->q;
    x->t.type = type;
    x->t.shape.rank = rank;
    size_t n = 1, es = leandet_dtype_size(type);
    for (int i = 0; i < rank; i++)
        n *= (size_t)(x->t.shape.d[i] = dims[i]);
    x->t.bytes = n * es;
    uint8_t *p = malloc(x->t.bytes ? x->t.bytes : 1);
    for (size_t i = 0; i < x->t.bytes; i++)
        p[i] = (uint8_t)oc_rnd();
    if (type == LEANDET_FLOAT32)
        for (size_t i = 0; i < n; i++)
            ((float *)p)[i] = 16.0f * ((float)(oc_rnd() & 0xffffff) / 16777216.0f) - 8.0f;
    x->t.data = p;
}

void tt_const_ints(tt *x, const int32_t *v, int rank, const int *dims)
{
    tt_make(x, LEANDET_INT32, rank, dims, 0.0f, 0);
    memcpy(x->t.data, v, x->t.bytes);
    x->t.is_const = 1;
}

void tt_free(tt *x)
{
    free(x->t.data);
    x->t.data = NULL;
}

void run_init(run *r, const ld_op_desc *op, ld_tensor **ins, int n_in, const tt *out)
{
    memset(r, 0, sizeof *r);
    ld_alloc_init(&r->al, NULL);
    for (int i = 0; i < n_in && i < OC_MAX_INPUTS; i++)
        r->in[i] = ins[i];
    r->o = out->t;
    r->o.data = NULL;
    r->o.is_const = 0;
    r->o.shape.rank = 1;
    r->o.shape.d[0] = 12345; /* prepare must write it */
    r->out[0] = &r->o;
    r->c.op = op;
    r->c.index = 5;
    r->c.n_in = n_in;
    r->c.n_out = 1;
    r->c.in = r->in;
    r->c.out = r->out;
    r->c.alloc = &r->al;
    r->c.err = &r->err;
}

leandet_status run_prepare(run *r, const ld_kernel *k)
{
    leandet_status st = k->prepare(&r->c);
    if (st == LEANDET_OK) {
        r->o.bytes = ld_shape_count(&r->o.shape) * leandet_dtype_size(r->o.type);
        r->o.data = malloc(r->o.bytes ? r->o.bytes : 1);
        memset(r->o.data, 0xA5, r->o.bytes);
    }
    return st;
}

leandet_status run_eval(run *r, const ld_kernel *k, ld_pool *pool)
{
    const long before = r->al.count;
    r->c.alloc = NULL;
    r->c.pool = pool;
    leandet_status st = k->eval(&r->c);
    CHECK(r->al.count == before); /* eval allocates nothing */
    r->c.alloc = &r->al;
    return st;
}

void run_free(run *r)
{
    ld_free(&r->al, r->c.state);
    free(r->o.data);
    CHECK(r->al.current == 0);
}
