"""Plan the (task, model, seed) matrix and build result records (no torch here).

The parent process plans, hands cells to an executor (rnnbench.executors) and writes
every result the moment it arrives."""

from __future__ import annotations

import os
import platform
import stat
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable

import rnnbench
from rnnbench import records, store
from rnnbench.data import file_digest, fingerprint
from rnnbench.registry import Registry


@dataclass
class Cell:
    task: str
    model: str
    seed: int
    profile: str
    config_hash: str
    time_limit: float
    param_budget: int | None = None
    expected_cost: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.task} × {self.model} (seed {self.seed})"


def config_hash(
    registry: Registry, task: str, model: str, seed: int, profile: str, param_budget: int | None = None
) -> str:
    """Everything that changes a cell's result: the profile's settings, the data the task
    reads, and the code that runs (rnnbench's and both plugins' versions). A finished
    record is reused only when this matches, so other data or code means a new run."""
    settings = registry.tasks[task].profiles[profile].result_settings()
    if param_budget:
        settings["param_budget"] = param_budget
    tp, mp = registry.plugin_of("task", task), registry.plugin_of("model", model)
    code = {
        "rnnbench": rnnbench.__version__,
        "task_plugin": [tp.distribution, tp.version],
        "model_plugin": [mp.distribution, mp.version],
    }
    return fingerprint(task, model, seed, profile, settings, code, data_source(registry.tasks[task]))


def data_source(task) -> dict:
    """The values of the environment variables ``task`` declares (``data_environment``),
    with each file a value names replaced by its content digest (the same bytes under
    another name are the same data, an edited file is other data) and each folder by the
    names and sizes of the files in it (a module added, removed or replaced)."""
    source = {}
    for var in task.data_environment:
        value = os.environ.get(var)
        if value is not None:
            source[var] = [_content(part.strip()) for part in value.split(",")]
    return source


_DIGESTS: dict[tuple, str] = {}


def _listing(folder: str) -> str:
    """Names and sizes, not times: the same files copied to another machine are the same."""
    entries = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                entries.append((os.path.relpath(path, folder), os.path.getsize(path)))
            except OSError:
                entries.append((os.path.relpath(path, folder), None))
    return fingerprint(entries)


def _content(part: str) -> str:
    try:
        st = os.stat(part)
    except (OSError, ValueError):
        return part  # not a local file (a URL, a name): the value itself is the source
    if stat.S_ISDIR(st.st_mode):
        return "folder:" + _listing(part)
    if not stat.S_ISREG(st.st_mode):
        return part
    key = (part, st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:  # a cell per (model, seed) asks again; read each file once
        try:
            _DIGESTS[key] = "file:" + file_digest(part)
        except OSError:  # unreadable: the task's prepare() will say so in the cell
            return part
    return _DIGESTS[key]


def plan(
    registry: Registry,
    tasks: Iterable[str],
    models: Iterable[str],
    profile: str,
    seeds: int | None,
    out: str | Path,
    time_limit: float | None = None,
    param_budget: int | None = None,
) -> tuple[list[Cell], list[dict], list[dict]]:
    """Split the matrix into cells to run, records already finished (kept), and n/a records.
    With ``param_budget`` each cell's width is fitted (in the worker, where the data is) so
    that its net has that many parameters within ±10 %."""
    to_run, kept, not_applicable = [], [], []
    for task_name in tasks:
        task = registry.tasks[task_name]
        prof = task.profiles[profile]
        for seed in range(seeds or prof.seeds):
            for model_name in models:
                model = registry.models[model_name]
                h = config_hash(registry, task_name, model_name, seed, profile, param_budget)
                reason = model.unsupported(task)
                if reason:
                    not_applicable.append(
                        not_applicable_record(registry, task_name, model_name, seed, profile, h, reason)
                    )
                    continue
                prev = store.existing(out, profile, task_name, model_name, seed)
                if prev and prev.get("status") in store.FINISHED and records.config_hash(prev) == h:
                    kept.append(prev)
                    continue
                cost = prof.max_steps * prof.batch_size * (prof.hidden_size / 64.0)
                to_run.append(
                    Cell(task_name, model_name, seed, profile, h, time_limit or prof.time_limit, param_budget, cost)
                )
    return to_run, kept, not_applicable


_VERSIONS: dict[str, str] = {}


def _version(dist: str) -> str:
    if dist not in _VERSIONS:
        try:
            _VERSIONS[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            _VERSIONS[dist] = "-"
    return _VERSIONS[dist]


def base_record(
    registry: Registry, task: str, model: str, seed: int, profile: str, config_hash_: str
) -> records.Record:
    """The part of a record known before training: identity and provenance."""
    tp, mp = registry.plugin_of("task", task), registry.plugin_of("model", model)
    t = registry.tasks[task]
    return {
        "schema": records.SCHEMA_VERSION,
        "task": task,
        "model": model,
        "seed": seed,
        "profile": profile,
        "task_family": t.family,
        "task_shape": t.shape,
        "task_description": t.description,
        "primary": {"name": t.primary_metric, "value": None, "direction": t.direction},
        "provenance": {
            "rnnbench": rnnbench.__version__,
            "task_plugin": {"name": tp.name, "distribution": tp.distribution, "version": tp.version},
            "model_plugin": {"name": mp.name, "distribution": mp.distribution, "version": mp.version},
            "torch": _version("torch"),
            "pytorch_lightning": _version("pytorch-lightning"),
            "torchmetrics": _version("torchmetrics"),
            "python": platform.python_version(),
            "config_hash": config_hash_,
        },
    }


def finish_record(registry: Registry, cell: Cell, result: dict) -> records.Record:
    """The record of a cell that ran: its identity and what the worker measured (or why it failed)."""
    record = base_record(registry, cell.task, cell.model, cell.seed, cell.profile, cell.config_hash)
    result = dict(result)
    record["provenance"]["device"] = result.pop("device", None)
    record["provenance"]["data_fingerprint"] = result.pop("data_fingerprint", None)
    record.update(result)
    record.setdefault("reason", None)
    if record.get("status") == "ok":
        record.setdefault("outcomes", None)  # the store names the outcomes file when it writes one
    return record


def failed_record(registry: Registry, cell: Cell, reason: str, **measured) -> records.Record:
    """The record of a cell that did not finish, with ``reason`` in one line."""
    return finish_record(registry, cell, {**measured, "status": "failed", "reason": reason})


def not_applicable_record(
    registry: Registry, task: str, model: str, seed: int, profile: str, config_hash_: str, reason: str
) -> records.Record:
    """The record of a cell whose model cannot serve its task (it never runs)."""
    return {**base_record(registry, task, model, seed, profile, config_hash_), "status": "n/a", "reason": reason}
