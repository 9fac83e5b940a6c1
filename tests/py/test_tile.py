"""Tiled detection (`leandet detect --tile RxC[:overlap]`) end to end.

The large inputs are built here with numpy from the shared BMP photos and
written as PPM (no imaging library needed): a photo upscaled to 4K, and a
1080p canvas with small copies of a person (grace_hopper.bmp) at known
places. YOLOv8n is the model: it finds nothing on the canvas's whole view
(the people shrink to ~15 px in its 640 input) and each of them on 2x2 tiles.
"""
import re
import struct

import numpy as np
import pytest

from conftest import describe, image_path, json_lines, model_path, run_leandet

YOLO = "yolov8n_full_integer_quant.tflite"
YOLO_IOU = 0.45  # the YOLO decoder's NMS IoU, which the merge uses too
PERSON = 0


def read_bmp(path):
    """Bottom-up 24-bit BMP -> HxWx3 RGB uint8."""
    d = path.read_bytes()
    off, = struct.unpack_from("<I", d, 10)
    w, h, _, bpp, comp = struct.unpack_from("<iiHHI", d, 18)
    assert bpp == 24 and comp == 0 and h > 0, f"{path}: not a plain bottom-up 24-bit BMP"
    stride = (w * 3 + 3) // 4 * 4
    rows = np.frombuffer(d, np.uint8, stride * h, off).reshape(h, stride)[::-1, : w * 3]
    return rows.reshape(h, w, 3)[:, :, ::-1].copy()


def write_ppm(path, rgb):
    h, w, _ = rgb.shape
    path.write_bytes(b"P6\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(rgb).tobytes())
    return path


def shrink(rgb, k):
    """Box-average by an integer factor (crop to a multiple of k)."""
    h, w = rgb.shape[0] // k * k, rgb.shape[1] // k * k
    return rgb[:h, :w].reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3)).round().astype(np.uint8)


def iou(a, b):
    ih = min(a[2], b[2]) - max(a[0], b[0])
    iw = min(a[3], b[3]) - max(a[1], b[1])
    if ih <= 0 or iw <= 0:
        return 0.0
    inter = ih * iw
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def detect(image, *args):
    proc = run_leandet("detect", "--model", model_path(YOLO), *args, image)
    assert proc.returncode == 0, describe(proc)
    lines = json_lines(proc)
    assert len(lines) == 1, describe(proc)
    return lines[0]


def assert_sane(res):
    for d in res["detections"]:
        y0, x0, y1, x1 = d["box"]
        assert 0.0 <= y0 <= y1 <= 1.0 and 0.0 <= x0 <= x1 <= 1.0, d
    for i, a in enumerate(res["detections"]):  # merged: no duplicates of one object
        for b in res["detections"][i + 1:]:
            if a["class"] == b["class"]:
                assert iou(a["box"], b["box"]) <= YOLO_IOU + 1e-6, (a, b)


@pytest.fixture(scope="module")
def cat4k(tmp_path_factory):
    """cat.bmp (512x341) upscaled 7.5x to 3840x2557 (nearest neighbour)."""
    cat = read_bmp(image_path("cat.bmp"))
    ys = (np.arange(2557) * cat.shape[0] // 2557)
    xs = (np.arange(3840) * cat.shape[1] // 3840)
    return write_ppm(tmp_path_factory.mktemp("tile") / "cat4k.ppm", cat[ys][:, xs])


# Where the people go on the 1920x1080 canvas (top-left corners; 85x100
# pixels each at 1/6 scale). The last lies in all four tiles of 2x2:0.4
# (x 720..1200, y 405..675 are shared).
PEOPLE = [(60 + i * 460 + j * 70, 50 + j * 340) for i in range(4) for j in range(3)] + [(890, 520)]


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    """A grey 1080p canvas with 13 small copies of grace_hopper.bmp; returns
    the file and each copy's box normalized to the canvas."""
    person = shrink(read_bmp(image_path("grace_hopper.bmp")), 6)
    h, w = person.shape[:2]
    canvas = np.empty((1080, 1920, 3), np.uint8)
    canvas[:] = (120, 130, 110)
    boxes = []
    for x, y in PEOPLE:
        canvas[y:y + h, x:x + w] = person
        boxes.append((y / 1080, x / 1920, (y + h) / 1080, (x + w) / 1920))
    return write_ppm(tmp_path_factory.mktemp("tile") / "crowd.ppm", canvas), boxes


@pytest.mark.parametrize("args,tiles", [
    ((), None), (("--tile", "2x2"), 5), (("--tile", "2x3:64px"), 7), (("--tile=3x1:0.25",), 4)])
def test_tile_count_in_json(args, tiles):
    res = detect(image_path("cat.bmp"), *args)
    assert res.get("tiles") == tiles
    assert_sane(res)


def test_big_object_same_place_tiled(cat4k):
    """The whole view's cat survives the merge where it was; the cat's
    pieces seen by single tiles do not add boxes of the same object."""
    whole = detect(cat4k)
    cats = [d for d in whole["detections"] if d["score"] > 0.5]
    assert cats, f"no confident detection on the upscaled cat: {whole}"
    tiled = detect(cat4k, "--tile", "2x2")
    assert_sane(tiled)
    for c in cats:
        same = [d for d in tiled["detections"] if d["class"] == c["class"]]
        best = max((iou(c["box"], d["box"]) for d in same), default=0.0)
        assert best > 0.9, f"{c} not found at its place in tiled mode: {tiled['detections']}"
        assert sum(iou(c["box"], d["box"]) > 0.3 for d in same) == 1, tiled["detections"]


def test_small_objects_found_by_tiles(crowd):
    path, boxes = crowd
    whole = [d for d in detect(path)["detections"] if d["class"] == PERSON]
    tiled = detect(path, "--tile", "2x2")
    assert tiled["tiles"] == 5
    assert_sane(tiled)
    people = [d for d in tiled["detections"] if d["class"] == PERSON]
    # every detected person is one of the pasted copies, in canvas coordinates
    for d in people:
        assert max(iou(d["box"], b) for b in boxes) > 0.5, f"{d} is at no pasted person"
    found = sum(any(iou(d["box"], b) > 0.5 for d in people) for b in boxes)
    assert found >= 11 and found > len(whole) + 5, f"tiles found {found} of 13, whole view {len(whole)}"


def test_object_in_overlap_found_once(crowd):
    """Four tiles see the last person whole: the merge keeps one box."""
    path, boxes = crowd
    tiled = detect(path, "--tile", "2x2:0.4")
    assert_sane(tiled)
    hits = [d for d in tiled["detections"] if d["class"] == PERSON and iou(d["box"], boxes[-1]) > 0.3]
    assert len(hits) == 1, f"the person in the overlap: {hits}"
    assert iou(hits[0]["box"], boxes[-1]) > 0.5, hits


@pytest.mark.parametrize("value,message", [
    ("0x0", "rows and columns must be 1..16"),
    ("100x100", "rows and columns must be 1..16"),
    ("1x1", "1x1 is the whole image"),
    ("2x2:1", "overlap '1' must be a fraction"),
    ("2x2:1.5", "overlap '1.5' must be a fraction"),
    ("2x2:-0.1", "overlap '-0.1' must be a fraction"),
    ("2x2:99999px", "must be 0..16384 px"),
    ("garbage", "expected ROWSxCOLS[:OVERLAP]"),
    ("2x", "expected ROWSxCOLS[:OVERLAP]"),
    ("2x2x2", "expected ROWSxCOLS[:OVERLAP]"),
    ("2x2:", "overlap '' must be a fraction"),
])
def test_bad_tile_values(value, message):
    proc = run_leandet("detect", "--model", model_path(YOLO), "--tile", value, image_path("cat.bmp"))
    assert proc.returncode == 2, describe(proc)
    assert "--tile" in proc.stderr and message in proc.stderr, describe(proc)
    assert proc.stdout == ""


def planned_total(*args):
    """The plan's total, from the refusal under a 1 MiB budget."""
    proc = run_leandet("detect", "--model", model_path(YOLO), "--max-memory", "1M", *args,
                       image_path("cat.bmp"))
    assert proc.returncode == 3, describe(proc)
    m = re.search(r"total\s+\S+ \S+\s+\((\d+) bytes\)", proc.stderr)
    assert m, describe(proc)
    return int(m.group(1))


def test_budget_counts_tiles():
    """Each view's candidates and the merge are planned (io): a budget that
    fits the whole-image run refuses the same run with many tiles, before
    allocating, and one raised by the plan's difference runs it."""
    base = planned_total("--max-detections", "1000")
    tiled = planned_total("--max-detections", "1000", "--tile", "16x16")
    # 257 views x 1000 candidates of 24 bytes, their flags and NMS scratch
    assert tiled - base >= 257 * 1000 * 24, (base, tiled)
    budget = str(base + 1024 * 1024)
    ok = run_leandet("detect", "--model", model_path(YOLO), "--max-detections", "1000", "--max-memory", budget,
                     image_path("cat.bmp"))
    assert ok.returncode == 0, describe(ok)
    refused = run_leandet("detect", "--model", model_path(YOLO), "--max-detections", "1000", "--max-memory",
                          budget, "--tile", "16x16", image_path("cat.bmp"))
    assert refused.returncode == 3 and "refused before allocating" in refused.stderr, describe(refused)
    assert refused.stdout == ""
    enough = str(tiled + 1024 * 1024)
    run = run_leandet("detect", "--model", model_path(YOLO), "--max-detections", "1000", "--max-memory", enough,
                      "--tile", "2x2", image_path("cat.bmp"))
    assert run.returncode == 0 and json_lines(run)[0]["tiles"] == 5, describe(run)


def test_several_images_tiled_one_at_a_time():
    """Several inputs normally go through the pipeline, which cannot tile:
    with --tile they run one at a time, each line saying its tiles."""
    images = [image_path("cat.bmp"), image_path("face.jpg")]
    proc = run_leandet("detect", "--model", model_path(YOLO), "--tile", "1x2", *images)
    assert proc.returncode == 0, describe(proc)
    lines = json_lines(proc)
    assert [l["tiles"] for l in lines] == [3, 3]
    assert [l["image"] for l in lines] == [str(p) for p in images]
