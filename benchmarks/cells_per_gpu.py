"""Several cells per GPU: the same fixed set of small cells with K = 1, 2 and 4 cells at a
time on each device, through the real CLI (``--cells-per-gpu K``), each into a fresh
--out. Prints cells per hour for each K on whatever device it finds.

One small recurrent cell leaves a large GPU (an H200) mostly idle; K workers per GPU, each
held to 1/K of its memory, fill it. Without a GPU, K becomes the number of CPU workers
(``--workers K``), so the script still runs and shows what the machine's cores afford.

    python benchmarks/cells_per_gpu.py [--task adding-50] [--models elman,gru,lstm] [--seeds 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _common import table

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from rnnbench.executors import visible_gpus  # noqa: E402


def run(k: int, gpus: list[str], args) -> float:
    spread = ["--cells-per-gpu", str(k)] if gpus else ["--workers", str(k)]
    with tempfile.TemporaryDirectory(prefix="rnnbench-cells-per-gpu-") as out:  # a fresh store each time
        argv = [sys.executable, "-m", "rnnbench.cli", "run", "--task", args.task, "--model", args.models]
        argv += ["--seeds", str(args.seeds), "--profile", args.profile, "--out", out, *spread]
        t = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="adding-50")
    ap.add_argument("--models", default="elman,gru,lstm")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--k", default="1,2,4", help="values of K to compare")
    args = ap.parse_args()
    gpus = visible_gpus()
    cells = len(args.models.split(",")) * args.seeds
    where = f"{len(gpus)} GPU device(s)" if gpus else f"CPU only ({os.cpu_count()} cores): K = CPU workers"
    print(f"{cells} cells of {args.task} ({args.profile}) on {where}")
    rows = [("K", "seconds", "cells/hour")]
    for k in (int(v) for v in args.k.split(",")):
        seconds = run(k, gpus, args)
        rows.append((k, f"{seconds:.1f}", f"{cells * 3600 / seconds:.0f}"))
    table(rows)


if __name__ == "__main__":
    main()
