"""End-to-end tests of `leandet video` on the shared videos: JSON lines and
an annotated video that ffprobe opens with the right frames and size;
detections equal those of `leandet detect` on the same frames extracted by
the ffmpeg CLI (--exact) and close to them on the fast path; frame
selection; and bad input (truncated, corrupt, missing, unreachable,
garbage) giving a clear error, partial results and no crash.

Each run covers about two seconds of video (--max-frames 25) or a sparse
sample (--every), with the SSD model, to stay within seconds."""
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import LABELS_DIR, REPO, SSD, describe, model_path, run_leandet

VIDEOS_DIR = Path(os.environ.get("LEANDET_VIDEOS") or REPO.parent / "shared" / "video")
SSD_LABELS = "coco_labelmap_ssd_91.txt"
CLIP_FRAMES = 25   # two seconds of the 12.5 fps video, 2.5 s of the 10 fps one


def video_names():
    if not VIDEOS_DIR.is_dir():
        return [f"<no videos in {VIDEOS_DIR}>"]
    return sorted(p.name for p in VIDEOS_DIR.iterdir() if p.suffix in (".mp4", ".mkv", ".mov", ".avi"))


def video_path(name):
    path = VIDEOS_DIR / name
    if not path.is_file():
        pytest.fail(f"video {path} is missing (LEANDET_VIDEOS={VIDEOS_DIR})")
    return path


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} not found: it comes with the ffmpeg package (scripts/install-deps)")
    return path


def ffprobe(path):
    """Video stream facts of `path`, frames counted by decoding them."""
    proc = subprocess.run([tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-count_frames",
                           "-show_entries", "stream=codec_name,width,height,nb_read_frames",
                           "-of", "json", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ffprobe cannot open {path}: {proc.stderr}"
    streams = json.loads(proc.stdout)["streams"]
    assert len(streams) == 1, proc.stdout
    s = streams[0]
    return s["codec_name"], s["width"], s["height"], int(s["nb_read_frames"])


def video(*args):
    return run_leandet("video", "--model", model_path(SSD), *args)


def parse(proc):
    """(frame lines, summary) of a video run; every stdout line is JSON and
    the summary is the last one."""
    lines = []
    for line in proc.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"stdout line is not JSON: {line!r}\n{describe(proc)}")
    assert lines and "summary" in lines[-1], f"no summary line\n{describe(proc)}"
    frames = lines[:-1]
    for f in frames:
        assert set(f) in ({"frame", "pts_ms", "detections"}, {"frame", "pts_ms", "error"}), f
    return frames, lines[-1]["summary"]


def source_size(name):
    _, w, h, _ = ffprobe_stream_only(video_path(name))
    return w, h


def ffprobe_stream_only(path):
    proc = subprocess.run([tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name,width,height,nb_frames", "-of", "json", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)["streams"][0]
    return s["codec_name"], s["width"], s["height"], int(s.get("nb_frames", 0))


def iou(a, b):
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ---------------------------------------------------------------------------
# Every shared video: JSON lines + an annotated video a player opens

@pytest.mark.parametrize("name", video_names())
def test_video_to_json_and_annotated_mp4(name, tmp_path):
    out = tmp_path / "annotated.mp4"
    proc = video("--labels", LABELS_DIR / SSD_LABELS, "--max-frames", CLIP_FRAMES, "--out", out,
                 video_path(name))
    assert proc.returncode == 0, describe(proc)
    frames, summary = parse(proc)
    assert [f["frame"] for f in frames] == list(range(CLIP_FRAMES)), "frames missing or out of order"
    pts = [f["pts_ms"] for f in frames]
    assert pts[0] == 0 and all(b > a for a, b in zip(pts, pts[1:])), pts
    for f in frames:
        for d in f["detections"]:
            assert d["score"] >= 0.5 and len(d["box"]) == 4 and "label" in d, d
    assert summary["frames_decoded"] == CLIP_FRAMES and summary["frames_processed"] == CLIP_FRAMES, summary
    assert summary["frames_dropped"] == 0 and summary["status"] == "ok", summary
    assert summary["fps"] > 0 and summary["peak_rss_bytes"] > 0, summary
    assert "frames/s" in proc.stderr and "peak memory" in proc.stderr, proc.stderr
    assert not (tmp_path / "annotated.mp4.part").exists()
    codec, w, h, n = ffprobe(out)
    sw, sh = source_size(name)
    assert codec in ("h264", "mpeg4"), codec
    assert (w, h) == (sw & ~1, sh & ~1), (w, h, sw, sh)
    assert n == CLIP_FRAMES, f"{out} holds {n} frames, {CLIP_FRAMES} were processed"


# ---------------------------------------------------------------------------
# Same frames as images

def extract_frames(name, count, dest):
    """The first `count` frames as full-resolution PNGs, by the ffmpeg CLI."""
    dest.mkdir()
    proc = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", str(video_path(name)), "-frames:v", str(count),
                           "-start_number", "0", str(dest / "f%03d.png")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    files = sorted(dest.glob("f*.png"))
    assert len(files) == count, files
    return files


@pytest.mark.parametrize("name", video_names())
def test_exact_frames_equal_detect_on_extracted_images(name, tmp_path):
    """--exact converts frames to full-resolution RGB exactly as the ffmpeg
    CLI does when it writes a PNG, then resizes with leandet's own resize:
    the detections must be identical to `leandet detect` on those PNGs. A
    low threshold makes the comparison cover many detections."""
    n = 8
    files = extract_frames(name, n, tmp_path / "frames")
    det = run_leandet("detect", "--model", model_path(SSD), "--threshold", "0.2", *files)
    assert det.returncode == 0, describe(det)
    want = [json.loads(line)["detections"] for line in det.stdout.splitlines()]
    proc = video("--exact", "--threshold", "0.2", "--max-frames", n, video_path(name))
    assert proc.returncode == 0, describe(proc)
    frames, _ = parse(proc)
    got = [f["detections"] for f in frames]
    assert sum(len(d) for d in want) > 0, "no detection at all: the comparison would be vacuous"
    for k, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"frame {k}: video {g} != detect {w}"
    assert len(got) == n


@pytest.mark.parametrize("name", video_names())
def test_fast_path_close_to_exact(name):
    """The default path scales with swscale directly to the model input (a
    filtered downscale, not leandet's bilinear), so scores and boxes move a
    little; confident detections must still be found, same class, same place."""
    sample = ("--every", "8", "--threshold", "0.3", video_path(name))
    exact, fast = video("--exact", *sample), video(*sample)
    assert exact.returncode == 0 and fast.returncode == 0, describe(exact) + describe(fast)
    ex, _ = parse(exact)
    fa, _ = parse(fast)
    assert [f["frame"] for f in ex] == [f["frame"] for f in fa]
    confident = matched = 0
    for e, f in zip(ex, fa):
        for d in e["detections"]:
            if d["score"] < 0.5:
                continue
            confident += 1
            best = max((iou(d["box"], g["box"]) for g in f["detections"] if g["class"] == d["class"]), default=0.0)
            matched += best >= 0.5
    assert confident >= 5, f"only {confident} confident detections in the sample"
    assert matched >= 0.8 * confident, f"{matched} of {confident} confident detections found on the fast path"


# ---------------------------------------------------------------------------
# Frame selection and dropping

def first_video():
    return video_path(video_names()[0])


def test_every_and_fps_select_frames():
    proc = video("--every", "5", "--max-frames", CLIP_FRAMES, first_video())
    assert proc.returncode == 0, describe(proc)
    frames, summary = parse(proc)
    assert [f["frame"] for f in frames] == [0, 5, 10, 15, 20]
    assert summary["frames_skipped"] == 20 and summary["frames_processed"] == 5, summary
    proc = video("--fps", "2", "--max-frames", CLIP_FRAMES, first_video())
    assert proc.returncode == 0, describe(proc)
    frames, _ = parse(proc)
    seconds = [f["pts_ms"] // 500 for f in frames]  # one frame per half second of stream time
    assert seconds == sorted(set(seconds)) and len(frames) >= 3, frames


def test_drop_latest_accounts_for_every_frame():
    proc = video("--drop", "latest", "--threads", "1", "--max-frames", 60, first_video())
    assert proc.returncode == 0, describe(proc)
    frames, s = parse(proc)
    assert s["drop"] == "latest" and s["frames_decoded"] == 60, s
    assert s["frames_processed"] + s["frames_dropped"] == 60 and s["frames_processed"] == len(frames) >= 1, s
    idx = [f["frame"] for f in frames]
    assert idx == sorted(idx), idx


# ---------------------------------------------------------------------------
# Bad input

def test_truncated_file_keeps_partial_results(tmp_path):
    src = first_video()
    cut = tmp_path / "cut.mp4"
    data = src.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    out = tmp_path / "partial.mp4"
    proc = video("--every", "10", "--out", out, cut)
    assert proc.returncode == 4, describe(proc)
    frames, s = parse(proc)
    assert frames and s["status"] == "truncated", s
    assert "truncated" in s["error"] and str(cut) in s["error"], s
    assert "truncated" in proc.stderr, proc.stderr
    _, _, _, total = ffprobe_stream_only(src)
    assert 0 < s["frames_decoded"] < total, s
    _, _, _, n = ffprobe(out)
    assert n == len(frames), "the annotated video must hold the frames processed before the cut"


def test_corrupt_file_no_crash(tmp_path):
    data = bytearray(first_video().read_bytes())
    rng = random.Random(7)
    for _ in range(300):  # flip bytes in the media data, keep the header readable
        k = rng.randrange(20000, len(data))
        data[k] ^= 0xFF
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    proc = video("--every", "10", bad)
    assert proc.returncode in (0, 4), describe(proc)
    frames, s = parse(proc)
    assert frames, s
    if proc.returncode == 4:
        assert s["status"] == "corrupt" and "corrupt" in proc.stderr, describe(proc)


@pytest.mark.parametrize("target,expect", [
    ("/nonexistent/leandet-video.mp4", "No such file"),
    ("http://127.0.0.1:9/x.mp4", "refused"),
    ("/dev/video_leandet_missing", "Cannot open video device"),  # a camera path: v4l2
])
def test_unopenable_input_is_a_clear_error(target, expect):
    proc = video(target)
    assert proc.returncode == 1, describe(proc)
    assert target in proc.stderr and expect in proc.stderr, proc.stderr
    assert proc.stdout == "", proc.stdout


def test_garbage_and_header_only_files(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video\n" * 10)
    head = tmp_path / "head.mp4"
    head.write_bytes(first_video().read_bytes()[:4000])
    for path in (garbage, head):
        proc = video(path)
        assert proc.returncode == 1, describe(proc)
        assert str(path) in proc.stderr and "cannot open" in proc.stderr, proc.stderr


def test_output_problems_are_reported_before_work(tmp_path):
    proc = video("--max-frames", 3, "--out", tmp_path / "no" / "such" / "dir.mp4", first_video())
    assert proc.returncode == 1 and "dir.mp4" in proc.stderr, describe(proc)
    proc = video("--max-frames", 3, "--out", tmp_path / "x.unknownext", first_video())
    assert proc.returncode == 1 and "container" in proc.stderr, describe(proc)


@pytest.mark.parametrize("args", [
    ("--every", "2", "--fps", "3"),
    ("--drop", "sometimes"),
    ("--every", "0"),
    (),
])
def test_usage_errors(args):
    extra = () if not args else (first_video(),)
    proc = video(*args, *extra)
    assert proc.returncode == 2, describe(proc)


def test_budget_refused():
    proc = video("--max-memory", "1M", "--max-frames", 3, first_video())
    assert proc.returncode == 3, describe(proc)
    assert "max-memory" in proc.stderr or "budget" in proc.stderr, proc.stderr


def test_budget_is_planned_and_kept(tmp_path):
    """The plan counts the process (FFmpeg's libraries), the sessions, the
    frames in flight and FFmpeg's decoder and encoder: just below it the run
    is refused before any frame is processed, with the breakdown; at it, the
    run's peak stays within the budget."""
    from test_budget import SANITIZED
    out = tmp_path / "annotated.mp4"
    common = ("--threads", 2, "--out", out, first_video())
    proc = video("--max-frames", 3, *common)
    assert proc.returncode == 0, describe(proc)
    plan = parse(proc)[1]["planned_bytes"]
    assert plan > 20 << 20, plan   # FFmpeg's libraries alone are more
    proc = video("--max-memory", int(plan * 0.97), "--max-frames", 3, *common)
    assert proc.returncode == 3, describe(proc)
    for text in ("refused before allocating", "images", "packed weights", "would fit", "--out"):
        assert text in proc.stderr, proc.stderr
    assert '"frame"' not in proc.stdout, proc.stdout
    budget = int(plan * 1.01)
    proc = video("--max-memory", budget, "--max-frames", CLIP_FRAMES, *common)
    assert proc.returncode == 0, describe(proc)
    summary = parse(proc)[1]
    assert summary["frames_processed"] == CLIP_FRAMES
    if not SANITIZED:
        assert summary["peak_rss_bytes"] <= budget, (summary, budget)


def test_loop_soak_short():
    """The soak test's short version: the file played again and again
    (--loop 0) for more than two passes; timestamps run on across passes and
    the peak stays where a short run's is (bench/soak.py --video runs
    10,000 frames)."""
    from test_budget import SANITIZED
    path = video_path("car-detection.mp4")
    nb = ffprobe(path)[3]
    short = video("--every", 4, "--max-frames", 100, path)
    assert short.returncode == 0, describe(short)
    total = 2 * nb + 60
    proc = video("--loop", 0, "--every", 4, "--max-frames", total, path)
    assert proc.returncode == 0, describe(proc)
    frames, summary = parse(proc)
    assert summary["frames_decoded"] == total and summary["passes"] == 3, summary
    assert [f["frame"] for f in frames] == list(range(0, total, 4))
    pts = [f["pts_ms"] for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:])), pts
    if not SANITIZED:
        base = parse(short)[1]["peak_rss_bytes"]
        assert summary["peak_rss_bytes"] <= base * 1.02, (summary["peak_rss_bytes"], base)
    once = video("--loop", 1, "--every", 100, path)
    assert parse(once)[1]["passes"] == 1 and parse(once)[1]["frames_decoded"] == nb


def test_loop_output_timestamps_run_on(tmp_path):
    """--loop with --out: every pass's frames follow the last one's in the
    written video, evenly spaced (each pass's stream restarts at 0; they
    used to be squeezed one tick apart after the first pass)."""
    path = video_path("car-detection.mp4")
    nb = ffprobe(path)[3]
    out = tmp_path / "looped.mp4"
    proc = video("--loop", 2, "--max-frames", nb + 20, "--out", out, path)
    assert proc.returncode == 0, describe(proc)
    probe = subprocess.run([tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "packet=pts_time", "-of", "csv=p=0", str(out)], capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr
    pts = sorted(float(x) for x in probe.stdout.split())
    assert len(pts) == nb + 20, len(pts)
    steps = [b - a for a, b in zip(pts, pts[1:])]
    assert max(steps) < 1.5 * min(steps), (min(steps), max(steps))


# ---------------------------------------------------------------------------
# Live source: an HTTP stream that cannot seek

def serve_stream(data, chunk, pause, with_length):
    """An HTTP server on loopback that sends `data` in `chunk`-byte pieces
    `pause` seconds apart and then closes. It sends no Accept-Ranges, so
    FFmpeg cannot seek and treats it as a live stream (as a camera's or
    encoder's HTTP/MPEG-TS output). With `with_length` it says how long the
    stream is, so the close is its end; without, the close is a stream that
    stopped (FFmpeg reports it as an I/O error). Returns (url, stop)."""
    import http.server
    import threading
    import time

    class Stream(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            if with_length:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for k in range(0, len(data), chunk):
                    self.wfile.write(data[k:k + chunk])
                    self.wfile.flush()
                    time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: fine for a live source

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
    return f"http://127.0.0.1:{server.server_address[1]}/live.ts", stop


def mpegts_clip(tmp_path, seconds):
    """The first video's first `seconds` remuxed (not re-encoded) to MPEG-TS,
    the container live encoders stream; returns (bytes, frames in it)."""
    ts = tmp_path / "clip.ts"
    proc = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", str(first_video()), "-t", str(seconds), "-an",
                           "-c", "copy", "-f", "mpegts", str(ts)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return ts.read_bytes(), ffprobe(ts)[3]


def test_live_http_stream_drops_latest_and_accounts_for_every_frame(tmp_path):
    """A live source defaults to --drop latest: every decoded frame is either
    processed or dropped, processed frames come in stream order, and the
    whole stream is decoded. Sent in one burst, decoding outruns inference."""
    data, nb = mpegts_clip(tmp_path, 3)
    url, stop = serve_stream(data, len(data), 0, True)
    try:
        proc = video("--threads", "1", url)
    finally:
        stop()
    assert proc.returncode == 0, describe(proc)
    frames, s = parse(proc)
    assert s["drop"] == "latest" and s["live"] is True, s
    assert s["frames_decoded"] == nb, (s, nb)
    assert s["frames_processed"] + s["frames_dropped"] == nb and s["frames_processed"] == len(frames) >= 1, s
    idx = [f["frame"] for f in frames]
    assert idx == sorted(set(idx)), idx
    assert all("detections" in f for f in frames), frames


def test_live_http_stream_paced_and_cut(tmp_path):
    """Paced like a real stream, with --drop none, stopping half way without
    having said how long it is: the frames that arrived are all processed,
    in order, the annotated video holds them, and the run ends with exit 4
    and an error naming the URL and saying the live stream stopped."""
    data, nb = mpegts_clip(tmp_path, 3)
    half = data[: len(data) // 2 // 188 * 188]  # whole TS packets
    url, stop = serve_stream(half, 188 * 64, 0.01, False)
    out = tmp_path / "live.mp4"
    try:
        proc = video("--drop", "none", "--out", out, url)
    finally:
        stop()
    assert proc.returncode == 4, describe(proc)
    frames, s = parse(proc)
    assert s["drop"] == "none" and s["frames_dropped"] == 0 and s["live"] is True, s
    assert s["status"] == "read error" and url in s["error"] and url in proc.stderr, s
    assert "live stream stopped" in s["error"], s
    assert 0 < s["frames_decoded"] < nb and s["frames_processed"] == s["frames_decoded"] == len(frames), (s, nb)
    assert [f["frame"] for f in frames] == list(range(len(frames)))
    assert ffprobe(out)[3] == len(frames)


def test_capture_device_source():
    """A capture device through libavdevice: FFmpeg's lavfi test pattern
    (no camera here; /dev/video paths open as v4l2, see the unopenable
    case). It has no byte stream, so it is live: --drop latest by default,
    every frame accounted for, frames in order, the device's own size."""
    proc = video("--format", "lavfi", "--max-frames", 20, "--threads", 1, "testsrc=size=640x360:rate=25")
    assert proc.returncode == 0, describe(proc)
    frames, s = parse(proc)
    assert s["live"] is True and s["drop"] == "latest", s
    assert (s["width"], s["height"]) == (640, 360) and s["frames_decoded"] == 20, s
    assert s["frames_processed"] + s["frames_dropped"] == 20 and s["frames_processed"] == len(frames) >= 1, s
    idx = [f["frame"] for f in frames]
    assert idx == sorted(set(idx)), idx
    proc = video("--format", "no-such-device", "x")
    assert proc.returncode == 1 and "unknown input format 'no-such-device'" in proc.stderr, describe(proc)
