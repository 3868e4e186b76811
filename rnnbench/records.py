"""The result record: what one cell's JSON file holds, declared once and versioned.

``rnnbench.runner`` builds every record (ok, failed and n/a) and ``rnnbench.store``
validates every record it reads. A record is a plain dict (it is written and read as
JSON); ``Record`` says which keys it may hold. A change of what a key means, or of a key
that readers rely on, raises ``SCHEMA_VERSION``: a record of another version is refused
when it is read, and its cell runs again.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

SCHEMA_VERSION = 2
"""Records written before the schema was declared carry no ``schema`` key; they are of
the first version.

- 1: the record alone.
- 2: an ok record names the file of its per-example test outcomes (``outcomes``), or
  says why it has none (``outcomes`` None and ``outcomes_note``).
"""

UPGRADABLE = {1}
"""Older schemas a reader still accepts, upgraded by ``upgrade``: a record of schema 1
reads as one with no outcomes (its leaderboard row gets an interval over seeds only),
and a run treats its ok cell as one to run again."""


class OutcomesRef(TypedDict):
    file: str
    """The file's name, beside the record (``<model>--seed<N>.outcomes.npz``)."""
    sha256: str
    kind: str
    n: int


class TuningRef(TypedDict):
    file: str
    """The tuning file, relative to the output folder (``tuning/<profile>/<task>/<model>.json``)."""
    trials: int


class Primary(TypedDict):
    name: str
    value: float | None
    direction: str


class Throughput(TypedDict):
    unit: str
    value: float | None


class Record(TypedDict, total=False):
    # identity, known before the cell runs
    schema: int
    task: str
    model: str
    seed: int
    profile: str
    task_family: str
    task_shape: str
    task_description: str
    task_published: list[dict[str, Any]]
    """Only in records of older versions: the task's published results, which the
    leaderboards now read from the registry (``Task.published``), not from records."""
    primary: Primary
    hyperparameters: dict[str, Any]
    """The training hyperparameters the cell used (``rnnbench.runner.HYPERPARAMETERS``)."""
    tuning: TuningRef | None
    """Where the hyperparameters came from when they were tuned; None: the profile's."""
    param_budget: int | None
    """The parameter count the model's width was fitted to; None: the profile's width."""
    provenance: dict[str, Any]
    """Versions of the code, the config hash, the device, its ``device_class`` (see
    ``device_class``) and the data fingerprint."""
    # the outcome
    status: str
    """``ok``, ``failed`` or ``n/a``."""
    reason: str | None
    traceback: str
    """Of a failed cell: the exception's traceback, trimmed to the plugins' frames and
    the failing core frame (optional; absent when the reason says it all)."""
    retried: str
    test_retried: str
    """Why testing ran again at a smaller batch (out of memory); absent when it did not."""
    # measured by a trained cell
    metrics: dict[str, float]
    best_val: dict[str, Any]
    curve: list[list[float]]
    params: int
    steps: int
    train_seconds: float
    wall_seconds: float
    setup_seconds: float
    throughput: Throughput
    peak_memory_mb: float
    peak_memory_kind: str
    samples: dict[str, Any]
    baselines: dict[str, dict[str, float]]
    metric_notes: dict[str, str]
    """How the task computed its metrics (``Task.metric_notes``); absent when it says nothing."""
    batch_size: int
    hidden_size: int
    sequence_length: int
    outcomes: OutcomesRef | None
    outcomes_note: str
    upgraded_from: int
    """Set by the reader on a record it upgraded from an older schema (never written)."""


def upgrade(record: dict) -> dict:
    """A record of an ``UPGRADABLE`` schema in the current one."""
    old = schema_of(record)
    record = dict(record, schema=SCHEMA_VERSION, upgraded_from=old)
    if record.get("status") == "ok":
        record.setdefault("outcomes", None)
        record.setdefault("outcomes_note", f"written by schema {old}, before per-example outcomes were kept")
    return record


def schema_of(record: dict) -> Any:
    return record.get("schema", 1)


def throughput(record: dict) -> float | None:
    return (record.get("throughput") or {}).get("value")


def throughput_unit(record: dict) -> str:
    return (record.get("throughput") or {}).get("unit", "")


def config_hash(record: dict) -> str | None:
    return (record.get("provenance") or {}).get("config_hash")


CPU_MODEL_UNRECORDED = "model not recorded"
UNKNOWN_DEVICE = "device not recorded"


def describe_device(
    kind: str, name: str, threads: int | None = None, precision: str | None = None, cells_per_gpu: int | None = None
) -> str:
    """A device class: a short, stable name of what a cell's time was measured on.

    Everything besides the cell's own configuration that changes its time is in it: the
    CPU's model and the torch threads the cell had (``cpu: NAME, 4 threads``), or the
    GPU's name, the float policy (``--precision`` changes nothing on a CPU) and how many
    cells shared the GPU when more than one did (``gpu: NAME, tf32, 2 cells per GPU``)."""
    name = " ".join(str(name).split()) or "unknown"
    parts = [f"{kind}: {name}"]
    if threads is not None:
        parts.append(f"{threads} thread{'' if threads == 1 else 's'}")
    if kind == "gpu":
        if precision:
            parts.append(str(precision))
        if isinstance(cells_per_gpu, int) and cells_per_gpu > 1:
            parts.append(f"{cells_per_gpu} cells per GPU")
    return ", ".join(parts)


_OLD_CPU_DEVICE = re.compile(r"cpu \((\d+) threads?\)")


def device_class(record: dict) -> str:
    """The device class a record's times were measured on (``describe_device``): as the
    worker recorded it in ``provenance.device_class``, or for a record written before
    that was kept, derived from ``provenance.device`` (``cpu (N threads)``, else a GPU's
    name), where a CPU's model was not recorded. Times compare only within one class."""
    prov = record.get("provenance") or {}
    stored = prov.get("device_class")
    if isinstance(stored, str) and stored.strip():
        return stored
    device = prov.get("device")
    if not isinstance(device, str) or not device.strip():
        return UNKNOWN_DEVICE
    old_cpu = _OLD_CPU_DEVICE.fullmatch(device.strip())
    if old_cpu:
        return describe_device("cpu", CPU_MODEL_UNRECORDED, threads=int(old_cpu.group(1)))
    return describe_device("gpu", device, precision=prov.get("precision"), cells_per_gpu=prov.get("cells_per_gpu"))
