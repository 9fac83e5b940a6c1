/* Bounds-checked reader for the root map of a FlexBuffer: the
 * custom_options of a CUSTOM operator, which are untrusted bytes from a
 * model file.
 *
 * Layout facts used (flatbuffers' flexbuffers.h): the buffer ends with the
 * root value, its packed type (type << 2 | log2 width) and its byte width.
 * A map's data address is preceded by three fields of the map's width:
 * offset to the keys vector, the keys' byte width, the element count. The
 * values follow, then one packed type byte per value. Offsets are unsigned
 * and point backwards (target = field address - value).
 *
 * ld_flex_root_map validates the map header, the values region and every
 * key (NUL-terminated inside the buffer) once; values are checked when they
 * are read. Nothing here reads outside [buf, buf + size). */
#ifndef LD_MODEL_FLEXBUFFER_H
#define LD_MODEL_FLEXBUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* FlexBuffer type codes (the ones leandet reads or names). */
enum {
    LD_FLEX_NULL = 0,
    LD_FLEX_INT = 1,
    LD_FLEX_UINT = 2,
    LD_FLEX_FLOAT = 3,
    LD_FLEX_KEY = 4,
    LD_FLEX_STRING = 5,
    LD_FLEX_INDIRECT_INT = 6,
    LD_FLEX_INDIRECT_UINT = 7,
    LD_FLEX_INDIRECT_FLOAT = 8,
    LD_FLEX_MAP = 9,
    LD_FLEX_VECTOR = 10,
    LD_FLEX_BLOB = 25,
    LD_FLEX_BOOL = 26,
    LD_FLEX_VECTOR_BOOL = 36
};

typedef struct ld_flex_map {
    const uint8_t *buf;
    size_t size;
    size_t values;      /* offset of value 0 */
    size_t types;       /* offset of the packed type of value 0 */
    size_t keys;        /* offset of key slot 0 */
    size_t count;
    unsigned width;     /* byte width of value slots */
    unsigned key_width; /* byte width of key slots */
} ld_flex_map;

typedef struct ld_flex_value {
    int type;           /* LD_FLEX_* (or another code, reported as unsupported) */
    const uint8_t *buf;
    size_t size;
    size_t at;          /* offset of the value's slot in its parent */
    unsigned parent_width;
    unsigned width;     /* width of an indirect target (from the packed type) */
} ld_flex_value;

/* Name of a type code ("int", "indirect float", "map", ... or "type 37"). */
const char *ld_flex_type_name(int type, char *buf, size_t n);

/* Open the root of `size` bytes as a map. Errors (LEANDET_ERR_MODEL) say
 * what is malformed and where. */
leandet_status ld_flex_root_map(const uint8_t *buf, size_t size, ld_flex_map *out, leandet_error *err);

/* Key i (i < m->count), NUL-terminated inside the buffer. */
const char *ld_flex_map_key(const ld_flex_map *m, size_t i);
/* Value i. */
void ld_flex_map_value(const ld_flex_map *m, size_t i, ld_flex_value *out);
/* Look a key up by binary search over the sorted keys, as flexbuffers does.
 * Returns 1 and fills *out if present, else 0 (and *out is a NULL value). */
int ld_flex_map_find(const ld_flex_map *m, const char *key, ld_flex_value *out);

/* Numeric conversions with flexbuffers' semantics (int <-> uint <-> float
 * <-> bool, direct or indirect); strings, vectors and maps are refused. A
 * float that does not fit int64 is refused rather than converted. */
leandet_status ld_flex_as_int64(const ld_flex_value *v, int64_t *out, leandet_error *err);
leandet_status ld_flex_as_double(const ld_flex_value *v, double *out, leandet_error *err);
leandet_status ld_flex_as_bool(const ld_flex_value *v, int *out, leandet_error *err);

/* Typed getters: absent key or NULL value -> `def`. int32 refuses values
 * outside its range. Error messages name the key. */
leandet_status ld_flex_get_int32(const ld_flex_map *m, const char *key, int32_t def, int32_t *out,
                                 leandet_error *err);
leandet_status ld_flex_get_float(const ld_flex_map *m, const char *key, float def, float *out,
                                 leandet_error *err);
leandet_status ld_flex_get_bool(const ld_flex_map *m, const char *key, int def, int *out, leandet_error *err);

#endif
