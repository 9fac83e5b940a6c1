/* Bounds-checked, zero-copy access to a FlatBuffer held in untrusted bytes.
 *
 * Every accessor validates what it touches against the buffer size before
 * reading it: offsets, vtables, field extents, vector lengths (overflow-safe)
 * and string terminators. Scalars are read with memcpy because a hostile
 * file can place any value at any (misaligned) position. On failure an
 * accessor returns false and leaves a short reason in f->why, which callers
 * prefix with their own context (file, table, index).
 *
 * FlatBuffers are little-endian; so is every host leandet builds for. */
#ifndef LD_MODEL_FLATBUF_H
#define LD_MODEL_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "leandet's flatbuffer reader assumes a little-endian host"
#endif

typedef struct ld_fb {
    const uint8_t *p;
    size_t size;
    char why[200];
} ld_fb;

/* A validated table: its inline part [pos, pos+size) and its vtable
 * [vt, vt+vt_size) both lie inside the buffer. */
typedef struct ld_fb_table {
    size_t pos, vt;
    uint32_t vt_size, size;
} ld_fb_table;

/* A validated vector: `len` elements starting at byte `pos` (after the length
 * word) all lie inside the buffer. len == 0 also stands for an absent vector. */
typedef struct ld_fb_vec {
    size_t pos;
    uint32_t len;
    bool present;
} ld_fb_vec;

static inline uint16_t ld_fb_u16_at(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint32_t ld_fb_u32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static inline int32_t ld_fb_i32_at(const uint8_t *p) { int32_t v; memcpy(&v, p, sizeof v); return v; }
static inline int64_t ld_fb_i64_at(const uint8_t *p) { int64_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint64_t ld_fb_u64_at(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof v); return v; }
static inline float ld_fb_f32_at(const uint8_t *p) { float v; memcpy(&v, p, sizeof v); return v; }

/* The root table (uoffset at byte 0). */
bool ld_fb_root(ld_fb *f, ld_fb_table *t);

/* Validate the table starting at byte `pos`. */
bool ld_fb_table_at(ld_fb *f, size_t pos, ld_fb_table *t);

/* Position of field `id` of `width` bytes, or 0 when the field is absent.
 * False when the vtable places the field outside the table. */
bool ld_fb_field(ld_fb *f, const ld_fb_table *t, int id, size_t width, size_t *pos);

/* Scalar fields; `def` is the schema default used when the field is absent. */
bool ld_fb_u8(ld_fb *f, const ld_fb_table *t, int id, uint8_t def, uint8_t *out);
bool ld_fb_i32(ld_fb *f, const ld_fb_table *t, int id, int32_t def, int32_t *out);
bool ld_fb_u32(ld_fb *f, const ld_fb_table *t, int id, uint32_t def, uint32_t *out);
bool ld_fb_u64(ld_fb *f, const ld_fb_table *t, int id, uint64_t def, uint64_t *out);
bool ld_fb_f32(ld_fb *f, const ld_fb_table *t, int id, float def, float *out);

/* Sub-table field; *present = false when absent. */
bool ld_fb_table_field(ld_fb *f, const ld_fb_table *t, int id, ld_fb_table *out, bool *present);

/* Vector field of `elem`-byte elements (an absent vector has len 0). */
bool ld_fb_vec_field(ld_fb *f, const ld_fb_table *t, int id, size_t elem, ld_fb_vec *out);

/* String field: NUL-terminated inside the buffer; *out = NULL when absent. */
bool ld_fb_str_field(ld_fb *f, const ld_fb_table *t, int id, const char **out);

/* Element i (< v->len) of a vector of tables. */
bool ld_fb_vec_table(ld_fb *f, const ld_fb_vec *v, uint32_t i, ld_fb_table *out);

/* Element i (< v->len) of validated scalar vectors. */
static inline int32_t ld_fb_vec_i32(const ld_fb *f, const ld_fb_vec *v, uint32_t i)
{
    return ld_fb_i32_at(f->p + v->pos + (size_t)i * 4);
}

#endif
