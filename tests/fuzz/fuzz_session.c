/* libFuzzer target for everything after the reader: a model that parses
 * is opened, a session is created (kernel choice and prepare of every op,
 * fusion, the arena plan) under a memory budget, and a model of modest size
 * is invoked once on zero input. Any bytes must end in success or an error
 * with a message; never a crash, an out-of-bounds access or a leak.
 * Build: cmake -DLEANDET_FUZZ=ON with CC=clang (Linux: memfd_create). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leandet.h"

#define FUZZ_MAX_MEMORY ((size_t)256 << 20) /* a hostile model must not ask for more */
#define FUZZ_MAX_MACS 50000000ull           /* larger models are planned, not run (time) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(leandet_status st, const leandet_error *err)
{
    if (st != LEANDET_OK && err->message[0] == '\0')
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.tflite", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    leandet_error err = {0};
    leandet_model *m = NULL;
    leandet_status st = leandet_model_open(path, NULL, &m, &err);
    check_message(st, &err);
    if (st == LEANDET_OK) {
        leandet_plan_report r;
        memset(&r, 0, sizeof r);
        leandet_session_options o = {0};
        o.max_memory = FUZZ_MAX_MEMORY;
        o.report = &r;
        leandet_session *s = NULL;
        st = leandet_session_create(m, &o, &s, &err);
        check_message(st, &err);
        if (st == LEANDET_OK && r.macs <= FUZZ_MAX_MACS) {
            void *in;
            size_t bytes = 0;
            for (int i = 0; i < 64 && (in = leandet_session_input(s, i, &bytes)) != NULL; i++)
                memset(in, 0, bytes);
            check_message(leandet_session_invoke(s, &err), &err);
        }
        leandet_session_destroy(s);
        leandet_model_close(m);
    }
    close(fd);
    return 0;
}
