/*
 * leandet — run TensorFlow Lite detection models inside a declared budget.
 *
 * Conventions (apply to every function below):
 *  - Every function returns leandet_status; results come back through
 *    out-parameters. On failure, out-parameters are left untouched (or NULL)
 *    and, if `err` is non-NULL, err->message names the thing and the reason.
 *  - Every *_create / *_open has a matching *_destroy / *_close that accepts
 *    NULL. Objects returned through `T **out` are owned by the caller.
 *  - A leandet_model is immutable after open and may be shared by any number
 *    of sessions on any threads. A leandet_session belongs to one thread at a
 *    time; it borrows its model, which must outlive it.
 *  - Pointers returned by getters (names, tensor data, detections) are
 *    borrowed: valid until the owning object is destroyed or, for session
 *    outputs, until the next invoke.
 *  - The library never calls abort() or exit() and has no global mutable
 *    state.
 */
#ifndef LEANDET_H
#define LEANDET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEANDET_VERSION "0.1.0"

typedef enum leandet_status {
    LEANDET_OK = 0,
    LEANDET_ERR_ARGUMENT,     /* a caller-supplied argument is invalid */
    LEANDET_ERR_IO,           /* file cannot be opened, read, mapped or written */
    LEANDET_ERR_MODEL,        /* model file is malformed */
    LEANDET_ERR_UNSUPPORTED,  /* valid model/image that uses something not implemented */
    LEANDET_ERR_IMAGE,        /* image file is malformed or unsupported */
    LEANDET_ERR_NO_MEMORY,    /* an allocation failed */
    LEANDET_ERR_BUDGET,       /* the plan does not fit the declared budget */
    LEANDET_ERR_INTERNAL      /* an invariant of leandet itself was violated */
} leandet_status;

/* Short, static name of a status ("model", "io", ...). Never NULL. */
const char *leandet_status_name(leandet_status s);

/* Error details. Caller-owned, typically on the stack. */
typedef struct leandet_error {
    leandet_status status;
    char message[512];
} leandet_error;

/* Optional caller allocator. alloc returns memory aligned to at least
 * `align` (a power of two <= 4096) or NULL; free accepts NULL. */
typedef struct leandet_allocator {
    void *(*alloc)(void *ctx, size_t size, size_t align);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} leandet_allocator;

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

typedef struct leandet_model leandet_model;

/* Tensor element types, numbered as in the TFLite schema. */
typedef enum leandet_dtype {
    LEANDET_FLOAT32 = 0,
    LEANDET_FLOAT16 = 1,
    LEANDET_INT32 = 2,
    LEANDET_UINT8 = 3,
    LEANDET_INT64 = 4,
    LEANDET_STRING = 5,
    LEANDET_BOOL = 6,
    LEANDET_INT16 = 7,
    LEANDET_INT8 = 9
} leandet_dtype;

const char *leandet_dtype_name(leandet_dtype t);
size_t leandet_dtype_size(leandet_dtype t); /* 0 for STRING/unknown */

#define LEANDET_MAX_DIMS 6

/* Description of a model input or output (borrowed strings). */
typedef struct leandet_tensor_info {
    const char *name;
    leandet_dtype type;
    int rank;
    int32_t dims[LEANDET_MAX_DIMS];
    int quantized;       /* 1 if scale/zero_point are meaningful */
    float scale;         /* first (or only) scale */
    int32_t zero_point;  /* first (or only) zero point */
    int per_channel;     /* 1 if quantized with more than one scale */
} leandet_tensor_info;

/* Map and validate a .tflite file. `alloc` may be NULL (malloc is used).
 * The file stays mapped until leandet_model_close; weights are not copied
 * unless they must be converted (alignment, float16). */
leandet_status leandet_model_open(const char *path, const leandet_allocator *alloc,
                                  leandet_model **out, leandet_error *err);
void leandet_model_close(leandet_model *model);

int leandet_model_num_inputs(const leandet_model *model);
int leandet_model_num_outputs(const leandet_model *model);
leandet_status leandet_model_input_info(const leandet_model *model, int index,
                                        leandet_tensor_info *out);
leandet_status leandet_model_output_info(const leandet_model *model, int index,
                                         leandet_tensor_info *out);
const char *leandet_model_path(const leandet_model *model);

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

typedef struct leandet_session leandet_session;

typedef enum leandet_backend {
    LEANDET_BACKEND_AUTO = 0,      /* optimized kernels where the CPU has them, else reference */
    LEANDET_BACKEND_REFERENCE = 1  /* portable reference kernels only (the oracle path) */
} leandet_backend;

typedef struct leandet_session_options {
    const leandet_allocator *alloc; /* NULL: malloc */
    size_t max_memory;              /* 0: no limit; else the plan's total must fit (below) */
    int threads;                    /* 0 or 1: run on the calling thread only */
    leandet_backend backend;
    int keep_all_tensors;           /* debugging: give every tensor its own bytes (no arena
                                       sharing) so all intermediates stay readable after
                                       invoke; costs the naive sum of all tensors */
    /* --- budget: max_memory bounds the total of the plan (leandet_plan_report).
     * The session counts what it allocates and its worker stacks; the caller
     * adds what it holds outside the session, so that max_memory can bound
     * a whole process (leandet's CLI does). All default to 0. */
    int count_model;                /* 1: also count the model's mapped file and description
                                       (leave 0 when several sessions share one model and
                                       the caller counts it once) */
    size_t process_bytes;           /* the process itself: leandet_process_resident_bytes()
                                       at start plus code the run will touch */
    size_t io_bytes;                /* result buffers, detector working memory */
    size_t image_bytes;             /* image files and decode buffers held at once */
    size_t pipeline_bytes;          /* drawing, encoding, queues */
    const int *cpus;                /* optional CPU list: worker k is pinned to cpus[k % n_cpus] */
    int n_cpus;
    int batch;                      /* 0 or 1: the model's batch; N > 1: dimension 0 of every
                                       input becomes N (refused if the graph cannot follow) */
    int no_inplace;                 /* debugging: reshape-like ops copy their input instead of
                                       sharing its bytes */
    struct leandet_plan_report *report; /* optional: receives the plan, also when the budget
                                       refuses it */
    const leandet_session *share_weights; /* optional: a session of the same model,
                                       backend, batch and keep_all_tensors whose packed and
                                       folded weights this one reads instead of making its
                                       own (borrowed: it must outlive this session; its plan
                                       counts them, this one's does not; a session that itself
                                       shares stands for the one it shares from). Sessions
                                       sharing weights may run on different threads at once */
} leandet_session_options;

/* Prepare a session: infer shapes, plan the arena, allocate it once.
 * Refused with LEANDET_ERR_BUDGET (and a breakdown in err) if the planned
 * bytes exceed options->max_memory, before the arena, scratch or worker
 * threads exist (only prepare's small allocations and folded weights were
 * made, and are freed). */
leandet_status leandet_session_create(const leandet_model *model,
                                      const leandet_session_options *options,
                                      leandet_session **out, leandet_error *err);
void leandet_session_destroy(leandet_session *session);

/* Input/output tensor buffers (borrowed, owned by the session). The caller
 * fills inputs before invoke; outputs are valid until the next invoke. */
void *leandet_session_input(leandet_session *s, int index, size_t *bytes);
const void *leandet_session_output(const leandet_session *s, int index, size_t *bytes);

/* Run the graph once. Performs no heap allocation. */
leandet_status leandet_session_invoke(leandet_session *s, leandet_error *err);

/* Bytes the session holds (arena + per-op state + scratch). */
size_t leandet_session_arena_bytes(const leandet_session *s);

/* ------------------------------------------------------------------ */
/* Memory plan and budget                                               */
/* ------------------------------------------------------------------ */

/* Where the predicted resident bytes of a run go. */
typedef enum leandet_mem_category {
    LEANDET_MEM_PROCESS = 0,   /* the process: code, libc, codecs (caller-declared) */
    LEANDET_MEM_MODEL_FILE,    /* the mapped .tflite file: weights are read every invoke */
    LEANDET_MEM_MODEL_META,    /* the parsed model description (and realigned weights) */
    LEANDET_MEM_SESSION,       /* tensors, op table, plan: the small allocations of prepare */
    LEANDET_MEM_FOLDED,        /* weights copied or dequantized once (constant folding) */
    LEANDET_MEM_PACKED,        /* weights re-laid out for optimized kernels */
    LEANDET_MEM_OP_STATE,      /* other per-op state */
    LEANDET_MEM_ARENA,         /* activations, inputs and outputs: one planned block */
    LEANDET_MEM_SCRATCH,       /* the largest scratch any op asked for */
    LEANDET_MEM_IO,            /* result buffers, detector working memory (caller-declared) */
    LEANDET_MEM_IMAGE,         /* image files and decode buffers (caller-declared) */
    LEANDET_MEM_PIPELINE,      /* drawing, encoding, queues (caller-declared) */
    LEANDET_MEM_THREADS,       /* worker thread stacks */
    LEANDET_MEM_MARGIN,        /* run-to-run variation of resident pages (allocator, page
                                  granularity, readahead of the mapped model): 5% of the
                                  rest, at least 512 KiB, so the budget holds every run */
    LEANDET_MEM_COUNT
} leandet_mem_category;

/* Short, static name of a category ("arena", "packed weights", ...). Never NULL. */
const char *leandet_mem_category_name(leandet_mem_category c);

typedef struct leandet_plan_report {
    size_t bytes[LEANDET_MEM_COUNT]; /* predicted resident bytes per category */
    size_t total_bytes;       /* their sum: the predicted peak of the run */
    size_t max_memory;        /* the budget checked (0: none) */
    int fits;                 /* 1: no budget, or total_bytes <= max_memory */
    size_t arena_bytes;       /* planned arena (activations share bytes) ... */
    size_t naive_bytes;       /* ... versus the sum of all activation tensors */
    int peak_step;            /* op index with the most live activation bytes (-1: inputs only) */
    size_t peak_live_bytes;   /* those bytes: a lower bound of any arena */
    int n_ops;
    int n_aliased;            /* tensors sharing their input's bytes in place */
    uint64_t macs;            /* multiply-accumulates of one invoke */
    int threads, batch;       /* as configured (>= 1) */
    /* When the plan does not fit: totals of cheaper configurations (0: not
     * applicable or not smaller). */
    size_t total_reference;   /* reference kernels only: no packed weights */
    size_t total_one_thread;  /* one thread: no worker stacks */
    int max_batch;            /* with batch > 1: the largest batch that fits (0: none) */
} leandet_plan_report;

/* Prepare and plan a session with `options` without allocating its arena,
 * scratch or threads, and fill *report. Returns LEANDET_OK when the plan
 * fits options->max_memory, LEANDET_ERR_BUDGET (report filled, message with
 * the breakdown) when it does not, another status when the model cannot be
 * prepared. */
leandet_status leandet_plan_model(const leandet_model *model, const leandet_session_options *options,
                                  leandet_plan_report *report, leandet_error *err);

/* The plan of a live session (as created). */
leandet_status leandet_session_plan(const leandet_session *s, leandet_plan_report *out);

/* Free the arena and scratch between bursts of work, keeping the model,
 * kernels and plan: inputs and outputs are gone. The next
 * leandet_session_acquire, leandet_session_input or invoke allocates them
 * again, at the same offsets (the only allocation invoke ever makes). */
void leandet_session_release(leandet_session *s);
leandet_status leandet_session_acquire(leandet_session *s, leandet_error *err);

/* Resident memory of the calling process now (Linux: /proc/self/statm),
 * 0 if it cannot be read. */
size_t leandet_process_resident_bytes(void);

/* ------------------------------------------------------------------ */
/* Images                                                               */
/* ------------------------------------------------------------------ */

/* An 8-bit RGB image, rows packed (stride = width * 3). */
typedef struct leandet_image {
    int width, height;
    uint8_t *pixels;
} leandet_image;

/* Decode JPEG, PNG, BMP or PPM/PGM (sniffed from the bytes). The file is
 * mapped, not copied. The result's pixels are owned by the caller: release
 * with leandet_image_free. */
leandet_status leandet_image_load(const char *path, leandet_image *out, leandet_error *err);
void leandet_image_free(leandet_image *img);

/* The same with the pixels taken from `alloc` (NULL: malloc), e.g. the
 * allocator that also holds the caller's budget; they go back to the same
 * allocator with leandet_image_free_with(img, alloc). The codec libraries'
 * own small state (libjpeg-turbo, libspng: tens to hundreds of KiB) is
 * theirs, and is counted by the plan's image category instead. */
leandet_status leandet_image_load_with(const char *path, const leandet_allocator *alloc, leandet_image *out,
                                       leandet_error *err);
void leandet_image_free_with(leandet_image *img, const leandet_allocator *alloc);

/* ------------------------------------------------------------------ */
/* Detection                                                            */
/* ------------------------------------------------------------------ */

typedef enum leandet_decoder {
    LEANDET_DECODER_AUTO = 0,      /* from the model's outputs */
    LEANDET_DECODER_POSTPROCESS,   /* TFLite_Detection_PostProcess op in the graph */
    LEANDET_DECODER_BLAZEFACE,     /* MediaPipe SSD anchors (face, palm) */
    LEANDET_DECODER_YOLOV5,        /* [1,N,5+C] */
    LEANDET_DECODER_YOLOV8         /* [1,4+C,N] */
} leandet_decoder;

typedef enum leandet_resize_mode {
    LEANDET_RESIZE_AUTO = 0,   /* stretch for SSD/MediaPipe, letterbox for YOLO */
    LEANDET_RESIZE_STRETCH,
    LEANDET_RESIZE_LETTERBOX   /* keep aspect, pad with 114 */
} leandet_resize_mode;

/* Tiled detection, for small objects in large images: the model also runs
 * on a rows x cols grid of overlapping crops of the original image, each
 * resized to the model input as a whole image would be, next to the whole
 * image (downscaled as usual). Every view's boxes are mapped back to the
 * original image and merged: a box cut by an inner tile border is dropped
 * when a larger box of its class covers most of it, then class-wise NMS at
 * the detector's IoU threshold (the --iou / decoder value; for the SSD
 * post-process op, the op's own nms_iou_threshold). The session's input
 * then holds the last view fed. Zero-initialized: off. */
typedef struct leandet_tile_options {
    int rows, cols;          /* grid, each 1..LEANDET_TILE_MAX_GRID and not both 1;
                                0 x 0 (the default): no tiling */
    float overlap;           /* share of a tile's width/height that overlaps its
                                neighbour, in [0, 1) (default 0.1) */
    int overlap_px;          /* > 0: the overlap in pixels of the original image
                                instead (a tile never exceeds the image) */
    int no_whole_view;       /* 1: run the tiles only, not the whole image */
} leandet_tile_options;

#define LEANDET_TILE_MAX_GRID 16

typedef struct leandet_detect_options {
    leandet_decoder decoder;
    leandet_resize_mode resize;
    float score_threshold;   /* keep detections scoring at least this (default 0.5;
                                negative: the decoder's convention) */
    float iou_threshold;     /* NMS IoU for decoders that run their own NMS; negative
                                (the default): the decoder's convention, 0.45 for YOLO
                                as Ultralytics, the MediaPipe graph's value (0.3) */
    int max_detections;      /* cap on returned detections (default 100) */
    const char *anchors;     /* MediaPipe anchor parameters for the BLAZEFACE decoder:
                                a preset name or "key=value,..." (see src/detect/
                                anchor_spec.h); NULL: the preset matching the model.
                                Borrowed: used during leandet_detector_create only. */
    leandet_tile_options tile; /* tiled detection (above); zero: off. Only
                                leandet_detector_run tiles: the pipeline resizes its
                                inputs before inference, so leandet_pipeline_create
                                refuses tiling (LEANDET_ERR_UNSUPPORTED) */
} leandet_detect_options;

/* Fill *o with the defaults above (decoder and resize AUTO). */
void leandet_detect_options_default(leandet_detect_options *o);

typedef struct leandet_detection {
    int class_id;            /* 0-based, as the model emits it */
    float score;
    float box[4];            /* ymin, xmin, ymax, xmax normalized to the original image */
} leandet_detection;

/* A detector binds a session to a decoder: it picks the decoder and the
 * preprocessing (resize mode, normalization) from the model once, and owns
 * the decoder's working memory, so running it allocates nothing. It borrows
 * the session, which must outlive it and is used by it exclusively. */
typedef struct leandet_detector leandet_detector;

leandet_status leandet_detector_create(leandet_session *session, const leandet_detect_options *options,
                                       leandet_detector **out, leandet_error *err);
void leandet_detector_destroy(leandet_detector *d);

/* Preprocess `img` into the session's input 0, invoke, decode. `out` holds
 * `capacity` detections; *count receives how many were written (sorted by
 * decreasing score). The session's input keeps the exact tensor fed. */
leandet_status leandet_detector_run(leandet_detector *d, const leandet_image *img, leandet_detection *out,
                                    int capacity, int *count, leandet_error *err);

/* Views (tiles plus the whole image) the last leandet_detector_run ran:
 * 1 without tiling, 0 before the first run. */
int leandet_detector_views(const leandet_detector *d);

/* Which decoder and resize mode the detector chose (never AUTO). */
leandet_decoder leandet_detector_decoder(const leandet_detector *d);
leandet_resize_mode leandet_detector_resize(const leandet_detector *d);
const char *leandet_decoder_name(leandet_decoder k);

/* ------------------------------------------------------------------ */
/* Pipeline: many inputs, in order                                      */
/* ------------------------------------------------------------------ */

/* A throughput pipeline over one model:
 *   submit -> decode workers (decode, scaled JPEG decode, preprocess into a
 *   fixed pool of input-tensor slots) -> inference workers (one session and
 *   detector each, all sharing the model) -> results in submission order.
 * Every buffer (slots, decode buffers, sessions) is allocated by
 * leandet_pipeline_create; running allocates nothing in leandet itself
 * (the image codecs keep small per-image working state). Memory is
 * therefore flat and known up front: leandet_pipeline_memory_bytes.
 *
 * A slot holds an input from its submission until its result has been
 * delivered, so at most `slots` inputs are in flight and results wait for
 * earlier ones in a reorder window of that size. */
typedef struct leandet_pipeline leandet_pipeline;

typedef struct leandet_pipeline_options {
    int sessions;             /* inference workers, each with a session (default 1) */
    int threads_per_session;  /* intra-op threads per session (default 1) */
    int decode_workers;       /* threads decoding and preprocessing inputs (default 1) */
    int threads;              /* thread budget: at most this many threads compute at
                                 once, a decode worker counting 1 while it prepares an
                                 input and a session threads_per_session while it
                                 invokes (waiting workers hold nothing; granted in
                                 arrival order). So decode_workers may equal threads
                                 without oversubscribing. 0 (default): no budget;
                                 otherwise >= threads_per_session */
    int prefetch;             /* inputs prepared ahead of inference; slots = sessions
                                 + prefetch (default 2; 0 for lowest latency) */
    size_t max_memory;        /* 0: no limit. Otherwise the pipeline's buffers must
                                 fit and the sessions share the rest evenly, or
                                 create fails with LEANDET_ERR_BUDGET before any
                                 thread runs (ld_pipeline_plan_bytes: the buffers) */
    size_t max_image_pixels;  /* a decode worker's buffer, in RGB pixels (default
                                 4096*4096, 48 MiB per decode worker). Inputs are
                                 resized as their rows decode and need only two rows
                                 (+ the input width * 12 bytes) of it; interlaced
                                 PNGs decode whole first and need their w*h (after
                                 JPEG scaling). An input that does not fit fails alone */
    int scaled_decode;        /* 1 (default): a JPEG at least twice the model input
                                 is decoded at 1/2, 1/4 or 1/8 before the resize */
    leandet_backend backend;
    const leandet_allocator *alloc; /* NULL: malloc */
    leandet_detect_options detect;
} leandet_pipeline_options;

/* Fill *o with the defaults above. */
void leandet_pipeline_options_default(leandet_pipeline_options *o);

typedef enum leandet_input_kind {
    LEANDET_INPUT_FILE = 0,   /* path: an image file (JPEG, PNG, BMP, PPM) */
    LEANDET_INPUT_ENCODED,    /* data/size: an image file's bytes in memory */
    LEANDET_INPUT_IMAGE       /* image: decoded RGB pixels */
} leandet_input_kind;

/* One input. ENCODED bytes and IMAGE pixels are borrowed: they must stay
 * valid and unchanged until the input's result has been delivered. */
typedef struct leandet_pipeline_input {
    leandet_input_kind kind;
    const char *path;          /* FILE: the file. Others: a name for results and
                                  messages (may be NULL). Copied; < 4096 bytes */
    const void *data;          /* ENCODED */
    size_t size;               /* ENCODED */
    const leandet_image *image;/* IMAGE (the struct is copied, the pixels borrowed) */
    void *user;                /* handed back in the result */
} leandet_pipeline_input;

/* The result of one input; every pointer is valid only until the callback
 * returns (callback mode) or the next leandet_pipeline_next (poll mode). */
typedef struct leandet_pipeline_result {
    uint64_t index;            /* submission order, from 0: results come in this order */
    const char *name;          /* the input's path or name ("" if none) */
    void *user;
    leandet_status status;     /* LEANDET_OK, or why this input failed (the run goes on) */
    const char *error;         /* message naming the input; "" when status is OK */
    int width, height;         /* the image's own size (0 when not known) */
    int decode_scale;          /* JPEG decoded at 1/decode_scale; 1 otherwise */
    const leandet_detection *detections; /* `count` of them, by decreasing score */
    int count;
    const void *input;         /* the exact input tensor fed to the model (NULL if it failed) */
    size_t input_bytes;
} leandet_pipeline_result;

/* Called once per input, in submission order, from one pipeline thread at
 * a time. It must not call back into the same pipeline. */
typedef void (*leandet_pipeline_callback)(void *user, const leandet_pipeline_result *result);

/* Create sessions, detectors, slots and threads. `callback` NULL selects
 * poll mode (leandet_pipeline_next). `options` NULL: defaults. The model
 * must outlive the pipeline. */
leandet_status leandet_pipeline_create(const leandet_model *model, const leandet_pipeline_options *options,
                                       leandet_pipeline_callback callback, void *user,
                                       leandet_pipeline **out, leandet_error *err);

/* Queue one input; blocks while every slot is in use (backpressure). In
 * poll mode slots are freed only by leandet_pipeline_next, so a poller that
 * also submits uses leandet_pipeline_try_submit and takes results when it
 * is refused. Errors concern the call itself (NULL, path too long, pipeline
 * finished); a bad image is reported in its result instead. */
leandet_status leandet_pipeline_submit(leandet_pipeline *p, const leandet_pipeline_input *input,
                                       leandet_error *err);
/* As submit, but *accepted = 0 instead of blocking when no slot is free. */
leandet_status leandet_pipeline_try_submit(leandet_pipeline *p, const leandet_pipeline_input *input,
                                           int *accepted, leandet_error *err);

/* Poll mode: the next result in order into *out (*got = 1). wait != 0
 * blocks until it is ready; with wait == 0 *got = 0 when it is not ready
 * yet. After leandet_pipeline_finish, *got = 0 also means every result has
 * been taken (and wait no longer blocks). The result is copied out of its
 * slot, which is free for a new input at once; *out stays valid until the
 * next call. */
leandet_status leandet_pipeline_next(leandet_pipeline *p, int wait, leandet_pipeline_result *out, int *got,
                                     leandet_error *err);

/* No more inputs. Callback mode: returns once every result has been
 * delivered. Poll mode: returns at once. */
leandet_status leandet_pipeline_finish(leandet_pipeline *p, leandet_error *err);

/* Stop the threads and free everything; results not yet delivered are
 * dropped (no callback). Accepts NULL. */
void leandet_pipeline_destroy(leandet_pipeline *p);

/* The size a w x h image takes inside the model input (the whole input
 * when stretching; letterbox keeps the aspect ratio). A caller that scales
 * its images to exactly this size itself (a video decoder scaling frames)
 * gets them through preprocessing unresampled; boxes stay normalized to the
 * original image. */
leandet_status leandet_pipeline_fit_size(const leandet_pipeline *p, int w, int h, int *fit_w, int *fit_h);

int leandet_pipeline_slots(const leandet_pipeline *p);
/* Bytes allocated by create: the pipeline's buffers plus every session. */
size_t leandet_pipeline_memory_bytes(const leandet_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif /* LEANDET_H */
