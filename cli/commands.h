/* One function per subcommand; each returns the process exit code:
 * 0 success, 1 error (bad model, image, I/O), 2 usage error, 3 budget
 * refused, 4 some inputs failed while others succeeded. */
#ifndef LD_CLI_COMMANDS_H
#define LD_CLI_COMMANDS_H

enum { LD_EXIT_OK = 0, LD_EXIT_ERROR = 1, LD_EXIT_USAGE = 2, LD_EXIT_BUDGET = 3, LD_EXIT_PARTIAL = 4 };

int ld_cmd_detect(int argc, char **argv);   /* cli/detect.c */
int ld_cmd_inspect(int argc, char **argv);  /* cli/inspect.c */
int ld_cmd_tensors(int argc, char **argv);  /* cli/tensors.c: run a model on raw input, dump tensors */
int ld_cmd_plan(int argc, char **argv);     /* cli/plan.c */
int ld_cmd_bench(int argc, char **argv);    /* cli/bench.c */
int ld_cmd_video(int argc, char **argv);    /* cli/video.c */
int ld_cmd_eval(int argc, char **argv);     /* cli/eval.c */
int ld_cmd_quantize(int argc, char **argv); /* cli/quantize.c */
int ld_cmd_dequantize(int argc, char **argv); /* cli/quantize.c */
int ld_cmd_prune(int argc, char **argv);    /* cli/prune.c */

#endif
