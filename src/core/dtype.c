#include "leandet.h"
#include "model/model.h"

const char *leandet_dtype_name(leandet_dtype t)
{
    switch (t) {
    case LEANDET_FLOAT32: return "float32";
    case LEANDET_FLOAT16: return "float16";
    case LEANDET_INT32: return "int32";
    case LEANDET_UINT8: return "uint8";
    case LEANDET_INT64: return "int64";
    case LEANDET_STRING: return "string";
    case LEANDET_BOOL: return "bool";
    case LEANDET_INT16: return "int16";
    case LEANDET_INT8: return "int8";
    }
    return "unknown";
}

size_t leandet_dtype_size(leandet_dtype t)
{
    switch (t) {
    case LEANDET_FLOAT32: case LEANDET_INT32: return 4;
    case LEANDET_FLOAT16: case LEANDET_INT16: return 2;
    case LEANDET_UINT8: case LEANDET_INT8: case LEANDET_BOOL: return 1;
    case LEANDET_INT64: return 8;
    case LEANDET_STRING: return 0;
    }
    return 0;
}

int ld_shape_equal(const ld_shape *a, const ld_shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int k = 0; k < a->rank; k++)
        if (a->d[k] != b->d[k])
            return 0;
    return 1;
}

size_t ld_shape_count(const ld_shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= (size_t)(s->d[i] < 0 ? 0 : s->d[i]);
    return n;
}
