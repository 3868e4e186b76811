"""--param-budget: fit_width's search, and every model sized to a budget on two tasks."""

import pytest
import torch

from rnnbench.budget import fit_profile, fit_width, task_net_params
from rnnbench.data import default_cache_dir
from rnnbench.testing import load_registry

MODELS = sorted(load_registry().models)
BUDGETS = {"adding-50": (5_000, 200_000), "lm-char": (60_000, 1_000_000)}


def test_fit_width_finds_the_closest_width_within_tolerance():
    calls = []

    def lstm_like(width):  # an LSTM with 2 inputs and a linear head
        calls.append(width)
        return 4 * width * (width + 2 + 2) + width + 1

    width = fit_width(lstm_like, 67_713)
    assert width == 128
    assert len(calls) < 30  # logarithmic search, not a scan
    for budget in (1_000, 12_345, 10**6):
        w = fit_width(lstm_like, budget)
        assert abs(lstm_like(w) - budget) <= 0.10 * budget
        assert abs(lstm_like(w) - budget) <= min(abs(lstm_like(v) - budget) for v in (w - 1, w + 1) if v >= 2)


def test_fit_width_refuses_what_no_width_can_meet():
    with pytest.raises(ValueError, match=r"within ±10%") as err:
        fit_width(lambda w: 1000 * w, 2_500)  # 2,000 or 3,000: both 20 % off
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="within ±10%: even width 2 has 10,002"):
        fit_width(lambda w: 10_000 + w, 100)  # even the narrowest model is too big
    with pytest.raises(ValueError, match="positive"):
        fit_width(lambda w: w, 0)
    assert fit_width(lambda w: 1000 * w, 2_500, tolerance=0.25) in (2, 3)


@pytest.fixture(scope="module")
def prepared():
    reg = load_registry()
    return {name: reg.tasks[name].prepare(reg.tasks[name].profiles["smoke"], default_cache_dir()) for name in BUDGETS}


@pytest.mark.parametrize("task_name", sorted(BUDGETS))
@pytest.mark.parametrize("model_name", MODELS)
def test_every_model_fits_the_budget(prepared, task_name, model_name):
    reg = load_registry()
    task, model = reg.tasks[task_name], reg.models[model_name]
    if model.unsupported(task):
        pytest.skip(model.unsupported(task))
    for budget in BUDGETS[task_name]:
        profile = fit_profile(task, prepared[task_name], model, task.profiles["smoke"], budget)
        count = task_net_params(task, prepared[task_name], model, profile)
        assert abs(count - budget) <= 0.10 * budget, (profile.hidden_size, count)


def test_sizing_does_not_disturb_the_random_state(prepared):
    reg = load_registry()
    task = reg.tasks["adding-50"]
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    fit_profile(task, prepared["adding-50"], reg.models["lstm"], task.profiles["smoke"], 50_000)
    torch.testing.assert_close(torch.rand(3), expected)


def test_an_impossible_budget_names_the_cell(prepared):
    reg = load_registry()
    task = reg.tasks["lm-char"]
    with pytest.raises(ValueError, match=r"--param-budget 100: lstm on lm-char: no width"):
        fit_profile(task, prepared["lm-char"], reg.models["lstm"], task.profiles["smoke"], 100)


def test_a_build_that_needs_real_tensors_is_counted_on_the_cpu():
    from fixtures._unrunnable import UnrunnableTask

    from rnnbench import Profile

    class NeedsRealTensors(UnrunnableTask):
        name = "needs-real-tensors"

        def build(self, data, model, profile):
            outputs = int(torch.ones(1).sum().item())  # .item() fails on the meta device
            return torch.nn.Linear(profile.hidden_size, outputs)

    task, model = NeedsRealTensors(), load_registry().models["lstm"]
    assert task_net_params(task, None, model, Profile(max_steps=1, batch_size=1, hidden_size=9)) == 10
    assert fit_profile(task, None, model, Profile(max_steps=1, batch_size=1), 1_000).hidden_size == 999
