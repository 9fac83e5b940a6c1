#!/usr/bin/env python3
"""What making the SSD model fit costs: its variants side by side.

  python3 bench/ssd_variants.py [--work DIR] [--runs N] [--threads N]

From build/models/ssd_mobilenet_v1_coco_quant.tflite (uint8) it writes, with
leandet's own tools, into --work (default /tmp/leandet-ssd-variants):
  float32     leandet dequantize
  dynamic     leandet quantize --mode dynamic (from float32)
  int8        leandet quantize --mode int8 --calibration train2017 --count 100
  l1-S        leandet prune --structured --sparsity S (float32; smallest L1 norm)
  cal-S       leandet prune --structured --sparsity S --calibration train2017
              (channels by what their readers lose, readers refitted)
  cal-S-int8  cal-S then quantize --mode int8 as above
and measures each: file size, MACs (`leandet plan --json`), latency
(`leandet bench --threads N --runs N --image grace_hopper.bmp`: median, and
that process's peak RSS; --rounds rounds over all variants in turn, the
median round kept) and COCO mAP on coco128 val2017 (`leandet eval`).
Calibration uses coco128 train2017, accuracy val2017 (the model was trained on
COCO train2017).

Prints a markdown table and writes bench/results/<date>-ssd-variants.json
(--out). Not a test: the tools are tested in tests/py (quantize, prune, eval).
"""
import argparse
import json
import os
import subprocess
import sys

import results_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(REPO, "..", "shared")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p.stdout


def variants(a, base):
    w = a.work
    train = os.path.join(a.data, "images", "train2017")
    f32 = os.path.join(w, "float32.tflite")
    out = [("uint8 (original)", base, None), ("float32 (dequantized)", f32, ["dequantize", base, f32])]
    out.append(("dynamic int8", os.path.join(w, "dynamic.tflite"),
                ["quantize", "--mode", "dynamic", f32, os.path.join(w, "dynamic.tflite")]))
    out.append(("full int8 (ours)", os.path.join(w, "int8.tflite"),
                ["quantize", "--mode", "int8", "--calibration", train, "--count", "100", f32,
                 os.path.join(w, "int8.tflite")]))
    for s in a.sparsities:
        p = os.path.join(w, f"l1-{s}.tflite")
        out.append((f"structured {s:.0%}, L1", p, ["prune", "--structured", "--sparsity", str(s), f32, p]))
    for s in a.sparsities:
        p = os.path.join(w, f"cal-{s}.tflite")
        out.append((f"structured {s:.0%}, calibrated", p,
                    ["prune", "--structured", "--sparsity", str(s), "--calibration", train, f32, p]))
        q = os.path.join(w, f"cal-{s}-int8.tflite")
        out.append((f"structured {s:.0%}, calibrated, full int8", q,
                    ["quantize", "--mode", "int8", "--calibration", train, "--count", "100", p, q]))
    return out


def bench(a, path):
    return json.loads(run([a.leandet, "bench", "--model", path, "--threads", str(a.threads), "--runs", str(a.runs),
                           "--warmup", "3", "--image", os.path.join(SHARED, "images", "grace_hopper.bmp"),
                           "--json"]))


def measure(a, name, path):
    plan = json.loads(run([a.leandet, "plan", "--json", path]))
    ev = json.loads(run([a.leandet, "eval", "--model", path, "--labels", a.labels, "--data", a.data, "--json",
                         "--quiet"]))
    row = {"variant": name, "file": path, "bytes": os.path.getsize(path), "macs": plan["macs"],
           "map": ev["map"], "map50": ev["map50"], "rounds": []}
    print(f"{name:40s} {row['bytes'] / 1e6:6.2f} MB {row['macs'] / 1e9:6.3f} G  mAP {row['map']:.3f} / "
          f"{row['map50']:.3f}", flush=True)
    return row


def latency_rounds(a, rows):
    """Every variant once per round, in turn, so that a slow spell of a
    shared machine hits all of them; the median round is kept."""
    for _ in range(a.rounds):
        for r in rows:
            r["rounds"].append(bench(a, r["file"]))
    for r in rows:
        mid = sorted(r["rounds"], key=lambda b: b["median_ms"])[(len(r["rounds"]) - 1) // 2]
        r.update(median_ms=mid["median_ms"], p90_ms=mid["p90_ms"], peak_rss_bytes=mid["peak_rss_bytes"],
                 round_medians_ms=[b["median_ms"] for b in r["rounds"]])
        del r["rounds"]
        print(f"{r['variant']:40s} {r['median_ms']:7.2f} ms {r['peak_rss_bytes'] / 2**20:6.1f} MiB  rounds "
              f"{r['round_medians_ms']}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leandet", default=os.path.join(REPO, "build", "leandet"))
    p.add_argument("--model", default=os.path.join(REPO, "build", "models", "ssd_mobilenet_v1_coco_quant.tflite"))
    p.add_argument("--labels", default=os.path.join(SHARED, "labels", "coco_labelmap_ssd_91.txt"))
    p.add_argument("--data", default=os.path.join(SHARED, "coco128"))
    p.add_argument("--work", default="/tmp/leandet-ssd-variants")
    p.add_argument("--sparsities", default="0.25,0.5", type=lambda s: [float(x) for x in s.split(",")])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3, help="latency rounds over all variants (median kept)")
    p.add_argument("--reuse", action="store_true", help="keep variant files already in --work")
    p.add_argument("--out", help="JSON output (default bench/results/<date>-ssd-variants.json)")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = []
    for name, path, make in variants(a, a.model):
        if make and not (a.reuse and os.path.isfile(path)):
            run([a.leandet, *make])
        rows.append(measure(a, name, path))
    latency_rounds(a, rows)
    print(f"\n| variant | file | MACs | latency, {a.threads} thread(s): best / median round | peak RSS | mAP | mAP50 |\n"
          "|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['bytes'] / 1e6:.2f} MB | {r['macs'] / 1e9:.3f} G | "
              f"{min(r['round_medians_ms']):.1f} / {r['median_ms']:.1f} ms | {r['peak_rss_bytes'] / 2**20:.1f} MiB "
              f"| {r['map']:.3f} | {r['map50']:.3f} |")
    results_file.write("ssd-variants", a.out, threads=a.threads, runs=a.runs, rounds=a.rounds, rows=rows)


if __name__ == "__main__":
    main()
