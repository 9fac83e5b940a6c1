"""`leandet inspect` against independent readers of the same files: the
TensorFlow Lite interpreter (I/O details, operator list) and the flatbuffers
Python classes generated from the TFLite schema that ship with ai-edge-litert
(operator options, buffers). Also exit codes and messages on bad input."""
import json

import numpy as np
import pytest

from conftest import MODELS, describe, model_path, require_oracle, run_leandet

# Quantization mode of each model as MANIFEST.md describes it.
MODEL_MODE = {
    "ssd_mobilenet_v1_coco_quant.tflite": "uint8 (per-tensor)",
    "face_detection_front.tflite": "float",
    "face_detection_short_range.tflite": "float16",
    "palm_detection_lite.tflite": "float16",
    "yolov8n_full_integer_quant.tflite": "int8 (per-tensor)",
    "yolov5n-fp16.tflite": "float16",
}

ACTIVATIONS = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"]
PADDINGS = ["SAME", "VALID"]


def inspect_json(model):
    proc = run_leandet("inspect", "--json", "--ops", model_path(model))
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)


def schema():
    require_oracle()
    from ai_edge_litert import schema_py_generated as s
    return s


def load_schema_model(model):
    s = schema()
    data = model_path(model).read_bytes()
    return s, s.Model.GetRootAsModel(data, 0)


def interpreter(model):
    require_oracle()
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter(model_path=str(model_path(model)))


def check_io(ours, theirs):
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o["index"] == t["index"] and o["name"] == t["name"], (o, t)
        assert o["shape"] == list(t["shape"]), (o, t)
        assert o["type"] == np.dtype(t["dtype"]).name, (o, t)
        scale, zp = t["quantization"]
        if scale == 0.0:
            assert o["quantization"] is None, o
        else:
            assert o["quantization"]["zero_point"] == zp
            assert o["quantization"]["scale"] == pytest.approx(scale, rel=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_inspect_matches_interpreter(model):
    d = inspect_json(model)
    it = interpreter(model)
    check_io(d["inputs"], it.get_input_details())
    check_io(d["outputs"], it.get_output_details())
    assert d["tensors"] == len(it.get_tensor_details())
    ops = it._get_ops_details()
    assert d["operators"] == len(ops) == len(d["ops"])
    for ours, theirs in zip(d["ops"], ops):
        assert ours["op"] == theirs["op_name"], (ours, theirs)
        assert ours["inputs"] == list(theirs["inputs"]), (ours, theirs)
        assert ours["outputs"] == list(theirs["outputs"]), (ours, theirs)
    by_name = {}
    for g in d["op_counts"]:
        by_name[g["op"]] = by_name.get(g["op"], 0) + g["count"]
    theirs = {}
    for op in ops:
        theirs[op["op_name"]] = theirs.get(op["op_name"], 0) + 1
    assert by_name == theirs


def expected_params(s, op):
    """Options of one operator, read by the generated schema classes."""
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    B = s.BuiltinOptions

    def opts(cls):
        o = cls()
        o.Init(table.Bytes, table.Pos)
        return o

    if kind in (B.Conv2DOptions, B.DepthwiseConv2DOptions):
        o = opts(s.Conv2DOptions if kind == B.Conv2DOptions else s.DepthwiseConv2DOptions)
        p = {"padding": PADDINGS[o.Padding()], "stride_w": o.StrideW(), "stride_h": o.StrideH(),
             "dilation_w": o.DilationWFactor(), "dilation_h": o.DilationHFactor(),
             "activation": ACTIVATIONS[o.FusedActivationFunction()]}
        if kind == B.DepthwiseConv2DOptions:
            p["depth_multiplier"] = o.DepthMultiplier()
        return p
    if kind == B.Pool2DOptions:
        o = opts(s.Pool2DOptions)
        return {"padding": PADDINGS[o.Padding()], "stride_w": o.StrideW(), "stride_h": o.StrideH(),
                "filter_w": o.FilterWidth(), "filter_h": o.FilterHeight(),
                "activation": ACTIVATIONS[o.FusedActivationFunction()]}
    if kind in (B.AddOptions, B.MulOptions, B.SubOptions):
        cls = {B.AddOptions: s.AddOptions, B.MulOptions: s.MulOptions, B.SubOptions: s.SubOptions}[kind]
        return {"activation": ACTIVATIONS[opts(cls).FusedActivationFunction()]}
    if kind == B.ConcatenationOptions:
        o = opts(s.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": ACTIVATIONS[o.FusedActivationFunction()]}
    if kind == B.ReshapeOptions:
        o = opts(s.ReshapeOptions)
        return {} if o.NewShapeIsNone() else {"new_shape": [int(x) for x in o.NewShapeAsNumpy()]}
    if kind == B.SoftmaxOptions:
        return {"beta": opts(s.SoftmaxOptions).Beta()}
    if kind == B.StridedSliceOptions:
        o = opts(s.StridedSliceOptions)
        return {"begin_mask": o.BeginMask(), "end_mask": o.EndMask(), "ellipsis_mask": o.EllipsisMask(),
                "new_axis_mask": o.NewAxisMask(), "shrink_axis_mask": o.ShrinkAxisMask(),
                "offset": bool(o.Offset())}
    if kind in (B.ResizeBilinearOptions, B.ResizeNearestNeighborOptions):
        o = opts(s.ResizeBilinearOptions if kind == B.ResizeBilinearOptions else s.ResizeNearestNeighborOptions)
        return {"align_corners": bool(o.AlignCorners()), "half_pixel_centers": bool(o.HalfPixelCenters())}
    return None  # options leandet does not decode (or none)


@pytest.mark.parametrize("model", MODELS)
def test_inspect_options_match_schema(model):
    d = inspect_json(model)
    s, m = load_schema_model(model)
    g = m.Subgraphs(0)
    checked = 0
    for i, ours in enumerate(d["ops"]):
        op = g.Operators(i)
        code = m.OperatorCodes(op.OpcodeIndex())
        assert ours["builtin"] == max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        assert ours["version"] == code.Version()
        want = expected_params(s, op)
        if want is not None:
            got = dict(ours["params"])
            if "beta" in want:
                assert got.pop("beta") == pytest.approx(want.pop("beta"))
            assert got == want, (i, ours["op"])
            checked += 1
        if op.CustomOptionsLength():
            assert ours["params"]["custom_options_bytes"] == op.CustomOptionsLength()
    assert checked > 0


@pytest.mark.parametrize("model", MODELS)
def test_inspect_parameters_and_mode(model):
    d = inspect_json(model)
    s, m = load_schema_model(model)
    g = m.Subgraphs(0)
    params, buffers = 0, set()
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        if m.Buffers(t.Buffer()).DataLength() > 0:
            params += int(np.prod(t.ShapeAsNumpy())) if t.ShapeLength() else 1
            buffers.add(t.Buffer())
    assert d["parameters"] == params
    assert d["weight_bytes"] == sum(m.Buffers(b).DataLength() for b in buffers)
    assert d["summary"].startswith(MODEL_MODE[model]), d["summary"]
    assert d["schema_version"] == m.Version() == 3
    text = run_leandet("inspect", model_path(model))
    assert text.returncode == 0, describe(text)
    assert "mode        " + MODEL_MODE[model] in text.stdout


def test_inspect_help_and_usage():
    proc = run_leandet("inspect", "--help")
    assert proc.returncode == 0 and "usage: leandet inspect" in proc.stdout, describe(proc)
    for args in (["inspect"], ["inspect", "--bogus", "m.tflite"], ["inspect", "a.tflite", "b.tflite"]):
        proc = run_leandet(*args)
        assert proc.returncode == 2, describe(proc)
        assert proc.stderr.startswith("leandet inspect: "), describe(proc)


def test_inspect_bad_models(tmp_path):
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(model_path("face_detection_front.tflite").read_bytes()[:5000])
    text = tmp_path / "notes.tflite"
    text.write_text("this is not a model, just some words long enough to look like a file\n")
    for path in (empty, truncated, text, tmp_path / "missing.tflite", tmp_path):
        proc = run_leandet("inspect", path)
        assert proc.returncode == 1, describe(proc)
        assert proc.stderr.startswith("leandet: " + str(path)), describe(proc)
        assert proc.stdout == "", describe(proc)
