"""`leandet detect` over many inputs (the ordered pipeline): input forms
(directory, @list, stdin), output in input order, detections identical to
running each image alone, sessions/prefetch/threads options, --batch auto
within --max-memory, exit codes, the progress bar only on a terminal."""
import os
import pty
import shutil
import subprocess

import pytest

from conftest import BIN, IMAGES_DIR, SSD, describe, model_path, run_leandet

BAD = "d_notes.txt"   # sorts into the middle of the shared images


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """The shared photos (symlinks) plus a text file among them."""
    d = tmp_path_factory.mktemp("many")
    names = sorted(n for n in os.listdir(IMAGES_DIR) if not n.startswith("."))
    assert len(names) >= 7, f"expected the 7 shared images in {IMAGES_DIR}"
    for n in names:
        (d / n).symlink_to(IMAGES_DIR / n)
    (d / BAD).write_text("not an image\n")
    (d / "sub").mkdir()                      # directories are not inputs
    return d


def expected_order(d):
    return sorted(str(d / n) for n in os.listdir(d) if (d / n).is_file())


def detect(*args, **kw):
    return run_leandet("detect", "--model", model_path(SSD), *args, **kw)


def lines_of(proc):
    import json
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def alone(image_dir):
    """Each image run by itself (the one-image path), by path."""
    out = {}
    for p in expected_order(image_dir):
        proc = detect(p)
        out[p] = lines_of(proc)[0]
    return out


def test_directory_in_order_identical_to_alone(image_dir, alone):
    proc = detect("--threads", "2", image_dir)
    assert proc.returncode == 4, describe(proc)            # one bad file, the rest fine
    lines = lines_of(proc)
    assert [x["image"] for x in lines] == expected_order(image_dir)
    bad = [x for x in lines if x["image"].endswith(BAD)]
    assert len(bad) == 1 and "error" in bad[0] and "detections" not in bad[0]
    assert BAD in proc.stderr
    for x in lines:
        assert x == alone[x["image"]], x["image"]
    assert sum(1 for x in lines if x.get("detections")) >= 6


@pytest.mark.parametrize("opts", [["--batch", "2"], ["--prefetch", "0"], ["--threads", "1", "--prefetch", "0"],
                                  ["--batch", "3", "--prefetch", "5", "--threads", "2"], ["--batch", "auto"]],
                         ids=["batch2", "prefetch0", "sequential-like", "batch3", "auto"])
def test_options_keep_results(image_dir, alone, opts):
    proc = detect(*opts, image_dir)
    assert proc.returncode == 4, describe(proc)
    assert [x for x in lines_of(proc)] == [alone[p] for p in expected_order(image_dir)]


def test_list_file_and_stdin(image_dir, alone, tmp_path):
    order = expected_order(image_dir)
    order = order[::-1] + order[:2]                        # any order, repeats allowed
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(order) + "\n\n")              # empty lines are skipped
    proc = detect(f"@{lst}")
    assert proc.returncode == 4, describe(proc)
    assert lines_of(proc) == [alone[p] for p in order]
    cmd = [str(BIN), "detect", "--model", str(model_path(SSD)), "-"]
    sp = subprocess.run(cmd, input="\r\n".join(order[:3]), capture_output=True, text=True, timeout=600)
    assert sp.returncode in (0, 4), describe(sp)
    assert lines_of(sp) == [alone[p] for p in order[:3]]
    # mixed forms keep argument order
    proc = detect(order[0], f"@{lst}")
    assert [x["image"] for x in lines_of(proc)] == [order[0]] + order


def test_dump_input_matches_one_image_path(image_dir, tmp_path):
    imgs = [p for p in expected_order(image_dir) if not p.endswith(BAD)][:3]
    proc = detect("--dump-input", tmp_path / "many", *imgs)
    assert proc.returncode == 0, describe(proc)
    for p in imgs:
        proc = detect("--dump-input", tmp_path / "one", p)
        assert proc.returncode == 0, describe(proc)
        name = os.path.basename(p) + ".raw"
        a = (tmp_path / "many" / name).read_bytes()
        assert a and a == (tmp_path / "one" / name).read_bytes(), name


def test_fast_decode_runs(image_dir):
    proc = detect("--fast-decode", image_dir)
    assert proc.returncode == 4, describe(proc)
    assert [x["image"] for x in lines_of(proc)] == expected_order(image_dir)


def test_exit_codes(tmp_path, image_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"x{i}.jpg").write_bytes(b"\xff\xd8 truncated")
    proc = detect(bad)
    assert proc.returncode == 1, describe(proc)            # every image failed
    assert len(lines_of(proc)) == 3 and all("error" in x for x in lines_of(proc))
    good = [p for p in expected_order(image_dir) if not p.endswith(BAD)][:2]
    assert detect(*good).returncode == 0
    assert detect(f"@{tmp_path / 'missing.txt'}").returncode == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = detect(empty)
    assert proc.returncode == 1 and "no image" in proc.stderr, describe(proc)
    assert detect("--batch", "0", *good).returncode == 2
    assert detect("--prefetch", "-1", *good).returncode == 2


def _sanitized():
    out = subprocess.run(["ldd", str(BIN)], capture_output=True, text=True, timeout=60).stdout
    return "libasan" in out


def _peak(args):
    """(CompletedProcess, peak resident bytes) via /usr/bin/time -f %M."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    if not os.path.exists(time_bin) or os.path.isdir(time_bin):
        pytest.skip("/usr/bin/time is not installed")
    cmd = [time_bin, "-f", "PEAK %M", str(BIN)] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK ")]
    return proc, peak[0] * 1024


def test_batch_auto_within_budget(image_dir):
    """Budgets from roomy to too small: the chosen sessions never grow as the
    budget shrinks, the run's peak stays below the budget, and at the
    bottom the run is refused (exit 3) before running anything."""
    chosen = []
    for mib in (64, 36, 30, 26, 22, 20, 18, 12):
        budget = mib << 20
        proc, peak = _peak(["detect", "--model", model_path(SSD), "--threads", "2", "--batch", "auto",
                            "--max-memory", budget, image_dir])
        assert proc.returncode in (3, 4), describe(proc)
        if not _sanitized():
            assert peak <= budget, f"peak {peak} over --max-memory {budget}"
        said = [line for line in proc.stderr.splitlines() if line.startswith("batch auto: ")]
        if proc.returncode == 3:
            assert proc.stdout == "" and "refused before allocating" in proc.stderr
            chosen.append(0)
            continue
        assert len(said) == 1, describe(proc)
        n = int(said[0].split()[2])
        # "batch auto: 2 sessions (9.3 MiB in all, sharing their weights)", or the one-image-at-a-time fallback
        assert " in all" in said[0] or "one image at a time" in said[0], said[0]
        chosen.append(n)
        assert [x["image"] for x in lines_of(proc)] == expected_order(image_dir)
    assert chosen[0] == 2, chosen                          # no budget pressure: one per thread
    assert chosen == sorted(chosen, reverse=True), chosen
    assert chosen[-1] == 0, chosen                          # 12 MiB cannot hold the SSD model's run
    assert 1 in chosen, chosen


def test_explicit_batch_over_budget_refused(image_dir):
    proc = detect("--batch", "8", "--threads", "2", "--max-memory", "24M", image_dir)
    assert proc.returncode == 3, describe(proc)
    assert proc.stdout == "" and "refused before allocating" in proc.stderr


def test_progress_only_on_a_terminal(image_dir):
    proc = detect(image_dir)
    assert "images/s" not in proc.stderr                   # a pipe: quiet
    master, slave = pty.openpty()
    try:
        cmd = [str(BIN), "detect", "--model", str(model_path(SSD)), str(image_dir)]
        sp = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        out, _ = sp.communicate(timeout=600)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
    text = err.decode(errors="replace")
    n = len(expected_order(image_dir))
    assert f"{n}/{n}" in text and "images/s" in text and "ETA" in text, text
    assert len(out.splitlines()) == n
