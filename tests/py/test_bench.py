"""leandet bench: a quick functional test of the command (fields, sanity,
exit codes). Never asserts on how long anything takes: benchmarks live in
bench/, not in tests."""
import json

import pytest

from conftest import SSD, describe, image_path, json_lines, model_path, run_leandet

FACE = "face_detection_front.tflite"   # the smallest model: keeps the other runs short
FIELDS = ("model", "threads", "init_ms", "first_ms", "median_ms", "p90_ms", "min_ms", "runs",
          "peak_rss_bytes", "arena_bytes")


def bench_json(*args):
    proc = run_leandet("bench", "--json", *args)
    assert proc.returncode == 0, describe(proc)
    lines = json_lines(proc)
    assert len(lines) == 1, f"expected one JSON object\n{describe(proc)}"
    return lines[0]


def check_sane(res, runs):
    for f in FIELDS:
        assert f in res, f"missing field {f}: {res}"
    for f in ("init_ms", "first_ms", "median_ms", "p90_ms", "min_ms"):
        assert isinstance(res[f], (int, float)) and res[f] > 0, f"{f} not positive: {res}"
    assert res["p90_ms"] >= res["median_ms"] >= res["min_ms"], res
    assert res["runs"] == runs and res["threads"] == 1, res
    assert isinstance(res["arena_bytes"], int) and res["arena_bytes"] > 0, res
    # Bytes, not KiB: no process holding a model and its arena is under 1 MiB.
    assert isinstance(res["peak_rss_bytes"], int) and res["peak_rss_bytes"] > 1 << 20, res


def test_bench_json_ssd():
    model = model_path(SSD)
    res = bench_json("--model", model, "--runs", "3", "--warmup", "1")
    check_sane(res, 3)
    assert res["model"] == str(model), res


def test_bench_image_input_and_reference_backend():
    res = bench_json("--model", model_path(FACE), "--runs", "1", "--warmup", "0", "--backend", "ref",
                     "--image", image_path("grace_hopper.bmp"))
    check_sane(res, 1)
    assert res["input"].endswith("grace_hopper.bmp") and res["backend"] == "ref", res


def test_bench_table_output():
    proc = run_leandet("bench", "--model", model_path(FACE), "--runs", "2", "--warmup", "0")
    assert proc.returncode == 0, describe(proc)
    for word in ("init", "first", "median", "p90", "min", "peak RSS", "arena"):
        assert word in proc.stdout, f"no '{word}' line\n{describe(proc)}"
    with pytest.raises(ValueError):
        json.loads(proc.stdout)   # the table is for people; --json is for programs


def test_bench_help():
    proc = run_leandet("bench", "--help")
    assert proc.returncode == 0 and "--runs" in proc.stdout and "--json" in proc.stdout, describe(proc)


@pytest.mark.parametrize("args", [
    [],                                  # --model missing
    ["--runs", "0"],
    ["--runs", "three"],
    ["--warmup", "-1"],
    ["--threads", "0"],
    ["--backend", "gpu"],
    ["--max-memory", "lots"],
    ["--frobnicate"],
    ["--runs"],                          # option without its value
], ids=lambda a: " ".join(a) or "no-model")
def test_bench_bad_arguments_exit_2(args):
    extra = ["--model", model_path(FACE)] if args else []
    proc = run_leandet("bench", *extra, *args)
    assert proc.returncode == 2, describe(proc)
    assert "leandet bench" in proc.stderr and proc.stdout == "", describe(proc)


def test_bench_missing_model_exits_1(tmp_path):
    missing = tmp_path / "nope.tflite"
    proc = run_leandet("bench", "--model", missing, "--json")
    assert proc.returncode == 1, describe(proc)
    assert str(missing) in proc.stderr and proc.stdout == "", describe(proc)


def test_bench_not_a_model_exits_1(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer" * 10)
    proc = run_leandet("bench", "--model", bad)
    assert proc.returncode == 1 and str(bad) in proc.stderr, describe(proc)


def test_bench_bad_image_exits_1(tmp_path):
    missing = tmp_path / "none.jpg"
    proc = run_leandet("bench", "--model", model_path(FACE), "--runs", "1", "--image", missing)
    assert proc.returncode == 1 and str(missing) in proc.stderr, describe(proc)
    assert proc.stdout == "", describe(proc)


def test_bench_budget_refused_exits_3():
    proc = run_leandet("bench", "--model", model_path(FACE), "--max-memory", "64K")
    assert proc.returncode == 3, describe(proc)
    assert "budget" in proc.stderr, describe(proc)


def test_bench_threads_two_runs_or_says_why():
    """Until the thread pool lands, threads > 1 is refused cleanly."""
    proc = run_leandet("bench", "--model", model_path(FACE), "--threads", "2", "--runs", "1",
                       "--warmup", "0", "--json")
    if proc.returncode == 0:
        assert json_lines(proc)[0]["threads"] == 2, describe(proc)
    else:
        assert proc.returncode == 1 and "thread" in proc.stderr and proc.stdout == "", describe(proc)
