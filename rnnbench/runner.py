"""Plan the (task, model, seed) matrix and build result records (no torch here).

The parent process plans, hands cells to an executor (rnnbench.executors) and writes
every result the moment it arrives."""

from __future__ import annotations

import os
import platform
import stat
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterable

import rnnbench
from rnnbench import records, store
from rnnbench.api import Profile
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
    settings: dict = field(default_factory=dict)
    """``Profile`` fields this cell changes: tuned hyperparameters, the parameter budget."""
    tuning: dict | None = None
    """Where the hyperparameters in ``settings`` come from (``rnnbench.tuning``), for the record."""
    trial: dict | None = None
    """A tuning trial's pruning context; a trial is judged on validation and never tested."""
    expected_cost: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.task} × {self.model} (seed {self.seed})"


def cell_profile(profile: Profile, settings: dict) -> Profile:
    """The profile a cell trains with: its task's, changed by the cell's ``settings``."""
    return profile.replace(**settings) if settings else profile


def new_cell(
    registry: Registry,
    task: str,
    model: str,
    seed: int,
    profile: str,
    settings: dict,
    *,
    time_limit: float | None = None,
    tuning: dict | None = None,
    trial: dict | None = None,
) -> Cell:
    """A cell of ``run``, ``tune`` or ``verify``, its config hash and expected cost computed
    from the profile the cell trains with (its task's, changed by ``settings``)."""
    prof = registry.tasks[task].profiles[profile]
    effective = cell_profile(prof, settings)
    return Cell(
        task,
        model,
        seed,
        profile,
        config_hash(registry, task, model, seed, profile, settings),
        time_limit or prof.time_limit,
        dict(settings),
        tuning,
        trial,
        expected_cost=effective.max_steps * effective.batch_size * (effective.hidden_size / 64.0),
    )


def config_hash(
    registry: Registry, task: str, model: str, seed: int, profile: str, settings: dict | None = None
) -> str:
    """Everything that changes a cell's result: the profile's settings (after the cell's
    own: tuned hyperparameters, a parameter budget), the data the task reads, and the code
    that runs (rnnbench's and both plugins' versions, and their revisions). A finished record is reused only
    when this matches, so other data, code or hyperparameters mean a new run."""
    settings = cell_profile(registry.tasks[task].profiles[profile], settings or {}).result_settings()
    tp, mp = registry.plugin_of("task", task), registry.plugin_of("model", model)
    code = {
        "rnnbench": rnnbench.__version__,
        "task_plugin": [tp.distribution, tp.version],
        "model_plugin": [mp.distribution, mp.version],
    }
    for kind, plugin in (("task", registry.tasks[task]), ("model", registry.models[model])):
        if plugin.revision:
            code[f"{kind}_revision"] = plugin.revision
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
    param_budget: int | str | None = None,
) -> tuple[list[Cell], list[dict], list[dict]]:
    """Split the matrix into cells to run, records already finished (kept), and n/a records.

    A cell trains with the hyperparameters ``rnnbench tune`` chose for its (task, model)
    when ``out`` holds them, and with its width fitted (in the worker, where the data is)
    to the profile's parameter budget; ``param_budget`` replaces that budget, ``"off"``
    compares at the profile's width. Raises ``tuning.TuningFileError`` for a chosen-
    hyperparameters file that cannot be used."""
    from rnnbench import tuning

    to_run, kept, not_applicable = [], [], []
    for task_name in tasks:
        task = registry.tasks[task_name]
        prof = task.profiles[profile]
        for model_name in models:
            model = registry.models[model_name]
            reason = model.unsupported(task)
            settings, chosen = ({}, None) if reason else cell_settings(out, profile, task_name, model_name, prof)
            if param_budget is not None:
                settings["param_budget"] = None if param_budget == "off" else int(param_budget)
            tuned = tuning.provenance(chosen) if chosen is not None else None
            for seed in range(seeds or prof.seeds):
                if reason:
                    h = config_hash(registry, task_name, model_name, seed, profile, settings)
                    not_applicable.append(
                        not_applicable_record(registry, task_name, model_name, seed, profile, h, reason)
                    )
                    continue
                cell = new_cell(
                    registry, task_name, model_name, seed, profile, settings, time_limit=time_limit, tuning=tuned
                )
                prev = store.existing(out, profile, task_name, model_name, seed)
                if prev and store.finished(prev) and records.config_hash(prev) == cell.config_hash:
                    kept.append(prev)
                else:
                    to_run.append(cell)
    return to_run, kept, not_applicable


def cell_settings(out: str | Path, profile: str, task: str, model: str, prof: Profile) -> tuple[dict, dict | None]:
    """The profile changes a (task, model) pair's cells train with, and where they come
    from: the hyperparameters ``rnnbench tune`` chose, when ``out`` holds them."""
    from rnnbench import tuning

    chosen = tuning.chosen(out, profile, task, model, prof)
    return (dict(chosen["hyperparameters"]) if chosen else {}), chosen


HYPERPARAMETERS = (
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "dropout",
    "grad_clip",
    "schedule",
    "warmup_steps",
    "decay_factor",
    "decay_after",
)
"""The training settings a record lists as its hyperparameters (the profile has them all)."""


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
    record: records.Record = {
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
    return record


RUN_PROVENANCE = ("precision", "throughput_clock", "nondeterministic_ops", "cells_per_gpu")


def finish_record(registry: Registry, cell: Cell, result: dict) -> records.Record:
    """The record of a cell that ran: its identity, the hyperparameters it trained with
    (and how they were chosen), and what the worker measured (or why it failed)."""
    record = base_record(registry, cell.task, cell.model, cell.seed, cell.profile, cell.config_hash)
    effective = cell_profile(registry.tasks[cell.task].profiles[cell.profile], cell.settings)
    record["hyperparameters"] = {name: getattr(effective, name) for name in HYPERPARAMETERS}
    record["tuning"] = cell.tuning
    record["param_budget"] = effective.param_budget
    result = dict(result)
    record["provenance"]["device"] = result.pop("device", None)
    if "device_class" in result:  # measured where the cell trained (rnnbench.training.device_class)
        record["provenance"]["device_class"] = result.pop("device_class")
    record["provenance"]["data_fingerprint"] = result.pop("data_fingerprint", None)
    # where the cell ran, with the worker's own library versions (not the driver's)
    record["provenance"].update(result.pop("worker_provenance", None) or {})
    for key in RUN_PROVENANCE:  # how the worker ran the cell (rnnbench.training.fit_cell)
        if key in result:
            record["provenance"][key] = result.pop(key)
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
