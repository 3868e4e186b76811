"""LRU: the core contract, stability of the parameterisation, and the doubling scan
against the step-by-step recurrence it replaces."""

import math

import pytest
import torch

from rnnbench import testing as checks
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins._lru_layers import LRU, parallel_scan, sequential_scan


def test_declares_causal_and_stateful():
    assert load_registry().models["lru"].provides >= {"causal", "stateful"}


@pytest.mark.parametrize("steps", [1, 2, 37, 256, 300])
@pytest.mark.parametrize("with_x0", [False, True])
def test_parallel_scan_matches_the_recurrence(steps, with_x0):
    gen = torch.Generator().manual_seed(steps)
    radius = torch.rand(6, generator=gen) * 0.999
    lam = torch.polar(radius, torch.rand(6, generator=gen) * 2 * math.pi)
    b = torch.randn(2, steps, 6, 2, generator=gen)
    b = torch.complex(b[..., 0], b[..., 1])
    x0 = torch.complex(torch.randn(2, 6, generator=gen), torch.randn(2, 6, generator=gen)) if with_x0 else None
    torch.testing.assert_close(parallel_scan(lam, b, x0), sequential_scan(lam, b, x0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("with_x0", [False, True])
def test_parallel_scan_gradient_is_exact(with_x0):
    """The hand-written backward (the adjoint recurrence) against finite differences."""
    gen = torch.Generator().manual_seed(2)
    lam = torch.polar(
        torch.rand(3, generator=gen, dtype=torch.double) * 0.95, torch.rand(3, generator=gen, dtype=torch.double) * 6
    ).requires_grad_()
    b = torch.randn(2, 11, 3, generator=gen, dtype=torch.cdouble).requires_grad_()
    x0 = torch.randn(2, 3, generator=gen, dtype=torch.cdouble).requires_grad_() if with_x0 else None
    assert torch.autograd.gradcheck(parallel_scan, (lam, b, x0))


def test_parallel_core_equals_step_by_step_with_gradients():
    core = checks.build_core("lru", num_layers=2, dropout=0.0)
    checks.check_parallel_equals_step_by_step(core)


def test_eigenvalues_start_on_the_ring_and_stay_in_the_unit_disk():
    torch.manual_seed(0)
    lru = LRU(4, 500, r_min=0.9, r_max=0.999)
    radius = lru.lam().abs()
    assert radius.min() >= 0.9 - 1e-6 and radius.max() <= 0.999 + 1e-6
    # gamma normalises the input: gamma^2 = 1 - |lambda|^2, the stationary state variance
    torch.testing.assert_close(torch.exp(2 * lru.gamma_log), 1 - radius**2)
    with torch.no_grad():  # any parameter values, however far an optimiser pushes them
        lru.nu_log.uniform_(-12, 5)
        lru.theta_log.uniform_(-5, 5)
    assert (lru.lam().abs() < 1).all()
    with torch.no_grad():  # |lambda| = exp(-exp(nu_log)) rounds to 1 at most, never above
        lru.nu_log.fill_(-30.0)
    assert (lru.lam().abs() <= 1).all()


def test_parameter_count_counts_complex_weights_twice():
    """B and C are complex: both real and imaginary parts count as parameters."""
    lru = LRU(4, 6)
    assert sum(p.numel() for p in lru.parameters()) == 3 * 6 + 2 * (6 * 4 * 2) + 4


def test_smoke_fit_on_adding():
    record = fit_smoke("adding-50", "lru")
    assert math.isfinite(record["primary"]["value"])
