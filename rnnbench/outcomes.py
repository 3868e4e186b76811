"""Per-example test outcomes: what a significance test needs, kept beside each record.

A trained cell keeps, for its primary test set, the per-example quantities its primary
metric is computed from, as equal-length columns of one *kind*:

- ``mean``: ``value`` per example (1/0 correctness, squared or absolute error ...); the
  metric is their mean. Optional ``pred`` and ``target`` keep the predictions, which
  direction-accuracy tests (Pesaran–Timmermann) need.
- ``ratio``: ``num`` and ``den`` per example (a document's token NLL sum and its token
  count, an utterance's edit count and reference length); the metric is
  ``transform(sum(num) / sum(den))``: ``exp`` for perplexity, nats to bits for ``bpc``.
- ``bleu``: ``hyp`` and ``ref`` strings; the metric is sacreBLEU's corpus BLEU.

Every kind reduces to a matrix of *sufficient statistics* (one row per example) and a
function of their column sums, so one resampling scheme serves all: a bootstrap draws
example weights, and the metric of a resample is ``f(weights @ S)``. For BLEU the rows
are sacreBLEU's sentence statistics, exactly as sacreBLEU's own paired bootstrap uses.

Where the test set lays several parallel series end to end (``series`` > 1: stock's
indices, all days of the first, then all days of the second, on the same days), row
``s * T + t`` is series ``s`` at time step ``t`` of ``T = n / series``; a bootstrap then
draws time steps and takes every series' row at each (``rnnbench.significance``).

The file is ``<model>--seed<N>.outcomes.npz`` beside the record: ``numpy.savez`` of
plain arrays (numbers and unicode strings, never objects), read with
``allow_pickle=False``. Torch-free: the report and ``rnnbench compare`` read it.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

KINDS = ("mean", "ratio", "bleu")
FORMAT = 1
"""Of the file; a file of another format is refused like a corrupt one."""
SUFFIX = ".outcomes.npz"
TRANSFORMS = {"perplexity": "exp", "bpc": "bits"}
"""How a ``ratio`` outcome whose producer said ``transform="auto"`` becomes the metric of
that name (any other name: the ratio itself)."""

REQUIRED = {"mean": ("value",), "ratio": ("num", "den"), "bleu": ("hyp", "ref")}


class OutcomesError(ValueError):
    """Outcomes that cannot be used; ``str()`` is one line."""


@dataclass
class Outcomes:
    kind: str
    columns: dict[str, np.ndarray]
    transform: str = "none"
    serial: bool = False
    """Examples follow one another in time (trading days, a text stream): resample blocks."""
    baselines: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    series: int = 1
    """Parallel series laid end to end, each of ``n / series`` time steps in the same
    order (stock: one per index); 1 for one series. Stored as ``meta/series``; a file
    without it (written before it existed) reads 1."""

    def __post_init__(self) -> None:
        check_series(self.series, self.n if self.columns else 0)

    @property
    def n(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def steps(self) -> int:
        """Time steps per series: ``n / series``."""
        return self.n // self.series


def check(kind: str, columns: dict[str, Any]) -> None:
    if kind not in KINDS:
        raise OutcomesError(f"outcome kind {kind!r} is not one of {', '.join(KINDS)}")
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        raise OutcomesError(f"{kind} outcomes lack the column(s) {', '.join(missing)}")
    lengths = {name: len(col) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise OutcomesError(f"outcome columns differ in length: {lengths}")
    if not next(iter(lengths.values()), 0):
        raise OutcomesError("no test examples in the outcomes")


def check_series(series: Any, n: int) -> None:
    """``series`` is a whole number >= 1 that divides the ``n`` examples."""
    if isinstance(series, bool) or not isinstance(series, (int, np.integer)) or series < 1:
        raise OutcomesError(f"outcome series {series!r} is not a whole number >= 1")
    if n % series:
        raise OutcomesError(f"{n} outcomes cannot be {series} parallel series of equal length")


def from_plain(plain: dict) -> Outcomes:
    """From the JSON-able form a worker returns (``{"kind", "columns", "transform",
    "serial", "series", "baselines"}``, columns as lists; ``series`` absent: 1)."""
    kind = plain.get("kind")
    columns = {k: _array(v) for k, v in (plain.get("columns") or {}).items()}
    check(kind, columns)
    baselines = {}
    for name, cols in (plain.get("baselines") or {}).items():
        arrays = {k: _array(v) for k, v in cols.items()}
        check(kind, arrays)
        if len(next(iter(arrays.values()))) != len(next(iter(columns.values()))):
            raise OutcomesError(f"baseline {name}'s outcomes cover another number of examples")
        baselines[name] = arrays
    series = plain.get("series", 1)
    return Outcomes(kind, columns, plain.get("transform", "none"), bool(plain.get("serial")), baselines, series)


def _array(values: Any) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind in "US":
        return a.astype(str)
    if a.dtype.kind not in "biuf":
        raise OutcomesError(f"an outcome column of type {a.dtype} (numbers or strings only)")
    return a.astype(np.float64).reshape(-1)


# --- the file ---------------------------------------------------------------------------


def path_for(record_path: Path) -> Path:
    return record_path.with_name(record_path.name.removesuffix(".json") + SUFFIX)


def to_bytes(outcomes: Outcomes) -> bytes:
    arrays: dict[str, np.ndarray] = {
        "meta/format": np.asarray(FORMAT),
        "meta/kind": np.asarray(outcomes.kind),
        "meta/transform": np.asarray(outcomes.transform),
        "meta/serial": np.asarray(outcomes.serial),
        "meta/series": np.asarray(outcomes.series),
    }
    arrays.update({f"col/{k}": v for k, v in outcomes.columns.items()})
    for name, cols in outcomes.baselines.items():
        arrays.update({f"baseline/{name}/{k}": v for k, v in cols.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path: Path, sha256: str | None = None) -> Outcomes:
    """The outcomes in ``path``; OutcomesError (one line) when the file is missing,
    altered (``sha256`` given and different) or not a valid outcomes file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OutcomesError(f"its outcomes file {path.name} is missing") from None
    except OSError as exc:
        raise OutcomesError(f"its outcomes file {path.name} cannot be read ({exc.strerror})") from None
    if sha256 is not None and digest(data) != sha256:
        raise OutcomesError(f"its outcomes file {path.name} does not match the record (altered or truncated)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile, ValueError ...: a corrupt file
        raise OutcomesError(f"its outcomes file {path.name} is corrupt ({type(exc).__name__})") from None
    try:
        if int(arrays["meta/format"]) != FORMAT:
            raise OutcomesError(f"its outcomes file {path.name} is of format {int(arrays['meta/format'])}")
        kind, transform = str(arrays["meta/kind"]), str(arrays["meta/transform"])
        serial = bool(arrays["meta/serial"])
        # absent in files written before it existed: one series, as they were read then
        series = int(arrays["meta/series"]) if "meta/series" in arrays else 1
    except KeyError as exc:
        raise OutcomesError(f"its outcomes file {path.name} lacks {exc.args[0]}") from None
    columns = {k[4:]: v for k, v in arrays.items() if k.startswith("col/")}
    baselines: dict[str, dict[str, np.ndarray]] = {}
    for k, v in arrays.items():
        if k.startswith("baseline/"):
            _, name, col = k.split("/", 2)
            baselines.setdefault(name, {})[col] = v
    check(kind, columns)
    try:
        return Outcomes(kind, columns, transform, serial, baselines, series)
    except OutcomesError as exc:
        raise OutcomesError(f"its outcomes file {path.name}: {exc}") from None


# --- the metric from sufficient statistics ---------------------------------------------


@dataclass
class Statistic:
    """Rows of sufficient statistics and the metric of their (weighted) column sums."""

    rows: np.ndarray
    """``[examples, d]``."""
    of_sums: Callable[[np.ndarray], np.ndarray]
    """``[r, d]`` column sums -> ``[r]`` metric values."""

    def value(self) -> float:
        return float(self.of_sums(self.rows.sum(0, keepdims=True))[0])

    def resampled(self, weights: np.ndarray) -> np.ndarray:
        """Metric for each row of ``weights`` (``[r, examples]``: how often each example was drawn)."""
        return self.of_sums(weights @ self.rows)


def statistic(kind: str, columns: dict[str, np.ndarray], metric: str, transform: str = "none") -> Statistic:
    """The ``metric`` (the task's primary metric) as a function of resampled examples."""
    if kind == "mean":
        value = np.asarray(columns["value"], dtype=float)
        rows = np.stack([value, np.ones_like(value)], 1)
        return Statistic(rows, lambda s: s[:, 0] / s[:, 1])
    if kind == "ratio":
        rows = np.stack([np.asarray(columns["num"], float), np.asarray(columns["den"], float)], 1)
        how = TRANSFORMS.get(metric, "none") if transform == "auto" else transform
        if how == "exp":
            return Statistic(rows, lambda s: np.exp(s[:, 0] / s[:, 1]))
        if how == "bits":
            return Statistic(rows, lambda s: s[:, 0] / s[:, 1] / math.log(2))
        if how != "none":
            raise OutcomesError(f"unknown ratio transform {how!r}")
        return Statistic(rows, lambda s: s[:, 0] / s[:, 1])
    if kind == "bleu":
        from sacrebleu.metrics import BLEU

        bleu = BLEU(smooth_method="none")  # as torchmetrics' SacreBLEUScore (smooth=False)
        hyp = [str(h) for h in columns["hyp"]]
        refs = [[str(r) for r in columns["ref"]]]
        # the sentence statistics sacreBLEU's paired bootstrap resamples
        rows = np.asarray(bleu._extract_corpus_statistics(hyp, refs), dtype=float)

        def of_sums(sums: np.ndarray) -> np.ndarray:
            return np.asarray([bleu._compute_score_from_stats([int(round(x)) for x in s]).score for s in sums])

        return Statistic(rows, of_sums)
    raise OutcomesError(f"outcome kind {kind!r} is not one of {', '.join(KINDS)}")


def of(outcomes: Outcomes, metric: str, baseline: str | None = None) -> Statistic:
    columns = outcomes.columns if baseline is None else outcomes.baselines[baseline]
    return statistic(outcomes.kind, columns, metric, outcomes.transform)


def value(outcomes: Outcomes, metric: str) -> float:
    return of(outcomes, metric).value()


def agrees(outcomes: Outcomes, metric: str, reported: float | None, rtol: float = 1e-3) -> str | None:
    """None when the outcomes reproduce the reported metric, else why not (one line)."""
    if reported is None or not math.isfinite(reported):
        return f"the reported {metric} is {reported}"
    got = value(outcomes, metric)
    if not math.isclose(got, reported, rel_tol=rtol, abs_tol=1e-6 + rtol * 1e-3):
        return f"the outcomes give {metric} {got:.6g}, the metric says {reported:.6g}"
    return None
