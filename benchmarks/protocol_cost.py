"""What the fair-comparison protocol costs and whether it converges, read off a results
folder (default: the committed leaderboards/).

Prints, per task of one profile: the run's cell-seconds (every seed of every model), the
tuning's trial-seconds (every trial of every model), their ratio (the target is at most
4x, thanks to pruning), the share of ok cells whose best validation was their last one
(the target is at most 20 %: a larger share means training stopped mid-descent), and how
far each cell's parameter count is from the task's budget. The run's wall-clock estimate
divides cell-seconds by the worker count the run used.

    python benchmarks/protocol_cost.py [DIR] [--profile quick] [--workers 2]
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402


def stop_at(task: str, profile: str):
    """The validation score at which the task's profile stops training as solved, or None."""
    from rnnbench.registry import load

    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load([])
    t = _REGISTRY.tasks.get(task)
    return t.profiles[profile].stop_at if t is not None and profile in t.profiles else None


_REGISTRY = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="leaderboards")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    run = defaultdict(float)
    ok = defaultdict(int)
    last_best = defaultdict(int)
    off_budget = defaultdict(float)
    for path in sorted((out / "results" / args.profile).glob("*/*.json")):
        if path.name.startswith("."):
            continue
        r = json.loads(path.read_text())
        if r.get("status") != "ok":
            continue
        task = r["task"]
        run[task] += r.get("wall_seconds") or 0.0
        ok[task] += 1
        curve = r.get("curve") or []
        best = (r.get("best_val") or {}).get("value")
        target = stop_at(task, args.profile)
        solved = (
            target is not None
            and best is not None
            and (best <= target if r["primary"]["direction"] == "min" else best >= target)
        )
        if curve and not solved and (r.get("best_val") or {}).get("step") == curve[-1][0]:
            last_best[task] += 1  # still improving when training stopped (a solved task stopped on purpose)
        budget = r.get("param_budget")
        if budget:
            off_budget[task] = max(off_budget[task], abs(r["params"] - budget) / budget)
    tune = defaultdict(float)
    trials = defaultdict(int)
    for path in sorted((out / "tuning" / args.profile).glob("*/*.json")):
        doc = json.loads(path.read_text())
        tune[doc["task"]] += sum(t.get("seconds") or 0.0 for t in doc.get("trials", []))
        trials[doc["task"]] += len(doc.get("trials", []))
    rows = [
        (
            "task",
            "ok cells",
            "run cell-s",
            "tune trials",
            "tune trial-s",
            "tune/run",
            "best at last val",
            "max |params-budget|",
        )
    ]
    for task in sorted(set(run) | set(tune)):
        ratio = f"{tune[task] / run[task]:.2f}x" if run[task] and tune[task] else "-"
        share = f"{last_best[task]}/{ok[task]}" if ok[task] else "-"
        rows.append(
            (
                task,
                ok[task],
                f"{run[task]:.0f}",
                trials[task],
                f"{tune[task]:.0f}",
                ratio,
                share,
                f"{off_budget[task]:.1%}",
            )
        )
    total_run, total_tune = sum(run.values()), sum(tune.values())
    tuned = [t for t in run if tune[t]]
    tuned_run = sum(run[t] for t in tuned)
    rows.append(
        (
            "all",
            sum(ok.values()),
            f"{total_run:.0f}",
            sum(trials.values()),
            f"{total_tune:.0f}",
            f"{total_tune / tuned_run:.2f}x (tuned tasks)" if tuned_run else "-",
            f"{sum(last_best.values())}/{sum(ok.values())} = {sum(last_best.values()) / max(1, sum(ok.values())):.0%}",
            f"{max(off_budget.values(), default=0):.1%}",
        )
    )
    table(rows)
    print(
        f"\nrun: {total_run:.0f} cell-seconds, ~{total_run / args.workers / 60:.1f} min on {args.workers} workers; "
        f"tuning: {total_tune:.0f} trial-seconds, ~{total_tune / args.workers / 60:.1f} min on {args.workers} workers"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
