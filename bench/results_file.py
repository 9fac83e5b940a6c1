"""Where a bench script writes its results: bench/results/<date>-<kind>.json
unless --out says otherwise, stamped with the time of writing."""
import datetime
import json
import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def write(kind, out, **fields):
    path = out or os.path.join(RESULTS, f"{datetime.date.today().isoformat()}-{kind}.json")
    with open(path, "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), **fields}, f, indent=1)
    print(f"wrote {path}")
