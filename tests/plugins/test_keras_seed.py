"""keras-seed: the seed article's SimpleRNN(h) -> SimpleRNN(h/2), as a causal, stateful core."""

import math

import torch

from rnnbench import testing as checks
from rnnbench.testing import fit_smoke


def test_is_the_articles_two_tanh_elman_layers():
    core = checks.build_core("keras-seed", num_layers=5, hidden=128)
    assert [(layer.mode, layer.nonlinearity, layer.hidden_size, layer.num_layers) for layer in core.layers] == [
        ("RNN_TANH", "tanh", 128, 1),
        ("RNN_TANH", "tanh", 64, 1),
    ]  # the article's depth, whatever num_layers asks
    assert core.output_size == 64


@torch.no_grad()
def test_second_layer_reads_the_first_layers_sequence():
    """h2_t = tanh(W h1_t + U h2_{t-1} + b), with h1 the first layer's whole output sequence."""
    core = checks.build_core("keras-seed", dropout=0.0)
    x = checks.random_inputs()
    first, second = core.layers
    h1, _ = first(x)
    expected, _ = second(h1)
    y, _ = core(x)
    torch.testing.assert_close(y, expected)


def test_smoke_fit_on_adding():
    record = fit_smoke("adding-50", "keras-seed")
    assert math.isfinite(record["primary"]["value"])
