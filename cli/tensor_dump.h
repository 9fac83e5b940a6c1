/* Write session tensors in the layout the oracle (scripts/oracle.py) reads:
 * DIR/output_<i>.raw + DIR/outputs.json, and with all_tensors also
 * DIR/tensor_<index>.raw + DIR/tensors.json. */
#ifndef LD_CLI_TENSOR_DUMP_H
#define LD_CLI_TENSOR_DUMP_H

#include "leandet.h"

/* Returns 0 on success; on failure prints "leandet: <dir>: <reason>" and returns -1. */
int ld_dump_tensors(const leandet_session *s, const char *dir, int all_tensors);
/* mkdir -p; 0 on success, else prints an error naming the path. */
int ld_make_dirs(const char *path);
/* Write bytes to path atomically (temp file + rename). 0 on success. */
int ld_write_file(const char *path, const void *data, size_t n);

#endif
