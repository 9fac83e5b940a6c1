/* The budget arithmetic shared by the session, the plan API and the CLI:
 * how allocations turn into resident bytes, totals and verdicts, readable
 * breakdowns, and estimates of what image decoding holds. */
#ifndef LD_GRAPH_BUDGET_H
#define LD_GRAPH_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "leandet.h"

/* Per live allocation, beyond its payload: the accounted allocator's 64-byte
 * header plus malloc's alignment slack and chunk header. */
#define LD_ALLOC_SLACK 128
/* Blocks at least this big are mapped pages of their own (core/alloc.h). */
#define LD_MMAP_MIN LD_ALLOC_MAP_MIN

/* Resident bytes of one block of `n` payload bytes. */
size_t ld_block_bytes(size_t n);
size_t ld_page_round(size_t n);

/* a + b, saturating at SIZE_MAX (budgets compare, they never wrap). */
size_t ld_add_sat(size_t a, size_t b);

/* Sum r->bytes into r->total_bytes and set r->fits against r->max_memory. */
void ld_report_total(leandet_plan_report *r);

/* "812 B", "37.5 KiB", "12.3 MiB", "1.20 GiB" into buf; returns buf. */
const char *ld_fmt_bytes(size_t n, char *buf, size_t cap);

/* How much the resident memory of a command at its start varies from run
 * to run (measured: 1.9-2.5 MiB for `leandet detect`, where the loader's
 * placement decides how many library pages fault in together). Budgets
 * suggested to the user for a later run include it. */
#define LD_START_VARIANCE_BYTES ((size_t)512 << 10)

/* "process 2.1 MiB, model file 4.0 MiB, arena 3.1 MiB, ..." (non-zero
 * categories, in enum order) into buf. */
void ld_fmt_breakdown(const leandet_plan_report *r, char *buf, size_t cap);

/* "would fit: a budget of 12.4 MiB; one thread (12.1 MiB); ..." from the
 * cheaper totals of a refused plan; `cli` words them as leandet's options
 * ("--max-memory 12.4 MiB; --threads 1 ..."). */
void ld_fmt_would_fit(const leandet_plan_report *r, int cli, char *buf, size_t cap);

/* Bytes decoding one image holds at its peak: the file read into memory,
 * the RGB pixels, and the codec's working memory (PNG keeps rows and the
 * inflate window, JPEG a few rows plus `jpeg_coef_bytes`, from
 * ld_jpeg_coef_bytes). `format` is an ld_image_format. */
size_t ld_budget_image_bytes(int format, int width, int height, size_t file_bytes, size_t jpeg_coef_bytes);

/* The part of that which stays resident after decoding: the codec
 * library's code and tables (0 for BMP and PPM, decoded by leandet). */
size_t ld_budget_codec_code_bytes(int format);

/* Bytes drawing on and saving (PNG/JPEG encoding) one decoded image of this
 * width hold beyond its pixels. */
size_t ld_budget_draw_bytes(int width);

/* Bytes of DCT coefficients libjpeg buffers for this JPEG (the file's first
 * bytes suffice, up to the first scan): the whole image's for progressive
 * or multi-scan files, 0 for the usual sequential ones or when the markers
 * cannot be read. */
size_t ld_jpeg_coef_bytes(const uint8_t *data, size_t size);

#endif
