/* The one accounted allocator: every byte the library allocates goes
 * through here, so the plan can be checked against what was really taken,
 * and tests can make the N-th allocation fail (OOM injection). */
#ifndef LD_CORE_ALLOC_H
#define LD_CORE_ALLOC_H

#include <stddef.h>
#include "leandet.h"

/* Without a user allocator, blocks of at least this many bytes (payload
 * and header) are mapped pages of their own (alloc.c), returned to the
 * system when freed. */
#define LD_ALLOC_MAP_MIN ((size_t)128 * 1024)
/* Each block's header: its size, keeping the payload cache-line aligned. */
#define LD_ALLOC_HDR 64

/* Resident bytes of a block of `size` payload bytes mapped on its own. */
static inline size_t ld_alloc_mapped_bytes(size_t size)
{
    return (size + LD_ALLOC_HDR + 4095) & ~(size_t)4095;
}

typedef struct ld_alloc {
    leandet_allocator user;   /* user.alloc == NULL: aligned malloc */
    size_t current;           /* bytes live now */
    size_t peak;              /* high-water mark of `current` */
    int map_small;            /* without a user allocator: map even small blocks, whole pages
                                 returned when freed (blocks that would leave holes in malloc's heap) */
    size_t limit;             /* 0: none; otherwise allocations beyond it fail */
    long fail_at;             /* test hook: the allocation with this ordinal fails (-1: never) */
    long count;               /* allocations made so far */
    int limit_hit;            /* an allocation was refused because of `limit` */
} ld_alloc;

/* Set up an allocator wrapping `user` (may be NULL). */
void ld_alloc_init(ld_alloc *a, const leandet_allocator *user);

/* 64-byte aligned allocation; NULL on failure or when the limit would be passed. */
void *ld_malloc(ld_alloc *a, size_t size);
void *ld_calloc(ld_alloc *a, size_t n, size_t size); /* zeroed; checks n*size overflow */
void ld_free(ld_alloc *a, void *p);

/* `a` seen through the public allocator interface (alignment up to 64), so
 * that public calls taking a leandet_allocator (image decoding) draw from
 * the same accounted, limited pool. `a` must outlive what it hands out. */
leandet_allocator ld_alloc_public(ld_alloc *a);

#endif
