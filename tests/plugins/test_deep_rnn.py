"""residual-lstm and layernorm-lstm: the core contract, the depth, and what each adds."""

import math

import pytest
import torch

from rnnbench import testing as checks
from rnnbench.testing import fit_smoke

MODELS = ["residual-lstm", "layernorm-lstm"]


@pytest.mark.parametrize("name", MODELS)
def test_core_contract_at_depth_three(name):
    core = checks.build_core(name, num_layers=3)
    checks.check_shapes(core)
    assert not checks.future_changes_past(core)
    checks.check_chunked_equals_whole(core)
    checks.check_padding_invariance(core)


@pytest.mark.parametrize("name", MODELS)
def test_depth_is_at_least_two(name):
    assert len(checks.build_core(name, num_layers=1).layers) == 2
    assert len(checks.build_core(name, num_layers=4).layers) == 4


@torch.no_grad()
def test_residual_adds_each_layers_input():
    """A second layer whose output is zero (zero output weights) passes the first
    layer's output through unchanged."""
    core = checks.build_core("residual-lstm", num_layers=2, dropout=0.0)
    x = checks.random_inputs()
    first_only, _ = core.layers[0](x)
    for name, param in core.layers[1].named_parameters():
        if name.startswith("bias"):
            # an output gate of sigmoid(-inf) = 0 zeroes h; the LSTM's gate order is i, f, g, o
            param.zero_()
            param[3 * checks.HIDDEN :] = -1e4
        else:
            param.zero_()
    y, _ = core(x)
    torch.testing.assert_close(y, first_only)


@torch.no_grad()
def test_layernorm_normalises_what_the_next_layer_reads():
    """The second layer reads the first layer's output normalised at every step."""
    core = checks.build_core("layernorm-lstm", num_layers=2, dropout=0.0)
    x = checks.random_inputs() * 10
    h1, _ = core.layers[0](x)
    normalised = torch.nn.functional.layer_norm(h1, (checks.HIDDEN,))  # the fresh norm's unit affine
    torch.testing.assert_close(normalised.mean(-1), torch.zeros(h1.shape[:2]), atol=1e-5, rtol=0)
    expected, _ = core.layers[1](normalised)
    y, _ = core(x)
    torch.testing.assert_close(y, expected)


@pytest.mark.parametrize("name", MODELS)
def test_smoke_fit_on_adding(name):
    record = fit_smoke("adding-50", name)
    assert math.isfinite(record["primary"]["value"])
