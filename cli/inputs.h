/* The inputs of a command that runs over many images, expanded into one
 * ordered list of paths: a file is itself, a directory is its regular
 * files sorted by name (not recursive, dot files skipped, no extension
 * filter: the decoder sniffs the bytes and a non-image fails alone),
 * "@list.txt" is the paths listed one per line, "-" is the same read from
 * stdin. Results come out in this order. */
#ifndef LD_CLI_INPUTS_H
#define LD_CLI_INPUTS_H

typedef struct ld_input_list {
    char **paths;   /* owned */
    int n, cap;
} ld_input_list;

/* Expand args[0..n) in order into *out (which starts empty). A directory,
 * list file or stdin that cannot be read is an error of the whole run:
 * printed as "leandet <cmd>: ..." and 1 returned (out is freed). Lines of
 * a list: trailing CR/LF removed, empty lines skipped; "-" and "@..." are
 * not expanded again inside a list. */
int ld_inputs_expand(const char *cmd, const char *const *args, int n, ld_input_list *out);

void ld_inputs_free(ld_input_list *l);

#endif
