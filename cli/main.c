/* leandet: dispatch to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "leandet.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} commands[] = {
    {"detect", ld_cmd_detect, "detect objects in images, print JSON lines, draw boxes"},
    {"video", ld_cmd_video, "detect objects in video files or streams"},
    {"inspect", ld_cmd_inspect, "describe a model: inputs, outputs, operators, quantization"},
    {"plan", ld_cmd_plan, "predict the memory of a run, check it against a budget, rank models"},
    {"bench", ld_cmd_bench, "measure init, first and steady-state latency, peak memory"},
    {"eval", ld_cmd_eval, "COCO mAP of a model on a dataset"},
    {"quantize", ld_cmd_quantize, "write a dynamic-range or full-integer quantized model"},
    {"dequantize", ld_cmd_dequantize, "write the float32 equivalent of a quantized model"},
    {"prune", ld_cmd_prune, "write a magnitude-pruned model (unstructured or whole channels)"},
    {"tensors", ld_cmd_tensors, "run a model on a raw input tensor and dump its tensors"},
};

static void usage(FILE *f)
{
    fprintf(f, "leandet %s — TensorFlow Lite detection inside a declared budget\n\n"
               "usage: leandet <command> [options]   (leandet <command> --help for details)\n\n"
               "commands:\n", LEANDET_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nexit codes: 0 success, 1 error, 2 usage error, 3 budget refused, 4 some inputs failed\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return LD_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return LD_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("leandet %s\n", LEANDET_VERSION);
        return LD_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "leandet: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return LD_EXIT_USAGE;
}
