#!/usr/bin/env python3
"""The folder pipeline's throughput against one image at a time.

  python3 bench/pipeline.py [--models a,b] [--folder DIR] [--repeats N] [--threads N]

For each model: `leandet detect` over every image of --folder (default
coco128 val2017, 128 images), whole process under GNU time, as
  serial    --threads 1 --prefetch 0   (one image at a time, nothing overlapped)
  pipeline  --threads N                (default 2: decode workers, prefetch,
                                        sessions sharing the model)
--repeats processes each (default 3, taken in turns), the median wall time
kept: images/s, the speed-up, peak RSS, and the plan of the pipeline run
(`leandet plan --threads N --batch auto --image <every file>`: what detect
chooses without a budget) that the peak must stay under.

Writes bench/results/<date>-pipeline.json (--out). Not a test:
tests/py/test_detect_many.py checks order, errors and budgets.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import results_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(REPO, "..", "shared")
TIME = "/usr/bin/time"


def timed(cmd):
    with tempfile.NamedTemporaryFile("r") as out:
        p = subprocess.run([TIME, "-f", "%e %M", "-o", out.name, *cmd], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd[:6])} ... failed ({p.returncode}): {p.stderr[-1000:]}")
        wall, kib = out.read().split()[-2:]
    return float(wall), int(kib) * 1024


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leandet", default=os.path.join(REPO, "build", "leandet"))
    p.add_argument("--models-dir", default=os.path.join(REPO, "build", "models"))
    p.add_argument("--models", default="ssd_mobilenet_v1_coco_quant.tflite,yolov8n_full_integer_quant.tflite,"
                                       "face_detection_short_range.tflite")
    p.add_argument("--folder", default=os.path.join(SHARED, "coco128", "images", "val2017"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out")
    a = p.parse_args()
    if not os.access(TIME, os.X_OK):
        sys.exit("needs GNU time (/usr/bin/time, Debian package 'time')")
    files = sorted(os.path.join(a.folder, f) for f in os.listdir(a.folder)
                   if f.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")))
    rows = []
    for name in a.models.split(","):
        model = os.path.join(a.models_dir, name)
        configs = {"serial": ["--threads", "1", "--prefetch", "0"], "pipeline": ["--threads", str(a.threads)]}
        runs = {k: [] for k in configs}
        for _ in range(a.repeats):
            for k, extra in configs.items():
                runs[k].append(timed([a.leandet, "detect", "--model", model, *extra, a.folder]))
        plan = json.loads(subprocess.run([a.leandet, "plan", model, "--json", "--threads", str(a.threads),
                                          "--batch", "auto", *[x for f in files for x in ("--image", f)]],
                                         capture_output=True, text=True, check=True).stdout)
        row = {"model": name, "images": len(files), "threads": a.threads, "plan_bytes": plan["total_bytes"],
               "sessions": plan["sessions"]}
        for k, rs in runs.items():
            wall = statistics.median(w for w, _ in rs)
            row[k] = {"wall_s": wall, "images_per_s": len(files) / wall, "peak_rss_bytes": max(m for _, m in rs),
                      "walls_s": [w for w, _ in rs]}
        row["speedup"] = row["serial"]["wall_s"] / row["pipeline"]["wall_s"]
        rows.append(row)
        print(f"{name}: serial {row['serial']['images_per_s']:.1f} img/s, {row['serial']['peak_rss_bytes'] / 2**20:.1f}"
              f" MiB; pipeline {row['pipeline']['images_per_s']:.1f} img/s ({row['speedup']:.2f}x), "
              f"{row['pipeline']['peak_rss_bytes'] / 2**20:.1f} MiB, plan {row['plan_bytes'] / 2**20:.1f} MiB "
              f"({row['sessions']} sessions)", flush=True)
    results_file.write("pipeline", a.out, folder=a.folder, repeats=a.repeats, rows=rows)


if __name__ == "__main__":
    main()
