"""bi-lstm / bi-gru: both directions see the whole (unpadded) sequence, so they are not
causal, and tasks that need causality list them as n/a with that reason; a seq2seq task
gets them as its encoder, with a one-directional decoder of the same cell."""

import math

import pytest

from rnnbench import testing as checks
from rnnbench.testing import fit_smoke, load_registry

MODELS = ["bi-lstm", "bi-gru"]


@pytest.mark.parametrize("name", MODELS)
def test_core_contract(name):
    core = checks.build_core(name)
    checks.check_shapes(core)
    assert core.output_size == 2 * checks.HIDDEN
    assert checks.future_changes_past(core)  # the backward direction reads the future
    checks.check_padding_invariance(core, stateful=False)


@pytest.mark.parametrize("name", MODELS)
def test_declared_not_causal_and_na_for_language_modeling(name):
    reg = load_registry()
    model = reg.models[name]
    assert "causal" not in model.provides
    reason = model.unsupported(reg.tasks["lm-char"])
    assert reason and "not causal" in reason and "lm-char" in reason
    assert model.unsupported(reg.tasks["adding-50"]) is None
    assert model.unsupported(reg.tasks["translate-en-es"]) is None  # the encoder of a seq2seq task


@pytest.mark.parametrize("name", MODELS)
def test_the_decoder_is_causal_and_starts_from_both_directions(name):
    import torch

    model = load_registry().models[name]
    assert "decoder" in model.provides
    encoder = model.build_core(checks.INPUT, checks.HIDDEN, 2, 0.0)
    decoder, bridge = model.build_decoder(checks.INPUT, checks.HIDDEN, 2, 0.0)
    checks.check_shapes(decoder)
    assert decoder.output_size == checks.HIDDEN and not checks.future_changes_past(decoder)
    x = torch.randn(checks.BATCH, checks.STEPS, checks.INPUT)
    _, state = encoder(x)
    initial = bridge(state)
    _, expected = decoder(x)  # the decoder's own state has the layout the bridge must give
    parts, expected_parts = (initial, expected) if name == "bi-lstm" else ((initial,), (expected,))
    for part, want, join, final in zip(parts, expected_parts, bridge.joins, state if name == "bi-lstm" else (state,)):
        assert part.shape == want.shape
        # layer 1: tanh(W [its forward state; its backward state]), as bentrevett's tutorial 3 bridges them
        assert torch.allclose(part[1], torch.tanh(join(torch.cat([final[2], final[3]], -1))))
    decoder(x, initial)  # and it is accepted as one
    checks.check_decoder(model)


@pytest.mark.parametrize("name", MODELS)
def test_smoke_fit_on_adding(name):
    record = fit_smoke("adding-50", name)
    assert math.isfinite(record["primary"]["value"])
