"""minGRU / minLSTM: the core contract, and the log-space parallel scan against the
step-by-step recurrence it replaces."""

import math

import pytest
import torch

from rnnbench import testing as checks
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins._min_rnn_layers import g, log_g, log_space_scan, logcumsumexp, sequential_scan

MODELS = ["mingru", "minlstm"]


@pytest.mark.parametrize("name", MODELS)
def test_declares_causal_and_stateful(name):
    assert load_registry().models[name].provides >= {"causal", "stateful"}


@pytest.mark.parametrize("with_h0", [False, True])
def test_log_space_scan_matches_the_recurrence(with_h0):
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 300, 5, generator=gen) * 0.98 + 0.01  # gates in (0, 1)
    b = torch.rand(3, 300, 5, generator=gen) * 2 + 1e-3  # positive inputs
    h0 = torch.rand(3, 5, generator=gen) + 0.1 if with_h0 else None
    parallel = log_space_scan(a.log(), b.log(), h0)
    torch.testing.assert_close(parallel, sequential_scan(a, b, h0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("with_h0", [False, True])
def test_log_space_scan_gradient_is_exact(with_h0):
    """The hand-written backward (the adjoint recurrence) against finite differences."""
    gen = torch.Generator().manual_seed(1)
    log_a = (torch.rand(2, 9, 3, generator=gen, dtype=torch.double) * 0.9 + 0.05).log().requires_grad_()
    log_b = torch.randn(2, 9, 3, generator=gen, dtype=torch.double).requires_grad_()
    h0 = (torch.rand(2, 3, generator=gen, dtype=torch.double) + 0.1).requires_grad_() if with_h0 else None
    assert torch.autograd.gradcheck(log_space_scan, (log_a, log_b, h0))


def test_logcumsumexp_matches_torch_and_stays_finite():
    v = torch.randn(3, 77, 4) * 30
    v[:, 5] = 500.0  # a huge entry must neither overflow nor swamp what follows
    torch.testing.assert_close(logcumsumexp(v), torch.logcumsumexp(v, dim=1))


def test_g_is_positive_continuous_and_log_g_is_its_log():
    x = torch.tensor([-30.0, -2.0, -1e-4, 0.0, 1e-4, 3.0, 50.0])
    assert (g(x) > 0).all()
    torch.testing.assert_close(g(torch.tensor([-1e-6, 1e-6])), torch.tensor([0.5, 0.5]), atol=1e-5, rtol=0)
    torch.testing.assert_close(log_g(x), g(x).log())


@pytest.mark.parametrize("name", MODELS)
def test_parallel_core_equals_step_by_step_with_gradients(name):
    """The whole stacked core, trained in parallel form, computes the same outputs and
    the same parameter gradients as the sequential reference."""
    core = checks.build_core(name, num_layers=3, dropout=0.0)
    checks.check_parallel_equals_step_by_step(core)


def test_mingru_is_the_papers_recurrence():
    """One minGRU step by hand: z = sigmoid(W_z x), h = (1 - z) h0 + z g(W_h x)."""
    core = checks.build_core("mingru", num_layers=1, dropout=0.0)
    layer = core.layers[0]
    x = checks.random_inputs(steps=1)
    h0 = torch.rand(checks.BATCH, checks.HIDDEN)
    w, bias = layer.linear.weight, layer.linear.bias
    k = x[:, 0] @ w[: checks.HIDDEN].T + bias[: checks.HIDDEN]
    pre_h = x[:, 0] @ w[checks.HIDDEN :].T + bias[checks.HIDDEN :]
    z = torch.sigmoid(k)
    expected = (1 - z) * h0 + z * g(pre_h)
    with torch.no_grad():
        y, (h,) = core(x, (h0,))
    torch.testing.assert_close(y[:, 0], expected)
    torch.testing.assert_close(h, expected)


@pytest.mark.parametrize("name", MODELS)
def test_smoke_fit_on_adding(name):
    record = fit_smoke("adding-50", name)
    assert math.isfinite(record["primary"]["value"])
    assert record["params"] > 0
