"""leandet quantize --mode int8: full-integer post-training quantization.

The int8 model written from face_detection_front (float) with 8 coco128
calibration images must load in TensorFlow Lite, give leandet's outputs
bit-exactly (reference kernels on both sides), and find what the float model
finds on face.jpg. Refusals leave no output file.
"""
import os

import numpy as np
import pytest

from conftest import IMAGES_DIR, SSD, describe, json_lines, model_path, oracle, run_leandet
from test_quantize import check_detect_against_tflite, iou, leftovers, schema, summary

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
    proc = run_leandet("quantize", "--mode", "int8", model_path(FACE), out)
    assert proc.returncode == 2 and "--calibration" in proc.stderr and not out.exists()
