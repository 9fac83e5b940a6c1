/* A tiny test harness: CHECK records a failure and continues; the test's
 * main returns ld_test_finish(), which prints "N passed, N failed". */
#ifndef LD_TEST_HARNESS_H
#define LD_TEST_HARNESS_H

#include <stdio.h>

extern int ld_test_pass, ld_test_fail;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            ld_test_pass++;                                                         \
        } else {                                                                    \
            ld_test_fail++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                        \
    do {                                                                            \
        if (cond) {                                                                 \
            ld_test_pass++;                                                         \
        } else {                                                                    \
            ld_test_fail++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
        }                                                                           \
    } while (0)

/* Path of a real model/image from the environment set by CTest
 * (LEANDET_MODELS / LEANDET_IMAGES); writes into buf and returns it. */
const char *ld_test_model(const char *file, char *buf, size_t n);
const char *ld_test_image(const char *file, char *buf, size_t n);
/* Read a whole file (malloc'd); NULL on failure. */
unsigned char *ld_test_read(const char *path, size_t *size);

int ld_test_finish(void);

#endif
