"""The statistics a reviewer asks of a benchmark, from the libraries the field uses.

- ranks over tasks with ties shared (fractional ranks), the Friedman test with the
  Iman–Davenport F correction and the Nemenyi critical difference (Demšar 2006);
- Holm's step-down correction for several paired comparisons;
- expected best validation score against the number of tuning trials (Dodge et al. 2019);
- tests against a naive forecast: Pesaran–Timmermann for direction accuracy and
  Diebold–Mariano for forecast errors.

Everything here is a pure function of arrays; no torch, no plugins. ``scipy.stats``
supplies the distributions and the rank and binomial machinery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _st

TIE_RTOL = 1e-6
"""Scores closer than this (relative) are tied. Records keep float32 metrics, so two
models with the same number of correct examples over their seeds can have means that
differ in the 8th digit (stock-direction: bi-gru's and elman's 2409 of 4344 correct gave
0.55455800 and 0.55455802);
float noise must not break a tie any more than a name may."""


def fractional_ranks(scores: Sequence[Sequence[float]], direction: str, rtol: float = TIE_RTOL) -> np.ndarray:
    """Rank 1 is best in each row (a task); tied models share the mean of their ranks,
    so no model wins a tie by its name, nor by float noise (scores within ``rtol`` of
    each other, chained, are tied). ``direction`` is ``"min"`` or ``"max"``."""
    a = np.asarray(scores, dtype=float)
    if direction not in ("min", "max"):
        raise ValueError(f"direction must be 'min' or 'max', not {direction!r}")
    a = np.array([_snap(row, rtol) for row in a]) if a.size else a
    return _st.rankdata(a if direction == "min" else -a, axis=1, method="average")


def _snap(row: np.ndarray, rtol: float) -> np.ndarray:
    """``row`` with each run of near-equal scores (in sorted order) set to its first."""
    out = row.copy()
    order = np.argsort(row, kind="stable")
    for prev, cur in zip(order, order[1:]):
        if math.isclose(row[prev], row[cur], rel_tol=rtol):
            out[cur] = out[prev]
    return out


@dataclass(frozen=True)
class Friedman:
    average_ranks: np.ndarray
    n_tasks: int
    chi2: float
    """Friedman's statistic, chi-squared with k-1 degrees of freedom."""
    f: float
    """The Iman–Davenport correction, F with (k-1, (k-1)(N-1)) degrees of freedom
    (Demšar recommends it: the chi-squared form is too conservative)."""
    p_value: float
    """Of ``f``."""


def friedman(ranks: np.ndarray) -> Friedman:
    """Friedman test over a tasks × models matrix of ranks (from ``fractional_ranks``)."""
    ranks = np.asarray(ranks, dtype=float)
    n, k = ranks.shape
    if n < 2 or k < 2:
        raise ValueError(f"the Friedman test needs at least 2 tasks and 2 models, got {n} × {k}")
    return friedman_from_average_ranks(ranks.mean(axis=0), n)


def friedman_from_average_ranks(average_ranks: Sequence[float], n_tasks: int) -> Friedman:
    r = np.asarray(average_ranks, dtype=float)
    k, n = len(r), n_tasks
    chi2 = 12 * n / (k * (k + 1)) * (float(np.sum(r**2)) - k * (k + 1) ** 2 / 4)
    denominator = n * (k - 1) - chi2
    f = math.inf if denominator <= 0 else (n - 1) * chi2 / denominator
    p = 0.0 if math.isinf(f) else float(_st.f.sf(f, k - 1, (k - 1) * (n - 1)))
    return Friedman(r, n, float(chi2), float(f), p)


def nemenyi_critical_difference(k: int, n_tasks: int, alpha: float = 0.05) -> float:
    """Two models whose average ranks differ by more than this differ significantly
    (Nemenyi): q_alpha * sqrt(k(k+1) / 6N), with q_alpha the studentized range quantile
    over sqrt(2)."""
    if k < 2:
        raise ValueError("a critical difference needs at least 2 models")
    q = _st.studentized_range.ppf(1 - alpha, k, math.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n_tasks)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: reject where <= alpha."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def expected_best(scores: Sequence[float], direction: str) -> list[float]:
    """Expected best validation score of n trials drawn from these, for n = 1..N
    (Dodge et al. 2019, "Show Your Work"): from the empirical CDF, in closed form."""
    v = np.sort(np.asarray(scores, dtype=float))
    if direction == "min":
        v = v[::-1]  # the best of n is then the largest index, as for "max"
    big_n = len(v)
    if big_n == 0:
        return []
    i = np.arange(1, big_n + 1)
    out = []
    for n in range(1, big_n + 1):
        weights = (i / big_n) ** n - ((i - 1) / big_n) ** n
        out.append(float(np.sum(weights * v)))
    return out


@dataclass(frozen=True)
class Test:
    statistic: float
    p_value: float


def pesaran_timmermann(predicted_up: Sequence[bool], actual_up: Sequence[bool]) -> Test:
    """Does a direction forecast beat chance given how often each side is predicted and
    happens? (Pesaran & Timmermann 1992.) One-sided: large statistic = better than chance.
    A forecast that never changes its call carries no information: statistic 0, p = 1."""
    x = np.asarray(predicted_up, dtype=float)
    y = np.asarray(actual_up, dtype=float)
    n = len(y)
    p_hat = float(np.mean(x == y))
    py, px = float(y.mean()), float(x.mean())
    p_star = py * px + (1 - py) * (1 - px)
    var_p = p_star * (1 - p_star) / n
    var_star = (
        (2 * py - 1) ** 2 * px * (1 - px) / n
        + (2 * px - 1) ** 2 * py * (1 - py) / n
        + 4 * py * px * (1 - py) * (1 - px) / n**2
    )
    if var_p - var_star <= 0:
        return Test(0.0, 1.0)
    s = (p_hat - p_star) / math.sqrt(var_p - var_star)
    return Test(float(s), float(_st.norm.sf(s)))


def diebold_mariano(loss_model: Sequence[float], loss_baseline: Sequence[float], horizon: int = 1) -> Test:
    """Is the model's forecast loss lower than the baseline's? (Diebold & Mariano 1995,
    with the Harvey–Leybourne–Newbold small-sample correction and a Newey–West variance
    over ``horizon - 1`` lags.) One-sided: negative statistic = the model's loss is lower."""
    d = np.asarray(loss_model, dtype=float) - np.asarray(loss_baseline, dtype=float)
    n = len(d)
    mean = float(d.mean())
    centred = d - mean
    gamma = [float(np.dot(centred[lag:], centred[: n - lag]) / n) for lag in range(horizon)]
    variance = (gamma[0] + 2 * sum(gamma[1:])) / n
    if variance <= 0:
        return Test(0.0, 1.0 if mean >= 0 else 0.0)
    dm = mean / math.sqrt(variance)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * correction
    return Test(float(statistic), float(_st.t.cdf(statistic, df=n - 1)))
