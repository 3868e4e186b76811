import pytest

from rnnbench import Model
from rnnbench.testing import (
    check_chunked_equals_whole,
    check_light_import,
    check_model,
    check_shapes,
    default_model,
    default_task,
    load_registry,
    plugin_module,
)


def test_the_kits_defaults_come_from_the_registry():
    reg = load_registry()
    # a model is checked on a task it can serve, the cheapest to fit
    for name, model in reg.models.items():
        assert not model.unsupported(reg.tasks[default_task(name)])
    smoke = {t.name: t.profiles["smoke"] for t in reg.tasks.values()}
    cost = {n: p.max_steps * p.batch_size * p.hidden_size for n, p in smoke.items()}
    assert cost[default_task("lstm")] == min(cost.values())
    # a task is checked with a model that can serve it: a language model gets a causal one
    assert "causal" in reg.models[default_model("lm-char")].provides


class LiesAboutCausality(Model):
    name = "liar"
    provides = frozenset({"causal", "stateful"})

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from torch import nn

        from rnnbench.nn import FusedCore

        return FusedCore(nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True))


def test_the_kit_catches_a_false_causality_declaration():
    with pytest.raises(AssertionError, match="liar.*declares itself causal, but changing inputs after step 5 changed"):
        check_model(LiesAboutCausality())


def test_the_kit_fails_a_plugin_that_imports_torch_at_import_time():
    with pytest.raises(AssertionError, match=r"fixtures.heavy_import imports torch at import time \(\d+\.\d s"):
        check_model("heavy-elman", plugins=("fixtures.heavy_import",))


def test_the_kit_passes_first_party_plugins_that_import_torch_lazily():
    for kind, name in (("model", "lstm"), ("task", "adding-50"), ("model", "tcn"), ("task", "translate-en-es")):
        check_light_import(plugin_module(kind, name))


def _core(forward, output_size=8):
    from torch import nn

    class Core(nn.Module):
        def __init__(self):
            super().__init__()
            self.output_size = output_size

        def forward(self, x, state=None, lengths=None):
            return forward(x, state)

    return Core()


def test_the_kits_shape_errors_say_what_was_expected_and_what_came_back():
    import torch

    time_major = _core(lambda x, s: (torch.zeros(x.size(1), x.size(0), 8), None))
    with pytest.raises(AssertionError) as caught:
        check_shapes(time_major)
    message = str(caught.value)
    assert "expected outputs of shape (4, 12, 8) = (batch, time, output_size)" in message
    assert "got a tensor of shape (12, 4, 8)" in message and "time-major" in message

    no_state = _core(lambda x, s: torch.zeros(x.size(0), x.size(1), 8))
    with pytest.raises(AssertionError, match=r"expected forward\(x\) to return \(outputs, state\); got a tensor"):
        check_shapes(no_state)

    wrong_width = _core(lambda x, s: (torch.zeros(x.size(0), x.size(1), 5), None))
    with pytest.raises(AssertionError, match="must equal output_size = 8"):
        check_shapes(wrong_width)

    from torch import nn

    with pytest.raises(AssertionError, match="expected the core to have an output_size attribute"):
        check_shapes(nn.Identity())


def test_the_kit_names_the_promise_a_stateful_core_breaks():
    import torch

    # forgets the state it is given: fine in one piece, wrong in pieces
    amnesiac = _core(lambda x, s: (torch.cumsum(x.sum(-1, keepdim=True).expand(-1, -1, 8), 1), x[:, -1].sum()))
    with pytest.raises(AssertionError, match="expected a sequence fed in pieces of 5, 1 and 6 steps.*outputs"):
        check_chunked_equals_whole(amnesiac)
