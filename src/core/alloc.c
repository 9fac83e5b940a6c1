#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Each block carries its size in a header so that frees can be accounted
 * without a side table. */
#define LD_HDR LD_ALLOC_HDR

void ld_alloc_init(ld_alloc *a, const leandet_allocator *user)
{
    memset(a, 0, sizeof *a);
    if (user)
        a->user = *user;
    a->fail_at = -1;
}

/* Big blocks are mapped here rather than left to malloc, whose mmap
 * threshold moves up each time it frees a mapped block: a later block of
 * that size would then come from the heap and, once freed, stay resident
 * as a hole, which no plan can predict. Mapped, every big block is whole
 * pages while it lives and nothing after its free. Sanitizer builds keep
 * malloc, whose redzones catch overruns of these blocks too. */
#if defined(__SANITIZE_ADDRESS__)
#define LD_MAP_BIG 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LD_MAP_BIG 0
#endif
#endif
#ifndef LD_MAP_BIG
#define LD_MAP_BIG 1
#endif

/* The header: the payload size, then whether the block is mapped. */
typedef struct block_head {
    size_t size;
    size_t mapped;
} block_head;

static void *raw_alloc(ld_alloc *a, size_t total, int *mapped)
{
    *mapped = 0;
    if (a->user.alloc)
        return a->user.alloc(a->user.ctx, total, LD_HDR);
    if (LD_MAP_BIG && (total >= LD_ALLOC_MAP_MIN || a->map_small)) {
        void *p = mmap(NULL, ld_alloc_mapped_bytes(total - LD_HDR), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *mapped = p != MAP_FAILED;
        return p == MAP_FAILED ? NULL : p;
    }
    void *p = NULL;
    if (posix_memalign(&p, LD_HDR, total) != 0)
        return NULL;
    return p;
}

static void raw_free(ld_alloc *a, void *p, const block_head *h)
{
    if (h->mapped)
        munmap(p, ld_alloc_mapped_bytes(h->size));
    else if (a->user.alloc && a->user.free)
        a->user.free(a->user.ctx, p);
    else if (!a->user.alloc)
        free(p);
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
    block_head h = { size, 0 };
    int mapped;
    uint8_t *base = raw_alloc(a, size + LD_HDR, &mapped);
    if (!base)
        return NULL;
    h.mapped = (size_t)mapped;
    memcpy(base, &h, sizeof h);
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
    block_head h;
    memcpy(&h, base, sizeof h);
    a->current -= h.size;
    raw_free(a, base, &h);
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
