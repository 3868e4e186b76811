"""digits-vector: the one-to-one shape on sklearn's 8×8 digits."""

import pytest
import torch

from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins._labels import majority_label


@pytest.fixture(scope="module")
def task():
    return load_registry().tasks["digits-vector"]


@pytest.fixture(scope="module")
def data(task, tmp_path_factory):
    return task.prepare(task.profiles["smoke"], str(tmp_path_factory.mktemp("cache")))


def test_prepared_splits_are_disjoint_stratified_and_scaled(data):
    sizes = {s: len(d) for s, d in (("train", data.train), ("val", data.val), ("test", data.test["test"]))}
    assert sum(sizes.values()) == 1797
    assert sizes == {"train": 1078, "val": 360, "test": 359}
    pixels = {s: d.datasets["x"] for s, d in (("train", data.train), ("val", data.val), ("test", data.test["test"]))}
    assert pixels["train"].shape == (1078, 64)
    assert 0.0 <= float(pixels["train"].min()) and float(pixels["train"].max()) <= 1.0
    rows = {s: {tuple(r.tolist()) for r in p} for s, p in pixels.items()}
    # a few digit images occur twice in load_digits; distinct images never straddle splits
    assert len(rows["train"] & rows["test"]) <= 2 and len(rows["val"] & rows["test"]) <= 2
    for d in (data.train, data.val, data.test["test"]):
        counts = torch.bincount(d.datasets["y"], minlength=10)
        assert counts.min() >= 0.9 * counts.max()  # every digit about equally present


def test_majority_baseline_matches_hand_computation_and_torchmetrics(task, data):
    base = task.baselines(data)["majority-class"]
    majority = majority_label(data.info["train_labels"])
    test = data.info["test_labels"]
    assert base["accuracy"] == pytest.approx(float((test == majority).float().mean()))
    metrics = task.metrics(data)
    for metric in metrics.values():
        metric.update(torch.full_like(test, majority), test)
    assert base["accuracy"] == pytest.approx(float(metrics["accuracy"].compute()))
    assert base["macro_f1"] == pytest.approx(float(metrics["macro_f1"].compute()))


def test_net_feeds_the_core_one_time_step(task, data):
    reg = load_registry()
    net = task.build(data, reg.models["lstm"], task.profiles["smoke"])
    seen = []
    net.core.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape))
    batch = {"x": data.train.datasets["x"][:5], "y": data.train.datasets["y"][:5]}
    assert net(batch).shape == (5, 10)
    assert seen == [torch.Size([5, 1, 64])]


def test_smoke_fit_runs():
    record = fit_smoke("digits-vector", "lstm")
    assert 0.0 <= record["primary"]["value"] <= 1.0
    assert set(record["metrics"]) >= {"accuracy", "macro_f1"}
