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


@pytest.mark.parametrize("task", sorted(REGISTRY.tasks))
def test_every_built_in_task_keeps_outcomes_that_give_its_metric(task):
    """Confidence intervals and paired tests need them: a built-in task whose net keeps no
    per-example outcomes, or ones that do not reproduce its primary metric, fails here."""
    from rnnbench.testing import check_outcomes, default_model, fit_smoke

    measured = fit_smoke(task, default_model(task))
    assert measured["outcomes"] is not None, f"{task} keeps no per-example outcomes"
    check_outcomes(REGISTRY.tasks[task], measured)
