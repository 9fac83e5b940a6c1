/* leandet bench --profile: where the time of an invoke goes, per op. */
#ifndef LD_CLI_BENCH_PROFILE_H
#define LD_CLI_BENCH_PROFILE_H

#include <stdio.h>

#include "leandet.h"

typedef struct ld_bench_profile {
    leandet_session *session;
    int n_ops;
    double *op_ms;   /* per op, summed over the profiled invokes */
    int *order;      /* op indices, slowest first (filled by ld_bench_profile_finish) */
} ld_bench_profile;

/* Allocate the per-op table (before anything is measured). 0 or -1 (message printed). */
int ld_bench_profile_init(ld_bench_profile *p, leandet_session *s);
/* Start or stop adding invoke times to the table. */
void ld_bench_profile_attach(ld_bench_profile *p, int on);
/* Sort the ops, slowest first. */
void ld_bench_profile_finish(ld_bench_profile *p);
/* The table: per op type, then per op (index, type, output 0 shape, kernel,
 * total ms, ms per run, % of the summed invoke time `invoke_ms`). */
void ld_bench_profile_print(const ld_bench_profile *p, int runs, double invoke_ms, FILE *f);
/* `,"profile":[{"index","op","shape","kernel","total_ms","ms_per_run","percent"}...]` */
void ld_bench_profile_json(const ld_bench_profile *p, int runs, double invoke_ms, FILE *f);
void ld_bench_profile_free(ld_bench_profile *p);

#endif
