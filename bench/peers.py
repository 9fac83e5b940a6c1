#!/usr/bin/env python3
"""TensorFlow Lite peer runner for bench/run.py: one measurement per process,
so that peak RSS (VmHWM of this process) belongs to one runtime.
Prints one JSON object on stdout.

  peers.py latency --model M --resolver R --threads N --runs K --warmup W [--input RAW]
      like `leandet bench --json`: init (Interpreter construct + allocate_tensors),
      first invoke, median/p90/min of K timed invokes after W untimed ones, peak
      RSS; also the RSS after the imports (what python + numpy + the runtime cost
      before any model), so that the runtime's own share can be read.
  peers.py first --model M --resolver R --threads N --image IMG
      load-to-first-result: prints a line as soon as the first output is read,
      then the phases as CLOCK_MONOTONIC timestamps (shared by all processes on
      Linux, so the parent can subtract its spawn time): script start (python
      started), imports done, interpreter ready, first output.
  peers.py folder --model M --resolver R --threads N --images DIR [--limit L]
      images/s of a python loop: PIL decode + resize + normalize + invoke, per file.

R: xnnpack (default delegates, as plain TFLite runs a model), builtin
(BUILTIN_WITHOUT_DEFAULT_DELEGATES: TFLite's optimized kernels, no XNNPACK), ref
(BUILTIN_REF: the reference kernels leandet is bit-exact with).
Inputs without --input are pseudo-random values valid for the type (floats in [0, 1)).
"""
import time

T_SCRIPT = time.monotonic()   # before the heavy imports: python's own startup ends here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm")
RESOLVERS = {"xnnpack": "BUILTIN", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "ref": "BUILTIN_REF"}


def peak_rss_bytes():
    """VmHWM, as leandet bench: ru_maxrss would also hold the peak of the
    image exec replaced (the harness that spawned us)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: KiB


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def litert():
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    return Interpreter, OpResolverType


def make_interpreter(model, resolver, threads):
    Interpreter, OpResolverType = litert()
    it = Interpreter(model_path=model, num_threads=threads,
                     experimental_op_resolver_type=getattr(OpResolverType, RESOLVERS[resolver]))
    it.allocate_tensors()
    return it


def summarize(times):
    """Same definitions as leandet bench: median (mean of the middle two for
    even n), p90 by nearest rank, min."""
    t = sorted(times)
    n = len(t)
    median = t[n // 2] if n % 2 else (t[n // 2 - 1] + t[n // 2]) / 2
    rank = (9 * n + 9) // 10
    return {"median_ms": median, "p90_ms": t[max(rank, 1) - 1], "min_ms": t[0]}


def random_input(detail, rng):
    dtype = np.dtype(detail["dtype"])
    shape = detail["shape"]
    if dtype.kind == "f":
        return rng.random(shape, dtype=np.float64).astype(dtype)
    if dtype.kind in "iu" and dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, size=shape, dtype=dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    return rng.integers(0, 256, size=shape).astype(dtype)


def set_inputs(it, raw_path=None):
    rng = np.random.default_rng(0x6C65616E646574)
    for i, d in enumerate(it.get_input_details()):
        if i == 0 and raw_path:
            dtype = np.dtype(d["dtype"])
            data = np.fromfile(raw_path, dtype=dtype)
            if data.size != int(np.prod(d["shape"])):
                sys.exit(f"peers.py: {raw_path}: {data.size} values, input 0 needs {list(d['shape'])}")
            it.set_tensor(d["index"], data.reshape(d["shape"]))
        else:
            it.set_tensor(d["index"], random_input(d, rng))


# ---------------------------------------------------------------------------
# Preprocessing: the model families of src/runtime/detector.c, by model shape
# and name: YOLO (one rank-3 output) letterbox with 114 and [0, 1]; palm
# stretch and [0, 1]; SSD and BlazeFace stretch and [-1, 1]. uint8 inputs get
# the resized pixels; int8 inputs the normalized value quantized.

def family(it, model):
    outs = it.get_output_details()
    if len(outs) == 1 and len(outs[0]["shape"]) == 3:
        return "letterbox", 1 / 255.0, 0.0
    if "palm" in os.path.basename(model):
        return "stretch", 1 / 255.0, 0.0
    return "stretch", 1 / 127.5, -1.0


class Preprocessor:
    def __init__(self, it, model):
        from PIL import Image
        self.Image = Image
        d = it.get_input_details()[0]
        self.index = d["index"]
        self.dtype = np.dtype(d["dtype"])
        _, self.h, self.w, _ = (int(v) for v in d["shape"])
        self.scale, self.zero_point = d["quantization"]
        self.mode, self.mul, self.add = family(it, model)

    def __call__(self, path):
        img = self.Image.open(path).convert("RGB")
        if self.mode == "letterbox":
            r = min(self.w / img.width, self.h / img.height)
            cw, ch = max(1, round(img.width * r)), max(1, round(img.height * r))
            canvas = self.Image.new("RGB", (self.w, self.h), (114, 114, 114))
            canvas.paste(img.resize((cw, ch), self.Image.BILINEAR), ((self.w - cw) // 2, (self.h - ch) // 2))
            img = canvas
        else:
            img = img.resize((self.w, self.h), self.Image.BILINEAR)
        px = np.asarray(img, dtype=np.uint8)[None]
        if self.dtype == np.uint8:
            return px
        v = px.astype(np.float32) * np.float32(self.mul) + np.float32(self.add)
        if self.dtype == np.int8:
            q = np.round(v / np.float32(self.scale)) + self.zero_point
            return np.clip(q, -128, 127).astype(np.int8)
        return v.astype(self.dtype)


def read_outputs(it):
    return [it.get_tensor(o["index"]) for o in it.get_output_details()]


# ---------------------------------------------------------------------------

def cmd_latency(a):
    # Baseline before the runtime's library is loaded: python + numpy only.
    baseline_peak, baseline_now = peak_rss_bytes(), current_rss_bytes()
    litert()   # import outside the init timing, as leandet's code is loaded by exec
    t0 = time.monotonic()
    it = make_interpreter(a.model, a.resolver, a.threads)
    init_ms = (time.monotonic() - t0) * 1e3
    set_inputs(it, a.input)

    def invoke():
        t = time.monotonic()
        it.invoke()
        return (time.monotonic() - t) * 1e3

    first_ms = invoke()
    for _ in range(a.warmup):
        invoke()
    times = [invoke() for _ in range(a.runs)]
    return {"init_ms": init_ms, "first_ms": first_ms, **summarize(times), "runs": a.runs,
            "warmup": a.warmup, "peak_rss_bytes": peak_rss_bytes(),
            "baseline_rss_bytes": max(baseline_peak, baseline_now)}


def cmd_first(a):
    litert()
    import PIL.Image  # noqa: F401
    t_imports = time.monotonic()
    it = make_interpreter(a.model, a.resolver, a.threads)
    pre = Preprocessor(it, a.model)
    t_ready = time.monotonic()
    it.set_tensor(pre.index, pre(a.image))
    it.invoke()
    read_outputs(it)
    t_first = time.monotonic()
    print(json.dumps({"first_output": True}), flush=True)   # the parent timestamps this line
    return {"t_script": T_SCRIPT, "t_imports": t_imports, "t_ready": t_ready, "t_first": t_first,
            "peak_rss_bytes": peak_rss_bytes()}


def list_images(folder, limit):
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    return files[:limit] if limit else files


def cmd_folder(a):
    files = list_images(a.images, a.limit)
    if not files:
        sys.exit(f"peers.py: no images in {a.images}")
    t0 = time.monotonic()
    it = make_interpreter(a.model, a.resolver, a.threads)
    pre = Preprocessor(it, a.model)
    t_loop = time.monotonic()
    for path in files:
        it.set_tensor(pre.index, pre(path))
        it.invoke()
        read_outputs(it)
    t_end = time.monotonic()
    return {"images": len(files), "loop_s": t_end - t_loop, "init_s": t_loop - t0,
            "images_per_s": len(files) / (t_end - t_loop), "peak_rss_bytes": peak_rss_bytes()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["latency", "first", "folder"])
    p.add_argument("--model", required=True)
    p.add_argument("--resolver", choices=sorted(RESOLVERS), default="xnnpack")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--input", help="raw bytes of input 0 (e.g. from leandet detect --dump-input)")
    p.add_argument("--image")
    p.add_argument("--images")
    p.add_argument("--limit", type=int, default=0)
    a = p.parse_args()
    if a.mode == "first" and not a.image or a.mode == "folder" and not a.images:
        p.error(f"{a.mode} needs --image / --images")
    res = {"latency": cmd_latency, "first": cmd_first, "folder": cmd_folder}[a.mode](a)
    res.update({"model": a.model, "resolver": a.resolver, "threads": a.threads})
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
