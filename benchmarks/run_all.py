"""Run every benchmark, one after another (`make bench`)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

for script in (
    "startup.py",
    "kernels.py",
    "data_cache.py",
    "workers.py",
    "cells_per_gpu.py",
    "harness_overhead.py",
    "protocol_cost.py",
):
    print(f"\n=== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=False)
