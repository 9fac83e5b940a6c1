#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries a 64-byte header holding its size so that frees can be
 * accounted without a side table. 64 keeps the payload cache-line aligned. */
#define LD_HDR 64

void ld_alloc_init(ld_alloc *a, const leandet_allocator *user)
{
    memset(a, 0, sizeof *a);
    if (user)
        a->user = *user;
    a->fail_at = -1;
}

static void *raw_alloc(ld_alloc *a, size_t total)
{
    if (a->user.alloc)
        return a->user.alloc(a->user.ctx, total, LD_HDR);
    void *p = NULL;
    if (posix_memalign(&p, LD_HDR, total) != 0)
        return NULL;
    return p;
}

static void raw_free(ld_alloc *a, void *p)
{
    if (a->user.alloc) {
        if (a->user.free)
            a->user.free(a->user.ctx, p);
    } else {
        free(p);
    }
}

void *ld_malloc(ld_alloc *a, size_t size)
{
    if (size > SIZE_MAX - LD_HDR)
        return NULL;
    long ordinal = a->count++;
    if (a->fail_at >= 0 && ordinal == a->fail_at)
        return NULL;
    if (a->limit && (size > a->limit || a->current > a->limit - size)) {
        a->limit_hit = 1;
        return NULL;
    }
    uint8_t *base = raw_alloc(a, size + LD_HDR);
    if (!base)
        return NULL;
    memcpy(base, &size, sizeof size);
    a->current += size;
    if (a->current > a->peak)
        a->peak = a->current;
    return base + LD_HDR;
}

void *ld_calloc(ld_alloc *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = ld_malloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void ld_free(ld_alloc *a, void *p)
{
    if (!p)
        return;
    uint8_t *base = (uint8_t *)p - LD_HDR;
    size_t size;
    memcpy(&size, base, sizeof size);
    a->current -= size;
    raw_free(a, base);
}

static void *public_alloc(void *ctx, size_t size, size_t align)
{
    return align <= LD_HDR ? ld_malloc(ctx, size) : NULL;
}

static void public_free(void *ctx, void *p) { ld_free(ctx, p); }

leandet_allocator ld_alloc_public(ld_alloc *a)
{
    return (leandet_allocator){.alloc = public_alloc, .free = public_free, .ctx = a};
}
