import pytest

from rnnbench import Model
from rnnbench.testing import (
    check_light_import,
    check_model,
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
    with pytest.raises(AssertionError, match="declares causal=True"):
        check_model(LiesAboutCausality())


def test_the_kit_fails_a_plugin_that_imports_torch_at_import_time():
    with pytest.raises(AssertionError, match=r"fixtures.heavy_import imports torch at import time \(\d+\.\d s"):
        check_model("heavy-elman", plugins=("fixtures.heavy_import",))


def test_the_kit_passes_first_party_plugins_that_import_torch_lazily():
    for kind, name in (("model", "lstm"), ("task", "adding-50"), ("model", "tcn"), ("task", "translate-en-es")):
        check_light_import(plugin_module(kind, name))
