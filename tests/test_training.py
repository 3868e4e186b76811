"""Training one cell: a seeded CPU cell is reproducible without deterministic kernels."""

import pytest
import torch

from rnnbench.nets import TaskNet
from rnnbench.testing import load_registry
from rnnbench.training import _deterministic, fit_cell


def test_a_seeded_cpu_cell_gives_the_same_numbers_twice(tmp_path):
    reg = load_registry()
    task, model = reg.tasks["adding-50"], reg.models["lstm"]
    profile = task.profiles["smoke"]
    data = task.prepare(profile, str(tmp_path))
    first = fit_cell(task, model, profile, 3, data, accelerator="cpu")
    assert not torch.are_deterministic_algorithms_enabled()
    second = fit_cell(task, model, profile, 3, data, accelerator="cpu")
    assert first["metrics"] == second["metrics"] and first["curve"] == second["curve"]
    other_seed = fit_cell(task, model, profile, 4, data, accelerator="cpu")
    assert other_seed["metrics"] != first["metrics"]


def test_deterministic_kernels_only_where_a_gpu_is_used(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _deterministic("gpu") == "warn" and _deterministic("auto") == "warn"
    assert _deterministic("cpu") is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _deterministic("auto") is False


def test_the_trainer_drives_the_task_net_through_its_hooks(tmp_path):
    reg = load_registry()
    adding, model = reg.tasks["adding-50"], reg.models["lstm"]
    resets = []

    class Recording(TaskNet):
        def __init__(self, inner):
            super().__init__(samples=lambda net: {"resets": list(resets)})
            self.inner = inner

        def training_loss(self, batch):
            return self.inner.training_loss(batch)

        def evaluate(self, batch, metrics):
            return self.inner.evaluate(batch, metrics)

        def reset_state(self, split):
            resets.append(split)

    class Wrapped(type(adding)):
        def build(self, data, model, profile):
            return Recording(super().build(data, model, profile))

    profile = adding.profiles["smoke"]
    data = adding.prepare(profile, str(tmp_path))
    record = fit_cell(Wrapped(adding.length, quick_steps=1), model, profile, 0, data, accelerator="cpu")
    assert record["samples"]["resets"][0] == "train" and record["samples"]["resets"][-1] == "test"
    assert record["samples"]["resets"].count("val") == len(record["curve"])


def test_a_build_that_returns_no_task_net_fails_naming_the_task(tmp_path):
    reg = load_registry()
    adding, model = reg.tasks["adding-50"], reg.models["lstm"]

    class PlainModule(type(adding)):
        def build(self, data, model, profile):
            return torch.nn.Linear(1, 1)

    profile = adding.profiles["smoke"]
    data = adding.prepare(profile, str(tmp_path))
    with pytest.raises(TypeError, match=r"^task adding-50: build\(\) returned Linear, not an rnnbench.nets.TaskNet$"):
        fit_cell(PlainModule(adding.length, quick_steps=1), model, profile, 0, data, accelerator="cpu")
