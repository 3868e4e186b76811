"""Failure attribution in the worker: a failed cell names the plugin whose code raised."""

import pytest

from rnnbench.worker import CellRunner, PluginModules

BLAME = ["fixtures.blame_model", "fixtures.blame_task"]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return CellRunner(BLAME, "cpu", cache_dir=str(tmp_path_factory.mktemp("cache")))


def reason(runner, task, model):
    result = runner.run({"task": task, "model": model, "profile": "smoke", "seed": 0})
    assert result["status"] == "failed", result
    return result["reason"]


def test_a_failure_in_a_model_plugins_helper_module_names_the_model_plugin(runner):
    assert reason(runner, "adding-50", "fails-in-helper") == (
        "RuntimeError: the layer's kernel is broken (in model plugin 'fixtures.blame_model')"
    )


def test_a_failure_in_a_module_of_a_task_plugins_package_names_the_task_plugin(runner):
    assert reason(runner, "fails-in-reader", "lstm") == (
        "OSError: cannot read corpus.txt (in task plugin 'fixtures.blame_task')"
    )


def test_a_helper_both_plugins_import_is_blamed_on_the_plugin_that_called_it(runner):
    assert reason(runner, "fails-in-shared-task", "fails-in-helper") == (
        "ValueError: the shared helper fails (in task plugin 'fixtures.blame_task')"
    )
    assert reason(runner, "builds-the-model", "fails-in-shared") == (
        "ValueError: the shared helper fails (in model plugin 'fixtures.blame_model')"
    )


def test_a_core_that_breaks_the_contract_is_blamed_on_its_model_not_on_the_task(runner):
    # found in the core's shape net, before the task's loss trips over it
    assert reason(runner, "adding-50", "time-major") == (
        "CoreContractError: core Core returned y of shape (50, 32, 32) for x of shape (32, 50, 2), "
        "not [batch, time, output_size] = [32, 50, 32] (in model plugin 'fixtures.blame_model')"
    )
    # found in the task's build, on the model's object
    assert reason(runner, "adding-50", "no-output-size") == (
        "AttributeError: 'Core' object has no attribute 'output_size' (in model plugin 'fixtures.blame_model')"
    )


def test_a_failure_with_no_frame_in_the_cells_plugins_names_none(runner):
    from torch import nn

    from rnnbench.nn import FusedCore

    with pytest.raises(ValueError) as raised:
        FusedCore(nn.GRU(1, 1))  # the core refuses a time-major RNN
    assert runner._reason(raised.value, {"task": "adding-50", "model": "fails-in-helper"}) == (
        "ValueError: FusedCore needs batch_first=True"
    )


def test_a_plugin_owns_its_package_and_the_helpers_it_imports_even_inside_functions():
    deep = PluginModules("rnnbench_plugins.deep_rnn")
    assert "rnnbench_plugins._deep_rnn_layers" in deep  # imported inside build_core
    assert "rnnbench_plugins._labels" not in deep and "rnnbench.nets" not in deep
    assert "rnnbench_plugins" not in PluginModules("rnnbench_plugins.min_rnn")  # the namespace is no one's
    speech = PluginModules("rnnbench_plugins.speech")
    assert "rnnbench_plugins.speech.features" in speech and "rnnbench_plugins.speech" in speech
    assert "rnnbench_plugins.speechless" not in speech
    # a helper shared by two plugins belongs to both
    assert "rnnbench_plugins._labels" in PluginModules("rnnbench_plugins.digits_vector")
    assert "rnnbench_plugins._labels" in PluginModules("rnnbench_plugins.sentiment")
    assert "fixtures.blame_task.reader" in PluginModules("fixtures.blame_task")


def test_a_failed_cell_keeps_a_traceback_trimmed_to_the_plugins_frames_and_the_failing_core_frame(runner):
    result = runner.run({"task": "adding-50", "model": "fails-in-helper", "profile": "smoke", "seed": 0})
    trace = result["traceback"].splitlines()
    assert trace[0].startswith("Traceback (trimmed")
    assert trace[-1] == "RuntimeError: the layer's kernel is broken"
    files = [line.strip() for line in trace if line.strip().startswith("File ")]
    # the model's layer raised, called by the core's net: Lightning's frames between are gone
    assert len(files) == 2, trace
    assert files[0].startswith('File "') and "/rnnbench/nets.py" in files[0]
    assert "fixtures/_blame_layers.py" in files[1]


def test_a_failure_the_reason_explains_has_no_traceback(runner):
    from rnnbench.data import DataUnavailable

    try:
        raise DataUnavailable("corpus missing; run `make data`")
    except DataUnavailable as exc:
        assert runner._traceback(exc, {"task": "adding-50", "model": "lstm"}) is None


def test_reraise_lets_a_cells_exception_reach_the_caller(tmp_path):
    runner = CellRunner(BLAME, "cpu", cache_dir=str(tmp_path), reraise=True)
    with pytest.raises(RuntimeError, match="the layer's kernel is broken"):
        runner.run({"task": "adding-50", "model": "fails-in-helper", "profile": "smoke", "seed": 0})


def test_a_gpu_worker_that_sees_no_cuda_stops_at_start_up(monkeypatch):
    import torch

    from rnnbench.worker import check_accelerator

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check_accelerator("cpu")
    with pytest.raises(RuntimeError, match="sees no CUDA device"):
        check_accelerator("gpu")
