"""benchmarks/cells_per_gpu.py: without a GPU, K becomes the number of CPU workers and the
script still prints cells/hour for each K, through the real CLI."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "cells_per_gpu.py"


def test_on_a_machine_without_a_gpu_it_prints_cells_per_hour_for_each_k():
    before = set(os.listdir(tempfile.gettempdir()))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "elman", "--seeds", "2", "--k", "1,2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # no GPU, whatever the machine has
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("2 cells of adding-50 (smoke) on CPU only")
    assert lines[1].split() == ["K", "seconds", "cells/hour"]
    rows = [line.split() for line in lines[3:]]
    assert [row[0] for row in rows] == ["1", "2"]
    for k, seconds, per_hour in rows:  # seconds are printed to 0.1 s
        assert float(seconds) > 0 and int(per_hour) == pytest.approx(2 * 3600 / float(seconds), rel=0.01)
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("rnnbench-cells-per-gpu-")}
    assert not left, f"stores left behind: {left}"
