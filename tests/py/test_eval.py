"""leandet eval: its COCO metrics against pycocotools on the same ground truth
and the very detections leandet wrote with --results.

  (a) a hand-made COCO fixture (tests/data/eval/fixture: four test photos,
      crowds, small/medium/large objects, an area field unlike the box area,
      a category without objects, one the model does not know);
  (b) the SSD model on the first 16 images of coco128 val2017 (YOLO layout),
      against a ground-truth json this file synthesizes from the YOLO labels
      independently of leandet (image sizes read from the JPEG headers, boxes
      x = (cx - w/2) * W ..., area = w * h, iscrowd 0).

The issue asks for agreement within 0.001; leandet re-does COCOeval's
arithmetic, so the test holds it to 1e-9. The pycocotools comparisons are
skipped, loudly, only when pycocotools cannot be imported (it is in
requirements-test.txt).
"""
import contextlib
import io
import json
import os
import pty
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import pytest

from conftest import BIN, IMAGES_DIR, LABELS_DIR, SSD, describe, model_path, run_leandet

try:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    HAVE_PYCOCOTOOLS = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_PYCOCOTOOLS = False
    warnings.warn("PYCOCOTOOLS CROSS-CHECKS SKIPPED: pycocotools cannot be imported "
                  "(pip install -r requirements-test.txt)")

DATA = Path(__file__).resolve().parents[1] / "data" / "eval"
COCO128 = Path(os.environ.get("LEANDET_COCO128") or IMAGES_DIR.parent / "coco128")
SSD_LABELS = LABELS_DIR / "coco_labelmap_ssd_91.txt"
FIXTURE_IMAGES = ["grace_hopper.bmp", "cat.bmp", "pets.jpg", "bus.jpg"]
STAT_KEYS = ["map", "map50", "map75", "map_small", "map_medium", "map_large",
             "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large"]
TOLERANCE = 1e-9


def require_pycocotools():
    if not HAVE_PYCOCOTOOLS:
        pytest.skip("PYCOCOTOOLS CROSS-CHECK SKIPPED: pycocotools cannot be imported "
                    "(pip install -r requirements-test.txt)")


def pycocotools_stats(gt, results):
    """COCOeval's twelve summary numbers for a ground-truth dict and a results list."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        dt = coco.loadRes(results)
        ev = COCOeval(coco, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(x) for x in ev.stats]


def leandet_eval(*args):
    proc = run_leandet("eval", "--model", model_path(SSD), "--labels", SSD_LABELS, "--json", *args)
    assert proc.returncode == 0, describe(proc)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, describe(proc)
    return json.loads(lines[0]), proc


def assert_same(ours, theirs):
    diffs = {k: (ours[k], t) for k, t in zip(STAT_KEYS, theirs) if abs(ours[k] - t) > TOLERANCE}
    assert not diffs, f"leandet vs pycocotools differ: {diffs}"


@pytest.fixture
def coco_fixture(tmp_path):
    """The fixture in the COCO layout: annotations/instances_val.json + images/val/."""
    root = tmp_path / "fixture"
    (root / "annotations").mkdir(parents=True)
    (root / "images" / "val").mkdir(parents=True)
    shutil.copy(DATA / "fixture" / "instances_val.json", root / "annotations" / "instances_val.json")
    for name in FIXTURE_IMAGES:
        src = IMAGES_DIR / name
        if not src.is_file():
            pytest.fail(f"test image {src} is missing (LEANDET_IMAGES={IMAGES_DIR})")
        (root / "images" / "val" / name).symlink_to(src)
    return root


def test_fixture_matches_pycocotools(coco_fixture, tmp_path):
    require_pycocotools()
    results = tmp_path / "results.json"
    ours, proc = leandet_eval("--data", coco_fixture, "--split", "val", "--results", results)
    gt = json.loads((coco_fixture / "annotations" / "instances_val.json").read_text())
    dets = json.loads(results.read_text())
    assert ours["images"] == 4 and ours["objects"] == 19 and ours["detections"] == len(dets) > 0
    # results use the dataset's category ids and image ids
    assert {d["category_id"] for d in dets} <= {c["id"] for c in gt["categories"]}
    assert {d["image_id"] for d in dets} == {10, 3, 7, 5}
    theirs = pycocotools_stats(gt, dets)
    assert_same(ours, theirs)
    # the fixture is built so that every kind of number is informative
    assert 0 < ours["map"] < 1 and 0 < ours["map_small"] < 1 and ours["map50"] > ours["map"]
    # the category the model has no class for is reported
    assert "'unicorn'" in proc.stderr


def jpeg_size(path):
    """(width, height) from a JPEG's SOF marker."""
    data = Path(path).read_bytes()
    assert data[:2] == b"\xff\xd8", path
    i = 2
    while i + 4 <= len(data):
        marker = data[i + 1]
        if data[i] != 0xFF or marker == 0xFF:
            i += 1
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise ValueError(f"{path}: no SOF marker")


def yaml_names(path):
    names = {}
    inside = False
    for line in Path(path).read_text().splitlines():
        if line.startswith("names:"):
            inside = True
        elif inside and line.startswith(" ") and ":" in line:
            key, value = line.split(":", 1)
            names[int(key)] = value.strip()
        elif inside and line.strip():
            break
    return [names[i] for i in range(len(names))]


def yolo_ground_truth(root, split, limit):
    """COCO ground truth for the first `limit` images (by id) of a YOLO dataset."""
    files = [f for f in os.listdir(root / "images" / split) if f.lower().endswith((".jpg", ".jpeg"))]
    ids = sorted((int(Path(f).stem), f) for f in files)[:limit]
    images, anns = [], []
    for image_id, name in ids:
        w, h = jpeg_size(root / "images" / split / name)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        label = root / "labels" / split / (Path(name).stem + ".txt")
        if not label.is_file():
            continue
        for line in label.read_text().splitlines():
            parts = line.split()
            if not parts:
                continue
            cx, cy, bw, bh = map(float, parts[1:5])
            box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": int(parts[0]) + 1,
                         "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(yaml_names(root / "data.yaml"))]
    return {"images": images, "annotations": anns, "categories": cats}


def test_coco128_slice_matches_pycocotools(tmp_path):
    require_pycocotools()
    if not (COCO128 / "data.yaml").is_file():
        pytest.fail(f"coco128 not found at {COCO128} (set LEANDET_COCO128)")
    results = tmp_path / "results.json"
    ours, _ = leandet_eval("--data", COCO128, "--split", "val2017", "--limit", 16, "--results", results)
    gt = yolo_ground_truth(COCO128, "val2017", 16)
    dets = json.loads(results.read_text())
    assert ours["images"] == 16 and ours["objects"] == len(gt["annotations"])
    assert {d["image_id"] for d in dets} <= {im["id"] for im in gt["images"]}
    assert_same(ours, pycocotools_stats(gt, dets))
    assert ours["map50"] > 0.1  # the SSD model does find things on COCO


def test_text_report_and_no_progress_bar_off_terminal(coco_fixture):
    proc = run_leandet("eval", "--model", model_path(SSD), "--labels", SSD_LABELS, "--data", coco_fixture,
                       "--split", "val", "--per-class")
    assert proc.returncode == 0, describe(proc)
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = " in proc.stdout
    assert "latency" in proc.stdout and "peak RSS" in proc.stdout
    assert "unicorn" in proc.stdout  # per-class table lists categories with objects
    assert "\r" not in proc.stderr and "img/s" not in proc.stderr


def test_progress_bar_on_a_terminal(coco_fixture):
    if not BIN.is_file():
        pytest.fail(f"leandet binary {BIN} not found")
    master, slave = pty.openpty()
    cmd = [str(BIN), "eval", "--model", str(model_path(SSD)), "--labels", str(SSD_LABELS),
           "--data", str(coco_fixture), "--split", "val", "--json"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, timeout=600)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.returncode == 0, err
    assert b"4/4 [" in err and b"img/s" in err


def test_warnings_for_labels_without_images():
    if not (COCO128 / "data.yaml").is_file():
        pytest.fail(f"coco128 not found at {COCO128} (set LEANDET_COCO128)")
    ours, proc = leandet_eval("--data", COCO128, "--split", "train2017", "--layout", "yolo", "--limit", 2)
    assert ours["images"] == 2
    assert "000000000656.txt has no image" in proc.stderr and "000000000659.txt has no image" in proc.stderr


def test_bad_inputs(tmp_path, coco_fixture):
    model = model_path(SSD)
    proc = run_leandet("eval", "--model", model)
    assert proc.returncode == 2 and "--data is required" in proc.stderr
    proc = run_leandet("eval", "--model", model, "--data", tmp_path)
    assert proc.returncode == 1 and "not a dataset" in proc.stderr
    # a malformed annotation file: the error names the file, line and column
    ann = coco_fixture / "annotations" / "instances_val.json"
    ann.write_text(ann.read_text().replace('"iscrowd": 1,', '"iscrowd": 1', 1))
    proc = run_leandet("eval", "--model", model, "--data", coco_fixture, "--split", "val")
    assert proc.returncode == 1
    assert "instances_val.json: line " in proc.stderr and "expected ',' or '}'" in proc.stderr
    # a malformed YOLO label file: the error names the file and line
    root = tmp_path / "yolo"
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    (root / "data.yaml").write_text("names:\n  0: person\n")
    (root / "images" / "val" / "1.jpg").symlink_to(IMAGES_DIR / "pets.jpg")
    (root / "labels" / "val" / "1.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n")
    proc = run_leandet("eval", "--model", model, "--data", root, "--split", "val")
    assert proc.returncode == 1 and "1.txt: line 2" in proc.stderr
    # an image that cannot be decoded is left out (exit 4), the rest is evaluated
    (root / "labels" / "val" / "1.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "images" / "val" / "2.jpg").write_bytes(b"not a jpeg")
    proc = run_leandet("eval", "--model", model, "--labels", SSD_LABELS, "--data", root, "--split", "val",
                       "--json")
    assert proc.returncode == 4, describe(proc)
    assert json.loads(proc.stdout)["images"] == 1 and "2.jpg" in proc.stderr
