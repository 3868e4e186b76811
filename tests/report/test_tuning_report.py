"""Task pages say how the models were trained (size, hyperparameters) and chart tuning."""

import pytest
from _records import rec

from rnnbench import report
from rnnbench.report import charts, model


def tuning_doc(model_name, values, budget=None, direction="min", space=("lr",)):
    trials = [
        {"number": i, "state": "complete", "params": {"lr": 0.01}, "value": v, "curve": [[10, v]]}
        for i, v in enumerate(values)
    ]
    return {
        "schema": 1,
        "task": "adding-50",
        "model": model_name,
        "profile": "quick",
        "direction": direction,
        "budget": budget or len(values),
        "trials_done": len(values),
        "trials": trials,
        "space": {name: {"kind": "LogUniform", "low": 1e-4, "high": 1e-2} for name in space},
        "hyperparameters": {"lr": 0.01},
        "best_value": min(values),
    }


def records(trials_by_model, param_budget=None):
    out = []
    for m, trials in trials_by_model.items():
        for seed in range(2):
            r = rec(m, seed, 0.01 + 0.01 * seed)
            r["hyperparameters"] = {"lr": 0.01, "optimizer": "adam"}
            r["tuning"] = {"trials": trials, "file": f"tuning/quick/adding-50/{m}.json"} if trials else None
            r["param_budget"] = param_budget(m) if callable(param_budget) else param_budget
            out.append(r)
    return out


def board(records_, tuning=None):
    return model.build(records_, tuning)["profiles"]["quick"]["adding-50"]


def test_a_tuned_board_charts_expected_validation_and_says_the_budget_was_equal():
    docs = {
        "quick": {"adding-50": {"lstm": tuning_doc("lstm", [0.3, 0.1, 0.2]), "gru": tuning_doc("gru", [0.4, 0.5, 0.2])}}
    }
    b = board(records({"lstm": 3, "gru": 3}, param_budget=5000), docs)
    assert set(b["tuning"]) == {"gru", "lstm"}
    lstm = b["tuning"]["lstm"]
    assert lstm["trials"] == 3 and lstm["space"] == ["lr"] and len(lstm["expected_best"]) == 3
    # Dodge et al.: the expected best of n draws with replacement; one draw is the mean
    assert lstm["expected_best"][0] == pytest.approx(0.2) and lstm["expected_best"][-1] == pytest.approx(
        3.6 / 27, abs=1e-5
    )
    assert all(a >= b for a, b in zip(lstm["expected_best"], lstm["expected_best"][1:]))  # min: falls with trials
    lines = model.protocol(b)
    assert any("budget of 5,000 parameters" in line for line in lines)
    assert (
        "Hyperparameters (lr) were chosen on validation with 3 Optuna TPE trials per model (an equal budget)." in lines
    )

    assert not any("stopped early" in line for line in lines)  # no trial was pruned
    docs["quick"]["adding-50"]["gru"]["trials"][1]["state"] = "pruned"
    pruned = model.protocol(board(records({"lstm": 3, "gru": 3}, param_budget=5000), docs))
    assert any(line.startswith("1 trial(s) below the median") and "pessimistic" in line for line in pruned)
    docs["quick"]["adding-50"]["gru"]["trials"][1]["state"] = "complete"

    (chart,) = [c for c in charts.task_charts(b) if c.slug == "adding-50-tuning"]
    assert set(chart.series) == {"gru", "lstm"} and [x for x, _ in chart.series["lstm"]] == [1, 2, 3]

    files, chart_sets = report.render(records({"lstm": 3, "gru": 3}, param_budget=5000), docs)
    page = files["quick/adding-50.md"]
    assert "3 Optuna TPE trials per model (an equal budget)" in page and "adding-50-tuning" in page
    assert "3 Optuna TPE trials per model (an equal budget)" in files["index.html"]


def test_unequal_tuning_budgets_are_called_unequal():
    lines = model.protocol(board(records({"lstm": 8, "gru": 3})))
    assert any("8 or 3" in line or "3 or 8" in line for line in lines)
    assert any("the budgets differ, so the comparison is unequal" in line for line in lines)
    partly = model.protocol(board(records({"lstm": 8, "gru": None})))
    assert any(line.startswith("Only some models were tuned; gru trained") and "unequal" in line for line in partly)


def test_an_untuned_board_says_the_hyperparameters_are_the_profiles():
    b = board(records({"lstm": None, "gru": None}))
    assert b["tuning"] == {}
    assert not [c for c in charts.task_charts(b) if c.slug.endswith("-tuning")]
    lines = model.protocol(b)
    assert "Hyperparameters are the profile's, the same for every model (not tuned)." in lines
    assert "Models were compared at equal width, not equal size (no parameter budget)." in lines


def test_unequal_parameter_budgets_are_not_called_no_budget():
    lines = model.protocol(
        board(records({"lstm": None, "gru": None}, param_budget=lambda m: 5000 if m == "lstm" else None))
    )
    assert not any("no parameter budget" in line for line in lines)
    assert any("different parameter budgets (5,000, none)" in line for line in lines)
