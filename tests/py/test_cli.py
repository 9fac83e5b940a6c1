"""End-to-end tests of the leandet command line: output format, detections
on a real photo, exit codes, and bad input (models, images, arguments).
Exit codes: 0 ok, 1 error, 2 usage, 3 budget refused, 4 partial."""
import struct
import zlib

import pytest

from conftest import (IMAGES_DIR, LABELS_DIR, MODEL_OPS, MODELS, SSD, describe, image_path,
                      json_lines, model_path, run_leandet)

GRACE = "grace_hopper.bmp"
SSD_LABELS = "coco_labelmap_ssd_91.txt"
# MANIFEST.md reference detection (independent TFLite-format runtime):
# grace_hopper.bmp person 0.711 [0.056, 0.008, 0.991, 0.986].
GRACE_PERSON_BOX = (0.056, 0.008, 0.991, 0.986)


def ssd_detect(*extra):
    return run_leandet("detect", "--model", model_path(SSD), "--labels", LABELS_DIR / SSD_LABELS, *extra)


def bmp_size(path):
    """(width, height) from a BMP's BITMAPINFOHEADER (height < 0: top-down)."""
    w, h = struct.unpack_from("<ii", path.read_bytes(), 18)
    return w, abs(h)


def iou(a, b):
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def check_detection_fields(det):
    assert isinstance(det["class"], int) and det["class"] >= 0, det
    assert 0.0 <= det["score"] <= 1.0, det
    box = det["box"]
    assert len(box) == 4 and all(isinstance(v, (int, float)) for v in box), det
    assert box[0] <= box[2] and box[1] <= box[3], f"box is not [ymin,xmin,ymax,xmax]: {det}"


# ---------------------------------------------------------------------------
# detect: results

def test_detect_finds_grace_hopper():
    proc = ssd_detect(image_path(GRACE))
    assert proc.returncode == 0, describe(proc)
    lines = json_lines(proc)
    assert len(lines) == 1, describe(proc)
    res = lines[0]
    assert res["image"].endswith(GRACE), res
    assert (res["width"], res["height"]) == bmp_size(image_path(GRACE)), res
    for det in res["detections"]:
        check_detection_fields(det)
    people = [d for d in res["detections"] if d["class"] == 0]
    assert people, f"no person found: {res}"
    best = max(people, key=lambda d: d["score"])
    assert best["label"] == "person", best
    assert best["score"] >= 0.7, best
    assert iou(best["box"], GRACE_PERSON_BOX) >= 0.9, f"{best} vs reference box {GRACE_PERSON_BOX}"


def test_detect_one_json_line_per_image_in_order():
    images = [image_path(GRACE), image_path("cat.bmp"), image_path(GRACE)]
    proc = ssd_detect(*images)
    assert proc.returncode == 0, describe(proc)
    lines = json_lines(proc)
    assert [r["image"] for r in lines] == [str(p) for p in images], describe(proc)
    assert lines[0]["detections"] == lines[2]["detections"], "same image, different detections"
    for res in lines:
        assert isinstance(res["width"], int) and isinstance(res["height"], int), res
        for det in res["detections"]:
            check_detection_fields(det)


def test_detect_threshold_and_max_detections():
    proc = ssd_detect("--threshold", "0.3", "--max-detections", "1", image_path(GRACE))
    assert proc.returncode == 0, describe(proc)
    dets = json_lines(proc)[0]["detections"]
    assert len(dets) == 1 and dets[0]["label"] == "person", dets
    proc = ssd_detect("--threshold", "0.9", "--iou", "0.5", image_path(GRACE))
    assert proc.returncode == 0, describe(proc)
    dets = json_lines(proc)[0]["detections"]
    assert all(d["score"] >= 0.9 for d in dets), dets


def png_info(data):
    """(width, height) of a PNG after checking what a decoder checks: the
    signature, every chunk CRC, IHDR first, IEND last, and IDAT inflating to
    exactly one filter byte (0-4) plus a row of pixels per row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind} chunk"
        chunks.append((kind, body))
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [k for k, _ in chunks]
    w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    assert depth == 8 and interlace == 0, (depth, interlace)
    raw = zlib.decompress(idat)
    stride = w * channels + 1
    assert len(raw) == h * stride, f"IDAT inflates to {len(raw)} bytes, {w}x{h} needs {h * stride}"
    assert all(raw[r * stride] <= 4 for r in range(h)), "bad row filter type"
    return w, h


def test_detect_draw_writes_png(tmp_path):
    out = tmp_path / "out.png"
    proc = ssd_detect("--draw", out, image_path(GRACE))
    assert proc.returncode == 0, describe(proc)
    res = json_lines(proc)[0]
    assert out.is_file(), f"--draw wrote nothing\n{describe(proc)}"
    assert png_info(out.read_bytes()) == (res["width"], res["height"])


# ---------------------------------------------------------------------------
# detect: bad models

def test_missing_model_file(tmp_path):
    missing = tmp_path / "no_such_model.tflite"
    proc = run_leandet("detect", "--model", missing, image_path(GRACE))
    assert proc.returncode == 1, describe(proc)
    assert str(missing) in proc.stderr + proc.stdout, describe(proc)


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_broken_model_file(tmp_path, kind):
    real = model_path(SSD).read_bytes()
    bad = tmp_path / f"{kind}.tflite"
    bad.write_bytes(b"" if kind == "empty" else real[:len(real) // 2])
    proc = run_leandet("detect", "--model", bad, image_path(GRACE))
    assert proc.returncode == 1, describe(proc)
    assert str(bad) in proc.stderr + proc.stdout, describe(proc)


# A minimal FlatBuffers walk (no schema package needed): enough to find the
# OperatorCode table of a .tflite file. Model field 1 = operator_codes;
# OperatorCode fields: 0 deprecated_builtin_code (int8), 1 custom_code
# (string), 3 builtin_code (int32; absent in pre-2021 files). TFLite reads the
# code as max(deprecated_builtin_code, builtin_code).

def _u32(buf, pos):
    return struct.unpack_from("<I", buf, pos)[0]


def _field(buf, table, index):
    """Absolute position of a table field, or None when it is absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    slot = 4 + 2 * index
    if slot + 2 > struct.unpack_from("<H", buf, vtable)[0]:
        return None
    off = struct.unpack_from("<H", buf, vtable + slot)[0]
    return table + off if off else None


def _operator_codes(buf):
    root = _u32(buf, 0)
    f = _field(buf, root, 1)
    vec = f + _u32(buf, f)
    return [vec + 4 + 4 * i + _u32(buf, vec + 4 + 4 * i) for i in range(_u32(buf, vec))]


def patch_builtin(buf, old, new):
    """Copy of model bytes with operator code `old` turned into `new` (both
    < 128, so the int8 field can hold them)."""
    out = bytearray(buf)
    for table in _operator_codes(buf):
        dep, code = _field(buf, table, 0), _field(buf, table, 3)
        if dep is not None and struct.unpack_from("<b", buf, dep)[0] == old:
            struct.pack_into("<b", out, dep, new)
            if code is not None:
                struct.pack_into("<i", out, code, new)
            return bytes(out)
    raise AssertionError(f"operator code {old} not found")


def patch_custom(buf, old, new):
    assert len(old) == len(new)
    out = bytearray(buf)
    for table in _operator_codes(buf):
        f = _field(buf, table, 1)
        if f is not None:
            s = f + _u32(buf, f)
            if buf[s + 4:s + 4 + _u32(buf, s)] == old:
                out[s + 4:s + 4 + len(new)] = new
                return bytes(out)
    raise AssertionError(f"custom op {old} not found")


RELU, EMBEDDING_LOOKUP = 19, 7


def test_unsupported_builtin_op(tmp_path):
    # face_detection_front uses RELU, which has no options: renaming its code
    # to EMBEDDING_LOOKUP leaves an otherwise valid model.
    bad = tmp_path / "embedding_lookup.tflite"
    bad.write_bytes(patch_builtin(model_path("face_detection_front.tflite").read_bytes(),
                                  RELU, EMBEDDING_LOOKUP))
    proc = run_leandet("detect", "--model", bad, image_path(GRACE))
    assert proc.returncode == 1, describe(proc)
    assert "EMBEDDING_LOOKUP" in proc.stderr + proc.stdout, describe(proc)


def test_unsupported_custom_op(tmp_path):
    bad = tmp_path / "custom.tflite"
    bad.write_bytes(patch_custom(model_path(SSD).read_bytes(), b"TFLite_Detection_PostProcess",
                                 b"TFLite_Detection_PostProcesX"))
    proc = run_leandet("detect", "--model", bad, image_path(GRACE))
    assert proc.returncode == 1, describe(proc)
    assert "TFLite_Detection_PostProcesX" in proc.stderr + proc.stdout, describe(proc)


# ---------------------------------------------------------------------------
# detect: bad images

def huge_bmp():
    """A 24-bit BMP header claiming 100000 x 100000 pixels, with 16 bytes of data."""
    info = struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + bytes(16)


def huge_png():
    """A valid-looking PNG whose IHDR claims 100000 x 100000 RGB pixels."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(301)))
            + chunk(b"IEND", b""))


BAD_IMAGES = {
    "text.jpg": b"this is a text file, not a picture\n" * 4,
    "huge.bmp": huge_bmp(),
    "huge.png": huge_png(),
    "huge.ppm": b"P6\n100000 100000\n255\n" + bytes(64),
    "empty.png": b"",
}


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_bad_image_alone(tmp_path, name):
    bad = tmp_path / name
    bad.write_bytes(BAD_IMAGES[name])
    proc = ssd_detect(bad)
    assert proc.returncode == 1, describe(proc)
    lines = json_lines(proc)
    assert len(lines) == 1 and lines[0]["image"] == str(bad), describe(proc)
    assert isinstance(lines[0].get("error"), str) and lines[0]["error"], lines[0]


@pytest.mark.parametrize("name", ["text.jpg", "huge.bmp"])
def test_bad_image_among_good(tmp_path, name):
    bad = tmp_path / name
    bad.write_bytes(BAD_IMAGES[name])
    good = image_path(GRACE)
    proc = ssd_detect(good, bad, good)
    assert proc.returncode == 4, describe(proc)
    lines = json_lines(proc)
    assert [r["image"] for r in lines] == [str(good), str(bad), str(good)], describe(proc)
    assert "error" in lines[1] and "detections" not in lines[1], lines[1]
    assert lines[0]["detections"] and lines[0] == lines[2], lines


def test_missing_image(tmp_path):
    missing = tmp_path / "nowhere.jpg"
    proc = ssd_detect(missing)
    assert proc.returncode == 1, describe(proc)
    lines = json_lines(proc)
    assert len(lines) == 1 and lines[0]["image"] == str(missing) and "error" in lines[0], describe(proc)


# ---------------------------------------------------------------------------
# usage

@pytest.mark.parametrize("args", [
    ["detect", "--no-such-option"],
    ["detect", "--model"],                         # option without its value
    ["detect", str(IMAGES_DIR / GRACE)],            # no --model
    ["inspect", "--no-such-option"],
    ["tensors", "--no-such-option"],
    ["no-such-command"],
    [],
], ids=["detect-unknown", "detect-no-value", "detect-no-model", "inspect-unknown",
        "tensors-unknown", "unknown-command", "no-command"])
def test_usage_errors(args):
    proc = run_leandet(*args)
    assert proc.returncode == 2, describe(proc)
    assert proc.stderr.strip(), "a usage error should explain itself on stderr"


@pytest.mark.parametrize("command", [[], ["detect"], ["inspect"], ["tensors"]],
                         ids=["main", "detect", "inspect", "tensors"])
def test_help(command):
    proc = run_leandet(*command, "--help")
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip(), "help goes to stdout"


# ---------------------------------------------------------------------------
# inspect and tensors

@pytest.mark.parametrize("model", MODELS)
def test_inspect_lists_operators(model):
    proc = run_leandet("inspect", model_path(model))
    if proc.returncode == 2:   # accept `inspect --model M` as well
        proc = run_leandet("inspect", "--model", model_path(model))
    assert proc.returncode == 0, describe(proc)
    missing = [op for op in MODEL_OPS[model] if op not in proc.stdout]
    assert not missing, f"inspect does not mention {missing}\n{describe(proc)}"


def test_tensors_rejects_wrong_input_size(tmp_path):
    raw = tmp_path / "short.raw"
    raw.write_bytes(bytes(1000))   # SSD's input is 300*300*3 = 270000 bytes
    proc = run_leandet("tensors", "--model", model_path(SSD), "--input", raw, "--out", tmp_path / "out")
    assert proc.returncode == 1, describe(proc)
    assert "270000" in proc.stderr + proc.stdout, describe(proc)


def test_images_folder_exists():
    # Every test above reads the shared photos; say so plainly when they are absent.
    assert IMAGES_DIR.is_dir(), f"no test images at {IMAGES_DIR} (set LEANDET_IMAGES)"
