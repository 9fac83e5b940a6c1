/* CPU budget of the process: affinity mask, cgroup quota, CPU lists. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, pthread_setaffinity_np */
#include "runtime/cpuset.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

#define LD_CG_PATH_MAX 4096

/* ---- cgroup CPU quota ------------------------------------------------ */

/* Whole small file as a NUL-terminated string; 0 if unreadable. */
static int read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t got = fread(buf, 1, cap - 1, f);
    int ok = !ferror(f);
    fclose(f);
    buf[got] = '\0';
    return ok && got > 0;
}

/* A decimal integer followed only by optional whitespace; 0 if not. */
static int parse_ll(const char *s, const char **end, long long *v)
{
    char *e;
    errno = 0;
    *v = strtoll(s, &e, 10);
    if (e == s || errno)
        return 0;
    *end = e;
    return 1;
}

static int only_space(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t')
        s++;
    return *s == '\0';
}

static int quota_limit(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return 0; /* -1 (v1) or nonsense: no limit */
    long long n = quota / period + (quota % period != 0);
    return n > INT_MAX ? INT_MAX : (int)n;
}

int ld_cgroup_v2_limit(const char *cpu_max)
{
    /* "max 100000" (no limit) or "<quota> <period>" */
    const char *e;
    long long quota, period;
    if (!cpu_max || !parse_ll(cpu_max, &e, &quota) || *e != ' ')
        return 0;
    if (!parse_ll(e, &e, &period) || !only_space(e))
        return 0;
    return quota_limit(quota, period);
}

int ld_cgroup_v1_limit(const char *quota_us, const char *period_us)
{
    const char *e;
    long long quota, period;
    if (!quota_us || !period_us || !parse_ll(quota_us, &e, &quota) || !only_space(e))
        return 0;
    if (!parse_ll(period_us, &e, &period) || !only_space(e))
        return 0;
    return quota_limit(quota, period);
}

static int min_limit(int a, int b)
{
    if (a == 0)
        return b;
    return b == 0 || a < b ? a : b;
}

static int v2_dir_limit(const char *dir)
{
    char f[LD_CG_PATH_MAX + 32], t[128];
    snprintf(f, sizeof f, "%s/cpu.max", dir);
    return read_text(f, t, sizeof t) ? ld_cgroup_v2_limit(t) : 0;
}

static int v1_dir_limit(const char *dir)
{
    char f[LD_CG_PATH_MAX + 32], q[64], p[64];
    snprintf(f, sizeof f, "%s/cpu.cfs_quota_us", dir);
    if (!read_text(f, q, sizeof q))
        return 0;
    snprintf(f, sizeof f, "%s/cpu.cfs_period_us", dir);
    return read_text(f, p, sizeof p) ? ld_cgroup_v1_limit(q, p) : 0;
}

/* A quota on any ancestor limits the process too, so walk from the
 * process's cgroup up to the mount root. Inside a container the path from
 * /proc/self/cgroup may not exist under the mount (no cgroup namespace);
 * the walk then still reaches the mount root, the container's own group. */
static int walk_limit(const char *mount, const char *path, size_t len, int (*dir_limit)(const char *))
{
    char dir[LD_CG_PATH_MAX];
    int best = 0;
    for (;;) {
        int shown = len <= 1 ? 0 : (int)len; /* "/" is the mount itself */
        if (snprintf(dir, sizeof dir, "%s%.*s", mount, shown, path) < (int)sizeof dir)
            best = min_limit(best, dir_limit(dir));
        if (len <= 1)
            return best;
        while (len > 0 && path[len - 1] != '/')
            len--;
        if (len > 1)
            len--; /* drop the '/' that ended the parent */
    }
}

/* Does the comma-separated controller list contain exactly "cpu"? */
static int has_cpu_controller(const char *list, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && list[j] != ',')
            j++;
        if (j - i == 3 && memcmp(list + i, "cpu", 3) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

int ld_cgroup_cpu_limit(const char *root, const char *self_cgroup)
{
    int best = 0;
    if (!root || !self_cgroup)
        return 0;
    /* Lines are "hierarchy-id:controllers:path"; v2 is "0::path". */
    for (const char *line = self_cgroup; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *c1 = memchr(line, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            const char *ctl = c1 + 1, *path = c2 + 1;
            size_t ctl_len = (size_t)(c2 - ctl), path_len = n - (size_t)(path - line);
            if (path_len >= 1 && path[0] == '/' && path_len < LD_CG_PATH_MAX) {
                char mount[LD_CG_PATH_MAX];
                if (c1 - line == 1 && line[0] == '0' && ctl_len == 0) {
                    best = min_limit(best, walk_limit(root, path, path_len, v2_dir_limit));
                } else if (has_cpu_controller(ctl, ctl_len)) {
                    /* v1 mounts are named after their controllers ("cpu,cpuacct"),
                     * usually with a "cpu" alias next to them. */
                    if (snprintf(mount, sizeof mount, "%s/%.*s", root, (int)ctl_len, ctl) < (int)sizeof mount)
                        best = min_limit(best, walk_limit(mount, path, path_len, v1_dir_limit));
                    if (snprintf(mount, sizeof mount, "%s/cpu", root) < (int)sizeof mount)
                        best = min_limit(best, walk_limit(mount, path, path_len, v1_dir_limit));
                }
            }
        }
        line += n;
        if (*line == '\n')
            line++;
    }
    return best;
}

/* ---- affinity -------------------------------------------------------- */

static int affinity_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN); /* more CPUs than cpu_set_t holds */
    return n > 0 && n < INT_MAX ? (int)n : 1;
}

int ld_default_threads(void)
{
    int n = affinity_count();
    char self[8192];
    if (read_text("/proc/self/cgroup", self, sizeof self)) {
        int limit = ld_cgroup_cpu_limit("/sys/fs/cgroup", self);
        if (limit > 0 && limit < n)
            n = limit;
    }
    return n > 0 ? n : 1;
}

/* "0-3,6" style text of a set, for error messages; truncated with "...". */
static void format_set(const cpu_set_t *set, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < LD_CPU_ID_LIMIT; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int last = c;
        while (last + 1 < LD_CPU_ID_LIMIT && CPU_ISSET(last + 1, set))
            last++;
        int w = last == c ? snprintf(buf + used, cap - used, "%s%d", used ? "," : "", c)
                          : snprintf(buf + used, cap - used, "%s%d-%d", used ? "," : "", c, last);
        if (w < 0 || (size_t)w >= cap - used) {
            snprintf(buf + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            return;
        }
        used += (size_t)w;
        c = last;
    }
}

leandet_status ld_check_cpus_allowed(const char *what, const int *cpus, int n, leandet_error *err)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: cannot read this process's CPU affinity: %s", what,
                       strerror(errno));
    for (int i = 0; i < n; i++) {
        if (cpus[i] < 0 || cpus[i] >= LD_CPU_ID_LIMIT || !CPU_ISSET(cpus[i], &set)) {
            char allowed[128];
            format_set(&set, allowed, sizeof allowed);
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: CPU %d is not available to this process (allowed: %s)",
                           what, cpus[i], allowed);
        }
    }
    return LEANDET_OK;
}

leandet_status ld_pin_current_thread(int cpu, leandet_error *err)
{
    if (cpu < 0 || cpu >= LD_CPU_ID_LIMIT)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "cannot pin to CPU %d: ids must be in 0..%d", cpu,
                       LD_CPU_ID_LIMIT - 1);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "cannot pin the calling thread to CPU %d: %s", cpu, strerror(rc));
    return LEANDET_OK;
}

/* ---- CPU lists ------------------------------------------------------- */

/* Digits at s into *id (saturated at LD_CPU_ID_LIMIT); NULL if no digit. */
static const char *parse_id(const char *s, int *id)
{
    if (*s < '0' || *s > '9')
        return NULL;
    int v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > LD_CPU_ID_LIMIT)
            v = LD_CPU_ID_LIMIT;
        s++;
    }
    *id = v;
    return s;
}

static leandet_status bad_spec(leandet_error *err, const char *spec, const char *at, const char *why)
{
    if (*at)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '%s': %s at '%s'", spec, why, at);
    return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '%s': %s at the end", spec, why);
}

static leandet_status parse_list(const char *spec, int *cpus, int max, int *n, leandet_error *err)
{
    if (!*spec)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '': empty (expected e.g. '0-3,6')");
    unsigned char seen[LD_CPU_ID_LIMIT / 8] = {0};
    const char *s = spec;
    for (;;) {
        const char *start = s;
        int lo, hi;
        s = parse_id(s, &lo);
        if (!s)
            return bad_spec(err, spec, start, "expected a CPU number");
        hi = lo;
        if (*s == '-') {
            const char *at = s + 1;
            s = parse_id(at, &hi);
            if (!s)
                return bad_spec(err, spec, at, "expected a CPU number after '-'");
        }
        if (lo >= LD_CPU_ID_LIMIT || hi >= LD_CPU_ID_LIMIT)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '%s': '%.*s' is out of range (CPU ids must be below %d)",
                           spec, (int)(s - start), start, LD_CPU_ID_LIMIT);
        if (hi < lo)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '%s': range %d-%d is reversed", spec, lo, hi);
        for (int c = lo; c <= hi; c++) {
            if (seen[c / 8] & (1u << (c % 8)))
                return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '%s': CPU %d is listed twice", spec, c);
            if (*n >= max)
                return ld_fail(err, LEANDET_ERR_ARGUMENT, "cpu list '%s': more than %d CPUs", spec, max);
            seen[c / 8] |= (unsigned char)(1u << (c % 8));
            cpus[(*n)++] = c;
        }
        if (*s == '\0')
            return LEANDET_OK;
        if (*s != ',')
            return bad_spec(err, spec, s, "expected ',' or '-'");
        s++;
    }
}

leandet_status ld_parse_cpu_list_syntax(const char *spec, int *cpus, int max, int *n, leandet_error *err)
{
    if (!spec || !cpus || !n || max <= 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "ld_parse_cpu_list: spec, cpus and n must be set and max > 0");
    *n = 0;
    leandet_status st = parse_list(spec, cpus, max, n, err);
    if (st != LEANDET_OK)
        *n = 0; /* no half-parsed list */
    return st;
}

leandet_status ld_parse_cpu_list(const char *spec, int *cpus, int max, int *n, leandet_error *err)
{
    leandet_status st = ld_parse_cpu_list_syntax(spec, cpus, max, n, err);
    if (st != LEANDET_OK)
        return st;
    char what[160];
    snprintf(what, sizeof what, "cpu list '%.120s'", spec);
    st = ld_check_cpus_allowed(what, cpus, *n, err);
    if (st != LEANDET_OK)
        *n = 0;
    return st;
}
