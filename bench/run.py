#!/usr/bin/env python3
"""leandet benchmark: leandet against TensorFlow Lite in the same run.

  python3 bench/run.py [--quick] [--models a,b] [--threads 1,2] [--runs N] [--warmup N]

For each model (default: every .tflite in build/models) and thread count:
  latency   `leandet bench --json` and TFLite (ai_edge_litert) with XNNPACK
            (default delegates) and without (BUILTIN_WITHOUT_DEFAULT_DELEGATES),
            optionally BUILTIN_REF (--ref): init, first invoke, median/p90 of
            steady invokes, peak RSS. Every runtime runs in its own process so
            that its peak RSS is its own. All see the same input 0: the tensor
            leandet's preprocessing makes from --image (`leandet detect
            --dump-input`), fed to TFLite as raw bytes.
  first     load-to-first-result, one image, whole processes: `leandet detect`
            against a python process doing PIL decode + resize + invoke, with
            python's startup and imports reported apart (threads: the first of
            --threads).
  folder    images/s over --folder (decode included): `leandet detect` over
            the files (whole process) against a python loop doing the same work
            per file (loop only: startup, imports and interpreter init excluded).
Ratios are leandet / peer: below 1 means leandet takes less (time or memory);
for images/s above 1 means leandet is faster. Speed-up: median at the lowest
thread count over median at this one, per runtime.

Writes everything to bench/results/<date>.json (--out to change). Not a test:
numbers depend on the machine and its load (reported in the JSON).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers.py")
MIB = 1024.0 * 1024.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leandet", default=os.path.join(REPO, "build", "leandet"), help="the CLI (default build/leandet)")
    p.add_argument("--models-dir", default=os.path.join(REPO, "build", "models"))
    p.add_argument("--models", help="comma-separated model file names or paths (default: all in --models-dir)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--runs", type=int, help="timed invokes (default 30, --quick 5)")
    p.add_argument("--warmup", type=int, help="untimed invokes before them (default 3, --quick 1)")
    p.add_argument("--repeats", type=int, help="latency rounds, the median round kept (default 3, --quick 1)")
    p.add_argument("--quick", action="store_true",
                   help="few runs, 8 folder images, one process per load-to-first-result")
    p.add_argument("--ref", action="store_true", help="also TFLite BUILTIN_REF (slow)")
    p.add_argument("--image", default=os.path.join(REPO, "..", "shared", "images", "zidane.jpg"))
    p.add_argument("--folder", default=os.path.join(REPO, "..", "shared", "coco128", "images", "val2017"))
    p.add_argument("--folder-limit", type=int, help="at most N folder images (default all, --quick 8)")
    p.add_argument("--first-repeats", type=int, help="processes per load-to-first-result, median kept "
                   "(default 3, --quick 1)")
    p.add_argument("--out", help="results file (default bench/results/<date>.json)")
    a = p.parse_args()
    quick = a.quick
    a.runs = a.runs if a.runs is not None else (5 if quick else 30)
    a.warmup = a.warmup if a.warmup is not None else (1 if quick else 3)
    a.repeats = a.repeats if a.repeats is not None else (1 if quick else 3)
    a.folder_limit = a.folder_limit if a.folder_limit is not None else (8 if quick else 0)
    a.first_repeats = a.first_repeats if a.first_repeats is not None else (1 if quick else 3)
    if a.runs < 1 or a.repeats < 1 or a.warmup < 0 or a.folder_limit < 0 or a.first_repeats < 1:
        p.error("--runs, --repeats and --first-repeats are >= 1, --warmup and --folder-limit >= 0")
    try:
        a.threads = sorted({int(t) for t in a.threads.split(",")})
    except ValueError:
        p.error(f"--threads expects numbers like 1,2, got {a.threads!r}")
    if not a.threads or min(a.threads) < 1:
        p.error("--threads: thread counts are >= 1")
    if not os.access(a.leandet, os.X_OK):
        p.error(f"leandet binary {a.leandet} not found: build it, or pass --leandet")
    return a


def model_list(a):
    if a.models:
        names = [m for m in a.models.split(",") if m]
        paths = [m if os.path.sep in m else os.path.join(a.models_dir, m) for m in names]
    else:
        paths = sorted(os.path.join(a.models_dir, f) for f in os.listdir(a.models_dir) if f.endswith(".tflite"))
    missing = [m for m in paths if not os.path.isfile(m)]
    if missing or not paths:
        sys.exit(f"run.py: models not found: {missing or a.models_dir} (scripts/fetch-models build/models)")
    return paths


def list_images(folder, limit):
    exts = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(exts))
    return files[:limit] if limit else files


# ---------------------------------------------------------------------------
# Processes

TIME = "/usr/bin/time"


class Proc:
    """One finished process: exit code, stdout lines, stderr, wall times
    (spawn to first stdout line, spawn to exit) and its peak RSS.

    The peak comes from GNU time (%M), which runs the command from its own
    small image: Linux's ru_maxrss of an exec'd process keeps the peak of the
    image exec replaced, so a child spawned straight from this python would
    report at least python's RSS. Without /usr/bin/time it is None."""

    def __init__(self, cmd, want_first_line=False):
        use_time = os.access(TIME, os.X_OK)
        with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
            full = [TIME, "-f", "%M", "-o", rss.name, *cmd] if use_time else cmd
            t0 = time.monotonic()
            p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=err)
            self.t_spawn = t0
            self.first_s = None
            lines = []
            if want_first_line:
                line = p.stdout.readline()
                self.first_s = time.monotonic() - t0
                lines.append(line)
            lines.extend(p.stdout.read().splitlines())
            self.code = p.wait()
            self.wall_s = time.monotonic() - t0
            p.stdout.close()
            err.seek(0)
            self.stderr = err.read().decode(errors="replace")
            kib = rss.read().split()
        self.lines = [ln.decode(errors="replace").strip() for ln in lines if ln.strip()]
        self.peak_rss = int(kib[-1]) * 1024 if use_time and kib and kib[-1].isdigit() else None
        self.cmd = cmd

    def error(self):
        """None if the process succeeded, else a one-line reason."""
        if self.code == 0:
            return None
        msgs = [ln for ln in self.stderr.splitlines() if ln.strip() and not ln.startswith("INFO:")]
        return f"exit {self.code}: {msgs[-1] if msgs else '(no message)'}"

    def last_json(self):
        return json.loads(self.lines[-1])


def leandet_has_detect_threads(binary):
    p = subprocess.run([binary, "detect", "--help"], capture_output=True, text=True)
    return "--threads" in p.stdout


def dump_input(a, model, tmp):
    """The exact input tensor leandet makes from --image, for the peers."""
    p = Proc([a.leandet, "detect", "--model", model, "--dump-input", tmp, a.image])
    raw = os.path.join(tmp, os.path.basename(a.image) + ".raw")
    if p.error() or not os.path.isfile(raw):
        print(f"  note: no input dump ({p.error()}); peers get pseudo-random input", file=sys.stderr)
        return None
    return raw


def peer_names(a):
    return ["tflite-xnnpack", "tflite-builtin"] + (["tflite-ref"] if a.ref else [])


def resolver(peer):
    return peer.split("-", 1)[1]


# ---------------------------------------------------------------------------
# Measurements

def latency(a, model, raw, log):
    """--repeats rounds, each runtime and thread count once per round in turn
    (so a slow spell of a shared machine hits all of them); per runtime and
    thread count the round with the median median is kept, with every
    round's median beside it."""
    runs, order = {}, []
    for _ in range(a.repeats):
        for t in a.threads:
            cmd = [a.leandet, "bench", "--json", "--model", model, "--threads", str(t), "--runs", str(a.runs),
                   "--warmup", str(a.warmup), "--image", a.image]
            todo = [("leandet", cmd)]
            for peer in peer_names(a):
                cmd = [sys.executable, PEERS, "latency", "--model", model, "--resolver", resolver(peer),
                       "--threads", str(t), "--runs", str(a.runs), "--warmup", str(a.warmup)]
                todo.append((peer, cmd + (["--input", raw] if raw else [])))
            for runtime, cmd in todo:
                if (runtime, t) not in runs:
                    runs[(runtime, t)] = []
                    order.append((runtime, t))
                runs[(runtime, t)].append(latency_row(runtime, t, Proc(cmd), log))
    rows = []
    for key in order:
        good = sorted((r for r in runs[key] if "error" not in r), key=lambda r: r["median_ms"])
        row = good[(len(good) - 1) // 2] if good else runs[key][0]
        row["round_medians_ms"] = [r.get("median_ms") for r in runs[key]]
        rows.append(row)
    return rows


def latency_row(runtime, threads, p, log):
    row = {"runtime": runtime, "threads": threads, "cmd": " ".join(p.cmd)}
    err = p.error()
    if err:
        row["error"] = err
    else:
        row.update(p.last_json())
        row["runtime"], row["threads"] = runtime, threads
    log(f"  {runtime:15s} {threads} thread(s): {err or 'median %.2f ms' % row['median_ms']}")
    return row


def first_result(a, model, log):
    t = a.threads[0]
    rows = []
    runs = {"leandet": [], **{peer: [] for peer in peer_names(a)}}
    for _ in range(a.first_repeats):
        runs["leandet"].append(Proc([a.leandet, "detect", "--model", model, a.image], want_first_line=True))
        for peer in peer_names(a):
            runs[peer].append(Proc([sys.executable, PEERS, "first", "--model", model, "--resolver", resolver(peer),
                                    "--threads", str(t), "--image", a.image], want_first_line=True))
    for runtime, procs in runs.items():
        row = {"runtime": runtime, "threads": t, "processes": len(procs), "cmd": " ".join(procs[0].cmd)}
        errs = [p.error() for p in procs if p.error()]
        if errs:
            row["error"] = errs[0]
        else:
            med = lambda f: statistics.median(f(p) for p in procs)   # noqa: E731
            row["to_first_ms"] = med(lambda p: p.first_s * 1e3)
            row["process_ms"] = med(lambda p: p.wall_s * 1e3)
            row["peak_rss_bytes"] = None if None in [p.peak_rss for p in procs] else med(lambda p: p.peak_rss)
            if runtime != "leandet":
                ph = [(p.t_spawn, p.last_json()) for p in procs]
                row["python_start_ms"] = statistics.median((j["t_script"] - s) * 1e3 for s, j in ph)
                row["imports_ms"] = statistics.median((j["t_imports"] - j["t_script"]) * 1e3 for s, j in ph)
                row["in_process_ms"] = statistics.median((j["t_first"] - j["t_imports"]) * 1e3 for s, j in ph)
        log(f"  {runtime:15s} first result: {row.get('error') or '%.1f ms' % row['to_first_ms']}")
        rows.append(row)
    return rows


def folder(a, model, files, detect_threads, log):
    rows = []
    for t in a.threads:
        if t == 1 or detect_threads:
            extra = ["--threads", str(t)]   # always: detect's default is every allowed CPU
            p = Proc([a.leandet, "detect", "--model", model, *extra, *files])
            row = {"runtime": "leandet", "threads": t, "images": len(files), "cmd": f"leandet detect --model "
                   f"{model} {' '.join(extra)} <{len(files)} files>"}
            if p.error():
                row["error"] = p.error()
            else:
                row.update({"wall_s": p.wall_s, "images_per_s": len(files) / p.wall_s,
                            "peak_rss_bytes": p.peak_rss})
        else:
            row = {"runtime": "leandet", "threads": t, "error": "leandet detect has no --threads option"}
        rows.append(row)
        log(f"  {'leandet':15s} {t} thread(s) folder: {row.get('error') or '%.2f img/s' % row['images_per_s']}")
        for peer in peer_names(a):
            if peer == "tflite-ref":
                continue   # the reference kernels are the oracle, not a peer for throughput
            p = Proc([sys.executable, PEERS, "folder", "--model", model, "--resolver", resolver(peer),
                      "--threads", str(t), "--images", a.folder, "--limit", str(len(files))])
            row = {"runtime": peer, "threads": t, "cmd": " ".join(p.cmd)}
            if p.error():
                row["error"] = p.error()
            else:
                row.update(p.last_json())
                row["runtime"], row["threads"] = peer, t
            rows.append(row)
            log(f"  {peer:15s} {t} thread(s) folder: {row.get('error') or '%.2f img/s' % row['images_per_s']}")
    return rows


# ---------------------------------------------------------------------------
# Tables

def fmt(v, spec="%.2f", width=9):
    return (spec % v if v is not None else "-").rjust(width)


def mib(b):
    return b / MIB if b is not None else None


def ratio(x, y):
    return x / y if x is not None and y else None


def find(rows, runtime, threads):
    for r in rows:
        if r["runtime"] == runtime and r["threads"] == threads and "error" not in r:
            return r
    return None


def latency_table(rows, threads):
    head = (f"{'runtime':15s} {'thr':>3s} {'init ms':>9s} {'first ms':>9s} {'median ms':>9s} {'p90 ms':>9s} "
            f"{'RSS MiB':>8s} {'rt MiB':>7s} | {'x init':>7s} {'x first':>7s} {'x median':>8s} {'x RSS':>6s} "
            f"{'x rtRSS':>7s} | {'speed-up':>8s}")
    out = [head, "-" * len(head)]
    notes = []
    for r in rows:
        name, t = r["runtime"], r["threads"]
        if "error" in r:
            out.append(f"{name:15s} {t:3d}   {r['error'][:100]}")
            continue
        rss = r["peak_rss_bytes"] / MIB
        rt = (r["peak_rss_bytes"] - r["baseline_rss_bytes"]) / MIB if "baseline_rss_bytes" in r else None
        ld = find(rows, "leandet", t)
        cols = [None] * 5
        if name != "leandet" and ld:
            cols = [ratio(ld["init_ms"], r["init_ms"]), ratio(ld["first_ms"], r["first_ms"]),
                    ratio(ld["median_ms"], r["median_ms"]), ratio(ld["peak_rss_bytes"], r["peak_rss_bytes"]),
                    ratio(ld["peak_rss_bytes"] / MIB, rt)]
        base = find(rows, name, threads[0])
        speed = ratio(base["median_ms"], r["median_ms"]) if base and t != threads[0] else None
        out.append(f"{name:15s} {t:3d} {fmt(r['init_ms'])} {fmt(r['first_ms'])} {fmt(r['median_ms'])} "
                   f"{fmt(r['p90_ms'])} {fmt(rss, '%.1f', 8)} {fmt(rt, '%.1f', 7)} | {fmt(cols[0], width=7)} "
                   f"{fmt(cols[1], width=7)} {fmt(cols[2], width=8)} {fmt(cols[3], width=6)} "
                   f"{fmt(cols[4], width=7)} | {fmt(speed, '%.2fx', 8)}")
    if any("baseline_rss_bytes" in r for r in rows):
        notes.append("rt MiB: the peer's peak RSS above python+numpy (measured before importing the runtime); "
                     "x rtRSS compares leandet's whole process with that share")
    return out + notes


def first_table(rows):
    head = (f"{'runtime':15s} {'to first ms':>11s} {'process ms':>10s} {'python start':>12s} {'imports':>8s} "
            f"{'in-process':>10s} {'RSS MiB':>8s} | {'x to first':>10s} {'x in-process':>12s}")
    out = [head, "-" * len(head)]
    ld = find(rows, "leandet", rows[0]["threads"]) if rows else None
    for r in rows:
        if "error" in r:
            out.append(f"{r['runtime']:15s} {r['error'][:100]}")
            continue
        peer = r["runtime"] != "leandet"
        x_first = ratio(ld["to_first_ms"], r["to_first_ms"]) if peer and ld else None
        x_in = ratio(ld["to_first_ms"], r.get("in_process_ms")) if peer and ld else None
        out.append(f"{r['runtime']:15s} {fmt(r['to_first_ms'], '%.1f', 11)} {fmt(r['process_ms'], '%.1f', 10)} "
                   f"{fmt(r.get('python_start_ms'), '%.1f', 12)} {fmt(r.get('imports_ms'), '%.1f', 8)} "
                   f"{fmt(r.get('in_process_ms'), '%.1f', 10)} {fmt(mib(r['peak_rss_bytes']), '%.1f', 8)} | "
                   f"{fmt(x_first, width=10)} {fmt(x_in, width=12)}")
    out.append("to first: spawn to the first result line; in-process: python's share after its imports "
               "(interpreter + decode + resize + invoke); x in-process compares leandet's whole process with it")
    return out


def folder_table(rows, n):
    head = f"{'runtime':15s} {'thr':>3s} {'images/s':>9s} {'RSS MiB':>8s} | {'x images/s':>10s}"
    out = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            out.append(f"{r['runtime']:15s} {r['threads']:3d}   {r['error'][:100]}")
            continue
        ld = find(rows, "leandet", r["threads"])
        x = ratio(ld["images_per_s"], r["images_per_s"]) if ld and r["runtime"] != "leandet" else None
        out.append(f"{r['runtime']:15s} {r['threads']:3d} {fmt(r['images_per_s'])} "
                   f"{fmt(mib(r['peak_rss_bytes']), '%.1f', 8)} | {fmt(x, width=10)}")
    out.append(f"{n} files; leandet: whole `leandet detect` process (decode, resize, invoke, decoder+NMS, JSON); "
               "python: the loop only (PIL decode, resize, invoke, no YOLO/BlazeFace decoder or NMS)")
    return out


# ---------------------------------------------------------------------------

def machine_info(a):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    version = subprocess.run([a.leandet, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        from importlib.metadata import version as pkg_version
        litert = pkg_version("ai-edge-litert")
    except Exception:
        litert = "?"
    return {"cpu": cpu, "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "ai_edge_litert": litert, "leandet": version,
            "git": git.stdout.strip() + ("-dirty" if dirty.stdout.strip() else ""),
            "loadavg_start": os.getloadavg()}


def results_path(a):
    if a.out:
        return a.out
    d = os.path.join(HERE, "results")
    os.makedirs(d, exist_ok=True)
    stem = datetime.date.today().isoformat()
    path, k = os.path.join(d, stem + ".json"), 2
    while os.path.exists(path):
        path, k = os.path.join(d, f"{stem}-{k}.json"), k + 1
    return path


def main():
    a = parse_args()
    models = model_list(a)
    files = list_images(a.folder, a.folder_limit) if os.path.isdir(a.folder) else []
    detect_threads = leandet_has_detect_threads(a.leandet)
    log = lambda s: print(s, file=sys.stderr, flush=True)   # noqa: E731
    info = machine_info(a)
    res = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": info,
           "options": {"threads": a.threads, "runs": a.runs, "warmup": a.warmup, "image": a.image,
                       "folder": a.folder, "folder_images": len(files), "first_repeats": a.first_repeats,
                       "repeats": a.repeats,
                       "ref": a.ref, "quick": a.quick, "argv": sys.argv[1:]},
           "models": {}}
    tables = []
    for model in models:
        name = os.path.basename(model)
        log(f"{name}")
        with tempfile.TemporaryDirectory() as tmp:
            raw = dump_input(a, model, tmp)
            lat = latency(a, model, raw, log)
        first = first_result(a, model, log)
        fold = folder(a, model, files, detect_threads, log) if files else []
        res["models"][name] = {"latency": lat, "first_result": first, "folder": fold,
                               "input": "image" if raw else "random"}
        tables.append(
            [f"== {name}: input {os.path.basename(a.image)}{'' if raw else ' (peers: random)'}, "
             f"{a.runs} runs after {a.warmup} warmup; x = leandet / peer (< 1: leandet less) ==",
             *latency_table(lat, a.threads), "",
             f"load-to-first-result ({os.path.basename(a.image)}, {a.threads[0]} thread, median of "
             f"{a.first_repeats} process(es)):", *first_table(first)]
            + (["", "images/s on the folder (x > 1: leandet faster):", *folder_table(fold, len(files))] if fold else []))
    info["loadavg_end"] = os.getloadavg()
    out = results_path(a)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, load {info['loadavg_start'][0]:.2f} -> "
          f"{info['loadavg_end'][0]:.2f}; leandet {info['git']}; ai-edge-litert {info['ai_edge_litert']}\n")
    for t in tables:
        print("\n".join(t) + "\n")
    print(f"results: {os.path.relpath(out, os.getcwd())}")


if __name__ == "__main__":
    main()
