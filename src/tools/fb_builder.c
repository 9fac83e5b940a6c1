#include "tools/fb_builder.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "leandet's flatbuffer builder assumes a little-endian host"
#endif

/* FlatBuffers address everything with 32-bit offsets, signed in places. */
#define FBB_MAX ((size_t)0x7fffffff)

void ld_fbb_init(ld_fbb *b, ld_alloc *alloc, size_t initial)
{
    memset(b, 0, sizeof *b);
    b->alloc = alloc;
    b->minalign = 4;
    b->cap = initial < 1024 ? 1024 : initial;
}

void ld_fbb_free(ld_fbb *b)
{
    ld_free(b->alloc, b->buf);
    b->buf = NULL;
    b->cap = b->used = 0;
}

static void fail(ld_fbb *b, ld_fbb_status s)
{
    if (b->status == LD_FBB_OK)
        b->status = s;
}

/* Room for n more bytes in front of the current contents. */
static int reserve(ld_fbb *b, size_t n)
{
    if (b->status != LD_FBB_OK)
        return 0;
    if (n > FBB_MAX - b->used) {
        fail(b, LD_FBB_TOO_LARGE);
        return 0;
    }
    if (b->buf && b->cap - b->used >= n)
        return 1;
    size_t need = b->used + n, cap = b->cap < 1024 ? 1024 : b->cap; /* before the first block: the hint */
    while (cap < need)
        cap = cap > FBB_MAX / 2 ? FBB_MAX + 1 : cap * 2;
    uint8_t *nb = ld_malloc(b->alloc, cap);
    if (!nb) {
        fail(b, LD_FBB_NO_MEMORY);
        return 0;
    }
    if (b->buf)
        memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
    ld_free(b->alloc, b->buf);
    b->buf = nb;
    b->cap = cap;
    return 1;
}

static uint8_t *front(ld_fbb *b)
{
    return b->buf + b->cap - b->used;
}

/* Pad so that after `n` more bytes the contents are aligned to `align`. */
static int prep(ld_fbb *b, size_t align, size_t n)
{
    if (align > b->minalign)
        b->minalign = align;
    size_t pad = (size_t)(0 - (b->used + n)) & (align - 1);
    if (!reserve(b, pad + n))
        return 0;
    b->used += pad;
    memset(front(b), 0, pad);
    return 1;
}

static void push(ld_fbb *b, const void *p, size_t n)
{
    b->used += n;
    memcpy(front(b), p, n);
}

static void push_u32(ld_fbb *b, uint32_t v)
{
    if (prep(b, 4, 4))
        push(b, &v, 4);
}

static int no_table(ld_fbb *b)
{
    if (b->in_table)
        fail(b, LD_FBB_MISUSE);
    return b->status == LD_FBB_OK;
}

ld_fbref ld_fbb_string(ld_fbb *b, const char *s)
{
    size_t n = strlen(s);
    if (!no_table(b) || n > FBB_MAX || !prep(b, 4, n + 1))
        return 0;
    uint8_t zero = 0;
    push(b, &zero, 1);
    push(b, s, n);
    push_u32(b, (uint32_t)n);
    return b->status == LD_FBB_OK ? (ld_fbref)b->used : 0;
}

ld_fbref ld_fbb_vector(ld_fbb *b, const void *data, size_t n, size_t elem, size_t align)
{
    if (align < elem)
        align = elem;
    if (align < 4)
        align = 4; /* the length word in front of the elements */
    if (!no_table(b) || (elem && n > FBB_MAX / elem) || !prep(b, align, n * elem))
        return 0;
    if (n)
        push(b, data, n * elem);
    push_u32(b, (uint32_t)n);
    return b->status == LD_FBB_OK ? (ld_fbref)b->used : 0;
}

/* The uoffset to write at the next 4-byte slot so that it reaches r. */
static uint32_t rel(const ld_fbb *b, ld_fbref r)
{
    return (uint32_t)(b->used + 4 - r);
}

ld_fbref ld_fbb_ref_vector(ld_fbb *b, const ld_fbref *refs, size_t n)
{
    if (!no_table(b) || n > FBB_MAX / 4 || !prep(b, 4, n * 4))
        return 0;
    for (size_t i = n; i-- > 0;) {
        uint32_t v = rel(b, refs[i]);
        push(b, &v, 4);
    }
    push_u32(b, (uint32_t)n);
    return b->status == LD_FBB_OK ? (ld_fbref)b->used : 0;
}

void ld_fbb_start(ld_fbb *b)
{
    if (!no_table(b))
        return;
    b->in_table = 1;
    b->table_start = b->used;
    b->n_fields = 0;
    memset(b->field, 0, sizeof b->field);
}

static void scalar(ld_fbb *b, int id, const void *v, size_t n)
{
    if (!b->in_table || id < 0 || id >= LD_FBB_MAX_FIELDS) {
        fail(b, LD_FBB_MISUSE);
        return;
    }
    if (!prep(b, n, n))
        return;
    push(b, v, n);
    b->field[id] = (uint32_t)b->used;
    if (id >= b->n_fields)
        b->n_fields = id + 1;
}

void ld_fbb_u8(ld_fbb *b, int id, uint8_t v, uint8_t def)
{
    if (v != def)
        scalar(b, id, &v, 1);
}

void ld_fbb_i32(ld_fbb *b, int id, int32_t v, int32_t def)
{
    if (v != def)
        scalar(b, id, &v, 4);
}

void ld_fbb_u32(ld_fbb *b, int id, uint32_t v, uint32_t def)
{
    if (v != def)
        scalar(b, id, &v, 4);
}

void ld_fbb_f32(ld_fbb *b, int id, float v, float def)
{
    if (memcmp(&v, &def, sizeof v) != 0) /* bitwise: keeps -0.0 and NaN payloads */
        scalar(b, id, &v, 4);
}

void ld_fbb_ref(ld_fbb *b, int id, ld_fbref r)
{
    if (r == 0)
        return;
    if (!b->in_table || id < 0 || id >= LD_FBB_MAX_FIELDS) {
        fail(b, LD_FBB_MISUSE);
        return;
    }
    if (!prep(b, 4, 4))
        return;
    uint32_t v = rel(b, r);
    push(b, &v, 4);
    b->field[id] = (uint32_t)b->used;
    if (id >= b->n_fields)
        b->n_fields = id + 1;
}

/* The table's soffset goes in last (it is the table's first byte); its
 * vtable is written right in front of it: offsets of the fields from the
 * table start, the table's inline size, the vtable's own size. */
ld_fbref ld_fbb_end(ld_fbb *b)
{
    if (!b->in_table) {
        fail(b, LD_FBB_MISUSE);
        return 0;
    }
    b->in_table = 0;
    if (b->status != LD_FBB_OK)
        return 0;
    int32_t placeholder = 0;
    if (!prep(b, 4, 4))
        return 0;
    push(b, &placeholder, 4);
    size_t table = b->used;
    size_t inline_size = table - b->table_start;
    size_t vt_size = 4 + 2 * (size_t)b->n_fields;
    if (inline_size > 0xffff) {
        fail(b, LD_FBB_TOO_LARGE);
        return 0;
    }
    uint16_t vt[2 + LD_FBB_MAX_FIELDS];
    vt[0] = (uint16_t)vt_size;
    vt[1] = (uint16_t)inline_size;
    for (int id = 0; id < b->n_fields; id++)
        vt[2 + id] = b->field[id] ? (uint16_t)(table - b->field[id]) : 0;
    /* The soffset is the table's position minus its vtable's: positive for a
     * vtable written just before the table, negative for a reused one that
     * lies after it in the finished buffer. */
    for (int i = 0; i < b->n_vtables; i++) {
        const uint8_t *old = b->buf + b->cap - b->vtables[i];
        if (memcmp(old, vt, 2) == 0 && memcmp(old, vt, vt_size) == 0) {
            int32_t soff = (int32_t)((int64_t)b->vtables[i] - (int64_t)table);
            memcpy(b->buf + b->cap - table, &soff, 4);
            return (ld_fbref)table;
        }
    }
    if (!prep(b, 2, vt_size))
        return 0;
    push(b, vt, vt_size);
    int32_t soff = (int32_t)(b->used - table);
    memcpy(b->buf + b->cap - table, &soff, 4);
    b->vtables[b->next_vtable] = (uint32_t)b->used;
    b->next_vtable = (b->next_vtable + 1) % LD_FBB_VTABLE_CACHE;
    if (b->n_vtables < LD_FBB_VTABLE_CACHE)
        b->n_vtables++;
    return (ld_fbref)table;
}

ld_fbb_status ld_fbb_finish(ld_fbb *b, ld_fbref root, const char ident[4], uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (b->in_table || root == 0)
        fail(b, LD_FBB_MISUSE);
    if (b->status == LD_FBB_OK && prep(b, b->minalign, 8)) {
        push(b, ident, 4);
        uint32_t v = rel(b, root);
        push(b, &v, 4);
    }
    if (b->status != LD_FBB_OK) {
        ld_fbb_free(b);
        return b->status;
    }
    /* Move the bytes to the start of the block so the caller can free it. */
    memmove(b->buf, front(b), b->used);
    *out = b->buf;
    *size = b->used;
    b->buf = NULL;
    b->cap = b->used = 0;
    return LD_FBB_OK;
}

const char *ld_fbb_status_text(ld_fbb_status s)
{
    switch (s) {
    case LD_FBB_OK: return "ok";
    case LD_FBB_NO_MEMORY: return "out of memory";
    case LD_FBB_TOO_LARGE: return "the model would exceed the 2 GiB a flatbuffer can address";
    case LD_FBB_MISUSE: return "internal error: flatbuffer built out of order";
    }
    return "unknown error";
}
