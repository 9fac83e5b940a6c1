#!/usr/bin/env python3
"""TensorFlow Lite oracle for leandet.

Runs the real TFLite interpreter (pip `ai-edge-litert`, else `tflite-runtime`)
with its reference kernels (OpResolverType.BUILTIN_REF) and compares leandet's
tensors with it.

  oracle.py run     --model M --input RAW --out DIR [--all]
  oracle.py compare --model M --input RAW --leandet DIR [--all] [--tol T]
  oracle.py golden  [--models DIR] [--images DIR] [--leandet BIN] [--out DIR]
  (--builtin: optimized kernels without delegates; --xnnpack: default
  delegates, i.e. XNNPACK, as plain TFLite runs a model)

Dump layout, shared with `leandet tensors` and `leandet detect --dump-output`:
  DIR/output_<i>.raw    bytes of output i (C order, little endian)
  DIR/outputs.json      [{"index", "name", "dtype", "shape", "scale",
                          "zero_point"}] in output order; "index" is the
                          model's tensor index (the output position is
                          accepted too); scale 0 when not quantized; only
                          index, name, dtype and shape are required
  DIR/tensor_<t>.raw    (--all) tensor t = model tensor index, for every
  DIR/tensors.json      graph input and every op output, same fields

Comparison rule: integer tensors must be byte-identical (leandet claims
bit-exactness with the reference kernels); float tensors must agree within
tol (default 1e-4) times the oracle tensor's range (max - min).

Golden files (tests/golden/<model stem>__<image stem>.json) let the tests
check leandet without the interpreter: see golden_record() / check_golden().
Exit codes: 0 ok, 1 mismatch or error, 2 usage.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DEFAULT_TOL = 1e-4
GOLDEN_SAMPLES = 2048
GOLDEN_FORMAT = 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm")

# resolver option -> OpResolverType member name
RESOLVERS = {
    "ref": "BUILTIN_REF",
    "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "xnnpack": "BUILTIN",
}


class OracleError(Exception):
    """A problem with the inputs of an oracle run (bad file, wrong size)."""


class OracleUnavailable(OracleError):
    """Neither ai_edge_litert nor tflite_runtime can be imported."""


def load_litert():
    """(Interpreter class, OpResolverType enum, "package version")."""
    errors = []
    for pkg, dist in (("ai_edge_litert", "ai-edge-litert"), ("tflite_runtime", "tflite-runtime")):
        try:
            mod = __import__(pkg + ".interpreter", fromlist=["Interpreter", "OpResolverType"])
        except ImportError as e:
            errors.append(f"{pkg}: {e}")
            continue
        try:
            from importlib.metadata import version
            ver = version(dist)
        except Exception:  # metadata missing: still usable
            ver = "?"
        return mod.Interpreter, mod.OpResolverType, f"{dist} {ver}"
    raise OracleUnavailable("no TensorFlow Lite interpreter: " + "; ".join(errors)
                            + " (pip install ai-edge-litert, or scripts/install-deps)")


def oracle_available():
    try:
        load_litert()
        return True
    except OracleUnavailable:
        return False


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


# ---------------------------------------------------------------------------
# Running the interpreter

def _info(detail):
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return {
        "index": int(detail["index"]),
        "name": detail["name"],
        "dtype": np.dtype(detail["dtype"]).name,
        "shape": [int(d) for d in detail["shape"]],
        "scale": float(scale),
        "zero_point": int(zero_point),
    }


class OracleRun:
    """Result of one invoke: outputs in output order, optionally every
    activation (graph inputs and op outputs) keyed by tensor index, and the
    ops in execution order."""

    def __init__(self, outputs, tensors, ops, runtime):
        self.outputs = outputs   # [(info, ndarray)]
        self.tensors = tensors   # {tensor index: (info, ndarray)} (empty without all_tensors)
        self.ops = ops           # [{"index", "op_name", "inputs", "outputs"}]
        self.runtime = runtime   # "ai-edge-litert 2.3.0 BUILTIN_REF"


def run_model(model, input_bytes, resolver="ref", all_tensors=False):
    """Invoke `model` once with `input_bytes` as input 0."""
    Interpreter, OpResolverType, package = load_litert()
    if not os.path.isfile(model):
        raise OracleError(f"model {model}: no such file")
    if all_tensors and resolver == "xnnpack":
        # XNNPACK replaces whole subgraphs by one delegate node: the tensors
        # inside it are never written, so a per-op dump would be stale.
        raise OracleError("--all needs per-op kernels: use it with --ref or --builtin, not --xnnpack")
    rtype = getattr(OpResolverType, RESOLVERS[resolver])
    try:
        it = Interpreter(model_path=model, experimental_op_resolver_type=rtype,
                         experimental_preserve_all_tensors=all_tensors)
        it.allocate_tensors()
    except Exception as e:  # the interpreter reports bad models as ValueError/RuntimeError
        raise OracleError(f"model {model}: TFLite refused it: {e}") from e
    inputs = it.get_input_details()
    if not inputs:
        raise OracleError(f"model {model}: has no inputs")
    d = inputs[0]
    dtype = np.dtype(d["dtype"])
    need = int(np.prod(d["shape"])) * dtype.itemsize
    if len(input_bytes) != need:
        raise OracleError(
            f"input has {len(input_bytes)} bytes; model input 0 '{d['name']}' "
            f"{dtype.name} {list(map(int, d['shape']))} needs {need}")
    it.set_tensor(d["index"], np.frombuffer(input_bytes, dtype=dtype).reshape(d["shape"]))
    it.invoke()

    outputs = [(_info(o), np.array(it.get_tensor(o["index"]))) for o in it.get_output_details()]
    ops = [{"index": int(op["index"]), "op_name": op["op_name"],
            "inputs": [int(t) for t in op["inputs"]],
            "outputs": [int(t) for t in op["outputs"]]} for op in it._get_ops_details()]
    tensors = {}
    if all_tensors:
        details = {int(t["index"]): t for t in it.get_tensor_details()}
        for t in activation_order([i["index"] for i in inputs], ops):
            try:
                tensors[t] = (_info(details[t]), np.array(it.get_tensor(t)))
            except (KeyError, ValueError):  # no data (optional input, freed temp)
                pass
    return OracleRun(outputs, tensors, ops, f"{package} {RESOLVERS[resolver]}")


def activation_order(graph_inputs, ops):
    """Tensor indices in the order they become valid: graph inputs, then each
    op's outputs in execution order (-1 marks an absent optional tensor)."""
    seen, order = set(), []
    for t in list(graph_inputs) + [t for op in ops for t in op["outputs"]]:
        if t >= 0 and t not in seen:
            seen.add(t)
            order.append(t)
    return order


# ---------------------------------------------------------------------------
# Dumps (the file layout shared with leandet)

def write_dump(out_dir, run):
    os.makedirs(out_dir, exist_ok=True)
    for i, (_, arr) in enumerate(run.outputs):
        _write_raw(os.path.join(out_dir, f"output_{i}.raw"), arr)
    _write_json(os.path.join(out_dir, "outputs.json"), [info for info, _ in run.outputs])
    if run.tensors:
        for t, (_, arr) in run.tensors.items():
            _write_raw(os.path.join(out_dir, f"tensor_{t}.raw"), arr)
        _write_json(os.path.join(out_dir, "tensors.json"), [info for info, _ in run.tensors.values()])


def _write_raw(path, arr):
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def read_dump(dump_dir, with_tensors=False):
    """(outputs [(info, ndarray)], tensors {index: (info, ndarray)}) from a
    dump directory; raises OracleError naming the file on any inconsistency."""
    outputs = [(info, _read_raw(dump_dir, f"output_{i}.raw", info))
               for i, info in enumerate(_read_json(dump_dir, "outputs.json"))]
    tensors = {}
    if with_tensors:
        for info in _read_json(dump_dir, "tensors.json"):
            tensors[int(info["index"])] = (info, _read_raw(dump_dir, f"tensor_{info['index']}.raw", info))
    return outputs, tensors


def _read_json(dump_dir, name):
    path = os.path.join(dump_dir, name)
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise OracleError(f"{path}: {e}") from e
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise OracleError(f"{path}: expected a JSON list of objects")
    for d in data:
        missing = {"index", "name", "dtype", "shape"} - set(d)
        if missing:
            raise OracleError(f"{path}: entry {d} lacks {sorted(missing)}")
    return data


def _read_raw(dump_dir, name, info):
    path = os.path.join(dump_dir, name)
    try:
        dtype = np.dtype(info["dtype"]).newbyteorder("<")
    except TypeError as e:
        raise OracleError(f"{path}: unknown dtype {info['dtype']!r}") from e
    shape = [int(d) for d in info["shape"]]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise OracleError(f"{path}: {e}") from e
    need = int(np.prod(shape)) * dtype.itemsize
    if len(data) != need:
        raise OracleError(f"{path}: {len(data)} bytes, {info['dtype']} {shape} needs {need}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


# ---------------------------------------------------------------------------
# Comparison

def is_float(dtype):
    return np.dtype(dtype).kind == "f"


def value_scale(arr):
    """What a float difference is measured against: the tensor's range, or
    its magnitude (at least 1) when all values are equal."""
    finite = arr[np.isfinite(arr)] if arr.size else arr
    if finite.size == 0:
        return 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return hi - lo if hi > lo else max(abs(hi), 1.0)


def compare_arrays(expected, actual, tol=DEFAULT_TOL, scale=None):
    """(ok, text) for leandet's `actual` against the oracle's `expected`.
    `scale` overrides the float reference range (default: expected's)."""
    if expected.dtype != actual.dtype or list(expected.shape) != list(actual.shape):
        return False, (f"expected {expected.dtype.name} {list(expected.shape)}, "
                       f"got {actual.dtype.name} {list(actual.shape)}")
    if expected.tobytes() == actual.tobytes():
        return True, "identical"
    if not is_float(expected.dtype):
        diff = np.abs(expected.astype(np.int64) - actual.astype(np.int64))
        first = int(np.flatnonzero(diff)[0])
        where = [int(i) for i in np.unravel_index(first, expected.shape)]
        return False, (f"{int(np.count_nonzero(diff))}/{diff.size} elements differ, "
                       f"max {int(diff.max())} steps; first at {where}: "
                       f"expected {expected.flat[first]}, got {actual.flat[first]}")
    e = expected.astype(np.float64).ravel()
    a = actual.astype(np.float64).ravel()
    e_bad, a_bad = ~np.isfinite(e), ~np.isfinite(a)
    # Non-finite values must sit in the same places with the same value.
    if not (np.array_equal(e_bad, a_bad) and np.array_equal(
            np.nan_to_num(e[e_bad], nan=0.5), np.nan_to_num(a[a_bad], nan=0.5))):
        return False, f"non-finite values differ ({int(e_bad.sum())} expected, {int(a_bad.sum())} got)"
    if scale is None:
        scale = value_scale(expected)
    diff = np.abs(e - a)
    diff[e_bad] = 0.0
    worst = int(np.argmax(diff))
    rel = float(diff[worst]) / scale
    where = [int(i) for i in np.unravel_index(worst, expected.shape)]
    return rel <= tol, (f"max abs diff {diff[worst]:.3g} = {rel:.2e} of range {scale:.4g} at {where}: "
                        f"expected {e[worst]:.8g}, got {a[worst]:.8g}")


def compare_outputs(run, outputs, tol=DEFAULT_TOL):
    """(ok, [lines]) comparing leandet's dumped outputs with an OracleRun."""
    ok = True
    lines = []
    if len(outputs) != len(run.outputs):
        return False, [f"output count: expected {len(run.outputs)}, got {len(outputs)}"]
    for i, ((einfo, e), (ainfo, a)) in enumerate(zip(run.outputs, outputs)):
        good, text = compare_arrays(e, a, tol)
        ok &= good
        # "index" may be the model's tensor index or the output position.
        note = "" if int(ainfo["index"]) in (einfo["index"], i) else \
            f" (leandet says tensor {ainfo['index']}, model says {einfo['index']})"
        lines.append(f"output {i} '{einfo['name']}' {einfo['dtype']} {einfo['shape']}: "
                     f"{'ok' if good else 'MISMATCH'}: {text}{note}")
    return ok, lines


def compare_tensors(run, tensors, tol=DEFAULT_TOL):
    """(ok, [lines]): every activation leandet dumped, in execution order;
    names the first differing tensor and the op that produced it."""
    producer = {t: op for op in run.ops for t in op["outputs"]}
    compared = mismatched = 0
    first = None
    for t, (einfo, e) in run.tensors.items():   # insertion order = execution order
        if t not in tensors:
            continue   # folded or fused away by leandet: nothing to compare
        compared += 1
        good, text = compare_arrays(e, tensors[t][1], tol)
        if not good:
            mismatched += 1
            if first is None:
                first = (t, einfo, text)
    skipped = len(run.tensors) - compared
    lines = [f"intermediate tensors: {compared} compared, {mismatched} differ, "
             f"{skipped} not dumped by leandet"]
    if first is not None:
        t, einfo, text = first
        op = producer.get(t)
        where = "a graph input" if op is None else \
            f"op {op['index']} {op['op_name']} (inputs {op['inputs']})"
        lines.append(f"FIRST DIFFERENCE: tensor {t} '{einfo['name']}' {einfo['dtype']} "
                     f"{einfo['shape']} produced by {where}: {text}")
        if op is not None:
            unchecked = [i for i in op["inputs"] if i in run.tensors and i not in tensors]
            if unchecked:
                lines.append(f"  (inputs {unchecked} were not dumped by leandet, so the "
                             f"difference may start earlier)")
    return first is None, lines


# ---------------------------------------------------------------------------
# Golden files

def sample_indices(n, count=GOLDEN_SAMPLES):
    """At most `count` flat indices spread evenly over n elements. The step is
    n/count, not an integer stride, so that a stride sharing a factor with the
    last dimension cannot sample a single column."""
    if n <= count:
        return np.arange(n, dtype=np.int64)
    return (np.arange(count, dtype=np.int64) * n) // count


def _json_number(v, dtype):
    if not is_float(dtype):
        return int(v)
    # Shortest decimal that reads back as the same float32 keeps files small.
    return float(str(np.float32(v))) if np.isfinite(v) else str(float(v))


def golden_record(model_path, image_name, input_bytes, run):
    rec = {
        "format": GOLDEN_FORMAT,
        "model": os.path.basename(model_path),
        "model_sha256": sha256_file(model_path),
        "image": image_name,
        "oracle": run.runtime,
        "input": {"bytes": len(input_bytes), "sha256": sha256_bytes(input_bytes)},
        "sample_rule": f"flat indices (k*n)//{GOLDEN_SAMPLES} for k < {GOLDEN_SAMPLES}, or all when n <= {GOLDEN_SAMPLES}",
        "outputs": [],
    }
    for info, arr in run.outputs:
        flat = arr.ravel()
        finite = flat[np.isfinite(flat)] if is_float(arr.dtype) else flat
        rec["outputs"].append({
            "index": info["index"], "name": info["name"], "dtype": info["dtype"],
            "shape": info["shape"], "scale": info["scale"], "zero_point": info["zero_point"],
            "sha256": sha256_bytes(np.ascontiguousarray(arr).tobytes()),
            "min": _json_number(finite.min(), arr.dtype) if finite.size else None,
            "max": _json_number(finite.max(), arr.dtype) if finite.size else None,
            "sample": [_json_number(v, arr.dtype) for v in flat[sample_indices(flat.size)]],
        })
    return rec


def format_golden(rec):
    """JSON text with one line per field and per output (samples stay on
    their output's line): small, yet a diff shows which output changed."""
    compact = lambda v: json.dumps(v, separators=(",", ":"))
    lines = [f" {json.dumps(k)}: {compact(v)}" for k, v in rec.items() if k != "outputs"]
    outs = ",\n".join(f"  {compact(o)}" for o in rec["outputs"])
    return "{\n" + ",\n".join(lines) + ',\n "outputs": [\n' + outs + "\n ]\n}\n"


def check_golden(golden, outputs, tol=DEFAULT_TOL):
    """Problems (strings) with leandet's `outputs` [(info, ndarray)] against a
    golden record; empty when they match. Integer outputs must hash the same;
    float outputs must match the sampled values and min/max within tol of the
    golden range."""
    problems = []
    gouts = golden["outputs"]
    if len(outputs) != len(gouts):
        return [f"output count: golden {len(gouts)}, leandet {len(outputs)}"]
    for i, (g, (_, arr)) in enumerate(zip(gouts, outputs)):
        name = f"output {i} '{g['name']}'"
        if arr.dtype.name != g["dtype"] or list(arr.shape) != g["shape"]:
            problems.append(f"{name}: golden {g['dtype']} {g['shape']}, "
                            f"leandet {arr.dtype.name} {list(arr.shape)}")
            continue
        flat = arr.ravel()
        got = flat[sample_indices(flat.size)]
        if not is_float(arr.dtype):
            if sha256_bytes(np.ascontiguousarray(arr).tobytes()) != g["sha256"]:
                want = np.array(g["sample"], dtype=np.int64)
                d = np.abs(got.astype(np.int64) - want)
                problems.append(f"{name}: bytes differ from golden (sha256); in the "
                                f"{len(want)}-value sample {int(np.count_nonzero(d))} differ, "
                                f"max {int(d.max()) if d.size else 0} steps")
            continue
        want = np.array([float(v) for v in g["sample"]], dtype=arr.dtype)
        lo, hi = g["min"], g["max"]
        if lo is None:
            scale = 1.0
        else:
            scale = hi - lo if hi > lo else max(abs(hi), 1.0)
        ok, text = compare_arrays(want, got, tol, scale) if want.size else (True, "")
        if not ok:
            problems.append(f"{name}: sampled values ([k] is sample k = flat index "
                            f"{'k' if flat.size <= GOLDEN_SAMPLES else f'(k*{flat.size})//{GOLDEN_SAMPLES}'}): {text}")
        finite = flat[np.isfinite(flat)]
        if lo is not None and finite.size:
            for label, mine, theirs in (("min", float(finite.min()), lo), ("max", float(finite.max()), hi)):
                if abs(mine - theirs) > tol * scale:
                    problems.append(f"{name}: {label} {mine:.8g}, golden {theirs:.8g} "
                                    f"(tolerance {tol * scale:.3g})")
    return problems


def golden_path(golden_dir, model, image):
    stem = lambda p: os.path.splitext(os.path.basename(p))[0]
    return os.path.join(golden_dir, f"{stem(model)}__{stem(image)}.json")


def list_images(images_dir):
    return sorted(os.path.join(images_dir, f) for f in os.listdir(images_dir)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def leandet_dump_inputs(leandet, model, images, dump_dir, timeout=1800):
    """Run `leandet detect --dump-input DIR/in --dump-output DIR/out` on all
    images at once; returns {image path or name: JSON line dict} (an "error"
    key marks a failed image)."""
    for sub in ("in", "out"):
        os.makedirs(os.path.join(dump_dir, sub), exist_ok=True)
    cmd = [leandet, "detect", "--model", model, "--dump-input", os.path.join(dump_dir, "in"),
           "--dump-output", os.path.join(dump_dir, "out")] + list(images)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    results = {}
    for line in proc.stdout.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "image" in obj:
            results[obj["image"]] = obj
            results.setdefault(os.path.basename(str(obj["image"])), obj)
    if proc.returncode not in (0, 4) and not results:
        raise OracleError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return results


# ---------------------------------------------------------------------------
# Commands

def _read_input(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise OracleError(f"input {path}: {e}") from e


def cmd_run(args):
    run = run_model(args.model, _read_input(args.input), args.resolver, args.all)
    write_dump(args.out, run)
    for i, (info, arr) in enumerate(run.outputs):
        print(f"output {i} '{info['name']}' {info['dtype']} {info['shape']} "
              f"sha256 {sha256_bytes(arr.tobytes())[:16]}")
    if args.all:
        print(f"{len(run.tensors)} activations written to {args.out}")
    return 0


def cmd_compare(args):
    run = run_model(args.model, _read_input(args.input), args.resolver, args.all)
    outputs, tensors = read_dump(args.leandet, with_tensors=args.all)
    ok, lines = compare_outputs(run, outputs, args.tol)
    if args.all:
        tok, tlines = compare_tensors(run, tensors, args.tol)
        ok &= tok
        lines += tlines
    print(f"oracle: {run.runtime}, tolerance {args.tol:g} of range for float")
    print("\n".join(lines))
    print("MATCH" if ok else "MISMATCH")
    return 0 if ok else 1


def cmd_golden(args):
    models = sorted(os.path.join(args.models, f) for f in os.listdir(args.models)
                    if f.endswith(".tflite"))
    images = list_images(args.images)
    if not models or not images:
        raise OracleError(f"nothing to do: {len(models)} models in {args.models}, "
                          f"{len(images)} images in {args.images}")
    os.makedirs(args.out, exist_ok=True)
    failed = written = 0
    for model in models:
        with tempfile.TemporaryDirectory() as tmp:
            results = leandet_dump_inputs(args.leandet, model, images, tmp)
            for image in images:
                name = os.path.basename(image)
                res = results.get(image) or results.get(name) or {"error": "no JSON line from leandet"}
                raw = os.path.join(tmp, "in", name + ".raw")
                if "error" in res or not os.path.isfile(raw):
                    print(f"FAILED {os.path.basename(model)} {name}: "
                          f"{res.get('error', 'no ' + raw)}", file=sys.stderr)
                    failed += 1
                    continue
                data = _read_input(raw)
                run = run_model(model, data, args.resolver)
                try:
                    same, lines = compare_outputs(run, read_dump(os.path.join(tmp, "out", name))[0])
                except OracleError as e:
                    same, lines = False, [str(e)]
                if not same:   # the golden stays valid: it comes from the oracle alone
                    print(f"WARNING {os.path.basename(model)} {name}: leandet's outputs differ from "
                          f"the oracle on its own --dump-input:\n  " + "\n  ".join(lines), file=sys.stderr)
                path = golden_path(args.out, model, image)
                with open(path, "w") as f:
                    f.write(format_golden(golden_record(model, name, data, run)))
                written += 1
    print(f"golden: {written} files written to {args.out}, {failed} failed")
    return 1 if failed else 0


def main(argv=None):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_mutually_exclusive_group()
    g.add_argument("--builtin", dest="resolver", action="store_const", const="builtin", default="ref",
                   help="optimized builtin kernels, no delegates")
    g.add_argument("--xnnpack", dest="resolver", action="store_const", const="xnnpack", default="ref",
                   help="default delegates (XNNPACK), as TFLite runs by default")
    g.add_argument("--ref", dest="resolver", action="store_const", const="ref", default="ref",
                   help="reference kernels (default)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", parents=[common], help="run the oracle, dump its tensors")
    r.add_argument("--model", required=True)
    r.add_argument("--input", required=True, help="raw bytes of input tensor 0")
    r.add_argument("--out", required=True)
    r.add_argument("--all", action="store_true", help="also dump every activation")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("compare", parents=[common], help="compare a leandet dump with the oracle")
    c.add_argument("--model", required=True)
    c.add_argument("--input", required=True, help="raw bytes of input tensor 0")
    c.add_argument("--leandet", required=True, help="dump directory written by leandet")
    c.add_argument("--all", action="store_true", help="also compare every dumped activation")
    c.add_argument("--tol", type=float, default=DEFAULT_TOL, help="float tolerance, fraction of range")
    c.set_defaults(func=cmd_compare)

    gd = sub.add_parser("golden", parents=[common], help="regenerate tests/golden")
    gd.add_argument("--models", default=os.path.join(root, "build", "models"))
    gd.add_argument("--images", default=os.path.join(root, "..", "shared", "images"))
    gd.add_argument("--leandet", default=os.path.join(root, "build", "leandet"))
    gd.add_argument("--out", default=os.path.join(root, "tests", "golden"))
    gd.set_defaults(func=cmd_golden)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except (OracleError, OSError, subprocess.SubprocessError) as e:
        print(f"oracle: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
