"""The example distribution's seq2seq task (plugins/rnnbench-example, loaded with -p as a
module on the path): it meets the task contract, and the models that cannot decode are n/a
with their reason. tests/test_scaffold.py installs the distribution with pip and runs parity."""

from pathlib import Path

import pytest

from rnnbench.testing import check_task, load_registry

EXAMPLE = Path(__file__).resolve().parent.parent / "plugins" / "rnnbench-example"
PLUGINS = ("rnnbench_example",)


@pytest.fixture(autouse=True)
def _example_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))


def test_reverse_meets_the_task_contract():
    check_task("reverse", "lstm", plugins=PLUGINS)


def test_reverse_is_served_by_causal_stateful_models_and_bidirectional_encoders():
    reg = load_registry(*PLUGINS)
    reverse = reg.tasks["reverse"]
    assert reverse.shape == "seq2seq" and reg.plugin_of("task", "reverse").module == "rnnbench_example"
    # a bidirectional model encodes and supplies a causal decoder of its cell ("decoder")
    for model in ("lstm", "gru", "indrnn", "bi-lstm"):
        assert reg.models[model].unsupported(reverse) is None, model
    assert "stateful" in reg.models["tcn"].unsupported(reverse)


def test_a_bidirectional_encoder_meets_the_reverse_contract():
    check_task("reverse", "bi-gru", plugins=PLUGINS)
