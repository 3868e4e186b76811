"""Start-up: `rnnbench --help`, `list` and `leaderboard` beside `python -c pass`
(median of 5). Target: each ≤ 1.0 s, and none imports torch, lightning or datasets.

    python benchmarks/startup.py
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import command_seconds, table

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    py = sys.executable
    boards = tempfile.mkdtemp()
    shutil.copytree(ROOT / "leaderboards" / "results", Path(boards) / "results")
    rows = [("command", "median s", "vs python -c pass", "target")]
    base = command_seconds([py, "-c", "pass"])
    rows.append(("python -c pass", f"{base:.3f}", "1.00x", ""))
    for name, args in (
        ("rnnbench --help", ["--help"]),
        ("rnnbench list", ["list"]),
        ("rnnbench leaderboard", ["leaderboard", "--out", boards]),
    ):
        t = command_seconds([py, "-m", "rnnbench.cli", *args])
        rows.append((name, f"{t:.3f}", f"{t / base:.2f}x", "≤ 1.0 s " + ("met" if t <= 1.0 else "MISSED")))
    table(rows)
    heavy = (
        subprocess.run(
            [
                py,
                "-c",
                "import sys; from rnnbench.cli import main; main(['list']); "
                "print(sorted({'torch','pytorch_lightning','datasets'} & set(sys.modules)))",
            ],
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    print(f"heavy modules imported by `rnnbench list`: {heavy}")
    shutil.rmtree(boards)


if __name__ == "__main__":
    main()
