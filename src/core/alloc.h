/* The one accounted allocator: every byte the library allocates goes
 * through here, so the plan can be checked against what was really taken,
 * and tests can make the N-th allocation fail (OOM injection). */
#ifndef LD_CORE_ALLOC_H
#define LD_CORE_ALLOC_H

#include <stddef.h>
#include "leandet.h"

typedef struct ld_alloc {
    leandet_allocator user;   /* user.alloc == NULL: aligned malloc */
    size_t current;           /* bytes live now */
    size_t peak;              /* high-water mark of `current` */
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
