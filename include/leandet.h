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
    size_t max_memory;              /* 0: no limit on bytes this session allocates */
    int threads;                    /* 0 or 1: run on the calling thread only */
    leandet_backend backend;
    int keep_all_tensors;           /* debugging: give every tensor its own bytes (no arena
                                       sharing) so all intermediates stay readable after
                                       invoke; costs the naive sum of all tensors */
} leandet_session_options;

/* Prepare a session: infer shapes, plan the arena, allocate it once.
 * Refused with LEANDET_ERR_BUDGET (and a breakdown in err) if the planned
 * bytes exceed options->max_memory. */
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
/* Images                                                               */
/* ------------------------------------------------------------------ */

/* An 8-bit RGB image, rows packed (stride = width * 3). */
typedef struct leandet_image {
    int width, height;
    uint8_t *pixels;
} leandet_image;

/* Decode JPEG, PNG, BMP or PPM/PGM (sniffed from the bytes). The result's
 * pixels are owned by the caller: release with leandet_image_free. */
leandet_status leandet_image_load(const char *path, leandet_image *out, leandet_error *err);
void leandet_image_free(leandet_image *img);

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

/* Which decoder and resize mode the detector chose (never AUTO). */
leandet_decoder leandet_detector_decoder(const leandet_detector *d);
leandet_resize_mode leandet_detector_resize(const leandet_detector *d);
const char *leandet_decoder_name(leandet_decoder k);

#ifdef __cplusplus
}
#endif
#endif /* LEANDET_H */
