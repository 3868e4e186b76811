"""adding-50 / adding-200: the adding problem, a long-range diagnostic (many-to-one)."""

import pytest
import torch

from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins.adding import make_split


def test_two_markers_one_in_each_half_and_the_target_is_their_sum():
    x, y = make_split(50, 200, seed=0)
    assert x.shape == (200, 50, 2) and y.shape == (200,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :25].sum(1) == 1).all() and (markers[:, 25:].sum(1) == 1).all()
    assert torch.allclose((x[..., 0] * markers).sum(1), y)


def test_predicting_one_scores_the_textbook_baseline():
    task = load_registry().tasks["adding-50"]
    data = task.prepare(task.profiles["quick"], "")
    base = task.baselines(data)
    # Var(U1 + U2) = 2 * 1/12 = 1/6 for two independent U(0, 1) values
    assert base["predict-1.0"]["mse"] == pytest.approx(1 / 6, abs=0.01)
    y = data.test["test"].datasets["y"]
    assert base["predict-1.0"]["mse"] == pytest.approx(float(((y - 1.0) ** 2).mean()))


def test_long_range_tasks_expose_their_sequence_length():
    tasks = load_registry().tasks
    for name, length in (("adding-50", 50), ("adding-200", 200)):
        task = tasks[name]
        assert task.family == "long-range"
        data = task.prepare(task.profiles["smoke"], "")
        assert data.sequence_length == length
        assert data.train.datasets["x"].shape[1] == length


def test_smoke_fit_runs():
    record = fit_smoke("adding-200", "lstm")
    assert record["primary"]["value"] >= 0.0
    assert 0.0 <= record["metrics"]["solved"] <= 1.0
