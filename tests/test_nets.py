"""The TaskNet contract: required hooks are abstract, optional ones have plain defaults."""

import pytest
import torch
from torch import nn

from rnnbench.nets import AlignedManyToMany, ManyToOne, TaskNet


class OnlyLoss(TaskNet):
    def training_loss(self, batch):
        return torch.zeros(())


class Minimal(OnlyLoss):
    def evaluate(self, batch, metrics):
        return torch.zeros(())


def test_a_net_without_evaluate_cannot_be_built():
    with pytest.raises(TypeError, match="evaluate"):
        OnlyLoss()


def test_optional_hooks_default_to_batch_size_no_samples_and_no_state():
    net = Minimal()
    batch = {"lengths": [3, 2], "x": torch.zeros(5, 7), "y": torch.zeros(5, 7)}
    assert net.count(batch) == 5 and net.samples() == {}
    assert net.reset_state("train") is None


def test_a_shape_net_takes_samples_and_count_from_its_task():
    def loss(out, batch):
        return out.sum()

    def shape_net(**hooks):
        return AlignedManyToMany(nn.Identity(), nn.Identity(), nn.Identity(), loss, None, **hooks)

    batch = {"x": torch.zeros(2, 3), "y": torch.zeros(2, 3)}
    assert shape_net().count(batch) == 6  # a label per step by default
    custom = shape_net(count=lambda batch: batch["x"].size(0), samples=lambda net: {"net": type(net).__name__})
    assert custom.count(batch) == 2 and custom.samples() == {"net": "AlignedManyToMany"}
    assert ManyToOne(nn.Identity(), nn.Identity(), nn.Identity(), loss, None).count(batch) == 2
