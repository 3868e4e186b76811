"""Training one cell: a seeded CPU cell is reproducible without deterministic kernels."""

import torch

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
