"""bi-lstm / bi-gru: both directions see the whole (unpadded) sequence, so they are not
causal, and tasks that need causality list them as n/a with that reason."""

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


@pytest.mark.parametrize("name", MODELS)
def test_smoke_fit_on_adding(name):
    record = fit_smoke("adding-50", name)
    assert math.isfinite(record["primary"]["value"])
