"""tcn: causal, no state, the receptive field it states, and an LSTM-sized parameter count."""

import math

import pytest
import torch

from rnnbench import testing as checks
from rnnbench.testing import fit_smoke, load_registry


def test_output_is_half_the_width():
    assert checks.build_core("tcn").output_size == checks.HIDDEN // 2


def test_carries_no_state():
    reg = load_registry()
    model = reg.models["tcn"]
    assert "causal" in model.provides and "stateful" not in model.provides
    reason = model.unsupported(reg.tasks["lm-char"])
    assert reason and "stateful" in reason and "lm-char" in reason
    assert model.unsupported(reg.tasks["adding-200"]) is None
    core = checks.build_core("tcn")
    _, state = core(checks.random_inputs())
    assert state is None
    with pytest.raises(ValueError, match="no state"):
        core(checks.random_inputs(), torch.zeros(1))


def test_receptive_field_is_256_steps():
    """The last output depends on the input 255 steps back and on nothing further."""
    core = checks.build_core("tcn", dropout=0.0)
    assert core.receptive_field == 256
    x = torch.randn(16, 300, checks.INPUT, requires_grad=True)
    y, _ = core(x)
    y[:, -1].sum().backward()
    reach = x.grad.abs().sum(dim=(0, 2))  # how much each step back influences the last output
    assert reach[-256] > 0
    assert (reach[:-256] == 0).all()


@pytest.mark.parametrize("hidden", [128, 256])
def test_parameter_count_is_an_lstms_at_the_same_hidden_size(hidden):
    reg = load_registry()
    task = reg.tasks["adding-50"]
    prof = task.profiles["smoke"].replace(hidden_size=hidden)
    data = task.prepare(prof, "")
    counts = {
        name: sum(p.numel() for p in task.build(data, reg.models[name], prof).parameters()) for name in ("tcn", "lstm")
    }
    assert abs(counts["tcn"] / counts["lstm"] - 1) < 0.05, counts


def test_smoke_fit_on_adding():
    record = fit_smoke("adding-50", "tcn")
    assert math.isfinite(record["primary"]["value"])
