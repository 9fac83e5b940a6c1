#include "model/flexbuffer.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* [off, off + len) lies inside a buffer of `size` bytes (overflow-safe). */
static int in_bounds(size_t size, size_t off, size_t len)
{
    return off <= size && len <= size - off;
}

static int valid_width(uint64_t w)
{
    return w == 1 || w == 2 || w == 4 || w == 8;
}

/* Little-endian unsigned read; the caller has checked the bounds. */
static uint64_t read_u(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int64_t read_i(const uint8_t *p, unsigned w)
{
    uint64_t u = read_u(p, w);
    if (w < 8 && (u >> (8 * w - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * w); /* sign-extend */
    int64_t r;
    memcpy(&r, &u, sizeof r);
    return r;
}

const char *ld_flex_type_name(int type, char *buf, size_t n)
{
    switch (type) {
    case LD_FLEX_NULL: return "null";
    case LD_FLEX_INT: return "int";
    case LD_FLEX_UINT: return "uint";
    case LD_FLEX_FLOAT: return "float";
    case LD_FLEX_KEY: return "key";
    case LD_FLEX_STRING: return "string";
    case LD_FLEX_INDIRECT_INT: return "indirect int";
    case LD_FLEX_INDIRECT_UINT: return "indirect uint";
    case LD_FLEX_INDIRECT_FLOAT: return "indirect float";
    case LD_FLEX_MAP: return "map";
    case LD_FLEX_VECTOR: return "vector";
    case LD_FLEX_BLOB: return "blob";
    case LD_FLEX_BOOL: return "bool";
    case LD_FLEX_VECTOR_BOOL: return "bool vector";
    default:
        if (type >= 11 && type <= 24)
            return "typed vector";
        snprintf(buf, n, "type %d", type);
        return buf;
    }
}

/* Follow the backward offset stored in the `w`-byte field at `field`. */
static int follow(const uint8_t *buf, size_t field, unsigned w, size_t *target)
{
    uint64_t off = read_u(buf + field, w);
    if (off > field)
        return 0;
    *target = field - (size_t)off;
    return 1;
}

leandet_status ld_flex_root_map(const uint8_t *buf, size_t size, ld_flex_map *out, leandet_error *err)
{
    char tn[16];
    if (!buf || size < 3)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer of %zu bytes is too short (at least 3 needed)", size);
    unsigned rw = buf[size - 1];
    unsigned packed = buf[size - 2];
    if (!valid_width(rw))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer root width %u is not 1, 2, 4 or 8", rw);
    if (size - 2 < rw)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer root of width %u does not fit in %zu bytes", rw, size);
    size_t root = size - 2 - rw;
    if ((int)(packed >> 2) != LD_FLEX_MAP)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer root is a %s, expected a map",
                       ld_flex_type_name((int)(packed >> 2), tn, sizeof tn));
    unsigned mw = 1u << (packed & 3);
    size_t data;
    if (!follow(buf, root, rw, &data))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer root offset points before the buffer");
    if (data < 3 * (size_t)mw)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer map header at byte %zu starts before the buffer", data);
    uint64_t count = read_u(buf + data - mw, mw);
    uint64_t kw = read_u(buf + data - 2 * (size_t)mw, mw);
    if (!valid_width(kw))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer map keys width %llu is not 1, 2, 4 or 8",
                       (unsigned long long)kw);
    /* count values of mw bytes, then count type bytes, inside the buffer */
    if (count > (size - data) / (mw + 1))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer map of %llu entries overruns the %zu-byte buffer",
                       (unsigned long long)count, size);
    size_t keys;
    if (!follow(buf, data - 3 * (size_t)mw, mw, &keys))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer map keys offset points before the buffer");
    if (keys < kw)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer keys vector at byte %zu has no room for its length", keys);
    uint64_t kcount = read_u(buf + keys - kw, (unsigned)kw);
    if (kcount != count)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer map has %llu values but %llu keys",
                       (unsigned long long)count, (unsigned long long)kcount);
    if (count > (size - keys) / kw)
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer keys vector of %llu entries overruns the buffer",
                       (unsigned long long)count);
    for (size_t i = 0; i < (size_t)count; i++) {
        size_t s;
        if (!follow(buf, keys + i * kw, (unsigned)kw, &s))
            return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer key %zu points before the buffer", i);
        if (!memchr(buf + s, 0, size - s))
            return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer key %zu is not NUL-terminated", i);
    }
    out->buf = buf;
    out->size = size;
    out->values = data;
    out->types = data + (size_t)count * mw;
    out->keys = keys;
    out->count = (size_t)count;
    out->width = mw;
    out->key_width = (unsigned)kw;
    return LEANDET_OK;
}

const char *ld_flex_map_key(const ld_flex_map *m, size_t i)
{
    size_t slot = m->keys + i * m->key_width;
    return (const char *)m->buf + (slot - (size_t)read_u(m->buf + slot, m->key_width));
}

static void null_value(const ld_flex_map *m, ld_flex_value *out)
{
    out->type = LD_FLEX_NULL;
    out->buf = m->buf;
    out->size = m->size;
    out->at = 0;
    out->parent_width = 0; /* nothing is read for NULL */
    out->width = 1;
}

void ld_flex_map_value(const ld_flex_map *m, size_t i, ld_flex_value *out)
{
    unsigned packed = m->buf[m->types + i];
    out->type = (int)(packed >> 2);
    out->buf = m->buf;
    out->size = m->size;
    out->at = m->values + i * m->width;
    out->parent_width = m->width;
    out->width = 1u << (packed & 3);
}

int ld_flex_map_find(const ld_flex_map *m, const char *key, ld_flex_value *out)
{
    /* bsearch over sorted keys with strcmp, like flexbuffers' Map lookup */
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, ld_flex_map_key(m, mid));
        if (c < 0) {
            hi = mid;
        } else if (c > 0) {
            lo = mid + 1;
        } else {
            ld_flex_map_value(m, mid, out);
            return 1;
        }
    }
    null_value(m, out);
    return 0;
}

/* Locate the bytes of a scalar: inline in its slot (parent width) or behind
 * an offset (own width). */
static leandet_status scalar_at(const ld_flex_value *v, int indirect, const uint8_t **p, unsigned *w,
                                leandet_error *err)
{
    if (!indirect) {
        *p = v->buf + v->at;
        *w = v->parent_width;
        return LEANDET_OK;
    }
    size_t t;
    if (!follow(v->buf, v->at, v->parent_width, &t))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer value at byte %zu points before the buffer", v->at);
    if (!in_bounds(v->size, t, v->width))
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer value at byte %zu (%u bytes) overruns the buffer", t,
                       v->width);
    *p = v->buf + t;
    *w = v->width;
    return LEANDET_OK;
}

static leandet_status read_float(const uint8_t *p, unsigned w, double *out, leandet_error *err)
{
    if (w == 4) {
        uint32_t u = (uint32_t)read_u(p, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        *out = f;
    } else if (w == 8) {
        uint64_t u = read_u(p, 8);
        memcpy(out, &u, sizeof *out);
    } else {
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer float of width %u (only 4 or 8 exist)", w);
    }
    return LEANDET_OK;
}

/* One numeric view of any scalar: exactly one of i/u/d is meaningful. */
typedef struct {
    enum { NUM_INT, NUM_UINT, NUM_FLOAT } kind;
    int64_t i;
    uint64_t u;
    double d;
} num;

static leandet_status read_num(const ld_flex_value *v, num *n, leandet_error *err)
{
    char tn[16];
    const uint8_t *p;
    unsigned w;
    leandet_status st;
    switch (v->type) {
    case LD_FLEX_NULL:
        n->kind = NUM_INT;
        n->i = 0;
        return LEANDET_OK;
    case LD_FLEX_INT:
    case LD_FLEX_INDIRECT_INT:
        if ((st = scalar_at(v, v->type == LD_FLEX_INDIRECT_INT, &p, &w, err)))
            return st;
        n->kind = NUM_INT;
        n->i = read_i(p, w);
        return LEANDET_OK;
    case LD_FLEX_UINT:
    case LD_FLEX_INDIRECT_UINT:
    case LD_FLEX_BOOL:
        if ((st = scalar_at(v, v->type == LD_FLEX_INDIRECT_UINT, &p, &w, err)))
            return st;
        n->kind = NUM_UINT;
        n->u = read_u(p, w);
        return LEANDET_OK;
    case LD_FLEX_FLOAT:
    case LD_FLEX_INDIRECT_FLOAT:
        if ((st = scalar_at(v, v->type == LD_FLEX_INDIRECT_FLOAT, &p, &w, err)))
            return st;
        n->kind = NUM_FLOAT;
        return read_float(p, w, &n->d, err);
    default:
        return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer value is a %s, expected a number or bool",
                       ld_flex_type_name(v->type, tn, sizeof tn));
    }
}

leandet_status ld_flex_as_int64(const ld_flex_value *v, int64_t *out, leandet_error *err)
{
    num n = { NUM_INT, 0, 0, 0.0 };
    leandet_status st = read_num(v, &n, err);
    if (st)
        return st;
    if (n.kind == NUM_INT) {
        *out = n.i;
    } else if (n.kind == NUM_UINT) {
        memcpy(out, &n.u, sizeof *out); /* two's complement reinterpretation, as static_cast */
    } else {
        /* [-2^63, 2^63): outside (or NaN) the conversion is undefined */
        if (!(n.d >= -9223372036854775808.0 && n.d < 9223372036854775808.0))
            return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer float %g does not fit an integer", n.d);
        *out = (int64_t)n.d;
    }
    return LEANDET_OK;
}

leandet_status ld_flex_as_double(const ld_flex_value *v, double *out, leandet_error *err)
{
    num n = { NUM_INT, 0, 0, 0.0 };
    leandet_status st = read_num(v, &n, err);
    if (st)
        return st;
    *out = n.kind == NUM_INT ? (double)n.i : n.kind == NUM_UINT ? (double)n.u : n.d;
    return LEANDET_OK;
}

leandet_status ld_flex_as_bool(const ld_flex_value *v, int *out, leandet_error *err)
{
    num n = { NUM_INT, 0, 0, 0.0 };
    leandet_status st = read_num(v, &n, err);
    if (st)
        return st;
    if (n.kind == NUM_FLOAT) {
        /* flexbuffers converts to an integer first: 0.5 is false */
        if (isnan(n.d))
            return ld_fail(err, LEANDET_ERR_MODEL, "flexbuffer float NaN is not a bool");
        *out = trunc(n.d) != 0.0;
    } else {
        *out = n.kind == NUM_INT ? n.i != 0 : n.u != 0;
    }
    return LEANDET_OK;
}

/* Find `key`; *present = 0 when absent or stored as NULL. */
static void lookup(const ld_flex_map *m, const char *key, ld_flex_value *v, int *present)
{
    *present = ld_flex_map_find(m, key, v) && v->type != LD_FLEX_NULL;
}

leandet_status ld_flex_get_int32(const ld_flex_map *m, const char *key, int32_t def, int32_t *out,
                                 leandet_error *err)
{
    ld_flex_value v;
    int present;
    lookup(m, key, &v, &present);
    if (!present) {
        *out = def;
        return LEANDET_OK;
    }
    num n = { NUM_INT, 0, 0, 0.0 };
    int64_t x = 0;
    if (read_num(&v, &n, err) || ld_flex_as_int64(&v, &x, err))
        return ld_fail_prefix(err, LEANDET_ERR_MODEL, "option '%s': ", key);
    /* judged on the stored value: a huge uint is not a small negative int */
    if ((n.kind == NUM_UINT && n.u > INT32_MAX) || x < INT32_MIN || x > INT32_MAX)
        return ld_fail(err, LEANDET_ERR_MODEL, "option '%s' does not fit int32", key);
    *out = (int32_t)x;
    return LEANDET_OK;
}

leandet_status ld_flex_get_float(const ld_flex_map *m, const char *key, float def, float *out, leandet_error *err)
{
    ld_flex_value v;
    int present;
    lookup(m, key, &v, &present);
    if (!present) {
        *out = def;
        return LEANDET_OK;
    }
    double d;
    if (ld_flex_as_double(&v, &d, err))
        return ld_fail_prefix(err, LEANDET_ERR_MODEL, "option '%s': ", key);
    /* out-of-range double -> float conversion is undefined in C: saturate */
    *out = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
    return LEANDET_OK;
}

leandet_status ld_flex_get_bool(const ld_flex_map *m, const char *key, int def, int *out, leandet_error *err)
{
    ld_flex_value v;
    int present;
    lookup(m, key, &v, &present);
    if (!present) {
        *out = def;
        return LEANDET_OK;
    }
    if (ld_flex_as_bool(&v, out, err))
        return ld_fail_prefix(err, LEANDET_ERR_MODEL, "option '%s': ", key);
    return LEANDET_OK;
}
