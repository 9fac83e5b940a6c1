/* Per-op timing for leandet bench. The session adds each op's wall time to
 * a table we own (ld_session_set_profile); only the timed invokes are
 * profiled, so the table's sum stays within the invokes' own total (the
 * rest is the loop itself and the clock reads). */
#include <stdlib.h>
#include <string.h>

#include "bench_profile.h"
#include "json.h"
#include "runtime/session_internal.h"

int ld_bench_profile_init(ld_bench_profile *p, leandet_session *s)
{
    memset(p, 0, sizeof *p);
    p->session = s;
    p->n_ops = s->model->desc.n_ops;
    size_t n = p->n_ops > 0 ? (size_t)p->n_ops : 1;
    p->op_ms = calloc(n, sizeof *p->op_ms);
    p->order = calloc(n, sizeof *p->order);
    if (!p->op_ms || !p->order) {
        fprintf(stderr, "leandet: out of memory for the profile of %d ops\n", p->n_ops);
        ld_bench_profile_free(p);
        return -1;
    }
    for (int i = 0; i < p->n_ops; i++)
        p->order[i] = i;
    return 0;
}

void ld_bench_profile_attach(ld_bench_profile *p, int on)
{
    ld_session_set_profile(p->session, on ? p->op_ms : NULL);
}

/* qsort has no context argument: sort (time, index) pairs instead. */
typedef struct timed_op {
    double ms;
    int index;
} timed_op;

static int slower_first(const void *a, const void *b)
{
    const timed_op *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

void ld_bench_profile_finish(ld_bench_profile *p)
{
    timed_op *t = calloc(p->n_ops > 0 ? (size_t)p->n_ops : 1, sizeof *t);
    if (!t)
        return; /* keep execution order */
    for (int i = 0; i < p->n_ops; i++)
        t[i] = (timed_op){p->op_ms[i], i};
    qsort(t, (size_t)p->n_ops, sizeof *t, slower_first);
    for (int i = 0; i < p->n_ops; i++)
        p->order[i] = t[i].index;
    free(t);
}

static const char *op_type(const ld_bench_profile *p, int i, char *buf, int len)
{
    const ld_op_desc *op = &p->session->model->desc.ops[i];
    if (op->builtin == LD_OP_CUSTOM && op->custom_name)
        return op->custom_name;
    return ld_op_name(op->builtin, buf, len);
}

static const char *op_kernel(const ld_bench_profile *p, int i)
{
    const ld_op_slot *slot = &p->session->ops[i];
    return slot->folded ? "folded" : slot->fused ? "fused" : slot->isa;
}

static void shape_text(const ld_bench_profile *p, int i, char *buf, size_t len)
{
    const ld_op_ctx *c = &p->session->ops[i].ctx;
    size_t at = 0;
    buf[0] = '\0';
    if (c->n_out < 1)
        return;
    const ld_shape *sh = &c->out[0]->shape;
    for (int k = 0; k < sh->rank && at + 1 < len; k++) {
        int w = snprintf(buf + at, len - at, "%s%d", k ? "x" : "", (int)sh->d[k]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

static double percent(double ms, double total)
{
    return total > 0 ? 100.0 * ms / total : 0.0;
}

/* Totals per (type, kernel), largest first: the first thing to read. Each
 * group is represented by its first op (a timed_op whose ms is the sum). */
static void print_by_type(const ld_bench_profile *p, int runs, double invoke_ms, FILE *f)
{
    size_t n = p->n_ops > 0 ? (size_t)p->n_ops : 1;
    int *group = calloc(n, sizeof *group), *count = calloc(n, sizeof *count);
    timed_op *g = calloc(n, sizeof *g);
    int n_groups = 0;
    for (int i = 0; group && count && g && i < p->n_ops; i++) {
        char b1[32], b2[32];
        int k = 0;
        for (; k < n_groups; k++) {
            int r = g[k].index;
            if (strcmp(op_type(p, r, b1, sizeof b1), op_type(p, i, b2, sizeof b2)) == 0 &&
                strcmp(op_kernel(p, r), op_kernel(p, i)) == 0)
                break;
        }
        if (k == n_groups)
            g[n_groups++] = (timed_op){0.0, i};
        g[k].ms += p->op_ms[i];
        count[k]++;
    }
    if (group && count && g) {
        /* Counts follow their group through the sort by way of its first op. */
        for (int k = 0; k < n_groups; k++)
            group[g[k].index] = count[k];
        qsort(g, (size_t)n_groups, sizeof *g, slower_first);
        fprintf(f, "\nby op type (summed over %d runs)\n", runs);
        fprintf(f, "  %-26s %-11s %5s %11s %10s %7s\n", "type", "kernel", "ops", "total ms", "ms/run", "%");
        for (int k = 0; k < n_groups; k++) {
            char b[32];
            int i = g[k].index;
            fprintf(f, "  %-26s %-11s %5d %11.3f %10.4f %6.2f%%\n", op_type(p, i, b, sizeof b), op_kernel(p, i),
                    group[i], g[k].ms, g[k].ms / runs, percent(g[k].ms, invoke_ms));
        }
    }
    free(group);
    free(count);
    free(g);
}

void ld_bench_profile_print(const ld_bench_profile *p, int runs, double invoke_ms, FILE *f)
{
    print_by_type(p, runs, invoke_ms, f);
    fprintf(f, "\nper op, slowest first (invokes total %.3f ms)\n", invoke_ms);
    fprintf(f, "  %5s %-26s %-20s %-11s %11s %10s %7s\n", "op", "type", "output", "kernel", "total ms", "ms/run",
            "%");
    for (int r = 0; r < p->n_ops; r++) {
        int i = p->order[r];
        char b[32], shape[96];
        shape_text(p, i, shape, sizeof shape);
        fprintf(f, "  %5d %-26s %-20s %-11s %11.3f %10.4f %6.2f%%\n", i, op_type(p, i, b, sizeof b), shape,
                op_kernel(p, i), p->op_ms[i], p->op_ms[i] / runs, percent(p->op_ms[i], invoke_ms));
    }
}

void ld_bench_profile_json(const ld_bench_profile *p, int runs, double invoke_ms, FILE *f)
{
    fputs(",\"profile\":[", f);
    for (int r = 0; r < p->n_ops; r++) {
        int i = p->order[r];
        char b[32];
        const ld_op_ctx *c = &p->session->ops[i].ctx;
        fprintf(f, "%s{\"index\":%d,\"op\":", r ? "," : "", i);
        ld_json_string(f, op_type(p, i, b, sizeof b));
        fputs(",\"shape\":[", f);
        for (int k = 0; c->n_out > 0 && k < c->out[0]->shape.rank; k++)
            fprintf(f, "%s%d", k ? "," : "", (int)c->out[0]->shape.d[k]);
        fputs("],\"kernel\":", f);
        ld_json_string(f, op_kernel(p, i));
        fprintf(f, ",\"total_ms\":%.4f,\"ms_per_run\":%.5f,\"percent\":%.3f}", p->op_ms[i], p->op_ms[i] / runs,
                percent(p->op_ms[i], invoke_ms));
    }
    fputc(']', f);
}

void ld_bench_profile_free(ld_bench_profile *p)
{
    if (p->session)
        ld_session_set_profile(p->session, NULL);
    free(p->op_ms);
    free(p->order);
    p->op_ms = NULL;
    p->order = NULL;
}
