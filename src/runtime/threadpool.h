/* A worker pool of exactly `threads - 1` workers plus the calling thread.
 * Workers sleep on a condition variable when idle (no spinning). Ops split
 * their work into tasks; ld_pool_run returns when all tasks are done. */
#ifndef LD_RUNTIME_THREADPOOL_H
#define LD_RUNTIME_THREADPOOL_H

#include "core/alloc.h"
#include "leandet.h"

typedef struct ld_pool ld_pool;

/* task: 0..n_tasks-1; thread: 0..threads-1 (0 is the caller), for per-thread scratch. */
typedef void (*ld_pool_fn)(void *ctx, int task, int thread);

/* threads >= 1 (1 creates no thread). cpus/n_cpus: optional affinity list
 * (n_cpus 0: none). */
leandet_status ld_pool_create(int threads, const int *cpus, int n_cpus, ld_alloc *alloc, ld_pool **out,
                              leandet_error *err);
void ld_pool_destroy(ld_pool *p);
int ld_pool_threads(const ld_pool *p); /* 1 for NULL */
/* Run fn for every task; a NULL pool runs them on the caller in order. */
void ld_pool_run(ld_pool *p, int n_tasks, ld_pool_fn fn, void *ctx);

#endif
