"""Re-run a sample of a results folder's cells and compare their metrics with the records
(``rnnbench verify``): results a contributor submits are checked without rerunning all.

A cell is rebuilt from its record alone (task, model, seed, profile, the hyperparameters
and parameter budget it trained with), so the check needs no tuning files. A record whose
configuration the installed code would no longer produce (another rnnbench or plugin
version, other data) is reported as stale rather than re-run: its numbers could not be
expected to match. Nothing is written to the folder.

On the CPU a cell reproduces bit for bit at a fixed thread count; on another machine,
float rounding in fused kernels can move the last digits, hence ``tolerance``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rnnbench import records, runner, store
from rnnbench.registry import Registry


@dataclass
class Verdict:
    record: dict
    status: str
    """``same``, ``differs``, ``failed`` (the re-run did not finish) or ``stale``."""
    detail: str = ""


@dataclass
class VerifyResult:
    verdicts: list[Verdict] = field(default_factory=list)
    ok_records: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if any(v.status in ("differs", "failed") for v in self.verdicts) else 0


def sample(ok: list[dict], k: int, seed: int) -> list[dict]:
    """``k`` records drawn without replacement, the same ones for the same seed."""
    ordered = sorted(ok, key=lambda r: (r["profile"], r["task"], r["model"], r["seed"]))
    return random.Random(seed).sample(ordered, min(k, len(ordered)))


def compare(recorded: dict, measured: dict, tolerance: float) -> list[str]:
    """The metrics that differ by more than ``tolerance`` (relative), as readable lines."""
    diffs = []
    for name in sorted(set(recorded) | set(measured)):
        a, b = recorded.get(name), measured.get(name)
        if a is None or b is None:
            diffs.append(f"{name}: {a} recorded, {b} now")
        elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        elif a != b and not math.isclose(a, b, rel_tol=tolerance, abs_tol=0.0):
            diffs.append(f"{name}: {a!r} recorded, {b!r} now")
    return diffs


def verify(
    registry: Registry,
    out: str | Path,
    *,
    k: int,
    seed: int = 0,
    tolerance: float = 0.0,
    executor,
    on_verdict: Callable[[Verdict], None] = lambda v: None,
) -> VerifyResult:
    records_, _ = store.load_records(out)
    ok = [r for r in records_ if r["status"] == "ok"]
    result = VerifyResult(ok_records=len(ok))
    cells, by_cell = [], {}
    for r in sample(ok, k, seed):
        known = r["task"] in registry.tasks and r["model"] in registry.models
        if not known or r["profile"] not in registry.tasks[r["task"]].profiles:
            result.verdicts.append(Verdict(r, "stale", "its task, model or profile is not installed here"))
            continue
        if "hyperparameters" not in r:
            result.verdicts.append(Verdict(r, "stale", "the record predates recorded hyperparameters"))
            continue
        settings = {**r["hyperparameters"], "param_budget": r.get("param_budget")}
        cell = runner.new_cell(
            registry, r["task"], r["model"], r["seed"], r["profile"], settings, tuning=r.get("tuning")
        )
        if cell.config_hash != records.config_hash(r):
            result.verdicts.append(
                Verdict(r, "stale", "the installed code or data would run another configuration (config hash differs)")
            )
            continue
        cells.append(cell)
        by_cell[cell.label] = r
    for v in result.verdicts:
        on_verdict(v)

    def on_result(cell: runner.Cell, measured: dict) -> None:
        r = by_cell[cell.label]
        if measured.get("status") != "ok":
            v = Verdict(r, "failed", measured.get("reason") or "did not finish")
        else:
            diffs = compare(r.get("metrics") or {}, measured.get("metrics") or {}, tolerance)
            v = Verdict(r, "differs", "; ".join(diffs)) if diffs else Verdict(r, "same")
        result.verdicts.append(v)
        on_verdict(v)

    if cells:
        executor.run(cells, on_result, lambda cell: None)
    return result
