"""leandet against TensorFlow Lite, for every model x test image.

test_golden: leandet's input tensor and outputs against tests/golden (made by
  `scripts/oracle.py golden` from the TFLite reference kernels): runs without
  the interpreter, never skips.
test_live: the same outputs against the live interpreter on leandet's own
  input tensor; on a mismatch, `leandet tensors --all` is compared op by op
  to name the first operator that differs.
test_tensors_all: `leandet tensors` on a fixed pseudo-random input, every
  intermediate tensor against the interpreter (no image code involved).
Integer tensors must be byte-identical; float ones within 1e-4 of the range.
"""
import json
import zlib

import numpy as np
import pytest

from conftest import (GOLDEN_DIR, IMAGES_DIR, MODELS, describe, image_names, json_lines,
                      model_path, oracle, require_oracle, run_leandet)

IMAGES = image_names()
MATRIX = [pytest.param(m, i, id=f"{m.rsplit('.', 1)[0]}-{i}") for m in MODELS for i in IMAGES]
REGENERATE = "regenerate with scripts/oracle.py golden"
# Models whose full activation dump is too big for a test (yolov5n: ~260 MB):
# test_tensors_all compares their outputs only.
OUTPUTS_ONLY = {"yolov5n-fp16.tflite"}


@pytest.fixture(scope="session")
def detect_dumps(tmp_path_factory):
    """model name -> (dump dir, {image name: JSON line}, process), running
    `leandet detect --dump-input --dump-output` once per model on all images."""
    cache = {}

    def get(model):
        if model not in cache:
            path = model_path(model)
            d = tmp_path_factory.mktemp(model.rsplit(".", 1)[0])
            (d / "in").mkdir()
            (d / "out").mkdir()
            images = [IMAGES_DIR / i for i in IMAGES if (IMAGES_DIR / i).is_file()]
            proc = run_leandet("detect", "--model", path, "--dump-input", d / "in",
                               "--dump-output", d / "out", *images)
            lines = {}
            for obj in json_lines(proc):
                lines[str(obj.get("image", "")).rsplit("/", 1)[-1]] = obj
            cache[model] = (d, lines, proc)
        return cache[model]
    return get


def _leandet_run(detect_dumps, model, image):
    """(input bytes, outputs [(info, ndarray)]) of leandet on one image."""
    d, lines, proc = detect_dumps(model)
    res = lines.get(image)
    if res is None:
        pytest.fail(f"leandet printed no JSON line for {image}\n{describe(proc)}")
    if "error" in res:
        pytest.fail(f"leandet failed on {image}: {res['error']}")
    raw = d / "in" / (image + ".raw")
    if not raw.is_file():
        pytest.fail(f"--dump-input wrote no {raw}\n{describe(proc)}")
    try:
        outputs, _ = oracle.read_dump(str(d / "out" / image))
    except oracle.OracleError as e:
        pytest.fail(f"--dump-output: {e}")
    return raw.read_bytes(), outputs


def _golden(model, image):
    path = oracle.golden_path(str(GOLDEN_DIR), model, image)
    try:
        with open(path) as f:
            golden = json.load(f)
    except OSError:
        pytest.fail(f"no golden file {path}: {REGENERATE}")
    want = golden.get("model_sha256")
    have = oracle.sha256_file(str(model_path(model)))
    if want != have:
        pytest.fail(f"{path} was made from another {model} (sha256 {want}, this one {have})")
    return golden


def _dump_is_faithful(model, data, outputs, tmp_path):
    """Whether `leandet tensors` on detect's --dump-input reproduces detect's
    --dump-output (no oracle needed). If not, the dump is not the tensor
    detect invoked, and a golden regenerated from it would be wrong."""
    raw = tmp_path / "input.raw"
    raw.write_bytes(data)
    again = _tensors_dump(model, raw, tmp_path / "again", False)
    if isinstance(again, str):
        pytest.fail(again)
    return len(again[0]) == len(outputs) and all(
        oracle.compare_arrays(a, b)[0] for (_, a), (_, b) in zip(again[0], outputs))


@pytest.mark.parametrize("model,image", MATRIX)
def test_golden(detect_dumps, model, image, tmp_path):
    golden = _golden(model, image)
    data, outputs = _leandet_run(detect_dumps, model, image)
    gin = golden["input"]
    if oracle.sha256_bytes(data) != gin["sha256"]:
        if not _dump_is_faithful(model, data, outputs, tmp_path):
            pytest.fail(f"--dump-input for {image} is not the tensor detect invoked: `leandet "
                        f"tensors` on it does not reproduce detect's --dump-output. Fix leandet; "
                        f"do NOT regenerate the golden files from this dump")
        pytest.fail(f"preprocessing changed: the input tensor for {image} ({len(data)} bytes) "
                    f"differs from the golden one ({gin['bytes']} bytes): {REGENERATE}")
    problems = oracle.check_golden(golden, outputs)
    assert not problems, f"{model} on {image} vs golden ({golden['oracle']}):\n" + "\n".join(problems)


def _tensors_dump(model, raw, out, every):
    """`leandet tensors` into `out`: (outputs, tensors) or an error line."""
    out.mkdir()
    proc = run_leandet("tensors", "--model", model_path(model), "--input", raw, "--out", out,
                       *(["--all"] if every else []))
    if proc.returncode != 0:
        return f"leandet tensors failed: {describe(proc)}"
    try:
        return oracle.read_dump(str(out), with_tensors=every)
    except oracle.OracleError as e:
        return str(e)


def _diagnose(model, data, run, tmp_path):
    """Lines that say where a detect-vs-oracle difference comes from: the
    kernels (then the first op that differs, from `leandet tensors --all`),
    arena sharing, or the detect path itself."""
    raw = tmp_path / "input.raw"
    raw.write_bytes(data)
    plain = _tensors_dump(model, raw, tmp_path / "plain", False)
    if isinstance(plain, str):
        return [f"(no diagnosis: {plain})"]
    if oracle.compare_outputs(run, plain[0])[0]:
        return ["DIAGNOSIS: `leandet tensors` on the dumped input matches the oracle, so the kernels "
                "are right: detect's --dump-input is not the exact tensor it invoked (e.g. the input "
                "buffer was reused by the arena before it was dumped), or --dump-output is not what "
                "invoke produced"]
    full = _tensors_dump(model, raw, tmp_path / "all", True)
    if isinstance(full, str):
        return [f"(no op-level diagnosis: {full})"]
    run_all = oracle.run_model(str(model_path(model)), data, all_tensors=True)
    ok, lines = oracle.compare_tensors(run_all, full[1])
    if ok and oracle.compare_outputs(run, full[0])[0]:
        lines.append("DIAGNOSIS: with --all (no arena sharing) everything matches: suspect the "
                     "arena plan (a tensor overwritten while still needed)")
    return lines


@pytest.mark.parametrize("model,image", MATRIX)
def test_live(detect_dumps, model, image, tmp_path):
    require_oracle()
    data, outputs = _leandet_run(detect_dumps, model, image)
    run = oracle.run_model(str(model_path(model)), data)
    ok, lines = oracle.compare_outputs(run, outputs)
    if not ok:
        lines += _diagnose(model, data, run, tmp_path)
    assert ok, f"{model} on {image} vs {run.runtime}:\n" + "\n".join(lines)


def _random_input(model):
    """A fixed pseudo-random input tensor for `model` (seeded by its name)."""
    Interpreter, _, _ = oracle.load_litert()
    d = Interpreter(model_path=str(model_path(model))).get_input_details()[0]
    rng = np.random.default_rng(zlib.crc32(model.encode()))
    dtype = np.dtype(d["dtype"])
    count = int(np.prod(d["shape"]))
    if dtype.kind == "f":
        return rng.random(count, dtype=np.float64).astype(dtype).tobytes()
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, count, endpoint=True).astype(dtype).tobytes()


@pytest.mark.parametrize("model", MODELS)
def test_tensors_all(model, tmp_path):
    require_oracle()
    data = _random_input(model)
    raw = tmp_path / "input.raw"
    raw.write_bytes(data)
    out = tmp_path / "leandet"
    out.mkdir()
    every = model not in OUTPUTS_ONLY
    proc = run_leandet("tensors", "--model", model_path(model), "--input", raw, "--out", out,
                       *(["--all"] if every else []))
    assert proc.returncode == 0, describe(proc)
    try:
        outputs, tensors = oracle.read_dump(str(out), with_tensors=every)
    except oracle.OracleError as e:
        pytest.fail(f"leandet tensors dump: {e}")
    run = oracle.run_model(str(model_path(model)), data, all_tensors=every)
    ok, lines = oracle.compare_outputs(run, outputs)
    if every:
        tok, tlines = oracle.compare_tensors(run, tensors)
        ok &= tok
        lines += tlines
        # A dump that omits everything would compare nothing: demand the
        # graph input and the outputs at least.
        needed = [t for t in run.tensors if t in {i["index"] for i, _ in run.outputs}]
        needed.append(next(iter(run.tensors)))
        missing = [t for t in needed if t not in tensors]
        assert not missing, f"tensors.json lacks tensors {missing}"
    assert ok, f"{model} vs {run.runtime}:\n" + "\n".join(lines)
