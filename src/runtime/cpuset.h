/* The CPUs this process may use: how many threads to run by default
 * (affinity mask, limited by the cgroup CPU quota a container imposes),
 * and strict parsing of explicit CPU lists ("0-3,6,8-9") for pinning. */
#ifndef LD_RUNTIME_CPUSET_H
#define LD_RUNTIME_CPUSET_H

#include "leandet.h"

/* CPU ids must be below this: the size of the kernel's fixed cpu_set_t. */
#define LD_CPU_ID_LIMIT 1024

/* CPUs in the affinity mask, further limited by the cgroup v2 cpu.max or
 * v1 cpu.cfs_quota_us/cpu.cfs_period_us quota (rounded up); at least 1. */
int ld_default_threads(void);

/* Parse `spec` into cpus[0..*n) in the order listed (ranges expanded), then
 * check that every CPU is in this process's affinity mask. Strict: no
 * spaces, no empty items, no reversed ranges, no duplicates, ids below
 * LD_CPU_ID_LIMIT, at most `max` CPUs. Errors name the spec. */
leandet_status ld_parse_cpu_list(const char *spec, int *cpus, int max, int *n, leandet_error *err);
/* The syntax half of ld_parse_cpu_list (no affinity check). */
leandet_status ld_parse_cpu_list_syntax(const char *spec, int *cpus, int max, int *n, leandet_error *err);
/* Error unless every cpus[i] is in this process's affinity mask; `what`
 * names the list in the message. */
leandet_status ld_check_cpus_allowed(const char *what, const int *cpus, int n, leandet_error *err);

/* Pin the calling thread to one CPU. The pool never pins its caller (the
 * thread belongs to the application); a CLI that owns its main thread may. */
leandet_status ld_pin_current_thread(int cpu, leandet_error *err);

/* The quota parts of ld_default_threads, exposed for tests. Each returns
 * the CPU limit (ceil(quota / period)) or 0 for "no limit / unreadable". */
int ld_cgroup_v2_limit(const char *cpu_max);                     /* text of cpu.max */
int ld_cgroup_v1_limit(const char *quota_us, const char *period_us); /* texts of the two files */
/* Smallest limit along the process's cgroup path(s) under `root` (normally
 * /sys/fs/cgroup); `self_cgroup` is the text of /proc/self/cgroup. */
int ld_cgroup_cpu_limit(const char *root, const char *self_cgroup);

#endif
