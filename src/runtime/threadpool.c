/* Placeholder pool: runs every task on the caller (threads must be 1). */
#include "runtime/threadpool.h"

#include "core/error.h"

struct ld_pool {
    int threads;
    ld_alloc *alloc;
};

leandet_status ld_pool_create(int threads, const int *cpus, int n_cpus, ld_alloc *alloc, ld_pool **out,
                              leandet_error *err)
{
    (void)cpus;
    (void)n_cpus;
    if (threads != 1)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "threads: only 1 is supported so far (asked for %d)", threads);
    ld_pool *p = ld_malloc(alloc, sizeof *p);
    if (!p)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "out of memory creating a thread pool");
    p->threads = 1;
    p->alloc = alloc;
    *out = p;
    return LEANDET_OK;
}

void ld_pool_destroy(ld_pool *p)
{
    if (p)
        ld_free(p->alloc, p);
}

int ld_pool_threads(const ld_pool *p)
{
    return p ? p->threads : 1;
}

void ld_pool_run(ld_pool *p, int n_tasks, ld_pool_fn fn, void *ctx)
{
    (void)p;
    for (int t = 0; t < n_tasks; t++)
        fn(ctx, t, 0);
}
