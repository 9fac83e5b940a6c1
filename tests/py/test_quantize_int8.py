"""leandet quantize --mode int8: full-integer post-training quantization.

The int8 model written from face_detection_front (float) with 8 coco128
calibration images must load in TensorFlow Lite, give leandet's outputs
bit-exactly (reference kernels on both sides), and find what the float model
finds on face.jpg. Refusals leave no output file. Percentile calibration
narrows ranges, the per-layer report agrees with SNRs computed from
TensorFlow Lite's own tensors, kept-float operators run float, float16
weights are quantized, and every int8 CONCATENATION input carries the
output's parameters.
"""
import json
import math
import os

import numpy as np
import pytest

from conftest import IMAGES_DIR, SSD, describe, json_lines, model_path, oracle, require_oracle, run_leandet
from test_budget import SANITIZED
from test_quantize import (check_detect_against_tflite, detect_run, iou, leftovers, random_input, schema,
                           summary)

FACE = "face_detection_front.tflite"
COCO_TRAIN = os.environ.get("LEANDET_COCO128", "/work/shared/coco128") + "/images/train2017"


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    """The first 8 coco128 train images (by name), linked into a directory."""
    if not os.path.isdir(COCO_TRAIN):
        pytest.skip(f"{COCO_TRAIN} is not available")
    d = tmp_path_factory.mktemp("calib")
    for name in sorted(os.listdir(COCO_TRAIN))[:8]:
        os.symlink(os.path.join(COCO_TRAIN, name), d / name)
    return d


def quantize(src, out, calib_dir, *extra):
    return run_leandet("quantize", "--mode", "int8", "--calibration", calib_dir, *extra, src, out)


@pytest.fixture(scope="module")
def face_int8(calib, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8") / "face_int8.tflite"
    proc = quantize(model_path(FACE), out, calib)
    assert proc.returncode == 0, describe(proc)
    assert "8 images" in proc.stderr, proc.stderr
    return out


def test_face_int8_structure(face_int8):
    s = schema()
    summ = summary(face_int8)
    T, Op = s.TensorType, s.BuiltinOperator
    codes = [op[0] for op in summ["ops"]]
    # float input -> QUANTIZE ... DEQUANTIZE -> the two float outputs
    assert codes[0] == Op.QUANTIZE and codes.count(Op.QUANTIZE) == 1 and codes.count(Op.DEQUANTIZE) == 2, codes
    assert face_int8.stat().st_size < 0.5 * model_path(FACE).stat().st_size
    weighted = {Op.CONV_2D: 0, Op.DEPTHWISE_CONV_2D: 3}
    for code, _, _, inputs, outputs, _, _ in summ["ops"]:
        if code in (Op.QUANTIZE, Op.DEQUANTIZE):
            continue
        out = summ["tensors"][outputs[0]]
        assert out[2] == T.INT8 and out[4] is not None and len(out[4][0]) == 1, out[0]
        if code in weighted:
            w, b = summ["tensors"][inputs[1]], summ["tensors"][inputs[2]]
            scales, zps, dim = w[4]
            assert w[2] == T.INT8 and dim == weighted[code] and len(scales) == w[1][dim] and not any(zps), w[0]
            in_scale = summ["tensors"][inputs[0]][4][0][0]
            assert b[2] == T.INT32 and not any(b[4][1]), b[0]
            assert np.allclose(b[4][0], np.float32(in_scale) * np.asarray(scales, np.float32), rtol=1e-6), b[0]
        if code == Op.MAX_POOL_2D:  # shares its input's parameters
            assert summ["tensors"][inputs[0]][4][:2] == out[4][:2], out[0]
    for t in summ["outputs"] + summ["inputs"]:
        assert summ["tensors"][t][2] == T.FLOAT32


def test_face_int8_matches_tflite_and_float(face_int8, tmp_path):
    image = IMAGES_DIR / "face.jpg"
    got = check_detect_against_tflite(face_int8, image, tmp_path)["detections"]
    proc = run_leandet("detect", "--model", model_path(FACE), "--threshold", "0.3", image)
    assert proc.returncode == 0, describe(proc)
    want = [d for d in json_lines(proc)[0]["detections"] if d["score"] >= 0.5]
    got = [d for d in got if d["score"] >= 0.5]
    assert len(want) >= 2 and len(got) == len(want), (want, got)
    for d in want:
        assert max(iou(g["box"], d["box"]) for g in got) > 0.8, (d, got)


@pytest.mark.parametrize("io", ["int8", "uint8"])
def test_quantized_io(calib, io, tmp_path):
    out = tmp_path / f"face_{io}.tflite"
    proc = quantize(model_path(FACE), out, calib, "--io", io, "--count", "2")
    assert proc.returncode == 0, describe(proc)
    assert "2 images" in proc.stderr
    s = schema()
    summ = summary(out)
    want = s.TensorType.INT8 if io == "int8" else s.TensorType.UINT8
    for t in summ["inputs"] + summ["outputs"]:
        assert summ["tensors"][t][2] == want, summ["tensors"][t][0]
    check_detect_against_tflite(out, IMAGES_DIR / "face.jpg", tmp_path)


def act_params(path):
    """{tensor name: (scale, zero point)} of the int8 activations of a model."""
    s = schema()
    summ = summary(path)
    return {t[0]: (t[4][0][0], t[4][1][0]) for t in summ["tensors"]
            if t[2] == s.TensorType.INT8 and t[4] is not None and len(t[4][0]) == 1 and t[3] == b""}


def test_percentile_narrows_ranges(calib, tmp_path):
    mm, pc = tmp_path / "minmax.tflite", tmp_path / "pc.tflite"
    assert quantize(model_path(FACE), mm, calib, "--count", "4").returncode == 0
    proc = quantize(model_path(FACE), pc, calib, "--count", "4", "--calibration-method", "percentile:99.9")
    assert proc.returncode == 0, describe(proc)
    assert "percentile 99.9" in proc.stderr and "histograms" in proc.stderr and "KiB" in proc.stderr
    a, b = act_params(mm), act_params(pc)
    assert a.keys() == b.keys() and len(a) > 50
    # clipping tails can only shrink a range: the step never grows, and most shrink
    ratios = [b[k][0] / a[k][0] for k in a]
    assert max(ratios) <= 1 + 1e-6, max(ratios)
    assert sum(r < 0.98 for r in ratios) > len(ratios) // 2, sorted(ratios)[:5]
    check_detect_against_tflite(pc, IMAGES_DIR / "face.jpg", tmp_path)
    # percentile 100 keeps every value: the minmax ranges, up to the histogram's float rounding
    full = tmp_path / "p100.tflite"
    assert quantize(model_path(FACE), full, calib, "--count", "4", "--calibration-method",
                    "percentile:100").returncode == 0
    c = act_params(full)
    assert all(abs(c[k][0] / a[k][0] - 1) < 1e-6 for k in a)


def tflite_tensors(model, data):
    """{name: float ndarray} of every tensor TFLite computes (int8 dequantized)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.frombuffer(data, np.dtype(d["dtype"])).reshape(d["shape"]))
    it.invoke()
    out = {}
    for t in it.get_tensor_details():
        try:
            v = it.get_tensor(t["index"])
        except ValueError:
            continue
        scale, zp = t["quantization"]
        if v.dtype == np.int8 and scale:
            v = (v.astype(np.float64) - zp) * scale
        out[t["name"]] = v.astype(np.float64)
    return out


def test_report_matches_tflite_snr(tmp_path):
    """The report on one image against SNRs computed from TensorFlow Lite's
    float and int8 runs on the same input tensor."""
    one = tmp_path / "one"
    one.mkdir()
    os.symlink(IMAGES_DIR / "face.jpg", one / "face.jpg")
    out, rep = tmp_path / "q.tflite", tmp_path / "report.json"
    calib_dir = tmp_path / "calib"
    calib_dir.mkdir()
    os.symlink(IMAGES_DIR / "face.jpg", calib_dir / "face.jpg")
    os.symlink(IMAGES_DIR / "zidane.jpg", calib_dir / "zidane.jpg")
    proc = run_leandet("quantize", "--mode", "int8", "--calibration", calib_dir, "--report-json", rep,
                       "--report-images", one, "--report-count", "1", model_path(FACE), out)
    assert proc.returncode == 0, describe(proc)
    r = json.loads(rep.read_text())
    assert r["images"] == 1 and r["unmatched"] == 0
    layers = r["layers"]
    # every operator output but the added QUANTIZE/DEQUANTIZE, worst first, finite
    s = schema()
    summ = summary(out)
    skip = (s.BuiltinOperator.QUANTIZE, s.BuiltinOperator.DEQUANTIZE, s.BuiltinOperator.CUSTOM)
    want = sorted(i for i, op in enumerate(summ["ops"]) if op[0] not in skip)
    assert sorted(l["op"] for l in layers) == want
    snrs = [l["snr_db"] for l in layers]
    assert all(math.isfinite(v) for v in snrs) and snrs == sorted(snrs)
    ops = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    src = summary(model_path(FACE))
    for l in layers:
        assert ops[summ["ops"][l["op"]][0]] == l["type"], l
        # float_op: the float model's operator writing that tensor (--keep-float #N)
        fop = src["ops"][l["float_op"]]
        assert fop[0] == summ["ops"][l["op"]][0]
        assert src["tensors"][fop[4][0]][0].decode() == l["tensor"].removesuffix("_int8"), l
    lines = proc.stdout.splitlines()
    worst = lines[4]
    assert "worst first" in lines[1] and layers[0]["tensor"] in worst and f"#{layers[0]['float_op']} " in worst
    # independent SNRs from TensorFlow Lite on the same input tensor
    data, _, _ = detect_run(model_path(FACE), IMAGES_DIR / "face.jpg", tmp_path, "--backend", "ref")
    f, q = tflite_tensors(model_path(FACE), data), tflite_tensors(out, data)
    for l in layers:
        name = l["tensor"]
        x, y = f[name if name in f else name.removesuffix("_int8")], q[name]
        want_db = 10 * math.log10(np.sum(x * x) / np.sum((x - y) ** 2))
        assert abs(want_db - l["snr_db"]) < 0.01, (l, want_db)


def test_keep_float_index_and_tensor(calib, tmp_path):
    s = schema()
    src = summary(model_path(FACE))
    convs = [i for i, op in enumerate(src["ops"]) if op[0] == s.BuiltinOperator.CONV_2D]
    first, last = convs[3], convs[-1]
    name = src["tensors"][src["ops"][last][4][0]][0].decode()
    out = tmp_path / "keep.tflite"
    proc = quantize(model_path(FACE), out, calib, "--count", "2", "--keep-float", f"#{first}",
                    "--keep-float", name)
    assert proc.returncode == 0, describe(proc)
    summ = summary(out)
    kept = {src["tensors"][src["ops"][first][4][0]][0], name.encode()}
    found = 0
    for i, (code, _, _, inputs, outputs, _, _) in enumerate(summ["ops"]):
        t = summ["tensors"][outputs[0]]
        if t[0] not in kept:
            continue
        found += 1
        # float weights, fed by a DEQUANTIZE, read through a QUANTIZE
        assert code == s.BuiltinOperator.CONV_2D and t[2] == s.TensorType.FLOAT32
        assert summ["tensors"][inputs[1]][2] == s.TensorType.FLOAT32
        prev = [op for op in summ["ops"] if inputs[0] in op[4]]
        assert prev and prev[0][0] == s.BuiltinOperator.DEQUANTIZE
        nxt = [op for op in summ["ops"] if outputs[0] in op[3]]
        assert nxt and all(op[0] == s.BuiltinOperator.QUANTIZE for op in nxt)
    assert found == 2
    check_detect_against_tflite(out, IMAGES_DIR / "face.jpg", tmp_path)


def test_keep_float_logistic_ssd(calib, tmp_path):
    """The dequantized SSD back to int8 with its LOGISTIC kept float: the
    scores run float between a DEQUANTIZE and the (float) post-process."""
    ssd_float, out = tmp_path / "ssd_float.tflite", tmp_path / "ssd_keep.tflite"
    proc = run_leandet("dequantize", model_path(SSD), ssd_float)
    assert proc.returncode == 0, describe(proc)
    proc = quantize(ssd_float, out, calib, "--count", "1", "--keep-float", "logistic")
    assert proc.returncode == 0, describe(proc)
    s = schema()
    summ = summary(out)
    ops = summ["ops"]
    logistic = [op for op in ops if op[0] == s.BuiltinOperator.LOGISTIC]
    assert len(logistic) == 1
    _, _, _, inputs, outputs, _, _ = logistic[0]
    assert summ["tensors"][inputs[0]][2] == summ["tensors"][outputs[0]][2] == s.TensorType.FLOAT32
    assert [op[0] for op in ops if inputs[0] in op[4]] == [s.BuiltinOperator.DEQUANTIZE]
    assert [op[0] for op in ops if outputs[0] in op[3]] == [s.BuiltinOperator.CUSTOM]
    assert sum(op[0] == s.BuiltinOperator.CONV_2D and summ["tensors"][op[4][0]][2] == s.TensorType.INT8
               for op in ops) > 20
    check_detect_against_tflite(out, IMAGES_DIR / "bus.jpg", tmp_path)


def test_float16_weights_quantized(calib, tmp_path):
    out = tmp_path / "fsr_int8.tflite"
    proc = quantize(model_path("face_detection_short_range.tflite"), out, calib, "--count", "2")
    assert proc.returncode == 0, describe(proc)
    s = schema()
    summ = summary(out)
    assert not any(t[2] == s.TensorType.FLOAT16 for t in summ["tensors"])
    codes = [op[0] for op in summ["ops"]]
    assert codes.count(s.BuiltinOperator.DEQUANTIZE) == 2 and codes.count(s.BuiltinOperator.CONV_2D) > 10
    for code, _, _, inputs, _, _, _ in summ["ops"]:
        if code == s.BuiltinOperator.CONV_2D:
            assert summ["tensors"][inputs[1]][2] == s.TensorType.INT8
    check_detect_against_tflite(out, IMAGES_DIR / "face.jpg", tmp_path)


def test_concat_inputs_share_output_params(calib, tmp_path):
    """yolov5n (float16 weights) concatenates LOGISTIC outputs (fixed 1/256
    scale) with other tensors: those inputs get a requantizing QUANTIZE, and
    TensorFlow Lite accepts and matches the model."""
    out = tmp_path / "y5.tflite"
    proc = quantize(model_path("yolov5n-fp16.tflite"), out, calib, "--count", "1")
    assert proc.returncode == 0, describe(proc)
    s = schema()
    summ = summary(out)
    concats = requants = 0
    for code, _, _, inputs, outputs, _, _ in summ["ops"]:
        if code == s.BuiltinOperator.CONCATENATION:
            concats += 1
            want = summ["tensors"][outputs[0]][4][:2]
            for t in inputs:
                assert summ["tensors"][t][4][:2] == want, summ["tensors"][t][0]
        if code == s.BuiltinOperator.QUANTIZE and summ["tensors"][inputs[0]][2] == s.TensorType.INT8:
            requants += 1
    assert concats >= 10 and requants >= 1
    # TensorFlow Lite's int8 CONCATENATION refuses differing parameters at prepare
    require_oracle()
    oracle.run_model(str(out), random_input(out))
    if not SANITIZED:  # leandet's reference kernels on a 640x640 model take a minute under ASan
        check_detect_against_tflite(out, IMAGES_DIR / "bus.jpg", tmp_path)


def test_keep_float(calib, tmp_path):
    out = tmp_path / "face_keep.tflite"
    proc = quantize(model_path(FACE), out, calib, "--count", "2", "--keep-float", "MAX_POOL_2D")
    assert proc.returncode == 0, describe(proc)
    s = schema()
    summ = summary(out)
    pools = [op for op in summ["ops"] if op[0] == s.BuiltinOperator.MAX_POOL_2D]
    assert pools and all(summ["tensors"][op[4][0]][2] == s.TensorType.FLOAT32 for op in pools)
    check_detect_against_tflite(out, IMAGES_DIR / "face.jpg", tmp_path)


def refused(proc, out, tmp_path, *words):
    assert proc.returncode != 0, describe(proc)
    for w in words:
        assert w in proc.stderr, proc.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_refusals(calib, tmp_path):
    out = tmp_path / "out.tflite"
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(quantize(model_path(FACE), out, empty), out, tmp_path, "no image", "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"not a jpeg")
    (bad / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    refused(quantize(model_path(FACE), out, bad), out, tmp_path, "none of its 2 image files decodes")
    refused(quantize(model_path(SSD), out, calib), out, tmp_path, "already quantized", SSD)
    refused(quantize(model_path(FACE), out, calib, "--keep-float", "#9999"), out, tmp_path,
            "'#9999' names no operator")
    refused(quantize(model_path(FACE), out, calib, "--keep-float", "NO_SUCH_TENSOR"), out, tmp_path,
            "'NO_SUCH_TENSOR' names no operator")
    refused(quantize(model_path(FACE), out, calib, "--report", "--report-images", empty), out, tmp_path,
            "no image")
    # an operator the quantizer does not know is refused before any image is run
    gather = tmp_path / "gather.tflite"
    assert run_leandet("quantize", "--mode", "none", model_path(FACE), gather).returncode == 0
    m = schema().ModelT.InitFromPackedBuf(gather.read_bytes(), 0)
    pool = next(c for c in m.operatorCodes if c.builtinCode == schema().BuiltinOperator.MAX_POOL_2D)
    pool.builtinCode = pool.deprecatedBuiltinCode = schema().BuiltinOperator.GATHER
    for op in m.subgraphs[0].operators:
        if m.operatorCodes[op.opcodeIndex] is pool:
            op.builtinOptionsType, op.builtinOptions = 0, None
    import flatbuffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    gather.write_bytes(b.Output())
    proc = quantize(gather, out, calib)
    refused(proc, out, tmp_path, "GATHER", "does not know", "gather.tflite")
    assert "calibration:" not in proc.stderr
    for bad_method in ("median", "percentile:0", "percentile:101", "percentile:x"):
        proc = quantize(model_path(FACE), out, calib, "--calibration-method", bad_method)
        assert proc.returncode == 2 and "--calibration-method" in proc.stderr and not out.exists(), bad_method
    proc = run_leandet("quantize", "--mode", "int8", model_path(FACE), out)
    assert proc.returncode == 2 and "--calibration" in proc.stderr and not out.exists()
