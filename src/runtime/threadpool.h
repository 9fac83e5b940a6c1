/* A worker pool of exactly `threads - 1` workers plus the calling thread.
 * Workers sleep on a condition variable when idle (after a bounded spin,
 * if enabled). Ops split their work into tasks; ld_pool_run returns when
 * all tasks are done. */
#ifndef LD_RUNTIME_THREADPOOL_H
#define LD_RUNTIME_THREADPOOL_H

#include <stddef.h>

#include "core/alloc.h"
#include "leandet.h"

typedef struct ld_pool ld_pool;

/* Stack reserved for each worker (virtual; pages are touched on use). Tasks
 * must not put more than a few KiB on the stack. */
#define LD_POOL_STACK_BYTES (256 * 1024)
#define LD_POOL_MAX_THREADS 1024

/* task: 0..n_tasks-1; thread: 0..threads-1 (0 is the caller), for per-thread scratch. */
typedef void (*ld_pool_fn)(void *ctx, int task, int thread);

/* threads >= 1 (1 creates no thread). cpus/n_cpus: optional affinity list
 * (n_cpus 0: none): worker k (1..threads-1) is pinned to cpus[k % n_cpus],
 * so cpus[0] is the caller's slot; the caller itself is never pinned (its
 * thread belongs to the application; see ld_pin_current_thread in
 * runtime/cpuset.h). A CPU that is offline or outside the cpuset makes
 * creation fail; ld_check_cpus_allowed also enforces the affinity mask.
 * Workers block asynchronous signals (not faults). */
leandet_status ld_pool_create(int threads, const int *cpus, int n_cpus, ld_alloc *alloc, ld_pool **out,
                              leandet_error *err);
void ld_pool_destroy(ld_pool *p);
int ld_pool_threads(const ld_pool *p); /* 1 for NULL */
/* Run fn for every task; a NULL pool runs them on the caller in order.
 * Allocates nothing. One caller at a time, and not from inside a task. */
void ld_pool_run(ld_pool *p, int n_tasks, ld_pool_fn fn, void *ctx);

/* Opt-in bounded spin (default 0: none). After a job, a worker busy-waits
 * up to `us` microseconds for the next job before sleeping, and the caller
 * busy-waits as long for the workers' last tasks. Costs up to `us` of CPU
 * per thread after each job; idle CPU is still zero once it runs out. Pays
 * off when jobs come faster than a sleeping thread wakes up (measured on a
 * 2-vCPU VM: 20-50 us per wake-up vs ~1 us spinning). Clamped to
 * 0..LD_POOL_MAX_SPIN_US. */
#define LD_POOL_MAX_SPIN_US 10000
void ld_pool_set_spin_us(ld_pool *p, int us);

/* Hold the pool over a burst of jobs (on = 1 ... on = 0 around the ops of
 * one invoke): meanwhile idle workers busy-wait for the next job up to
 * LD_POOL_HOLD_US (instead of the spin time above) before sleeping, so a
 * job that follows a serial stretch of the caller (an op that is not
 * split) still finds them awake; past the spin time they yield the CPU
 * now and then, for a busy machine. Releasing puts them back on the spin
 * time: idle CPU is zero again once that runs out. Only the thread that
 * calls ld_pool_run may call it. */
#define LD_POOL_HOLD_US 2000
void ld_pool_hold(ld_pool *p, int on);

/* Test hook: run every job on the caller alone, tasks in reverse order,
 * task t as thread t % threads. Tasks that are truly independent give the
 * same bytes as under real threads; tasks that overlap (a write past a
 * task's share, a read of another task's output) then differ every time
 * instead of once in a while. ld_pool_threads is unchanged. */
void ld_pool_set_reverse(ld_pool *p, int on);
/* Whether kernels should split even work too small to be worth it, as
 * finely as they can: on under the reverse hook, so that tests on small
 * shapes cover the task boundaries real sizes have. */
int ld_pool_split_fine(const ld_pool *p);

/* Stack bytes a pool of `threads` threads reserves, for the memory plan. */
size_t ld_pool_stack_bytes(int threads);

#endif
