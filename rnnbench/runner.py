"""Plan the (task, model, seed) matrix and run it on worker processes.

The parent never imports torch: it plans, hands cells to workers, enforces each cell's
time limit, and writes every result the moment it arrives. Workers are reused across
cells so that torch and lightning are imported once per worker, not once per cell.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import time
from collections import deque
from dataclasses import asdict, dataclass
from importlib import metadata
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable, Iterable

import rnnbench
from rnnbench import store
from rnnbench.data import fingerprint
from rnnbench.registry import Registry


@dataclass
class Cell:
    task: str
    model: str
    seed: int
    profile: str
    config_hash: str
    time_limit: float
    hidden_size: int | None = None
    expected_cost: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.task} × {self.model} (seed {self.seed})"


def config_hash(registry: Registry, task: str, model: str, seed: int, profile: str,
                hidden_size: int | None = None) -> str:
    settings = registry.tasks[task].profiles[profile].to_dict()
    if hidden_size:
        settings["hidden_size"] = hidden_size
    settings.pop("time_limit", None)  # how long we wait does not change the result
    settings.pop("seeds", None)
    return fingerprint(task, model, seed, profile, settings)


def plan(registry: Registry, tasks: Iterable[str], models: Iterable[str], profile: str,
         seeds: int | None, out: str | Path, time_limit: float | None = None,
         widths: dict[tuple[str, str], int] | None = None) -> tuple[list[Cell], list[dict], list[dict]]:
    """Split the matrix into cells to run, records already finished (kept), and n/a records."""
    to_run, kept, not_applicable = [], [], []
    widths = widths or {}
    for task_name in tasks:
        task = registry.tasks[task_name]
        prof = task.profiles[profile]
        for seed in range(seeds or prof.seeds):
            for model_name in models:
                model = registry.models[model_name]
                hidden = widths.get((task_name, model_name))
                h = config_hash(registry, task_name, model_name, seed, profile, hidden)
                reason = model.unsupported(task)
                if reason:
                    rec = base_record(registry, task_name, model_name, seed, profile, h)
                    not_applicable.append({**rec, "status": "n/a", "reason": reason})
                    continue
                prev = store.existing(out, profile, task_name, model_name, seed)
                if prev and prev.get("status") in store.FINISHED and prev.get("provenance", {}).get("config_hash") == h:
                    kept.append(prev)
                    continue
                cost = prof.max_steps * prof.batch_size * (prof.hidden_size / 64.0)
                to_run.append(Cell(task_name, model_name, seed, profile, h,
                                   time_limit or prof.time_limit, hidden, cost))
    return to_run, kept, not_applicable


_VERSIONS: dict[str, str] = {}


def _version(dist: str) -> str:
    if dist not in _VERSIONS:
        try:
            _VERSIONS[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            _VERSIONS[dist] = "-"
    return _VERSIONS[dist]


def base_record(registry: Registry, task: str, model: str, seed: int, profile: str, config_hash_: str) -> dict:
    """The part of a record known before training: identity and provenance."""
    tp, mp = registry.plugin_of("task", task), registry.plugin_of("model", model)
    t = registry.tasks[task]
    return {
        "task": task, "model": model, "seed": seed, "profile": profile,
        "task_family": t.family, "task_shape": t.shape, "task_description": t.description,
        "primary": {"name": t.primary_metric, "value": None, "direction": t.direction},
        "provenance": {
            "rnnbench": rnnbench.__version__,
            "task_plugin": {"name": tp.name, "distribution": tp.distribution, "version": tp.version},
            "model_plugin": {"name": mp.name, "distribution": mp.distribution, "version": mp.version},
            "torch": _version("torch"), "pytorch_lightning": _version("pytorch-lightning"),
            "torchmetrics": _version("torchmetrics"), "python": platform.python_version(),
            "config_hash": config_hash_,
        },
    }


def finish_record(registry: Registry, cell: Cell, result: dict) -> dict:
    record = base_record(registry, cell.task, cell.model, cell.seed, cell.profile, cell.config_hash)
    result = dict(result)
    record["provenance"]["device"] = result.pop("device", None)
    record["provenance"]["data_fingerprint"] = result.pop("data_fingerprint", None)
    record.update(result)
    record.setdefault("reason", None)
    return record


# --- executors ----------------------------------------------------------------------


def visible_gpus() -> list[str]:
    """GPU ids this process may use, found without importing torch."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    proc = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(proc.iterdir())))] if proc.is_dir() else []


def worker_layout(workers: int | None, gpus: list[str], cores: int | None = None) -> list[dict]:
    """One worker per visible GPU (pinned with CUDA_VISIBLE_DEVICES), else ``workers`` CPU
    workers; torch threads are divided between workers, because two processes with two
    threads each on two cores run ~10x slower than one."""
    cores = cores or os.cpu_count() or 1
    if gpus:
        n = len(gpus) if not workers else min(workers, len(gpus))
        threads = max(1, cores // n)
        return [{"gpu": g, "accelerator": "gpu", "threads": threads} for g in gpus[:n]]
    n = max(1, workers or 1)
    threads = max(1, cores // n)
    return [{"gpu": None, "accelerator": "cpu", "threads": threads} for _ in range(n)]


class _Slot:
    def __init__(self, spec: dict, plugin_args: list[str]):
        self.spec, self.plugin_args = spec, plugin_args
        self.proc: multiprocessing.Process | None = None
        self.conn = None
        self.ready = False
        self.cell: Cell | None = None
        self.deadline = 0.0

    def start(self) -> None:
        from rnnbench.worker import worker_main

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        # the child inherits the environment at start: pin it to its GPU (or to none)
        os.environ["CUDA_VISIBLE_DEVICES"] = self.spec["gpu"] if self.spec["gpu"] is not None else ""
        try:
            self.proc = ctx.Process(
                target=worker_main, daemon=True,
                args=(child, self.plugin_args, self.spec["threads"], self.spec["accelerator"]),
            )
            self.proc.start()
        finally:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
        child.close()
        self.conn, self.ready, self.cell = parent, False, None

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def stop(self) -> None:
        if self.conn is not None and self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(10)
            except (OSError, BrokenPipeError):
                pass
        self.kill()


class LocalExecutor:
    """A pool of reused worker processes on this machine, one cell per worker at a time."""

    name = "local"

    def __init__(self, plugin_args: list[str], workers: int | None = None, gpus: list[str] | None = None):
        self.layout = worker_layout(workers, visible_gpus() if gpus is None else gpus)
        self.plugin_args = plugin_args

    def describe(self) -> str:
        first = self.layout[0]
        kind = "GPU" if first["gpu"] is not None else "CPU"
        return f"{len(self.layout)} {kind} worker(s), {first['threads']} torch thread(s) each"

    def run(self, cells: list[Cell], on_result: Callable[[Cell, dict], None],
            on_start: Callable[[Cell], None] = lambda c: None) -> None:
        pending = deque(cells)
        slots = [_Slot(spec, self.plugin_args) for spec in self.layout[: max(1, len(cells))]]
        try:
            for s in slots:
                s.start()
            while pending or any(s.cell for s in slots):
                for s in slots:
                    if s.ready and s.cell is None and pending:
                        s.cell = pending.popleft()
                        s.deadline = time.monotonic() + s.cell.time_limit
                        on_start(s.cell)
                        s.conn.send(asdict(s.cell))
                live = [s for s in slots if s.conn is not None]
                timeout = min((s.deadline for s in slots if s.cell), default=time.monotonic() + 1) - time.monotonic()
                waitables = [s.conn for s in live] + [s.proc.sentinel for s in live]
                ready = wait(waitables, timeout=max(0.05, min(timeout, 5.0)))
                for s in live:
                    if s.conn in ready or s.proc.sentinel in ready:
                        self._receive(s, on_result)
                now = time.monotonic()
                for s in slots:
                    if s.cell and now > s.deadline:
                        cell = s.cell
                        s.kill()
                        on_result(cell, {"status": "failed", "reason": f"timeout after {cell.time_limit:.0f} s"})
                        s.start()
        finally:
            for s in slots:
                s.stop()

    @staticmethod
    def _receive(s: _Slot, on_result: Callable[[Cell, dict], None]) -> None:
        try:
            if s.conn.poll():
                msg = s.conn.recv()
                if "ready" in msg:
                    s.ready = True
                else:
                    cell, s.cell = s.cell, None
                    on_result(cell, msg)
                return
        except (EOFError, OSError):
            pass
        if s.proc is not None and not s.proc.is_alive():
            code = s.proc.exitcode
            cell = s.cell
            s.kill()
            if cell is not None:
                on_result(cell, {"status": "failed", "reason": f"worker process died (exit code {code})"})
            s.start()


class InProcessExecutor:
    """Runs cells in this process, one after another: for debugging and for tests."""

    name = "inprocess"

    def __init__(self, plugin_args: list[str], accelerator: str = "cpu"):
        from rnnbench.worker import CellRunner

        self.runner = CellRunner(plugin_args, accelerator)

    def describe(self) -> str:
        return "in-process"

    def run(self, cells: list[Cell], on_result: Callable[[Cell, dict], None],
            on_start: Callable[[Cell], None] = lambda c: None) -> None:
        for cell in cells:
            on_start(cell)
            on_result(cell, self.runner.run(asdict(cell)))
