"""leandet bench --profile: the per-op table and the JSON "profile" array
(structure and consistency only; no assertion on how long anything takes)."""
from conftest import describe, json_lines, model_path, run_leandet

FACE = "face_detection_front.tflite"
YOLOV8 = "yolov8n_full_integer_quant.tflite"
KERNELS = {"ref", "avx2", "avx512", "avx512vnni", "folded", "fused"}


def profile(model, *args):
    proc = run_leandet("bench", "--json", "--profile", "--model", model_path(model), "--runs", "2",
                       "--warmup", "0", *args)
    assert proc.returncode == 0, describe(proc)
    lines = json_lines(proc)
    assert len(lines) == 1, describe(proc)
    return lines[0]


def test_profile_json_lists_every_op_once_slowest_first():
    res = profile(FACE)
    prof = res["profile"]
    assert sorted(p["index"] for p in prof) == list(range(len(prof))) and len(prof) > 10, prof
    totals = [p["total_ms"] for p in prof]
    assert totals == sorted(totals, reverse=True), totals
    for p in prof:
        assert set(p) == {"index", "op", "shape", "kernel", "total_ms", "ms_per_run", "percent"}, p
        assert p["kernel"] in KERNELS, p
        assert p["total_ms"] >= 0 and abs(p["ms_per_run"] * 2 - p["total_ms"]) < 1e-3, p
        assert all(isinstance(d, int) and d >= 0 for d in p["shape"]), p
        if p["kernel"] == "folded":
            assert p["total_ms"] == 0, p   # never evaluated
    assert any(p["op"] == "CONV_2D" for p in prof)
    # The ops run inside the timed invokes: their sum cannot exceed them.
    assert 0 < sum(p["percent"] for p in prof) <= 100.5, prof


def test_profile_off_by_default():
    proc = run_leandet("bench", "--json", "--model", model_path(FACE), "--runs", "1", "--warmup", "0")
    assert proc.returncode == 0 and "profile" not in json_lines(proc)[0], describe(proc)


def test_profile_shows_fused_silu_and_reference_has_none():
    auto = profile(YOLOV8)
    ref = profile(FACE, "--backend", "ref")   # (yolov8n on the reference kernels is slow)
    assert all(p["kernel"] in ("ref", "folded") for p in ref["profile"]), ref["profile"]
    if all(p["kernel"] in ("ref", "folded") for p in auto["profile"]):
        return   # no optimized kernels on this CPU: nothing is fused either
    fused = [p for p in auto["profile"] if p["kernel"] == "fused"]
    # the SiLU's LOGISTIC, and the CONV_2D feeding it, run inside the MUL
    assert fused and all(p["op"] in ("LOGISTIC", "CONV_2D") and p["total_ms"] == 0 for p in fused), fused
    assert any(p["op"] == "LOGISTIC" for p in fused), fused


def test_profile_table():
    proc = run_leandet("bench", "--profile", "--model", model_path(FACE), "--runs", "1", "--warmup", "0")
    assert proc.returncode == 0, describe(proc)
    assert "by op type" in proc.stdout and "per op, slowest first" in proc.stdout, describe(proc)
    assert "CONV_2D" in proc.stdout, describe(proc)
