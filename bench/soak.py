#!/usr/bin/env python3
"""leandet soak: resident memory stays flat over long runs.

  python3 bench/soak.py [--models a,b] [--invokes 10000] [--threads N]
  python3 bench/soak.py --video V [--frames 10000] [--video-model M]

For each model, one `leandet bench --runs N` process (N invokes of the same
session; default 10,000), with this script sampling the process's VmRSS from
/proc every --interval seconds. Reported per model: RSS at the end of
warm-up (the first sample after --warmup-fraction of the run), the largest
and the last sample after it, and the growth in percent; plus the process's
peak (VmHWM, from `leandet bench --json`) against the peak of a 100-invoke
run, for information: the kernel batches resident counters per thread, so
peaks of one run vary by up to ~256 KiB, a few percent of a small model's
process. The goal (issue 3): sampled RSS after warm-up grows by at most 1%.

With --video: one `leandet video --loop 0 --max-frames N` process (the file
played again and again; default 10,000 frames, SSD model, with --out to
/tmp so the encoder runs too), sampled the same way, instead of the models.

Writes bench/results/<date>-soak.json (--out). Not a test: tests/unit/test_plan
runs 1,000 invokes and checks the same bound on anonymous memory.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leandet", default=os.path.join(REPO, "build", "leandet"))
    p.add_argument("--models-dir", default=os.path.join(REPO, "build", "models"))
    p.add_argument("--models", help="comma-separated model file names (default: all in --models-dir)")
    p.add_argument("--invokes", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--interval", type=float, default=0.2, help="seconds between RSS samples")
    p.add_argument("--warmup-fraction", type=float, default=0.05,
                   help="part of the run treated as warm-up (default 5%%)")
    p.add_argument("--video", help="soak `leandet video` on this file instead")
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--video-model", default="ssd_mobilenet_v1_coco_quant.tflite")
    p.add_argument("--out", help="JSON output (default bench/results/<date>-soak.json)")
    return p.parse_args()


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def sampled(cmd, a, sample=True):
    t0 = time.monotonic()
    # Output goes to files, not pipes: `leandet video` prints a line per
    # frame, and a pipe nobody reads until the end would fill and stall it.
    with tempfile.TemporaryFile("w+") as fout, tempfile.TemporaryFile("w+") as ferr:
        p = subprocess.Popen(cmd, stdout=fout, stderr=ferr, text=True)
        samples = []
        while sample and p.poll() is None:
            r = rss_bytes(p.pid)
            if r:
                samples.append((time.monotonic() - t0, r))
            time.sleep(a.interval)
        p.wait()
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {err}")
    return json.loads(out.strip().splitlines()[-1]), samples, time.monotonic() - t0


def bench(a, model, runs, sample):
    return sampled([a.leandet, "bench", "--model", model, "--runs", str(runs), "--warmup", "1",
                    "--threads", str(a.threads), "--json"], a, sample)


def after_warmup(a, samples, secs):
    # warm-up: the first part of the run, and at least the first second
    # (the child execs, opens the model, packs weights, first invokes)
    cut = max(secs * a.warmup_fraction, 1.0)
    after = [s for s in samples if s[0] >= cut] or samples[-1:]
    warm, top, last = after[0][1], max(s[1] for s in after), after[-1][1]
    return warm, top, last, (top - warm) / warm * 100


def video_soak(a):
    model = os.path.join(a.models_dir, a.video_model)
    cmd = [a.leandet, "video", "--model", model, "--loop", "0", "--max-frames", str(a.frames),
           "--threads", str(a.threads), "--out", "/tmp/leandet-soak.mp4", a.video]
    summary, samples, secs = sampled(cmd, a)
    summary = summary["summary"]
    warm, top, last, growth = after_warmup(a, samples, secs)
    row = {"video": a.video, "frames": summary["frames_decoded"], "passes": summary["passes"], "seconds": secs,
           "rss_after_warmup_bytes": warm, "rss_max_after_warmup_bytes": top, "rss_last_bytes": last,
           "growth_percent": growth, "peak_rss_bytes": summary["peak_rss_bytes"],
           "planned_bytes": summary["planned_bytes"], "fps": summary["fps"],
           "samples": [[round(t, 2), r] for t, r in samples]}
    print(f"{os.path.basename(a.video)}: {row['frames']} frames ({row['passes']} passes) in {secs:.1f} s: RSS after "
          f"warm-up {warm / 1e6:.2f} MB, max {top / 1e6:.2f}, last {last / 1e6:.2f} ({growth:+.2f}%); peak "
          f"{row['peak_rss_bytes'] / 1e6:.2f} MB, plan {row['planned_bytes'] / 1e6:.2f} MB", flush=True)
    return [row]


def main():
    a = parse_args()
    models = a.models.split(",") if a.models else sorted(f for f in os.listdir(a.models_dir) if f.endswith(".tflite"))
    rows = video_soak(a) if a.video else []
    for m in ([] if a.video else models):
        mp = os.path.join(a.models_dir, m)
        short, _, _ = bench(a, mp, 100, False)
        long, samples, secs = bench(a, mp, a.invokes, True)
        warm, top, last, growth = after_warmup(a, samples, secs)
        row = {"model": m, "invokes": a.invokes, "seconds": secs, "samples": len(samples),
               "rss_after_warmup_bytes": warm, "rss_max_after_warmup_bytes": top, "rss_last_bytes": last,
               "growth_percent": growth,
               "peak_100_bytes": short["peak_rss_bytes"], "peak_long_bytes": long["peak_rss_bytes"],
               "peak_growth_percent": (long["peak_rss_bytes"] - short["peak_rss_bytes"]) / short["peak_rss_bytes"] * 100,
               "median_ms": long.get("median_ms")}
        rows.append(row)
        print(f"{m:36s} {a.invokes} invokes in {secs:6.1f} s: RSS after warm-up {warm / 1e6:7.2f} MB, "
              f"max {top / 1e6:7.2f}, last {last / 1e6:7.2f} ({row['growth_percent']:+.2f}%); "
              f"peak {long['peak_rss_bytes'] / 1e6:7.2f} MB vs {short['peak_rss_bytes'] / 1e6:7.2f} after 100 "
              f"({row['peak_growth_percent']:+.2f}%)", flush=True)
    worst = max(r["growth_percent"] for r in rows)
    print(f"\nworst RSS growth after warm-up: {worst:+.2f}% (goal: within 1%)")
    out = a.out or os.path.join(HERE, "results", f"{datetime.date.today().isoformat()}-soak{'-video' if a.video else ''}.json")
    with open(out, "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), "threads": a.threads,
                   "rows": rows}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
