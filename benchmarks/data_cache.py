"""Data prepared once: each task's data preparation into an empty cache, then again from
the cache (a new process-level preparation, as a second run does). Target: the second
takes ≤ 10 % of the first.

    python benchmarks/data_cache.py [--tasks ...] [--profile quick]
"""

import argparse
import tempfile
import time

from _common import table

from rnnbench.testing import load_registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks")
    ap.add_argument("--profile", default="quick")
    args = ap.parse_args()
    reg = load_registry()
    rows = [("task", "first s", "cached s", "ratio", "target ≤ 0.10")]
    for name in args.tasks.split(",") if args.tasks else sorted(reg.tasks):
        task = reg.tasks[name]
        prof = task.profiles[args.profile]
        with tempfile.TemporaryDirectory() as cache:
            t = time.perf_counter()
            task.prepare(prof, cache)
            first = time.perf_counter() - t
            t = time.perf_counter()
            task.prepare(prof, cache)
            second = time.perf_counter() - t
        ratio = second / first if first else 0.0
        verdict = "met" if ratio <= 0.10 else ("n/a (< 0.5 s)" if first < 0.5 else "MISSED")
        rows.append((name, f"{first:.2f}", f"{second:.2f}", f"{ratio:.3f}", verdict))
        print(rows[-1], flush=True)
    table(rows)


if __name__ == "__main__":
    main()
