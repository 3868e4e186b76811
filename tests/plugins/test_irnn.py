"""IRNN: the core contract, the paper's recurrence and its initialisation, kept through
the parameter-budget fit and the task net's build."""

import math

import pytest
import torch

from rnnbench import testing as checks
from rnnbench.budget import fit_profile
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins.irnn import INPUT_WEIGHT_STD

# the entry point is in pyproject.toml; named here too, the tests run before a reinstall
PLUGINS = ("rnnbench_plugins.irnn",)


def irnn():
    return load_registry(*PLUGINS).models["irnn"]


def test_meets_the_model_contract():
    checks.check_model("irnn", plugins=PLUGINS)


def test_declares_causal_and_stateful():
    assert irnn().provides >= {"causal", "stateful"}


def test_every_layer_starts_as_the_paper_says():
    core = checks.build_core(irnn(), num_layers=3, hidden=64)
    assert (core.rnn.mode, core.rnn.nonlinearity) == ("RNN_RELU", "relu")
    for layer in range(3):
        torch.testing.assert_close(getattr(core.rnn, f"weight_hh_l{layer}"), torch.eye(64), rtol=0, atol=0)
        assert not getattr(core.rnn, f"bias_ih_l{layer}").any()
        assert not getattr(core.rnn, f"bias_hh_l{layer}").any()
    inputs = core.rnn.weight_ih_l1  # 64 x 64: enough draws to tell the std from torch's default 1/8
    assert abs(inputs.mean().item()) < 3 * INPUT_WEIGHT_STD / 64
    assert inputs.std().item() == pytest.approx(INPUT_WEIGHT_STD, rel=0.05)


@torch.no_grad()
def test_is_a_relu_elman_step():
    """h_1 = relu(W_xh x_1 + W_hh h_0 + b), the weights perturbed off their start values so
    that each term counts."""
    core = checks.build_core(irnn(), num_layers=1, dropout=0.0)
    for p in core.parameters():
        p.add_(torch.randn_like(p) * 0.3)
    rnn = core.rnn
    x = checks.random_inputs(steps=1)
    h0 = torch.randn(1, checks.BATCH, checks.HIDDEN)
    pre = x[:, 0] @ rnn.weight_ih_l0.T + h0[0] @ rnn.weight_hh_l0.T + rnn.bias_ih_l0 + rnn.bias_hh_l0
    y, h = core(x, h0)
    assert (pre < 0).any()  # the ReLU has something to cut
    torch.testing.assert_close(y[:, 0], pre.relu())
    torch.testing.assert_close(h[0], pre.relu())


@torch.no_grad()
def test_without_input_the_state_carries_over_unchanged():
    """What the identity start is for: a zero input leaves a non-negative state as it was."""
    core = checks.build_core(irnn(), num_layers=1, dropout=0.0)
    h0 = torch.rand(1, checks.BATCH, checks.HIDDEN)
    y, h = core(torch.zeros(checks.BATCH, 30, checks.INPUT), h0)
    torch.testing.assert_close(h, h0, rtol=0, atol=0)
    torch.testing.assert_close(y, h0[0].unsqueeze(1).expand(-1, 30, -1), rtol=0, atol=0)


def test_identity_survives_the_budget_fit_and_the_task_net():
    """The width the parameter budget fits (the nets it counts are built on the meta
    device) and the adding task's net around the core leave W_hh the identity."""
    reg = load_registry(*PLUGINS)
    task = reg.tasks["adding-50"]
    quick = task.profiles["quick"]
    data = task.prepare(quick, None)
    profile = fit_profile(task, data, irnn(), quick, quick.param_budget)
    assert profile.hidden_size != quick.hidden_size  # the fit did choose a width
    net = task.build(data, irnn(), profile)
    rnn = net.core.rnn
    torch.testing.assert_close(rnn.weight_hh_l0, torch.eye(profile.hidden_size), rtol=0, atol=0)
    assert not rnn.bias_hh_l0.any() and not rnn.bias_ih_l0.any()


def test_smoke_fit_on_adding():
    record = fit_smoke("adding-50", "irnn", plugins=PLUGINS)
    assert math.isfinite(record["primary"]["value"])
    assert record["params"] > 0
