"""Shared by the benchmarks: medians over repeats, and a reference measured in the same run
(absolute timings on these machines move 15-30 % between runs)."""

import statistics
import subprocess
import sys
import time


def median_seconds(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def command_seconds(argv: list[str], repeats: int = 5, **kwargs) -> float:
    return median_seconds(lambda: subprocess.run(argv, check=True, capture_output=True, **kwargs), repeats)


def table(rows: list[tuple], out=sys.stdout) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)), file=out)
        if j == 0:
            print("  ".join("-" * w for w in widths), file=out)
