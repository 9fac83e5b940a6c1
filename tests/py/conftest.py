"""Shared fixtures for leandet's end-to-end tests.

Paths come from the environment CTest sets (tests/CMakeLists.txt), with
defaults for running pytest by hand from anywhere:
  LEANDET_BIN     the CLI               default <repo>/build/leandet
  LEANDET_MODELS  the real models       default <repo>/build/models (scripts/fetch-models)
  LEANDET_IMAGES  the test photos       default <repo>/../shared/images
  LEANDET_LABELS  the label maps        default <repo>/../shared/labels
  LEANDET_GOLDEN  golden files          default <repo>/tests/golden
Comparisons with the live TensorFlow Lite interpreter are skipped, loudly,
only when it cannot be imported; golden-file comparisons never skip.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import oracle  # noqa: E402  (scripts/oracle.py)

# The six models of ../shared/models/MANIFEST.md, with the operators it lists.
MODEL_OPS = {
    "ssd_mobilenet_v1_coco_quant.tflite": [
        "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "CONCATENATION", "LOGISTIC",
        "TFLite_Detection_PostProcess"],
    "face_detection_front.tflite": [
        "ADD", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "PAD", "RELU",
        "RESHAPE"],
    "face_detection_short_range.tflite": [
        "ADD", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "PAD", "RELU",
        "RESHAPE", "DEQUANTIZE"],
    "palm_detection_lite.tflite": [
        "ADD", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "MAX_POOL_2D",
        "PAD", "PRELU", "RESHAPE", "RESIZE_BILINEAR"],
    "yolov8n_full_integer_quant.tflite": [
        "ADD", "CONCATENATION", "CONV_2D", "LOGISTIC", "MAX_POOL_2D", "MUL", "PAD", "QUANTIZE",
        "RESHAPE", "RESIZE_NEAREST_NEIGHBOR", "SOFTMAX", "STRIDED_SLICE", "SUB", "TRANSPOSE"],
    "yolov5n-fp16.tflite": [
        "ADD", "CONCATENATION", "CONV_2D", "DEQUANTIZE", "LOGISTIC", "MAX_POOL_2D", "MUL", "PAD",
        "RESHAPE", "RESIZE_NEAREST_NEIGHBOR", "STRIDED_SLICE"],
}
MODELS = list(MODEL_OPS)
SSD = "ssd_mobilenet_v1_coco_quant.tflite"

LEANDET_TIMEOUT = 1800   # a hang guard only: tests never assert on time


def _env_path(var, default):
    return Path(os.environ.get(var) or default)


BIN = _env_path("LEANDET_BIN", REPO / "build" / "leandet")
MODELS_DIR = _env_path("LEANDET_MODELS", REPO / "build" / "models")
IMAGES_DIR = _env_path("LEANDET_IMAGES", REPO.parent / "shared" / "images")
LABELS_DIR = _env_path("LEANDET_LABELS", REPO.parent / "shared" / "labels")
GOLDEN_DIR = _env_path("LEANDET_GOLDEN", REPO / "tests" / "golden")


def image_names():
    """Test photos, for parametrizing (collection time). A missing folder
    yields one placeholder so that the tests fail instead of vanishing."""
    if not IMAGES_DIR.is_dir():
        return [f"<no images in {IMAGES_DIR}>"]
    return [os.path.basename(p) for p in oracle.list_images(str(IMAGES_DIR))]


ORACLE_OK = oracle.oracle_available()
ORACLE_SKIP_REASON = ("LIVE ORACLE COMPARISON SKIPPED: no TensorFlow Lite interpreter "
                      "(pip install ai-edge-litert, or run scripts/install-deps)")


def require_oracle():
    if not ORACLE_OK:
        pytest.skip(ORACLE_SKIP_REASON)


def pytest_terminal_summary(terminalreporter):
    if not ORACLE_OK:
        terminalreporter.write_sep("!", ORACLE_SKIP_REASON, red=True, bold=True)


def model_path(name):
    path = MODELS_DIR / name
    if not path.is_file():
        pytest.fail(f"model {path} is missing: run scripts/fetch-models {MODELS_DIR}")
    return path


def image_path(name):
    path = IMAGES_DIR / name
    if not path.is_file():
        pytest.fail(f"test image {path} is missing (LEANDET_IMAGES={IMAGES_DIR})")
    return path


def run_leandet(*args, check_bin=True):
    """Run the CLI; returns CompletedProcess with text stdout/stderr. Fails
    the test (not an error in pytest) when the binary is absent or dies on a
    signal, which is always a bug."""
    if check_bin and not BIN.is_file():
        pytest.fail(f"leandet binary {BIN} not found: build it (cmake --build build) or set LEANDET_BIN")
    cmd = [str(BIN)] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LEANDET_TIMEOUT)
    if proc.returncode < 0:
        pytest.fail(f"{' '.join(cmd)} killed by signal {-proc.returncode}\n{describe(proc)}")
    return proc


def describe(proc):
    return (f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
            f"\n--- stderr ---\n{proc.stderr[-4000:]}")


def json_lines(proc):
    """Every stdout line parsed as JSON (a line that does not parse fails)."""
    out = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            pytest.fail(f"stdout line is not JSON: {line!r}\n{describe(proc)}")
    return out


@pytest.fixture
def leandet():
    return run_leandet
