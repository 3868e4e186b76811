"""The whole built-in matrix on the smoke profile, through the real CLI and worker pool:
every cell is ok or n/a with a reason."""

import os
import subprocess
import sys

from rnnbench import store


def test_every_builtin_cell_runs_on_the_smoke_profile(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "run",
            "--all",
            "--profile",
            "smoke",
            "--workers",
            "2",
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    records, bad = store.load_records(tmp_path)
    assert not bad
    failed = [(r["task"], r["model"], r["reason"]) for r in records if r["status"] == "failed"]
    assert proc.returncode == 0 and not failed, (failed, proc.stderr[-3000:])
    assert {r["status"] for r in records} <= {"ok", "n/a"}
    assert all(r["reason"] for r in records if r["status"] == "n/a")
    assert len({r["task"] for r in records}) >= 13 and len({r["model"] for r in records}) >= 12
