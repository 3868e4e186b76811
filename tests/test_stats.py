"""rnnbench.stats against published worked examples and cases whose answer is known."""

import numpy as np
import pytest

from rnnbench import stats

# Demšar (2006), Table 6: AUC of C4.5, C4.5+m, C4.5+cf, C4.5+m+cf on 14 UCI data sets
DEMSAR_AUC = [
    [0.763, 0.768, 0.771, 0.798],
    [0.599, 0.591, 0.590, 0.569],
    [0.954, 0.971, 0.968, 0.967],
    [0.628, 0.661, 0.654, 0.657],
    [0.882, 0.888, 0.886, 0.898],
    [0.936, 0.931, 0.916, 0.931],
    [0.661, 0.668, 0.609, 0.685],
    [0.583, 0.583, 0.563, 0.625],
    [0.775, 0.838, 0.866, 0.875],
    [1.000, 1.000, 1.000, 1.000],
    [0.940, 0.962, 0.965, 0.962],
    [0.619, 0.666, 0.614, 0.669],
    [0.972, 0.981, 0.975, 0.975],
    [0.957, 0.978, 0.946, 0.970],
]


def test_demsar_worked_example():
    ranks = stats.fractional_ranks(DEMSAR_AUC, "max")
    assert ranks[9].tolist() == [2.5, 2.5, 2.5, 2.5]  # mushroom: a four-way tie
    avg = ranks.mean(axis=0)
    assert avg[0] == pytest.approx(3.143, abs=1e-3) and avg[1] == pytest.approx(2.000, abs=1e-3)
    # the paper's statistics, from its printed average ranks
    f = stats.friedman_from_average_ranks([3.143, 2.000, 2.893, 1.964], 14)
    assert f.chi2 == pytest.approx(9.28, abs=0.01) and f.f == pytest.approx(3.69, abs=0.01)
    assert f.p_value < 0.05  # F(3, 39) critical value 2.85
    assert stats.nemenyi_critical_difference(4, 14, 0.05) == pytest.approx(1.25, abs=5e-3)
    assert stats.nemenyi_critical_difference(4, 14, 0.10) == pytest.approx(1.12, abs=5e-3)
    # "even the difference between the best and the worst is smaller than CD" at 0.05
    assert avg.max() - avg.min() < stats.nemenyi_critical_difference(4, 14, 0.05)


def test_ties_get_equal_fractional_ranks_never_alphabetical_ones():
    assert stats.fractional_ranks([[0.04527, 0.04527, 0.1]], "min").tolist() == [[1.5, 1.5, 3.0]]
    assert stats.fractional_ranks([[1, 3, 2]], "max").tolist() == [[3.0, 1.0, 2.0]]


def test_identical_models_are_not_different_and_a_dominant_one_is():
    same = stats.friedman(stats.fractional_ranks([[1, 1, 1]] * 10, "max"))
    assert same.chi2 == pytest.approx(0) and same.p_value == pytest.approx(1)
    ranks = stats.fractional_ranks([[3, 2, 1]] * 20, "max")
    f = stats.friedman(ranks)
    assert f.p_value < 1e-6
    cd = stats.nemenyi_critical_difference(3, 20)
    assert f.average_ranks[2] - f.average_ranks[0] > cd


def test_holm_step_down():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_expected_best_of_n_trials():
    curve = stats.expected_best([1.0, 2.0, 3.0], "max")
    assert curve == pytest.approx([2.0, (1 + 2 * 3 + 3 * 5) / 9, 72 / 27])
    # the best of three draws when lower is better: 3·1/27 + 2·7/27 + 1·19/27
    assert stats.expected_best([1.0, 2.0, 3.0], "min")[-1] == pytest.approx((3 + 14 + 19) / 27)
    low = stats.expected_best([3.0, 1.0, 2.0], "min")
    assert low[0] == pytest.approx(2.0) and low == sorted(low, reverse=True)


def test_a_constant_direction_forecast_is_no_better_than_chance():
    rng = np.random.default_rng(0)
    actual = rng.random(1000) < 0.55
    constant = stats.pesaran_timmermann(np.ones(1000, bool), actual)
    assert constant.statistic == 0 and constant.p_value == 1
    perfect = stats.pesaran_timmermann(actual, actual)
    assert perfect.p_value < 1e-10
    noise = stats.pesaran_timmermann(rng.random(1000) < 0.5, actual)
    assert noise.p_value > 0.01


def test_diebold_mariano():
    rng = np.random.default_rng(1)
    baseline = np.abs(rng.normal(size=500))
    assert stats.diebold_mariano(baseline, baseline).p_value == 1.0
    better = stats.diebold_mariano(baseline * 0.5, baseline)
    assert better.statistic < 0 and better.p_value < 1e-6
    worse = stats.diebold_mariano(baseline * 1.5, baseline, horizon=3)
    assert worse.p_value > 0.99


def test_scores_that_differ_only_in_float_noise_are_tied():
    # 2409/4344 as the mean of three float32 accuracies, summed in two orders
    assert stats.fractional_ranks([[0.554557998975118, 0.5545580188433329, 0.6]], "max").tolist() == [[2.5, 2.5, 1.0]]
    # but a difference a test set can show is not
    assert stats.fractional_ranks([[0.5546, 0.5548]], "max").tolist() == [[2.0, 1.0]]
