"""The files leandet's model tools write: `leandet quantize` (--mode none: the
model read and written back unchanged; --mode dynamic: dynamic-range
quantization) and `leandet dequantize`.

Every written file must load and run in TensorFlow Lite (ai-edge-litert,
reference kernels) with the same outputs as leandet on the same input:
byte-identical for integer outputs, within 1e-4 of the range for float and
hybrid ones.

Hybrid (dynamic-range) models are compared with leandet's reference kernels
(`detect --backend ref`, dumping the exact input tensor): a hybrid operator
quantizes its float input on the fly, so a one-ulp difference upstream (as
leandet's optimized float kernels make, within their float tolerance) can
move a value by one quantization step. TensorFlow Lite's own optimized and
reference kernels disagree by percents on these models for the same reason;
reference against reference, leandet matches it bit for bit here.

Round trips are also compared field by field with the original through
TensorFlow Lite's own schema (ai_edge_litert.schema_py_generated), an
independent reader. For the two 640x640 YOLO models, leandet is not rerun on
the copy (tens of seconds under the sanitizers): the copy is the original
field for field (here and, through leandet's own reader, in
tests/unit/test_writer.c) and TFLite gives byte-identical outputs on both, so
leandet on the copy is leandet on the original, which test_oracle.py checks.

Bad input: an already-quantized model, an operator the quantizer does not
know, a float model to dequantize, unwritable outputs. Errors exit 1 with a
message naming the file, and never leave a partial or temporary file behind
(an existing output is left as it was).
"""
import os
import zlib

import numpy as np
import pytest

from conftest import (IMAGES_DIR, MODELS, SSD, describe, json_lines, model_path, oracle,
                      require_oracle, run_leandet)

SLOW_FOR_LEANDET = {"yolov8n_full_integer_quant.tflite", "yolov5n-fp16.tflite"}
# float32 weights, float16 weights (folded first), both with float16 and PRELU
DYNAMIC = ["face_detection_front.tflite", "face_detection_short_range.tflite", "palm_detection_lite.tflite"]


def schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        pytest.skip("ai_edge_litert.schema_py_generated is not available")
    return schema_py_generated


# ---------------------------------------------------------------------------
# helpers

def write_model(args, out):
    """Run a tool writing `out`; returns the process (exit code checked by callers)."""
    return run_leandet(*args, out)


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if ".tmp" in p.name)


def random_input(model):
    """A fixed pseudo-random input for input 0 (floats in [-1, 1))."""
    Interpreter, _, _ = oracle.load_litert()
    d = Interpreter(model_path=str(model)).get_input_details()[0]
    rng = np.random.default_rng(zlib.crc32(os.path.basename(str(model)).encode()))
    dtype = np.dtype(d["dtype"])
    count = int(np.prod(d["shape"]))
    if dtype.kind == "f":
        return (rng.random(count) * 2 - 1).astype(dtype).tobytes()
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, count, endpoint=True).astype(dtype).tobytes()


def leandet_outputs(model, data, tmp_path):
    raw = tmp_path / "input.raw"
    raw.write_bytes(data)
    out = tmp_path / "leandet_out"
    out.mkdir(exist_ok=True)
    proc = run_leandet("tensors", "--model", model, "--input", raw, "--out", out)
    assert proc.returncode == 0, describe(proc)
    outputs, _ = oracle.read_dump(str(out))
    return outputs


def check_against_tflite(model, tmp_path, data=None):
    """leandet and TFLite on the same input; returns the TFLite run."""
    require_oracle()
    data = data if data is not None else random_input(model)
    try:
        run = oracle.run_model(str(model), data)
    except oracle.OracleError as e:
        pytest.fail(f"TensorFlow Lite cannot run {model}: {e}")
    ok, lines = oracle.compare_outputs(run, leandet_outputs(model, data, tmp_path))
    assert ok, f"{model} vs {run.runtime}:\n" + "\n".join(lines)
    return run


def detect_run(model, image, tmp_path, *extra):
    """leandet detect on one image with its input and outputs dumped:
    (input bytes, outputs [(info, ndarray)], JSON line)."""
    d = tmp_path / ("detect_" + os.path.basename(str(model)))
    proc = run_leandet("detect", "--model", model, "--dump-input", d / "in", "--dump-output", d / "out",
                       *extra, image)
    assert proc.returncode == 0, describe(proc)
    line = json_lines(proc)[0]
    name = os.path.basename(str(image))
    outputs, _ = oracle.read_dump(str(d / "out" / name))
    return (d / "in" / (name + ".raw")).read_bytes(), outputs, line


def check_detect_against_tflite(model, image, tmp_path):
    """leandet's reference kernels on an image against TFLite's on the same
    input tensor; returns leandet's JSON line."""
    require_oracle()
    data, outputs, line = detect_run(model, image, tmp_path, "--backend", "ref", "--threshold", "0.3")
    try:
        run = oracle.run_model(str(model), data)
    except oracle.OracleError as e:
        pytest.fail(f"TensorFlow Lite cannot run {model}: {e}")
    ok, lines = oracle.compare_outputs(run, outputs)
    assert ok, f"{model} on {image} vs {run.runtime}:\n" + "\n".join(lines)
    return line


def plain(v):
    """Schema object fields as comparable plain Python values."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, bytes):
        return v
    if hasattr(v, "__dict__"):
        return {k: plain(x) for k, x in vars(v).items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def summary(path):
    """What leandet's writer promises to keep, read with TFLite's schema."""
    s = schema()
    m = s.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    sg = m.subgraphs[0]

    def buffer(i):
        d = m.buffers[i].data if i < len(m.buffers) else None
        return bytes(np.asarray(d, dtype=np.uint8)) if d is not None else b""

    tensors = []
    for t in sg.tensors:
        q = t.quantization
        quant = None
        if q is not None and q.scale is not None and len(q.scale):
            quant = (plain(q.scale), plain(q.zeroPoint), q.quantizedDimension if len(q.scale) > 1 else 0)
        tensors.append((t.name, plain(t.shape) if t.shape is not None else [], t.type, buffer(t.buffer),
                        quant, bool(t.isVariable)))
    ops = []
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        options = plain(op.builtinOptions) if op.builtinOptions is not None else {}
        custom = bytes(np.asarray(op.customOptions, dtype=np.uint8)) if op.customOptions is not None else b""
        ops.append((max(oc.builtinCode, oc.deprecatedBuiltinCode), oc.version, oc.customCode,
                    plain(op.inputs), plain(op.outputs), options or {}, custom))
    metadata = [(md.name, buffer(md.buffer)) for md in (m.metadata or [])]
    return {"version": m.version, "description": m.description, "inputs": plain(sg.inputs),
            "outputs": plain(sg.outputs), "tensors": tensors, "ops": ops, "metadata": metadata}


def first_difference(a, b):
    for key in a:
        if a[key] == b[key]:
            continue
        if isinstance(a[key], list) and len(a[key]) == len(b[key]):
            i = next(i for i, (x, y) in enumerate(zip(a[key], b[key])) if x != y)
            return f"{key}[{i}]: {str(a[key][i])[:300]} != {str(b[key][i])[:300]}"
        return f"{key}: {str(a[key])[:300]} != {str(b[key])[:300]}"
    return None


# ---------------------------------------------------------------------------
# round trips

@pytest.mark.parametrize("model", MODELS)
def test_round_trip(model, tmp_path):
    src = model_path(model)
    out = tmp_path / model
    proc = write_model(["quantize", "--mode", "none", src], out)
    assert proc.returncode == 0, describe(proc)
    assert "rewritten unchanged" in proc.stdout
    assert leftovers(tmp_path) == []
    data = out.read_bytes()
    assert data[4:8] == b"TFL3"
    diff = first_difference(summary(src), summary(out))
    assert diff is None, f"{model}: the copy differs from the original: {diff}"

    require_oracle()
    inp = random_input(src)
    # Any deterministic kernels show the two files compute the same; the
    # optimized ones are several times faster than the reference ones.
    original = oracle.run_model(str(src), inp, resolver="builtin")
    copy = oracle.run_model(str(out), inp, resolver="builtin")
    for (info, a), (_, b) in zip(original.outputs, copy.outputs):
        assert a.tobytes() == b.tobytes(), f"{model}: TFLite output '{info['name']}' differs on the copy"
    if model not in SLOW_FOR_LEANDET:
        check_against_tflite(out, tmp_path, inp)


# ---------------------------------------------------------------------------
# dequantize

def iou(a, b):
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_dequantized_ssd(tmp_path):
    out = tmp_path / "ssd_float.tflite"
    proc = write_model(["dequantize", model_path(SSD)], out)
    assert proc.returncode == 0, describe(proc)
    assert leftovers(tmp_path) == []
    s = summary(out)
    uint8 = schema().TensorType.UINT8
    assert not [t[0] for t in s["tensors"] if t[2] == uint8 or t[4] is not None], "quantized tensors remain"
    assert out.stat().st_size > 3 * model_path(SSD).stat().st_size  # float weights: 4x the bytes

    image = IMAGES_DIR / "grace_hopper.bmp"  # person 0.72 and tie 0.66 in the uint8 model
    got = check_detect_against_tflite(out, image, tmp_path)["detections"]

    # The float model sees what the uint8 one sees: same objects, close scores and boxes.
    proc = run_leandet("detect", "--model", model_path(SSD), "--threshold", "0.3", image)
    assert proc.returncode == 0, describe(proc)
    want = json_lines(proc)[0]["detections"]
    assert [d for d in want if d["score"] >= 0.55], "the uint8 model found nothing to compare"
    for d in (x for x in want if x["score"] >= 0.55):
        match = [g for g in got if g["class"] == d["class"] and iou(g["box"], d["box"]) >= 0.9]
        assert match, f"uint8 detection {d} missing from the float model: {got}"
        assert abs(match[0]["score"] - d["score"]) <= 0.05, (d, match[0])


def test_dequantize_refuses_float_model(tmp_path):
    out = tmp_path / "out.tflite"
    proc = write_model(["dequantize", model_path("face_detection_front.tflite")], out)
    assert proc.returncode == 1, describe(proc)
    assert "nothing to dequantize" in proc.stderr and "face_detection_front.tflite" in proc.stderr
    assert not out.exists() and leftovers(tmp_path) == []


# ---------------------------------------------------------------------------
# dynamic-range quantization

@pytest.mark.parametrize("model", DYNAMIC)
def test_dynamic(model, tmp_path):
    src = model_path(model)
    out = tmp_path / model
    proc = write_model(["quantize", "--mode", "dynamic", src], out)
    assert proc.returncode == 0, describe(proc)
    assert leftovers(tmp_path) == []
    assert out.stat().st_size < 0.8 * src.stat().st_size, proc.stdout  # 0.41, 0.77, 0.57

    s = schema()
    summ = summary(out)
    weighted = {s.BuiltinOperator.CONV_2D: 5, s.BuiltinOperator.DEPTHWISE_CONV_2D: 6}
    hybrid = 0
    for code, version, _, inputs, _, _, _ in summ["ops"]:
        assert code != s.BuiltinOperator.DEQUANTIZE, "float16 DEQUANTIZE not folded"
        if code not in weighted:
            continue
        name, shape, ttype, data, quant, _ = summ["tensors"][inputs[1]]
        if int(np.prod(shape)) < 1024:
            assert ttype == s.TensorType.FLOAT32, name
            continue
        hybrid += 1
        axis = 3 if code == s.BuiltinOperator.DEPTHWISE_CONV_2D else 0
        assert ttype == s.TensorType.INT8 and quant is not None, name
        scales, zero_points, dim = quant
        assert dim == axis and len(scales) == shape[axis] and not any(zero_points), name
        assert version == weighted[code], (name, version)
        assert summ["tensors"][inputs[0]][2] == s.TensorType.FLOAT32
        assert summ["tensors"][inputs[2]][2] == s.TensorType.FLOAT32  # bias stays float
    assert hybrid > 10

    image = IMAGES_DIR / ("face.jpg" if "face" in model else "zidane.jpg")
    check_detect_against_tflite(out, image, tmp_path)
    # A sanity bound, not a promise: on a noise input int8 weights move the
    # outputs by about 1% of their range on average (correlation ~0.99).
    inp = random_input(out)
    ref, run = oracle.run_model(str(src), inp), oracle.run_model(str(out), inp)
    for (info, a), (_, b) in zip(ref.outputs, run.outputs):
        a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        mean = float(np.abs(a - b).mean()) / oracle.value_scale(a)
        corr = float(np.corrcoef(a, b)[0, 1])
        assert mean < 0.05 and corr > 0.97, f"{model} '{info['name']}': mean diff {mean:.3g} of range, corr {corr:.4f}"


def test_quantize_refuses_quantized_model(tmp_path):
    out = tmp_path / "out.tflite"
    out.write_bytes(b"previous contents")
    proc = write_model(["quantize", model_path(SSD)], out)
    assert proc.returncode == 1, describe(proc)
    assert "already quantized" in proc.stderr and SSD in proc.stderr
    assert out.read_bytes() == b"previous contents" and leftovers(tmp_path) == []


# ---------------------------------------------------------------------------
# small synthetic models: the hybrid kernel paths the real models do not take

def build_model(path, op, options_type, options, tensors, buffers, version=1, inputs=(0,), outputs=(3,)):
    import flatbuffers
    s = schema()
    m = s.ModelT()
    m.version, m.description = 3, "leandet test"
    oc = s.OperatorCodeT()
    oc.builtinCode = op
    oc.deprecatedBuiltinCode = min(op, 127)
    oc.version = version
    m.operatorCodes = [oc]
    m.buffers = []
    for data in [None] + buffers:
        b = s.BufferT()
        if data is not None:
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        m.buffers.append(b)
    sg = s.SubGraphT()
    sg.tensors = []
    for name, shape, ttype, buf, quant in tensors:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), ttype, buf
        if quant:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint, q.quantizedDimension = list(quant[0]), list(quant[1]), quant[2]
            t.quantization = q
        sg.tensors.append(t)
    o = s.OperatorT()
    o.opcodeIndex, o.inputs, o.outputs = 0, list(range(len(tensors) - 1)), [len(tensors) - 1]
    o.builtinOptionsType, o.builtinOptions = options_type, options
    sg.operators, sg.inputs, sg.outputs = [o], list(inputs), list(outputs)
    m.subgraphs = [sg]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path.write_bytes(b.Output())


def float_fc(path, rng):
    s = schema()
    f32 = s.TensorType.FLOAT32
    opts = s.FullyConnectedOptionsT()
    opts.fusedActivationFunction = s.ActivationFunctionType.RELU
    w = rng.normal(size=(32, 64)).astype(np.float32)
    build_model(path, s.BuiltinOperator.FULLY_CONNECTED, s.BuiltinOptions.FullyConnectedOptions, opts,
                [("in", (3, 64), f32, 0, None), ("w", (32, 64), f32, 1, None), ("b", (32,), f32, 2, None),
                 ("out", (3, 32), f32, 0, None)],
                [w, rng.normal(size=32).astype(np.float32)])


def float_conv_equal_scales(path, rng):
    """A convolution whose output channels all have max |w| = 1: equal
    per-channel scales, which TFLite runs through its per-tensor hybrid path."""
    s = schema()
    f32 = s.TensorType.FLOAT32
    w = rng.uniform(-1, 1, size=(8, 3, 3, 16)).astype(np.float32)
    w[:, 0, 0, 0] = 1.0
    opts = s.Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH = s.Padding.SAME, 1, 1
    opts.fusedActivationFunction = s.ActivationFunctionType.RELU6
    build_model(path, s.BuiltinOperator.CONV_2D, s.BuiltinOptions.Conv2DOptions, opts,
                [("in", (2, 8, 8, 16), f32, 0, None), ("w", w.shape, f32, 1, None), ("b", (8,), f32, 2, None),
                 ("out", (2, 8, 8, 8), f32, 0, None)],
                [w, rng.normal(size=8).astype(np.float32)])


@pytest.mark.parametrize("maker", [float_fc, float_conv_equal_scales])
def test_dynamic_small_models(maker, tmp_path):
    rng = np.random.default_rng(7)
    src, out = tmp_path / "float.tflite", tmp_path / "dynamic.tflite"
    maker(src, rng)
    proc = write_model(["quantize", src], out)
    assert proc.returncode == 0, describe(proc)
    require_oracle()
    Interpreter, _, _ = oracle.load_litert()
    d = Interpreter(model_path=str(out)).get_input_details()[0]
    x = (rng.random(int(np.prod(d["shape"]))) * 4 - 1).astype(np.float32)
    x[:20] = 0.0  # exact zeros, and a batch that starts with them
    check_against_tflite(out, tmp_path, x.tobytes())


def test_hybrid_fc_symmetric_per_tensor(tmp_path):
    """A hybrid FULLY_CONNECTED as older converters wrote it: per-tensor int8
    weights, symmetric input quantization (asymmetric_quantize_inputs off)."""
    s = schema()
    rng = np.random.default_rng(11)
    path = tmp_path / "hybrid_fc.tflite"
    w = rng.integers(-127, 128, size=(16, 40)).astype(np.int8)
    opts = s.FullyConnectedOptionsT()
    build_model(path, s.BuiltinOperator.FULLY_CONNECTED, s.BuiltinOptions.FullyConnectedOptions, opts,
                [("in", (2, 40), s.TensorType.FLOAT32, 0, None),
                 ("w", (16, 40), s.TensorType.INT8, 1, ([0.0123], [0], 0)),
                 ("b", (16,), s.TensorType.FLOAT32, 2, None),
                 ("out", (2, 16), s.TensorType.FLOAT32, 0, None)],
                [w, rng.normal(size=16).astype(np.float32)], version=3)
    x = (rng.random(80) * 6 - 3).astype(np.float32)
    check_against_tflite(path, tmp_path, x.tobytes())


def test_quantize_refuses_unknown_operator(tmp_path):
    """An operator whose options leandet does not model (GATHER) is refused."""
    s = schema()
    src, out = tmp_path / "gather.tflite", tmp_path / "out.tflite"
    float_fc(src, np.random.default_rng(3))
    m = s.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    m.operatorCodes[0].builtinCode = m.operatorCodes[0].deprecatedBuiltinCode = s.BuiltinOperator.GATHER
    m.subgraphs[0].operators[0].builtinOptionsType = 0
    m.subgraphs[0].operators[0].builtinOptions = None
    import flatbuffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    src.write_bytes(b.Output())
    proc = write_model(["quantize", src], out)
    assert proc.returncode == 1, describe(proc)
    assert "GATHER" in proc.stderr and "does not know" in proc.stderr and "gather.tflite" in proc.stderr
    assert not out.exists() and leftovers(tmp_path) == []
    proc = write_model(["quantize", "--mode", "none", src], out)
    assert proc.returncode == 1 and "GATHER" in proc.stderr, describe(proc)
    assert not out.exists() and leftovers(tmp_path) == []


# ---------------------------------------------------------------------------
# outputs that cannot be written, bad arguments

def test_unwritable_outputs(tmp_path):
    src = model_path("face_detection_front.tflite")
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    # The parent is a regular file: nothing can be created.
    proc = write_model(["quantize", src], blocker / "out.tflite")
    assert proc.returncode == 1, describe(proc)
    assert "out.tflite" in proc.stderr
    # The output is a directory: the temporary file is written, then cannot
    # replace it, and is removed.
    target = tmp_path / "dir.tflite"
    target.mkdir()
    proc = write_model(["quantize", src], target)
    assert proc.returncode == 1, describe(proc)
    assert target.is_dir() and leftovers(tmp_path) == []
    # A missing directory.
    proc = write_model(["dequantize", model_path(SSD)], tmp_path / "missing" / "out.tflite")
    assert proc.returncode == 1, describe(proc)
    assert not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.tflite", "file"]


def test_bad_input_and_usage(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    out = tmp_path / "out.tflite"
    proc = write_model(["quantize", bad], out)
    assert proc.returncode == 1 and "bad.tflite" in proc.stderr, describe(proc)
    assert not out.exists() and leftovers(tmp_path) == []
    for args in (["quantize"], ["quantize", bad], ["dequantize", bad, out, "extra"],
                 ["quantize", "--mode", "int4", bad, out], ["dequantize", "--mode", "dynamic", bad, out]):
        proc = run_leandet(*args)
        assert proc.returncode == 2, describe(proc)
    assert run_leandet("quantize", "--help").returncode == 0
    assert run_leandet("dequantize", "--help").returncode == 0
