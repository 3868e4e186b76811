"""Synthetic result sets whose right answer is known: the intervals, tiers and baseline
tests of rnnbench.significance must find it."""

import numpy as np
import pytest

from rnnbench import stats
from rnnbench.outcomes import Outcomes
from rnnbench.significance import Entry, _metric_test, analyse, paired_difference


def correct(p, n=400, seed=0, baseline=None):
    rng = np.random.default_rng(seed)
    value = (rng.random(n) < p).astype(float)
    base = {} if baseline is None else {"majority": {"value": baseline}}
    return Outcomes("mean", {"value": value}, baselines=base)


def entry(name, outs):
    return Entry(name, [float(o.columns["value"].mean()) for o in outs], list(outs))


def test_two_identical_models_land_in_one_tier_and_share_their_rank():
    outs = [correct(0.7, seed=s) for s in range(3)]
    a, b = entry("a", outs), entry("b", [Outcomes(o.kind, dict(o.columns)) for o in outs])
    res = analyse([a, b], "max", "accuracy", replicates=300)
    assert res.results["a"].top_tier and res.results["b"].top_tier
    assert res.results["a"].rank == res.results["b"].rank == 1.5
    assert res.results["b"].p_vs_top > 0.5
    assert "2 models are not significantly different" in res.tier_text


def test_a_model_better_by_a_large_margin_on_every_example_is_significant():
    rng = np.random.default_rng(3)
    good = [Outcomes("mean", {"value": np.ones(300)}) for _ in range(3)]
    poor = [Outcomes("mean", {"value": (rng.random(300) < 0.5).astype(float)}) for _ in range(3)]
    res = analyse([entry("poor", poor), entry("good", good)], "max", "accuracy", replicates=300)
    assert res.top == "good" and res.results["poor"].top_tier is False
    assert res.results["poor"].p_vs_top < 0.01
    assert res.results["good"].ci[0] == res.results["good"].ci[1] == 1.0
    lo, hi = res.results["poor"].ci
    assert lo < 0.5 < hi and hi - lo < 0.2


def test_the_interval_covers_test_set_noise_even_with_one_seed():
    res = analyse([entry("m", [correct(0.6, n=200)])], "max", "accuracy", replicates=500)
    lo, hi = res.results["m"].ci
    # binomial standard error sqrt(.24/200) = 0.035: a 95 % interval about ±0.07
    assert 0.1 < hi - lo < 0.18 and res.results["m"].ci_method == "bootstrap"


def test_seeds_that_agree_do_not_shrink_the_test_set_noise():
    """Every seed is scored on the same test set: three seeds with the same per-example
    outcomes are no surer of the score than one (a draw of examples per seed would make
    the interval about sqrt(3) times narrower)."""
    one = correct(0.6, n=200)
    single = analyse([entry("m", [one])], "max", "accuracy", replicates=2000).results["m"].ci
    three = analyse([entry("m", [one] * 3)], "max", "accuracy", replicates=2000).results["m"].ci
    assert three[1] - three[0] == pytest.approx(single[1] - single[0], rel=0.15)
    assert 0.1 < three[1] - three[0] < 0.18


def test_a_constant_predictor_near_the_baseline_does_not_beat_it_and_the_page_says_so():
    rng = np.random.default_rng(5)
    target = (rng.random(700) < 0.55).astype(float)
    majority = (target == 1).astype(float)
    outs = [
        Outcomes(
            "mean",
            {"value": majority.copy(), "pred": np.ones(700), "target": target},
            serial=True,
            baselines={"majority": {"value": majority, "pred": np.ones(700), "target": target}},
        )
        for _ in range(3)
    ]
    res = analyse([entry("m", outs)], "max", "accuracy", {"majority": float(majority.mean())}, replicates=300)
    assert res.results["m"].beats is False and res.nothing_beats
    assert "Pesaran–Timmermann" in res.results["m"].metric_test
    assert "block" in res.method


def test_parallel_series_are_direction_tested_one_by_one_so_a_copied_series_adds_no_evidence():
    """Stock's indices rise and fall together: the same calls on a copy of a series must
    not make Pesaran–Timmermann surer, as pooling their rows would."""
    rng = np.random.default_rng(3)
    target = (rng.random(300) < 0.5).astype(float)
    pred = np.where(rng.random(300) < 0.56, target, 1 - target)  # a weak signal

    def p_value(series):
        columns = {"value": (pred == target).astype(float), "pred": pred, "target": target}
        outs = [Outcomes("mean", {k: np.tile(v, series) for k, v in columns.items()}, serial=True, series=series)]
        return _metric_test(outs, "majority", "max", "accuracy")

    p_one = p_value(1)[1]
    two, p_two = p_value(2)
    pooled = stats.pesaran_timmermann(np.tile(pred, 2) > 0.5, np.tile(target, 2) > 0.5).p_value
    assert pooled < p_one / 2  # what treating the copy as new days would claim
    assert p_two == pytest.approx(min(1.0, 2 * p_one)) and "per series, Bonferroni over 2" in two


def test_a_model_far_better_than_its_baseline_beats_it():
    base = np.zeros(400)
    outs = [correct(0.9, seed=s, baseline=base) for s in range(2)]
    res = analyse([entry("m", outs)], "max", "accuracy", {"majority": 0.0}, replicates=300)
    assert res.results["m"].beats and not res.nothing_beats and res.results["m"].p_vs_baseline < 0.01


def test_errors_are_tested_against_the_baseline_with_diebold_mariano():
    rng = np.random.default_rng(1)
    base_loss = np.abs(rng.normal(size=500))
    outs = [Outcomes("mean", {"value": base_loss * 0.5}, baselines={"zero": {"value": base_loss}}) for _ in range(2)]
    res = analyse([entry("m", outs)], "min", "mae", {"zero": float(base_loss.mean())}, replicates=300)
    assert res.results["m"].beats and "Diebold–Mariano" in res.results["m"].metric_test
    # a p-value below what is shown reads "p < 0.001", not "p = < 0.001"
    assert res.results["m"].metric_test.endswith("p < 0.001")


def test_records_without_outcomes_get_an_interval_over_seeds_and_one_seed_is_not_tested():
    a = Entry("a", [0.8, 0.82, 0.81])
    b = Entry("b", [0.5])
    res = analyse([a, b], "max", "accuracy")
    assert res.results["a"].ci_method == "seeds" and res.results["a"].ci[0] < 0.81 < res.results["a"].ci[1]
    assert res.results["b"].ci is None and res.results["b"].top_tier is None
    assert "Not tested" in res.tier_text and "t-interval" in res.method


def test_tied_means_get_fractional_ranks_not_alphabetical_ones():
    res = analyse([Entry("z", [0.5]), Entry("a", [0.5]), Entry("m", [0.9])], "max", "accuracy")
    assert [res.results[n].rank for n in ("m", "a", "z")] == [1.0, 2.5, 2.5]


def test_compare_gives_the_difference_with_an_interval_and_a_p_value():
    good = entry("good", [correct(0.8, seed=s) for s in range(3)])
    poor = entry("poor", [correct(0.6, seed=s + 10) for s in range(3)])
    diff, ci, p, how = paired_difference(good, poor, "max", "accuracy", replicates=300)
    assert diff == pytest.approx(good.mean - poor.mean) and ci[0] < diff < ci[1] and ci[0] > 0 and p < 0.01
    assert "paired" in how


def test_seeds_without_variation_and_without_outcomes_prove_nothing():
    """The stock-direction case: a constant call scores the same on every seed. Without
    per-example outcomes that is no evidence of beating the baseline or another model."""
    res = analyse(
        [Entry("constant", [0.5546] * 3), Entry("other", [0.5543, 0.5547, 0.5539])],
        "max",
        "accuracy",
        {"majority-class": 0.5540},
    )
    assert res.results["constant"].beats is None and res.results["constant"].p_vs_baseline is None
    assert not res.nothing_beats or res.results["other"].p_vs_baseline is not None
    only_constant = analyse([Entry("constant", [0.5546] * 3)], "max", "accuracy", {"majority-class": 0.554})
    assert only_constant.baseline_untested and not only_constant.nothing_beats


@pytest.mark.parametrize("serial", [True, False])
def test_parallel_series_that_move_together_are_drawn_day_by_day_together(serial):
    """Two series laid end to end (stock's indices) whose outcomes agree on every day
    carry one day's information per day: the interval must be that of resampling the
    days, not the sqrt(2) narrower one of resampling the rows as if independent."""
    rng = np.random.default_rng(11)
    days = (rng.random(400) < 0.55).astype(float)

    def width(value, series):
        outs = [Outcomes("mean", {"value": value}, serial=serial, series=series)]
        res = analyse([entry("m", outs)], "max", "accuracy", replicates=2000)
        lo, hi = res.results["m"].ci
        return hi - lo, res

    by_day, _ = width(days, 1)
    together, res = width(np.concatenate([days, days]), 2)
    by_row, _ = width(np.concatenate([days, days]), 1)
    # the same draws of days: the same interval, exactly
    assert together == pytest.approx(by_day, abs=1e-12)
    assert by_row < 0.8 * together  # what a draw of rows gives: about 1/sqrt(2)
    assert "400 time steps of 2 parallel series" in res.method


def test_a_paired_difference_draws_the_time_steps_of_parallel_series():
    rng = np.random.default_rng(12)
    a_days, b_days = (rng.random(300) < 0.6).astype(float), (rng.random(300) < 0.5).astype(float)

    def width(a, b, series):
        ea = entry("a", [Outcomes("mean", {"value": a}, serial=True, series=series)])
        eb = entry("b", [Outcomes("mean", {"value": b}, serial=True, series=series)])
        _, ci, _, how = paired_difference(ea, eb, "max", "accuracy", replicates=1000)
        return ci[1] - ci[0], how

    by_day, _ = width(a_days, b_days, 1)
    together, how = width(np.tile(a_days, 2), np.tile(b_days, 2), 2)
    assert together == pytest.approx(by_day, abs=1e-12) and "2 parallel series" in how
    # an outcomes file of an older layout (series 1) of the same test set takes the declared one
    old = entry("b", [Outcomes("mean", {"value": np.tile(b_days, 2)}, serial=True)])
    new = entry("a", [Outcomes("mean", {"value": np.tile(a_days, 2)}, serial=True, series=2)])
    assert paired_difference(new, old, "max", "accuracy", replicates=1000)[1] == pytest.approx(
        paired_difference(
            entry("a", [Outcomes("mean", {"value": a_days}, serial=True)]),
            entry("b", [Outcomes("mean", {"value": b_days}, serial=True)]),
            "max",
            "accuracy",
            replicates=1000,
        )[1],
        abs=1e-12,
    )


def test_outcomes_that_cannot_be_equal_series_are_refused():
    from rnnbench.outcomes import OutcomesError
    from rnnbench.significance import Bootstrap

    with pytest.raises(OutcomesError, match="7 outcomes cannot be 2 parallel series of equal length"):
        Outcomes("mean", {"value": np.ones(7)}, series=2)
    with pytest.raises(ValueError, match="7 test examples cannot be drawn as 2 parallel series"):
        Bootstrap(7, True, np.ones(7), 10, 0, series=2)
