import pytest

from rnnbench import Model
from rnnbench.testing import check_model, check_task


def test_builtin_model_and_task_pass_the_contract_kit():
    check_model("elman")
    check_task("adding-50")


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
