"""Scale-out: the same fixed set of cells with 1 worker (2 torch threads) and with 2 workers
(1 thread each), through the real CLI, each into a fresh --out. Prints the speed-up.

With N GPUs the local executor starts one worker per GPU, each pinned to its device with
CUDA_VISIBLE_DEVICES and running one cell at a time; cells of this size are independent,
so a matrix of C similar cells takes about ceil(C / N) cell-times, i.e. close to N x.

    python benchmarks/workers.py [--task stock-return] [--models elman,gru,lstm] [--seeds 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _common import table


def run(workers: int, args) -> float:
    out = tempfile.mkdtemp()
    env = {
        **os.environ,
        "RNNBENCH_CACHE": os.environ.get("RNNBENCH_CACHE", "") or os.path.expanduser("~/.cache/rnnbench"),
    }
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "run",
            "--task",
            args.task,
            "--model",
            args.models,
            "--seeds",
            str(args.seeds),
            "--profile",
            args.profile,
            "--workers",
            str(workers),
            "--out",
            out,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="stock-return")
    ap.add_argument("--models", default="elman,gru,lstm")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--profile", default="quick")
    args = ap.parse_args()
    run(1, args)  # warm the data cache so both sides measure training, not first preparation
    one, two = run(1, args), run(2, args)
    cells = len(args.models.split(",")) * args.seeds
    table(
        [
            ("workers", "threads each", "cells", "wall s"),
            (1, os.cpu_count(), cells, f"{one:.1f}"),
            (2, max(1, (os.cpu_count() or 2) // 2), cells, f"{two:.1f}"),
        ]
    )
    print(f"2 workers vs 1: {one / two:.2f}x faster")


if __name__ == "__main__":
    main()
