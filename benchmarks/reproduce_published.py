"""Ours against the published figures: the music-chorales task beside Chung et al. (2014) and
the adding problem beside Le et al. (2015), trained through the real CLI into one folder.

On one GPU it runs the full profile (the published recipes as far as a Profile maps them);
without one, the quick profile, with the same code. It prints, per chorales model, the
test metric's mean ± std over seeds beside each figure the task declares in
``Task.published`` and the difference; per adding task and model, the test MSE beside the
0.167 of always predicting 1, where Le et al. report that a tanh RNN stays, and a sentence
computed from those means: does irnn beat elman, does it reach lstm. Finished cells in
--out are kept, so ``--profile quick --out leaderboards`` reads the committed results and
trains only the cells missing there. A cell whose training diverged (a non-finite loss) is
a result, shown as such; exit 1 with one line when a cell failed otherwise or its record is
missing.

    python benchmarks/reproduce_published.py [--profile full|quick|smoke] [--out DIR] [--workers N] [--seeds N]
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402

CHORALES = "music-chorales"
ADDING_TASKS = ("adding-50", "adding-200")
ADDING_MODELS = ("irnn", "elman", "lstm")
PREDICT_ONE_MSE = 0.167
"""Test MSE of always predicting 1, the mean sum of two U(0, 1) values: their variance, 1/6
(Le et al. (2015) quote 0.1767). They report that a tanh RNN stays at this level on long
sequences, where the IRNN and the LSTM get below it."""


class Missing(Exception):
    """A cell of the run has no ok record; the message is the one line to print."""


def run_cells(tasks: list[str], models: list[str], args) -> int:
    argv = [sys.executable, "-m", "rnnbench.cli", "run", "--task", ",".join(tasks), "--model", ",".join(models)]
    argv += ["--profile", args.profile, "--out", str(args.out)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.seeds is not None:
        argv += ["--seeds", str(args.seeds)]
    # the CLI's own summary goes to stderr, so that stdout holds only this script's tables
    return subprocess.run(argv, stdout=sys.stderr.fileno(), check=False).returncode


DIVERGED = "non-finite loss"


def seed_metrics(out: Path, profile: str, task: str, model: str, seeds: int) -> list[dict | None]:
    """The test metrics of seeds 0..seeds-1 of one (task, model); None for a seed whose
    training diverged."""
    found = []
    for seed in range(seeds):
        path = out / "results" / profile / task / f"{model}--seed{seed}.json"
        if not path.is_file():
            raise Missing(f"no record {path}")
        record = json.loads(path.read_text())
        if record.get("status") == "failed" and (record.get("reason") or "").startswith(DIVERGED):
            found.append(None)
            continue
        if record.get("status") != "ok":
            raise Missing(f"{task} {model} seed {seed}: {record.get('status')}: {record.get('reason') or 'no reason'}")
        found.append(record["metrics"])
    return found


def summary(metrics: list[dict | None], name: str, digits: int) -> tuple[float, str]:
    """Mean and text over the seeds that did not diverge, naming those that did; the mean
    of a model whose every seed diverged is infinite (it is worse than any result)."""
    values = [m[name] for m in metrics if m is not None]
    diverged = len(metrics) - len(values)
    if not values:
        return math.inf, f"diverged ({diverged} of {len(metrics)} seeds)"
    mean, shown = mean_std(values, digits)
    return mean, shown + (f" ({diverged} of {len(metrics)} seeds diverged)" if diverged else "")


def mean_std(values: list[float], digits: int) -> tuple[float, str]:
    """The mean, and "mean ± std" (only the mean of one seed: it has no spread to show)."""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return mean, f"{mean:.{digits}f}"
    return mean, f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def ordering(task: str, mse: dict[str, float]) -> str:
    """irnn against elman and lstm, in words decided by the mean test MSEs."""
    irnn, elman, lstm = mse["irnn"], mse["elman"], mse["lstm"]
    if math.isinf(irnn):
        return f"{task}: irnn diverged on every seed at this profile's learning rate."
    versus_elman = "beats" if irnn < elman else "does not beat"
    versus_lstm = "reaches" if irnn <= lstm else "does not reach"
    return (
        f"{task}: irnn {versus_elman} elman ({irnn:.4f} vs {elman:.4f} mean test MSE) "
        f"and {versus_lstm} lstm ({irnn:.4f} vs {lstm:.4f})."
    )


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("full", "quick", "smoke"), default=None)
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: a new temporary one)")
    parser.add_argument("--workers", type=int, default=None, help="passed to `rnnbench run` (default: its own)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: each task profile's)")
    args = parser.parse_args()
    if args.profile is None:
        args.profile = "full" if torch.cuda.is_available() else "quick"
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="rnnbench-reproduce-"))

    from rnnbench.registry import load

    registry = load()
    absent = [t for t in (CHORALES, *ADDING_TASKS) if t not in registry.tasks]
    absent += [m for m in ADDING_MODELS if m not in registry.models]
    if absent:
        print(f"error: not registered: {', '.join(absent)} (rnnbench list shows why)", file=sys.stderr)
        return 1
    published = [p for p in registry.tasks[CHORALES].published if p.ours]
    chorales_models = list(dict.fromkeys(p.ours for p in published))

    def seeds(task: str) -> int:
        return args.seeds or registry.tasks[task].profiles[args.profile].seeds

    where = f"{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    print(f"profile {args.profile} on {where}; results in {args.out}", flush=True)
    codes = [run_cells([CHORALES], chorales_models, args), run_cells(list(ADDING_TASKS), list(ADDING_MODELS), args)]

    try:
        n = seeds(CHORALES)
        rows = [("music-chorales", "seeds", "ours (test)", "published", "source", "ours - published")]
        for p in published:
            mean, shown = summary(seed_metrics(args.out, args.profile, CHORALES, p.ours, n), p.metric, 3)
            flag = "" if p.verified else " (not verified)"
            rows.append(
                (
                    f"{p.ours} ({p.metric})",
                    n,
                    shown,
                    f"{p.value:.2f} {p.model}",
                    p.source + flag,
                    f"{mean - p.value:+.3f}",
                )
            )
        print()
        table(rows)

        rows = [("adding", "model", "seeds", "ours test mse", "predict-1 (tanh RNN, Le et al.)", "ours - 0.167")]
        sentences = []
        for task in ADDING_TASKS:
            n = seeds(task)
            means = {}
            for model in ADDING_MODELS:
                mean, shown = summary(seed_metrics(args.out, args.profile, task, model, n), "mse", 4)
                means[model] = mean
                rows.append(
                    (
                        task,
                        model,
                        n,
                        shown,
                        PREDICT_ONE_MSE,
                        "–" if math.isinf(mean) else f"{mean - PREDICT_ONE_MSE:+.4f}",
                    )
                )
            sentences.append(ordering(task, means))
        print()
        table(rows)
        print()
        print("\n".join(sentences))
    except Missing as error:
        cli = f"`rnnbench run` exited {max(codes)}; " if any(codes) else ""
        print(f"error: {cli}{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
