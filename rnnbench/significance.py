"""Confidence intervals, tiers and baseline tests of one task's results (torch-free).

Every model's score is the mean over its seeds of the primary metric. Where the records
keep per-example test outcomes (``rnnbench.outcomes``), its uncertainty is estimated by a
two-way bootstrap that combines both sources of variation: each replicate draws the
model's seeds with replacement and, once, the test examples with replacement, and
recomputes each drawn seed's metric on those examples from their sufficient statistics.
Every seed is scored on the same test set, so one example draw serves all seeds of a
replicate: a draw per seed would treat the seeds as scored on independent test sets and
shrink the test-set noise by the number of seeds (a model whose seeds agree would look
√3 times surer with three seeds than with one). Where
examples are serially dependent (``Task.serially_dependent``: trading days, segments of
a text stream) it draws blocks of examples instead: arch's circular block bootstrap,
with the block length of Politis & White (2004, ``arch.bootstrap.optimal_block_length``).
Where the outcomes lay parallel series end to end (``Outcomes.series``: stock's indices,
each on the same days), it draws *time steps*, in blocks over the ``n / series`` steps
(the block length estimated on the mean over the series at each step), and takes every
series' example at each drawn step: series that move together are resampled together,
never as if they were independent samples.

All models and baselines of a task share each replicate's example draws, so the
difference of two models' replicates is a paired bootstrap over test examples (and an
unpaired one over seeds); sacreBLEU's paired bootstrap for BLEU is this with one seed.

- The interval is the 2.5 and 97.5 percentiles of the replicates.
- The top tier: every model whose difference from the top model is not significant
  (two-sided bootstrap p-value, Holm-corrected over the comparisons, α = 0.05).
- "beats" the best baseline: one-sided bootstrap p-value, Holm-corrected over the
  models, and where the outcomes allow it the test made for the metric: Pesaran–
  Timmermann for a binary (direction) call, Diebold–Mariano for a per-example loss.

Without outcomes (older records, a net that keeps none) the interval is a t-interval
over seeds, comparisons are Welch t-tests over seeds, and a single seed is not tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import stats as _st

from rnnbench import outcomes as _outcomes
from rnnbench import stats

ALPHA = 0.05
REPLICATES = 1000
SEED = 20061  # fixed: the same records give the same page, byte for byte


@dataclass
class Entry:
    """One model on one task: the primary metric of each seed, and each seed's outcomes
    (None for a seed without them)."""

    name: str
    values: list[float]
    outcomes: list[_outcomes.Outcomes | None] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))


@dataclass
class Result:
    name: str
    mean: float
    ci: tuple[float, float] | None
    ci_method: str
    """``bootstrap``, ``seeds`` (t-interval) or ``none``."""
    rank: float = 0.0
    top_tier: bool | None = None
    """None: not tested (one seed and no outcomes)."""
    p_vs_top: float | None = None
    """Holm-adjusted."""
    beats: bool | None = None
    p_vs_baseline: float | None = None
    """Holm-adjusted, one-sided."""
    metric_test: str | None = None
    """The test made for the metric against the best baseline, e.g. "Pesaran–Timmermann p = 0.41"."""


@dataclass
class TaskStats:
    results: dict[str, Result]
    method: str
    """In words, for the page: how the intervals and tests were made."""
    top: str | None
    best_baseline: str | None
    best_baseline_value: float | None
    baseline_method: str = ""
    tier_text: str = ""
    nothing_beats: bool = False
    """Tested, and no model is significantly better than the best baseline."""
    notes: list[str] = field(default_factory=list)
    baseline_untested: bool = False
    """There are baselines, but no model could be tested against them (one seed, or
    seeds without variation, and no per-example outcomes)."""


def _better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "min" else a > b


def _orient(x: np.ndarray, direction: str) -> np.ndarray:
    """Positive = better."""
    return -x if direction == "min" else x


def _p_two_sided(d: np.ndarray) -> float:
    b = len(d)
    below, above = (np.sum(d <= 0) + 1) / (b + 1), (np.sum(d >= 0) + 1) / (b + 1)
    return float(min(1.0, 2 * min(below, above)))


def _p_greater(d: np.ndarray) -> float:
    """One-sided: that ``d`` (oriented) is not above 0."""
    return float((np.sum(d <= 0) + 1) / (len(d) + 1))


class Bootstrap:
    """Replicates of each entry's seed-mean metric, all on shared example draws.

    ``series`` > 1: the ``n`` examples are that many parallel series of ``n / series``
    time steps laid end to end (``Outcomes.series``); time steps are drawn, each with
    every series' example, and ``block`` counts time steps."""

    def __init__(self, n: int, serial: bool, reference: np.ndarray, replicates: int, seed: int, series: int = 1):
        if isinstance(series, bool) or not isinstance(series, (int, np.integer)) or series < 1 or n % series:
            raise ValueError(f"{n} test examples cannot be drawn as {series!r} parallel series of equal length")
        self.n, self.serial, self.replicates, self.series = n, serial, replicates, int(series)
        self.steps = n // self.series
        if self.series > 1:
            # a time step's reference: the mean of its series
            reference = np.asarray(reference, dtype=float).reshape(self.series, self.steps).mean(0)
        self.rng = np.random.default_rng(seed)
        self.block = None
        if serial:
            from arch.bootstrap import optimal_block_length

            if self.steps >= 8 and float(np.std(reference)) > 0:
                # a series with a constant stretch has a zero autocovariance term, which
                # arch divides by; the estimate it returns is still usable
                with np.errstate(divide="ignore", invalid="ignore"):
                    block = float(optimal_block_length(reference)["circular"].iloc[0])
                if not math.isfinite(block):
                    block = 1.0
                self.block = int(min(max(1, math.ceil(block)), max(1, self.steps // 2)))
            else:
                self.block = 1
        self.weights = self._draw()

    def _draw(self) -> np.ndarray:
        """``[replicates, n]`` example counts, one draw of the test set per replicate
        (``_affordable`` bounds its size); with parallel series, a time step's count is
        every one of its series' examples' count."""
        r, n = self.replicates, self.steps
        w = np.zeros((r, n))
        if self.serial:
            from arch.bootstrap import CircularBlockBootstrap

            bs = CircularBlockBootstrap(self.block, np.arange(n), seed=self.rng)
            for i in range(r):
                w[i] = np.bincount(bs.update_indices(), minlength=n)
        else:
            idx = self.rng.integers(0, n, size=(r, n))
            for i in range(r):
                w[i] = np.bincount(idx[i], minlength=n)
        # row s * steps + t is series s at time step t
        return w if self.series == 1 else np.tile(w, (1, self.series))

    def replicate(self, stats_per_seed: Sequence[_outcomes.Statistic]) -> np.ndarray:
        """The seed-mean metric in each replicate: seeds drawn with replacement, every
        drawn seed scored on the replicate's example draw (shared by every entry)."""
        m = len(stats_per_seed)
        per_seed = np.stack([stat.resampled(self.weights) for stat in stats_per_seed], 1)  # [replicates, m]
        choice = self.rng.integers(0, m, size=(self.replicates, m)) if m > 1 else np.zeros((self.replicates, 1), int)
        return np.take_along_axis(per_seed, choice, 1).mean(1)


def analyse(
    entries: Sequence[Entry],
    direction: str,
    metric: str,
    baselines: dict[str, float] | None = None,
    replicates: int = REPLICATES,
    alpha: float = ALPHA,
    seed: int = SEED,
) -> TaskStats:
    """Intervals, ranks, the top tier and the baseline tests of one task's models."""
    baselines = {k: v for k, v in (baselines or {}).items() if v is not None and math.isfinite(v)}
    entries = [e for e in entries if e.values]
    notes: list[str] = []
    results = {e.name: Result(e.name, e.mean, None, "none") for e in entries}
    if not entries:
        return TaskStats(results, "", None, None, None)
    # fractional ranks: a tie is shared, never broken by name
    ranks = stats.fractional_ranks([[e.mean for e in entries]], direction)[0]
    for e, r in zip(entries, ranks):
        results[e.name].rank = float(r)

    # which entries can be bootstrapped: every seed with outcomes of one kind and size
    usable = {}
    for e in entries:
        outs = e.outcomes
        if outs and all(o is not None for o in outs) and len(outs) == len(e.values):
            usable[e.name] = outs
    sizes = {(o.kind, o.n) for outs in usable.values() for o in outs}
    if len(sizes) > 1:
        common = max(sizes, key=lambda k: sum(1 for outs in usable.values() for o in outs if (o.kind, o.n) == k))
        dropped = sorted(n for n, outs in usable.items() if any((o.kind, o.n) != common for o in outs))
        notes.append(f"outcomes of {', '.join(dropped)} cover other test examples: interval over seeds only")
        usable = {n: outs for n, outs in usable.items() if n not in dropped}
    missing = sorted(e.name for e in entries if e.name not in usable)
    if missing and usable:
        notes.append(f"no per-example outcomes for {', '.join(missing)}: interval over seeds only")

    reps: dict[str, np.ndarray] = {}
    base_reps: dict[str, np.ndarray] = {}
    boot = None
    any_outcomes = next(iter(usable.values()), None)
    if any_outcomes:
        first = any_outcomes[0]
        statistics = {n: [_outcomes.of(o, metric) for o in outs] for n, outs in usable.items()}
        ref = statistics[next(iter(statistics))][0].rows
        reference = ref[:, 0] / np.where(ref[:, -1] == 0, 1, ref[:, -1]) if ref.shape[1] == 2 else ref[:, 0]
        replicates = _affordable(replicates, first.n)
        boot = Bootstrap(first.n, first.serial, reference, replicates, seed, _series(usable.values()))
        for name, per_seed in statistics.items():
            reps[name] = boot.replicate(per_seed)
            lo, hi = np.percentile(reps[name], [2.5, 97.5])
            results[name].ci, results[name].ci_method = (float(lo), float(hi)), "bootstrap"
        for bname in sorted(first.baselines):
            if bname in baselines:
                base_reps[bname] = boot.replicate([_outcomes.of(first, metric, baseline=bname)])
    for e in entries:
        if e.name not in reps and len(e.values) > 1:
            m, sem = float(np.mean(e.values)), float(_st.sem(e.values))
            half = float(_st.t.ppf(0.975, len(e.values) - 1) * sem)
            results[e.name].ci, results[e.name].ci_method = (m - half, m + half), "seeds"

    if boot is None:
        method = "95 % t-interval over seeds (no per-example outcomes); tiers by Welch t-tests over seeds"
    else:
        if boot.series > 1:
            how = (
                f"circular block bootstrap of the {boot.steps} time steps of {boot.series} parallel series "
                f"(arch; block length {boot.block} steps, Politis–White), every series' example of a drawn "
                "step drawn with it"
                if boot.serial
                else f"bootstrap of the {boot.steps} time steps of {boot.series} parallel series, every series' "
                "example of a drawn step drawn with it"
            )
        else:
            how = (
                f"circular block bootstrap of test examples (arch; block length {boot.block}, Politis–White)"
                if boot.serial
                else "bootstrap of test examples"
            )
        method = (
            f"95 % two-way bootstrap ({replicates} replicates): seeds drawn with replacement and a {how}, "
            "one draw of the test set shared by the drawn seeds; model differences paired over test examples"
        )

    # --- the top tier ------------------------------------------------------------------
    # the reference of the tier: the best mean (which of two equal means is immaterial:
    # equal models test as not different)
    order = sorted(entries, key=lambda e: (not math.isfinite(e.mean), results[e.name].rank, e.name))
    top = order[0]
    results[top.name].top_tier = True
    tests: dict[str, float] = {}
    for e in order[1:]:
        p = _compare(e, top, reps, direction)
        if p is not None:
            tests[e.name] = p
    if tests:
        for name, p in zip(tests, stats.holm(list(tests.values()))):
            results[name].p_vs_top, results[name].top_tier = float(p), p > alpha
    tier = sorted((n for n, r in results.items() if r.top_tier), key=lambda n: results[n].rank)
    untested = sorted(n for n, r in results.items() if r.top_tier is None)
    if len(entries) > 1 and not tests:
        tier_text = "No model could be tested against the top one: the order below is not a ranking."
    elif len(tier) == 1:
        tier_text = f"{top.name} is significantly better than every other model tested (Holm-corrected α = {alpha})."
    else:
        tier_text = (
            f"{len(tier)} models are not significantly different from the top one ({', '.join(tier)}; "
            f"paired tests, Holm-corrected α = {alpha}): the table cannot order them."
        )
    if untested:
        tier_text += (
            f" Not tested (one seed or seeds without variation, no per-example outcomes): {', '.join(untested)}."
        )

    # --- baselines ---------------------------------------------------------------------
    best_name, best_value, baseline_method = None, None, ""
    nothing = False
    if baselines:
        best_name = sorted(baselines, key=lambda b: _sort_key(baselines[b], direction))[0]
        best_value = baselines[best_name]
        p_values: dict[str, float] = {}
        for e in entries:
            if e.name in reps and best_name in base_reps:
                p_values[e.name] = _p_greater(_orient(reps[e.name] - base_reps[best_name], direction))
            elif e.name in reps:
                p_values[e.name] = _p_greater(_orient(reps[e.name] - best_value, direction))
            elif len(e.values) > 1 and float(np.std(e.values)) > 0:
                # seeds that agree exactly say nothing of test-set noise: not testable
                diffs = _orient(np.asarray(e.values) - best_value, direction)
                p_values[e.name] = float(_st.ttest_1samp(diffs, 0.0, alternative="greater").pvalue)
        if p_values:
            for name, p in zip(p_values, stats.holm(list(p_values.values()))):
                results[name].p_vs_baseline = float(p)
                results[name].beats = p <= alpha
        for e in entries:
            if e.name in usable and best_name in usable[e.name][0].baselines:
                label, p = _metric_test(usable[e.name], best_name, direction, metric)
                if label:
                    results[e.name].metric_test = label
                    if p is not None and p > alpha and results[e.name].beats:
                        results[e.name].beats = False
        if best_name in base_reps:
            baseline_method = f"paired with {best_name} over the same bootstrap draws"
        elif reps:
            baseline_method = f"against {best_name}'s value (no per-example outcomes of the baseline)"
        else:
            baseline_method = f"one-sided t-test over seeds against {best_name}'s value"
        nothing = bool(p_values) and not any(r.beats for r in results.values())
    untested = bool(baselines) and not any(r.p_vs_baseline is not None for r in results.values())
    return TaskStats(
        results, method, top.name, best_name, best_value, baseline_method, tier_text, nothing, notes, untested
    )


def _series(per_entry) -> int:
    """The parallel series of a test set (``Outcomes.series``) from outcomes of its
    examples, all of one size: the layout is the test set's, so a file written before
    outcomes kept it (read as 1) takes the layout another file declares."""
    return max((o.series for outs in per_entry for o in outs), default=1)


def _affordable(replicates: int, n: int, cells: float = 2e7) -> int:
    """Fewer replicates (never under 200) where the example draws would not fit in memory."""
    return int(max(200, min(replicates, cells // max(1, n))))


def _sort_key(value: float, direction: str) -> float:
    return value if direction == "min" else -value


def _compare(e: Entry, top: Entry, reps: dict[str, np.ndarray], direction: str) -> float | None:
    if e.name in reps and top.name in reps:
        return _p_two_sided(reps[e.name] - reps[top.name])
    if len(e.values) > 1 and len(top.values) > 1:
        if np.std(e.values) == 0 and np.std(top.values) == 0:
            # no variation to test against: equal is equal, a difference is untestable
            return 1.0 if e.values[0] == top.values[0] else None
        return float(_st.ttest_ind(e.values, top.values, equal_var=False).pvalue)
    return None


def _binary(a: np.ndarray) -> bool:
    return bool(np.isin(a, (0.0, 1.0)).all())


def _metric_test(
    per_seed: list[_outcomes.Outcomes], baseline: str, direction: str, metric: str
) -> tuple[str | None, float | None]:
    """The test made for the metric, on the seeds' majority call or mean loss."""
    first = per_seed[0]
    cols = first.columns
    if first.kind != "mean":
        return None, None
    series = _series([per_seed])
    if direction == "max" and "pred" in cols and "target" in cols and _binary(cols["pred"]) and _binary(cols["target"]):
        call = np.mean([o.columns["pred"] for o in per_seed], 0) >= 0.5
        actual = cols["target"] > 0.5
        if series > 1:
            # Parallel series move together on a day, so pooling their rows would count a
            # day's calls as independent evidence; a test per series, corrected over them
            # (the smallest Holm-adjusted p is Bonferroni's), holds whatever their dependence.
            per_series = zip(*(x.reshape(series, -1) for x in (call, actual)))
            p = min(stats.holm([stats.pesaran_timmermann(c, a).p_value for c, a in per_series]))
            return f"Pesaran–Timmermann per series, Bonferroni over {series} (majority call over seeds) {_fmt_p(p)}", p
        test = stats.pesaran_timmermann(call, actual)
        return f"Pesaran–Timmermann (majority call over seeds) {_fmt_p(test.p_value)}", test.p_value
    if direction == "min":
        loss = np.mean([o.columns["value"] for o in per_seed], 0)
        base = np.asarray(first.baselines[baseline]["value"], dtype=float)
        if series > 1:
            # the loss of a time step: the mean over its parallel series, whose errors are
            # correlated (the test's variance would otherwise treat them as independent)
            loss, base = (x.reshape(series, -1).mean(0) for x in (loss, base))
        test = stats.diebold_mariano(loss, base)
        return f"Diebold–Mariano vs {baseline} (mean loss over seeds) {_fmt_p(test.p_value)}", test.p_value
    return None, None


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def paired_difference(
    a: Entry, b: Entry, direction: str, metric: str, replicates: int = REPLICATES, seed: int = SEED
) -> tuple[float, tuple[float, float] | None, float | None, str]:
    """``a`` minus ``b`` on the primary metric: the difference of the seed means, its 95 %
    interval and two-sided p-value (bootstrap paired over test examples where both have
    outcomes of the same test set, else Welch over seeds), and the method in words."""
    diff = a.mean - b.mean
    ok = all(o is not None for o in a.outcomes + b.outcomes) and a.outcomes and b.outcomes
    if ok and len({(o.kind, o.n) for o in a.outcomes + b.outcomes}) == 1:
        first = a.outcomes[0]
        stat_a = [_outcomes.of(o, metric) for o in a.outcomes]
        stat_b = [_outcomes.of(o, metric) for o in b.outcomes]
        ref = stat_a[0].rows
        reference = ref[:, 0] / np.where(ref[:, -1] == 0, 1, ref[:, -1]) if ref.shape[1] == 2 else ref[:, 0]
        series = _series([a.outcomes, b.outcomes])
        boot = Bootstrap(first.n, first.serial, reference, _affordable(replicates, first.n), seed, series)
        d = boot.replicate(stat_a) - boot.replicate(stat_b)
        lo, hi = np.percentile(d, [2.5, 97.5])
        how = "block bootstrap" if first.serial else "bootstrap"
        if series > 1:
            how += f" of time steps ({series} parallel series drawn together)"
        return diff, (float(lo), float(hi)), _p_two_sided(d), f"paired {how} over seeds and test examples"
    if len(a.values) > 1 and len(b.values) > 1:
        t = _st.ttest_ind(a.values, b.values, equal_var=False)
        ci = t.confidence_interval(0.95)
        return diff, (float(ci.low), float(ci.high)), float(t.pvalue), "Welch t-test over seeds"
    return diff, None, None, "not testable (one seed, no per-example outcomes)"
