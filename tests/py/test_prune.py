"""leandet prune: magnitude pruning of conv/FC weights.

The SSD model (uint8) and its float32 version (`leandet dequantize`) are
pruned unstructured at 50% and structured at 25%. Every written file must
load and run in TensorFlow Lite (reference kernels) with leandet's outputs
on the same input: byte-identical for the uint8 model, within 1e-4 of the
range for float. The files are read back with TensorFlow Lite's own schema
(an independent reader) to check what was promised: the fraction of zero
weights per tensor, the channels that left each prunable conv (the ones with
the smallest L1 norm, recomputed here with numpy), heads left alone, MACs as
`leandet plan` counts them. Small float models pruned at 80% exercise the
sparse encoding (SparsityParameters + DENSIFY), chosen only where smaller.
Structured pruning with --calibration (channels chosen by what their
readers lose on real images, readers refitted by least squares) must give
raw predictor outputs on a held-out photo much closer to the unpruned
model's than the plain L1 choice does.
Bad input exits 1 or 2 with a message naming the file and no output left.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import IMAGES_DIR, SSD, describe, image_path, model_path, oracle, require_oracle, run_leandet
from test_quantize import (check_against_tflite, float_conv_equal_scales, float_fc, leftovers, random_input,
                           schema, leandet_outputs)

WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
COCO128 = Path(os.environ.get("LEANDET_COCO128") or IMAGES_DIR.parent / "coco128")


@pytest.fixture(scope="module")
def ssd_models(tmp_path_factory):
    """{"uint8": the original, "float": its dequantized version}."""
    d = tmp_path_factory.mktemp("prune_src")
    flt = d / "ssd_float.tflite"
    proc = run_leandet("dequantize", model_path(SSD), flt)
    assert proc.returncode == 0, describe(proc)
    return {"uint8": model_path(SSD), "float": flt}


def prune(src, out, *args):
    proc = run_leandet("prune", src, out, "--json", *args)
    assert proc.returncode == 0, describe(proc)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


class Model:
    """A .tflite read with TensorFlow Lite's schema."""

    def __init__(self, path):
        s = schema()
        self.s = s
        self.m = s.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
        self.sg = self.m.subgraphs[0]
        names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
        self.ops = []
        for op in self.sg.operators:
            oc = self.m.operatorCodes[op.opcodeIndex]
            self.ops.append((names.get(max(oc.builtinCode, oc.deprecatedBuiltinCode)), op))

    def tensor(self, i):
        return self.sg.tensors[i]

    def const(self, i):
        """(values as stored, zero point per element or 0) of a constant; a
        DENSIFY output is expanded from its sparse input."""
        t = self.tensor(i)
        data = self.m.buffers[t.buffer].data
        dtype = {self.s.TensorType.FLOAT32: np.float32, self.s.TensorType.UINT8: np.uint8,
                 self.s.TensorType.INT8: np.int8, self.s.TensorType.INT32: np.int32}[t.type]
        if data is None:
            src = next(op.inputs[0] for name, op in self.ops if name == "DENSIFY" and op.outputs[0] == i)
            v = self.densify(self.tensor(src), dtype)
        else:
            v = np.frombuffer(bytes(np.asarray(data, np.uint8)), dtype).reshape(t.shape)
        q = t.quantization
        zp = np.asarray(q.zeroPoint) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0
        if np.ndim(zp) and len(zp) > 1:
            shape = [1] * v.ndim
            shape[q.quantizedDimension] = len(zp)
            zp = zp.reshape(shape)
        elif np.ndim(zp):
            zp = int(zp[0])
        return v, zp

    def densify(self, t, dtype):
        """The layout leandet writes: dims in order, all dense but a CSR innermost one."""
        sp = t.sparsity
        assert list(sp.traversalOrder) == list(range(len(t.shape))) and not sp.blockMap
        last = sp.dimMetadata[-1]
        assert last.format == self.s.DimensionType.SPARSE_CSR
        seg, idx = np.asarray(last.arraySegments.values), np.asarray(last.arrayIndices.values)
        vals = np.frombuffer(bytes(np.asarray(self.m.buffers[t.buffer].data, np.uint8)), dtype)
        out = np.zeros((int(np.prod(t.shape[:-1])), t.shape[-1]), dtype)
        for row in range(out.shape[0]):
            out[row, idx[seg[row]:seg[row + 1]]] = vals[seg[row]:seg[row + 1]]
        return out.reshape(t.shape)

    def weighted(self):
        return [(i, name, op) for i, (name, op) in enumerate(self.ops) if name in WEIGHTED]


def plan_macs(path):
    proc = run_leandet("plan", "--json", path)
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)["macs"]


def check_outputs(model, kind, tmp_path):
    """TFLite and leandet on the same input: bit-exact for uint8, tolerance for float."""
    require_oracle()
    if kind == "float":
        check_against_tflite(model, tmp_path)
        return
    data = random_input(model)
    run = oracle.run_model(str(model), data)
    got = leandet_outputs(model, data, tmp_path)
    assert len(got) == len(run.outputs)
    for (info, want), (_, have) in zip(run.outputs, got):
        assert want.tobytes() == have.tobytes(), f"{model}: output {info['name']} differs from TensorFlow Lite"


def check_report(rep, src, out):
    for key in ("params_before", "params_after", "macs_before", "macs_after", "bytes_before", "bytes_after"):
        assert isinstance(rep[key], int) and rep[key] > 0, (key, rep)
    assert rep["bytes_before"] == src.stat().st_size and rep["bytes_after"] == out.stat().st_size
    assert rep["macs_before"] == plan_macs(src) and rep["macs_after"] == plan_macs(out)


@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_unstructured_half(ssd_models, kind, tmp_path):
    src, out = ssd_models[kind], tmp_path / f"ssd_{kind}_u50.tflite"
    rep = prune(src, out, "--sparsity", "0.5")
    assert leftovers(tmp_path) == []
    check_report(rep, src, out)
    assert rep["mode"] == "unstructured" and rep["layers_pruned"] == 47
    assert rep["macs_after"] == rep["macs_before"] and rep["params_after"] == rep["params_before"]
    assert rep["nonzero_after"] <= rep["weights_after"] // 2 + 47, rep
    # Every weight tensor of the file: at least half of it is (real) zero, and
    # what is left is the original where not zeroed.
    a, b = Model(src), Model(out)
    for (i, name, op), (_, name2, op2) in zip(a.weighted(), b.weighted()):
        assert name == name2
        w0, zp = a.const(op.inputs[1])
        w1, zp1 = b.const(op2.inputs[1])
        assert w1.shape == w0.shape and np.array_equal(zp, zp1)
        zero = w1 == zp
        assert zero.sum() >= w0.size // 2, (i, zero.sum(), w0.size)
        assert np.array_equal(w1[~zero], w0[~zero]), i
        # the zeroed ones are the smallest magnitudes of the tensor
        mag0 = np.abs(w0.astype(np.float64) - zp)
        if (~zero).any():
            assert mag0[zero].max() <= mag0[~zero].min(), i
    if kind == "uint8":
        assert rep["tensors_sparse"] == 0  # TensorFlow Lite's DENSIFY has no uint8
    check_outputs(out, kind, tmp_path)


def l1_keep(w, drop):
    """Output channels kept when the `drop` smallest L1 norms go (ties: lower index goes)."""
    norms = np.abs(w.astype(np.float64)).reshape(w.shape[0], -1).sum(1)
    return np.sort(np.argsort(norms, kind="stable")[drop:])


@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_structured_quarter(ssd_models, kind, tmp_path):
    src, out = ssd_models[kind], tmp_path / f"ssd_{kind}_s25.tflite"
    rep = prune(src, out, "--sparsity", "0.25", "--structured")
    assert leftovers(tmp_path) == []
    check_report(rep, src, out)
    assert rep["mode"] == "structured" and rep["layers_pruned"] == 22
    assert rep["macs_after"] < 0.7 * rep["macs_before"], rep
    assert rep["params_after"] < 0.7 * rep["params_before"], rep
    assert rep["bytes_after"] < 0.7 * rep["bytes_before"], rep
    a, b = Model(src), Model(out)
    assert [n for n, _ in a.ops] == [n for n, _ in b.ops]
    # The graph's outputs and the predictor heads keep their shapes.
    for (name, op), (_, op2) in zip(a.ops, b.ops):
        if name == "RESHAPE" or name == "CONCATENATION":
            assert list(a.tensor(op.outputs[0]).shape) == list(b.tensor(op2.outputs[0]).shape)
    convs = 0
    for (i, name, op), (_, _, op2) in zip(a.weighted(), b.weighted()):
        w0, _ = a.const(op.inputs[1])
        w1, _ = b.const(op2.inputs[1])
        heads = any(a.ops[j][0] == "RESHAPE" and op.outputs[0] in a.ops[j][1].inputs for j in range(len(a.ops)))
        if name == "CONV_2D" and not heads:
            convs += 1
            drop = int(np.floor(0.25 * w0.shape[0]))
            assert w1.shape[0] == w0.shape[0] - drop, (i, w0.shape, w1.shape)
            assert list(b.tensor(op2.outputs[0]).shape)[-1] == w1.shape[0]
            b1, _ = b.const(op2.inputs[2])
            assert b1.shape == (w1.shape[0],)
        if name == "CONV_2D" and heads:
            assert w1.shape[0] == w0.shape[0], i  # heads keep their outputs
        if name == "DEPTHWISE_CONV_2D":
            assert w1.shape[3] < w0.shape[3] and list(b.tensor(op2.outputs[0]).shape)[-1] == w1.shape[3]
    assert convs == 22
    if kind == "float":
        # conv 0 -> depthwise 1 -> conv 2: the channels with the largest L1
        # norms stay, and the depthwise and the next conv keep exactly those.
        w0, _ = a.const(a.ops[0][1].inputs[1])
        keep = l1_keep(w0, 6)
        assert np.array_equal(b.const(b.ops[0][1].inputs[1])[0], w0[keep])
        dw0, _ = a.const(a.ops[1][1].inputs[1])
        assert np.array_equal(b.const(b.ops[1][1].inputs[1])[0], dw0[..., keep])
        c2, _ = a.const(a.ops[2][1].inputs[1])
        keep2 = l1_keep(c2, 12)
        assert np.array_equal(b.const(b.ops[2][1].inputs[1])[0], c2[keep2][..., keep])
    check_outputs(out, kind, tmp_path)


def test_structured_compensation(ssd_models, tmp_path):
    src, out = ssd_models["float"], tmp_path / "n.tflite"
    prune(src, out, "--sparsity", "0.25", "--structured")
    a, b = Model(src), Model(out)
    w0, _ = a.const(a.ops[2][1].inputs[1])
    keep2 = l1_keep(w0, 12)
    assert np.array_equal(b.const(b.ops[2][1].inputs[2])[0], a.const(a.ops[2][1].inputs[2])[0][keep2])
    # --compensate: conv 2's bias absorbed the removed channels
    out2 = tmp_path / "c.tflite"
    prune(src, out2, "--sparsity", "0.25", "--structured", "--compensate")
    assert not np.array_equal(Model(out2).const(b.ops[2][1].inputs[2])[0], a.const(a.ops[2][1].inputs[2])[0][keep2])
    # the integer bias updates of the uint8 model, against TensorFlow Lite
    out3 = tmp_path / "c8.tflite"
    rep = prune(ssd_models["uint8"], out3, "--sparsity", "0.25", "--structured", "--compensate")
    assert rep["compensated"] is True
    check_outputs(out3, "uint8", tmp_path)


def two_convs(path, w1, b1, w2, b2):
    """input [1,5,5,C] -> 1x1 CONV_2D (RELU6) -> 1x1 CONV_2D -> output."""
    import flatbuffers
    s = schema()
    f32 = s.TensorType.FLOAT32
    m = s.ModelT()
    m.version, m.description = 3, "leandet prune test"
    oc = s.OperatorCodeT()
    oc.builtinCode = oc.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    oc.version = 1
    m.operatorCodes = [oc]
    m.buffers = [s.BufferT()]
    for data in (w1, b1, w2, b2):
        b = s.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(data, np.float32).tobytes(), np.uint8)
        m.buffers.append(b)
    sg = s.SubGraphT()
    shapes = [("in", [1, 5, 5, w1.shape[3]], 0), ("w1", list(w1.shape), 1), ("b1", [w1.shape[0]], 2),
              ("mid", [1, 5, 5, w1.shape[0]], 0), ("w2", list(w2.shape), 3), ("b2", [w2.shape[0]], 4),
              ("out", [1, 5, 5, w2.shape[0]], 0)]
    sg.tensors = []
    for name, shape, buf in shapes:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, shape, f32, buf
        sg.tensors.append(t)
    sg.operators = []
    for ins, out, act in (([0, 1, 2], 3, s.ActivationFunctionType.RELU6), ([3, 4, 5], 6, 0)):
        o = s.OperatorT()
        opts = s.Conv2DOptionsT()
        opts.padding, opts.strideW, opts.strideH, opts.fusedActivationFunction = s.Padding.VALID, 1, 1, act
        o.opcodeIndex, o.inputs, o.outputs = 0, ins, [out]
        o.builtinOptionsType, o.builtinOptions = s.BuiltinOptions.Conv2DOptions, opts
        sg.operators.append(o)
    sg.inputs, sg.outputs = [0], [6]
    m.subgraphs = [sg]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path.write_bytes(b.Output())


def test_compensation_is_exact_for_constant_channels(tmp_path):
    """A channel with zero weights outputs relu6(bias) everywhere: removing
    it with --compensate leaves the next conv's output as it was; plain
    removal does not."""
    rng = np.random.default_rng(5)
    w1 = rng.normal(size=(4, 1, 1, 3)).astype(np.float32)
    w1[2] = 0.0  # the smallest L1 norm: the channel that goes at 25%
    b1 = np.array([0.1, -0.2, 2.5, 0.3], np.float32)
    w2 = rng.normal(size=(3, 1, 1, 4)).astype(np.float32)
    b2 = rng.normal(size=3).astype(np.float32)
    src = tmp_path / "two.tflite"
    two_convs(src, w1, b1, w2, b2)
    x = rng.random(75).astype(np.float32).tobytes()
    want = leandet_outputs(src, x, tmp_path)[0][1]
    for flag, same in (("--compensate", True), (None, False)):
        out = tmp_path / f"pruned_{same}.tflite"
        rep = prune(src, out, "--sparsity", "0.25", "--structured", *([flag] if flag else []))
        assert rep["layers_pruned"] == 1 and rep["macs_after"] < rep["macs_before"], rep
        got = leandet_outputs(out, x, tmp_path)[0][1]
        assert np.allclose(got, want, atol=1e-5) == same, (flag, np.abs(got - want).max())
        check_against_tflite(out, tmp_path, x)


@pytest.mark.parametrize("maker", [float_fc, float_conv_equal_scales])
def test_sparse_encoding(maker, tmp_path):
    src, out = tmp_path / "float.tflite", tmp_path / "sparse.tflite"
    maker(src, np.random.default_rng(3))
    rep = prune(src, out, "--sparsity", "0.8")
    assert rep["tensors_sparse"] == 1, rep
    assert out.stat().st_size < 0.75 * src.stat().st_size, (out.stat().st_size, src.stat().st_size)
    m = Model(out)
    names = [n for n, _ in m.ops]
    assert names[0] == "DENSIFY" and names[1] in WEIGHTED, names
    sparse = m.tensor(m.ops[0][1].inputs[0])
    assert sparse.sparsity is not None and m.ops[0][1].outputs[0] == m.ops[1][1].inputs[1]
    check_against_tflite(out, tmp_path)
    # At 30% the encoding would be larger: the zeros stay dense.
    rep = prune(src, out, "--sparsity", "0.3")
    assert rep["tensors_sparse"] == 0 and [n for n, _ in Model(out).ops] == names[1:]
    check_against_tflite(out, tmp_path)


def test_errors(tmp_path):
    out = tmp_path / "out.tflite"
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    proc = run_leandet("prune", bad, out, "--sparsity", "0.5")
    assert proc.returncode == 1 and "bad.tflite" in proc.stderr, describe(proc)
    proc = run_leandet("prune", tmp_path / "missing.tflite", out, "--sparsity", "0.5")
    assert proc.returncode == 1 and "missing.tflite" in proc.stderr, describe(proc)
    # float16 weights are computed by DEQUANTIZE: nothing constant to prune
    f16 = model_path("face_detection_short_range.tflite")
    proc = run_leandet("prune", f16, out, "--sparsity", "0.5")
    assert proc.returncode == 1 and "face_detection_short_range.tflite" in proc.stderr, describe(proc)
    assert "can be pruned" in proc.stderr, proc.stderr
    for s in ("1", "1.5", "-0.1", "abc", "nan"):
        proc = run_leandet("prune", model_path(SSD), out, "--sparsity", s)
        assert proc.returncode == 2 and "--sparsity" in proc.stderr, describe(proc)
    for args in (["prune", model_path(SSD), out], ["prune", model_path(SSD), "--sparsity", "0.5"],
                 ["prune", model_path(SSD), out, "x", "--sparsity", "0.5"], ["prune", "--bogus"]):
        assert run_leandet(*args).returncode == 2
    assert not out.exists() and leftovers(tmp_path) == []
    assert run_leandet("prune", "--help").returncode == 0


def predictor_outputs(model, raw, out):
    """The SSD's raw box and class predictions (every *Predictor/BiasAdd
    tensor) for the input tensor in `raw`."""
    proc = run_leandet("tensors", "--model", model, "--input", raw, "--out", out, "--all")
    assert proc.returncode == 0, describe(proc)
    listed = json.loads((out / "tensors.json").read_text())
    return {t["name"]: np.fromfile(out / f"tensor_{t['index']}.raw", np.float32) for t in listed
            if "Predictor/" in t["name"] and t["name"].endswith("BiasAdd")}


def relative_error(got, want):
    assert got.keys() == want.keys() and len(want) == 12, sorted(got)
    num = sum(float(((got[k] - want[k]) ** 2).sum()) for k in want)
    return num / sum(float(((want[k] - want[k].mean()) ** 2).sum()) for k in want)


def test_structured_calibration_refits(ssd_models, tmp_path):
    calib = COCO128 / "images" / "train2017"
    if not calib.is_dir():
        pytest.fail(f"coco128 not found at {COCO128} (set LEANDET_COCO128)")
    src = ssd_models["float"]
    plain, fitted = tmp_path / "l1.tflite", tmp_path / "fitted.tflite"
    prune(src, plain, "--sparsity", "0.1", "--structured")
    rep = prune(src, fitted, "--sparsity", "0.1", "--structured", "--calibration", calib, "--count", "2")
    assert rep["calibration_images"] == 2 and rep["refitted"] >= 20, rep
    assert rep["macs_after"] == plan_macs(fitted) and rep["macs_after"] < 0.85 * rep["macs_before"], rep
    check_outputs(fitted, "float", tmp_path)
    # Held out (not a calibration image): the bus photo as detect feeds it.
    dump = tmp_path / "dump"
    proc = run_leandet("detect", "--model", src, "--dump-input", dump, image_path("bus.jpg"))
    assert proc.returncode == 0, describe(proc)
    raw = dump / "bus.jpg.raw"
    want = predictor_outputs(src, raw, tmp_path / "orig")
    e_plain = relative_error(predictor_outputs(plain, raw, tmp_path / "l1"), want)
    e_fit = relative_error(predictor_outputs(fitted, raw, tmp_path / "fit"), want)
    # measured: 1.32 plain, 0.27 refitted on 2 images (0.18 on 4)
    assert e_fit < 0.4 and e_fit < 0.35 * e_plain, (e_fit, e_plain)


def test_calibration_errors(ssd_models, tmp_path):
    out = tmp_path / "out.tflite"
    calib = COCO128 / "images" / "train2017"
    proc = run_leandet("prune", model_path(SSD), out, "--sparsity", "0.1", "--structured", "--calibration", calib)
    assert proc.returncode == 1 and "dequantize" in proc.stderr and SSD in proc.stderr, describe(proc)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_leandet("prune", ssd_models["float"], out, "--sparsity", "0.1", "--structured", "--calibration", empty)
    assert proc.returncode == 1 and "empty" in proc.stderr and "no image" in proc.stderr, describe(proc)
    proc = run_leandet("prune", ssd_models["float"], out, "--sparsity", "0.1", "--structured", "--calibration",
                       tmp_path / "missing")
    assert proc.returncode == 1 and "missing" in proc.stderr, describe(proc)
    for extra in (["--calibration", calib], ["--structured", "--compensate", "--calibration", calib],
                  ["--structured", "--count", "3"], ["--structured", "--calibration", calib, "--count", "0"]):
        proc = run_leandet("prune", ssd_models["float"], out, "--sparsity", "0.1", *extra)
        assert proc.returncode == 2, describe(proc)
    assert not out.exists() and leftovers(tmp_path) == []
