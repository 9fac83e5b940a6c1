/* A FlatBuffer builder: objects are written back to front into one growable
 * buffer (children before the tables that refer to them), as FlatBuffers
 * are meant to be built, so every reference is a forward offset.
 *
 * Errors are sticky: once an allocation fails, the buffer would pass 2 GiB
 * (the format's limit) or a call breaks the protocol (a table inside a
 * table, a field id out of range), every later call does nothing and
 * ld_fbb_finish reports the first failure. Callers therefore build straight
 * through and check once. Every byte comes from the caller's ld_alloc. */
#ifndef LD_TOOLS_FB_BUILDER_H
#define LD_TOOLS_FB_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"

#define LD_FBB_MAX_FIELDS 16
#define LD_FBB_VTABLE_CACHE 64

/* An object already written: its distance from the end of the buffer. 0 is
 * never a valid object and stands for "absent" in ld_fbb_add_ref. */
typedef uint32_t ld_fbref;

typedef enum { LD_FBB_OK = 0, LD_FBB_NO_MEMORY, LD_FBB_TOO_LARGE, LD_FBB_MISUSE } ld_fbb_status;

typedef struct ld_fbb {
    ld_alloc *alloc;
    uint8_t *buf;          /* bytes live in [buf + cap - used, buf + cap) */
    size_t cap, used;
    size_t minalign;       /* largest alignment asked for: the finished buffer's */
    ld_fbb_status status;
    int in_table;
    size_t table_start;    /* `used` when the open table started */
    uint32_t field[LD_FBB_MAX_FIELDS]; /* `used` after each field was written; 0: absent */
    int n_fields;          /* highest field id + 1 */
    /* Vtables already written, reused by tables of the same layout (as the
     * official builders do); the oldest entry is forgotten when full. */
    uint32_t vtables[LD_FBB_VTABLE_CACHE];
    int n_vtables, next_vtable;
} ld_fbb;

/* `initial` is a capacity hint (the builder grows as needed). */
void ld_fbb_init(ld_fbb *b, ld_alloc *alloc, size_t initial);
void ld_fbb_free(ld_fbb *b);

ld_fbref ld_fbb_string(ld_fbb *b, const char *s);
/* A vector of n scalars of `elem` bytes each (little-endian, as in memory),
 * whose first element is aligned to `align` (a power of two, at least elem;
 * 0 means elem). */
ld_fbref ld_fbb_vector(ld_fbb *b, const void *data, size_t n, size_t elem, size_t align);
/* A vector of references (tables or strings). */
ld_fbref ld_fbb_ref_vector(ld_fbb *b, const ld_fbref *refs, size_t n);

/* Tables: start, add fields (scalars equal to their schema default are left
 * out, as the official builders do), end. No other object may be created
 * between start and end. */
void ld_fbb_start(ld_fbb *b);
void ld_fbb_u8(ld_fbb *b, int id, uint8_t v, uint8_t def);
void ld_fbb_i32(ld_fbb *b, int id, int32_t v, int32_t def);
void ld_fbb_u32(ld_fbb *b, int id, uint32_t v, uint32_t def);
void ld_fbb_f32(ld_fbb *b, int id, float v, float def);
void ld_fbb_ref(ld_fbb *b, int id, ld_fbref r); /* r == 0: field left out */
ld_fbref ld_fbb_end(ld_fbb *b);

/* Write the root offset and the 4-byte file identifier, then hand the bytes
 * over: *out (from the builder's allocator, free with ld_free) holds *size
 * bytes starting at its first byte. The builder is empty afterwards. */
ld_fbb_status ld_fbb_finish(ld_fbb *b, ld_fbref root, const char ident[4], uint8_t **out, size_t *size);

const char *ld_fbb_status_text(ld_fbb_status s);

#endif
