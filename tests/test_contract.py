"""Every registered model and task meets its contract, checked with the kit that plugin
authors use (rnnbench.testing): one generated test per model and per task."""

import pytest

from rnnbench.testing import check_model, check_task, load_registry

REGISTRY = load_registry()


@pytest.mark.parametrize("model", sorted(REGISTRY.models))
def test_model_meets_the_contract(model):
    check_model(model)


@pytest.mark.parametrize("task", sorted(REGISTRY.tasks))
def test_task_meets_the_contract(task):
    check_task(task)
