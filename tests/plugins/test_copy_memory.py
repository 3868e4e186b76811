"""copy-memory: the long-range recall diagnostic (many-to-many, aligned)."""

import math

import pytest
import torch

from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins.copy_memory import DELIMITER, make_split, memoryless_cross_entropy


@pytest.fixture(scope="module")
def task():
    return load_registry().tasks["copy-memory"]


@pytest.fixture(scope="module")
def data(task):
    return task.prepare(task.profiles["smoke"], "")


def test_sequences_follow_the_published_layout():
    delay = 7
    x, y = make_split(delay, 50, seed=0)
    assert x.shape == y.shape == (50, delay + 20)
    data = x[:, :10]
    assert int(data.min()) >= 1 and int(data.max()) <= 8
    assert (x[:, 10 + delay - 1] == DELIMITER).all()
    rest = torch.cat([x[:, 10 : 10 + delay - 1], x[:, 10 + delay :]], 1)
    assert (rest == 0).all()
    assert (y[:, :-10] == 0).all() and torch.equal(y[:, -10:], data)
    assert torch.equal(x, make_split(delay, 50, seed=0)[0])
    assert not torch.equal(x, make_split(delay, 50, seed=1)[0])


def test_memoryless_baseline_by_hand_and_through_the_task_metrics(task, data):
    delay = data.info["delay"]
    assert memoryless_cross_entropy(100) == pytest.approx(10 * math.log(8) / 120)  # 0.1733, Arjovsky et al.
    assert data.sequence_length == delay + 20
    assert task.family == "long-range"
    # the memoryless strategy as logits: certain blanks, then uniform over the 8 symbols
    y = data.test["test"].datasets["y"]
    logits = torch.full((len(y), delay + 20, 9), -1e4)
    logits[:, :-10, 0] = 0.0
    logits[:, -10:, 1:] = 0.0
    metrics = task.metrics(data)
    net = task.build(data, load_registry().models["lstm"], task.profiles["smoke"])
    net.update_fn(metrics, logits, {"y": y})
    base = task.baselines(data)["memoryless"]
    assert float(metrics["cross_entropy"].compute()) == pytest.approx(base["cross_entropy"], rel=1e-5)
    assert float(metrics["recall_cross_entropy"].compute()) == pytest.approx(math.log(8), rel=1e-5)
    assert base["recall_accuracy"] == pytest.approx(float((y[:, -10:] == 1).float().mean()))


def test_splits_share_no_sequence(data):
    train = {tuple(r.tolist()) for r in data.train.datasets["x"]}
    test = {tuple(r.tolist()) for r in data.test["test"].datasets["x"]}
    assert not train & test


def test_net_output_shape(task, data):
    net = task.build(data, load_registry().models["gru"], task.profiles["smoke"])
    batch = {"x": data.train.datasets["x"][:4], "y": data.train.datasets["y"][:4]}
    assert net(batch).shape == (4, data.sequence_length, 9)
    assert net.training_loss(batch).dim() == 0


def test_smoke_fit_runs():
    record = fit_smoke("copy-memory", "lstm")
    assert record["primary"]["value"] > 0
    assert 0.0 <= record["metrics"]["recall_accuracy"] <= 1.0
