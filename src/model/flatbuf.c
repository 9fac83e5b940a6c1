#include "model/flatbuf.h"

#include <stdarg.h>
#include <stdio.h>

static bool fb_bad(ld_fb *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
    return false;
}

/* [pos, pos+n) lies inside the buffer (overflow-safe). */
static bool fb_inside(const ld_fb *f, size_t pos, size_t n)
{
    return pos <= f->size && n <= f->size - pos;
}

/* Follow the uoffset stored at `at` (which must already be inside). */
static bool fb_follow(ld_fb *f, size_t at, size_t *target)
{
    uint64_t t = (uint64_t)at + ld_fb_u32_at(f->p + at);
    if (t >= f->size)
        return fb_bad(f, "offset at byte %zu points to byte %llu, past the end of the file (%zu bytes)", at,
                      (unsigned long long)t, f->size);
    *target = (size_t)t;
    return true;
}

bool ld_fb_table_at(ld_fb *f, size_t pos, ld_fb_table *t)
{
    if (!fb_inside(f, pos, 4))
        return fb_bad(f, "table at byte %zu lies outside the file (%zu bytes)", pos, f->size);
    int64_t vt = (int64_t)pos - ld_fb_i32_at(f->p + pos);
    if (vt < 0 || !fb_inside(f, (size_t)vt, 4))
        return fb_bad(f, "table at byte %zu: vtable at byte %lld lies outside the file (%zu bytes)", pos,
                      (long long)vt, f->size);
    uint32_t vt_size = ld_fb_u16_at(f->p + vt), size = ld_fb_u16_at(f->p + vt + 2);
    if (vt_size < 4 || (vt_size & 1))
        return fb_bad(f, "table at byte %zu: vtable size %u is invalid", pos, vt_size);
    if (!fb_inside(f, (size_t)vt, vt_size))
        return fb_bad(f, "table at byte %zu: vtable of %u bytes at byte %lld runs past the end of the file (%zu bytes)",
                      pos, vt_size, (long long)vt, f->size);
    if (size < 4 || !fb_inside(f, pos, size))
        return fb_bad(f, "table at byte %zu: inline size %u does not fit in the file (%zu bytes)", pos, size,
                      f->size);
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vt_size = vt_size;
    t->size = size;
    return true;
}

bool ld_fb_root(ld_fb *f, ld_fb_table *t)
{
    if (f->size < 8)
        return fb_bad(f, "file is too small to be a flatbuffer (%zu bytes)", f->size);
    size_t pos = 0;
    return fb_follow(f, 0, &pos) && ld_fb_table_at(f, pos, t);
}

bool ld_fb_field(ld_fb *f, const ld_fb_table *t, int id, size_t width, size_t *pos)
{
    size_t entry = 4 + 2 * (size_t)id;
    *pos = 0;
    if (entry + 2 > t->vt_size)
        return true; /* older writer: field not in this vtable */
    uint32_t off = ld_fb_u16_at(f->p + t->vt + entry);
    if (off == 0)
        return true;
    /* Offsets below 4 would overlap the table's own vtable offset. */
    if (off < 4 || off + width > t->size)
        return fb_bad(f, "table at byte %zu: field %d (%zu bytes at offset %u) lies outside the table (%u bytes)",
                      t->pos, id, width, off, t->size);
    *pos = t->pos + off;
    return true;
}

bool ld_fb_u8(ld_fb *f, const ld_fb_table *t, int id, uint8_t def, uint8_t *out)
{
    size_t pos = 0;
    if (!ld_fb_field(f, t, id, 1, &pos))
        return false;
    *out = pos ? f->p[pos] : def;
    return true;
}

bool ld_fb_i32(ld_fb *f, const ld_fb_table *t, int id, int32_t def, int32_t *out)
{
    size_t pos = 0;
    if (!ld_fb_field(f, t, id, 4, &pos))
        return false;
    *out = pos ? ld_fb_i32_at(f->p + pos) : def;
    return true;
}

bool ld_fb_u32(ld_fb *f, const ld_fb_table *t, int id, uint32_t def, uint32_t *out)
{
    size_t pos = 0;
    if (!ld_fb_field(f, t, id, 4, &pos))
        return false;
    *out = pos ? ld_fb_u32_at(f->p + pos) : def;
    return true;
}

bool ld_fb_u64(ld_fb *f, const ld_fb_table *t, int id, uint64_t def, uint64_t *out)
{
    size_t pos = 0;
    if (!ld_fb_field(f, t, id, 8, &pos))
        return false;
    *out = pos ? ld_fb_u64_at(f->p + pos) : def;
    return true;
}

bool ld_fb_f32(ld_fb *f, const ld_fb_table *t, int id, float def, float *out)
{
    size_t pos = 0;
    if (!ld_fb_field(f, t, id, 4, &pos))
        return false;
    *out = pos ? ld_fb_f32_at(f->p + pos) : def;
    return true;
}

/* Target of the uoffset field `id`, or 0 when absent. */
static bool fb_ref_field(ld_fb *f, const ld_fb_table *t, int id, size_t *target)
{
    size_t pos = 0;
    *target = 0;
    if (!ld_fb_field(f, t, id, 4, &pos))
        return false;
    return pos == 0 || fb_follow(f, pos, target);
}

bool ld_fb_table_field(ld_fb *f, const ld_fb_table *t, int id, ld_fb_table *out, bool *present)
{
    size_t pos = 0;
    *present = false;
    if (!fb_ref_field(f, t, id, &pos))
        return false;
    if (pos == 0)
        return true;
    if (!ld_fb_table_at(f, pos, out))
        return false;
    *present = true;
    return true;
}

/* Validate a vector whose length word is at `pos`. */
static bool fb_vec_at(ld_fb *f, size_t pos, size_t elem, ld_fb_vec *out)
{
    if (!fb_inside(f, pos, 4))
        return fb_bad(f, "vector at byte %zu lies outside the file (%zu bytes)", pos, f->size);
    uint32_t len = ld_fb_u32_at(f->p + pos);
    size_t room = f->size - pos - 4;
    if (elem && len > room / elem)
        return fb_bad(f, "vector at byte %zu: %u elements of %zu bytes end at byte %llu, file has %zu", pos, len,
                      elem, (unsigned long long)(pos + 4) + (unsigned long long)len * elem, f->size);
    out->pos = pos + 4;
    out->len = len;
    out->present = true;
    return true;
}

bool ld_fb_vec_field(ld_fb *f, const ld_fb_table *t, int id, size_t elem, ld_fb_vec *out)
{
    size_t pos = 0;
    out->pos = 0;
    out->len = 0;
    out->present = false;
    if (!fb_ref_field(f, t, id, &pos))
        return false;
    return pos == 0 || fb_vec_at(f, pos, elem, out);
}

bool ld_fb_str_field(ld_fb *f, const ld_fb_table *t, int id, const char **out)
{
    ld_fb_vec v;
    *out = NULL;
    if (!ld_fb_vec_field(f, t, id, 1, &v))
        return false;
    if (!v.present)
        return true;
    if (v.pos + v.len >= f->size || f->p[v.pos + v.len] != '\0')
        return fb_bad(f, "string at byte %zu (%u bytes) has no terminating NUL inside the file", v.pos - 4, v.len);
    *out = (const char *)f->p + v.pos;
    return true;
}

bool ld_fb_vec_table(ld_fb *f, const ld_fb_vec *v, uint32_t i, ld_fb_table *out)
{
    size_t target = 0;
    return fb_follow(f, v->pos + (size_t)i * 4, &target) && ld_fb_table_at(f, target, out);
}
