"""rnnbench tune: equal budgets, resumable studies, in-worker pruning, and what `run` takes
from a tuning file. The tasks are tests/fixtures/tuning_toy.py's: a trial is a fraction of
a second, and their profiles belong to these tests."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench import registry as registry_module
from rnnbench import runner, tuning
from rnnbench.cli import main
from rnnbench.executors import InProcessExecutor
from rnnbench.suite import RunRefused, run_suite, tune_suite
from rnnbench.testing import load_registry

TESTS = Path(__file__).parent
PLUGIN = "fixtures.tuning_toy"
TASK = "tune-toy"


@pytest.fixture(scope="module")
def reg():
    return load_registry(PLUGIN)


_EXECUTOR = []


def executor():
    """One in-process executor for the module: its worker loads the plugins once."""
    if not _EXECUTOR:
        _EXECUTOR.append(InProcessExecutor([PLUGIN]))
    return _EXECUTOR[0]


def tune(reg, out, models=("elman", "gru"), trials=3, tasks=(TASK,), **kwargs):
    return tuning.tune(
        reg,
        list(tasks),
        list(models),
        profile="smoke",
        trials=trials,
        out=out,
        executor=executor(),
        **kwargs,
    )


def read(out, model, task=TASK):
    return json.loads(tuning.tuning_path(out, "smoke", task, model).read_text())


def journal_trials(out, model, task=TASK):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tuning.tuning_path(out, "smoke", task, model, ".journal"))))
    return optuna.load_study(study_name=f"smoke/{task}/{model}", storage=storage).get_trials(deepcopy=False)


class Watcher(tuning.TuneReporter):
    """Reads the tuning file from disk after every trial, as a reader would see it."""

    def __init__(self, out, reg):
        self.out, self.reg = out, reg
        self.rounds, self.seen = [], []

    def round_started(self, number, trials, studies):
        self.rounds.append((number, trials, studies))

    def trial_done(self, study, number, entry):
        doc = read(self.out, study.model)
        prof = self.reg.tasks[study.task].profiles["smoke"]
        chosen = tuning.chosen(self.out, "smoke", study.task, study.model, prof)
        self.seen.append((study.model, doc["trials_done"], doc["hyperparameters"], chosen))


# --- the budget -----------------------------------------------------------------------------


def test_every_model_gets_the_same_trials_and_a_choice_only_once_the_budget_is_spent(tmp_path, reg):
    watcher = Watcher(tmp_path, reg)
    result = tune(reg, tmp_path, models=("elman", "gru"), trials=3, reporter=watcher)
    assert result.exit_code == 0 and result.trials_run == 6
    # one trial of every study per round
    assert watcher.rounds == [(1, 2, 2), (2, 2, 2), (3, 2, 2)]
    for model in ("elman", "gru"):
        seen = [s for s in watcher.seen if s[0] == model]
        assert [s[1] for s in seen] == [1, 2, 3]
        # no choice (in the file or for `run`) before the last trial of the budget
        assert all(hp is None and chosen is None for _, done, hp, chosen in seen if done < 3)
        assert seen[-1][2] is not None and seen[-1][3] is not None

        doc = read(tmp_path, model)
        assert doc["budget"] == 3 and doc["trials_done"] == 3 and len(doc["trials"]) == 3
        assert doc["space"] == {"lr": {"kind": "LogUniform", "low": 1e-4, "high": 1e-2}}
        complete = [t for t in doc["trials"] if t["state"] == "complete"]
        best = min(complete, key=lambda t: t["value"])
        assert doc["hyperparameters"] == best["params"] and doc["best_value"] == best["value"]
        assert 1e-4 <= doc["hyperparameters"]["lr"] <= 1e-2
        for t in doc["trials"]:
            assert [s for s, _ in t["curve"]] == [2, 4, 6][: len(t["curve"])] and t["seconds"] >= 0
            assert t["value"] == min(v for _, v in t["curve"])
        assert len({t["params"]["lr"] for t in doc["trials"]}) == 3  # the sampler explores

    before = {m: read(tmp_path, m) for m in ("elman", "gru")}
    again = tune(reg, tmp_path, models=("elman", "gru"), trials=3)
    assert again.exit_code == 0 and again.trials_run == 0
    assert {m: read(tmp_path, m) for m in ("elman", "gru")} == before


def test_a_larger_budget_extends_the_study_and_a_smaller_one_counts_its_first_trials(tmp_path, reg):
    tune(reg, tmp_path, models=("elman",), trials=2)
    first = read(tmp_path, "elman")
    assert tune(reg, tmp_path, models=("elman",), trials=3).trials_run == 1
    extended = read(tmp_path, "elman")
    assert extended["trials_done"] == 3 and extended["trials"][:2] == first["trials"]
    assert tune(reg, tmp_path, models=("elman",), trials=2).trials_run == 0
    cut = read(tmp_path, "elman")
    assert cut["budget"] == 2 and cut["trials"] == first["trials"]
    assert cut["hyperparameters"] == first["hyperparameters"]


def test_a_model_that_cannot_serve_the_task_gets_no_study(tmp_path, reg):
    result = tune(reg, tmp_path, tasks=("tune-toy-bad-space",), models=(), trials=1)
    assert result.studies == [] and result.trials_run == 0


# --- resuming -------------------------------------------------------------------------------


def test_a_trial_left_running_is_asked_again_and_not_counted(tmp_path, reg):
    s = tuning.open_study(reg, tmp_path, "smoke", TASK, "elman", 2)
    trial, context = tuning._ask(s)  # and the tuner dies: the trial stays RUNNING
    assert trial.number == 0 and context["history"] == []

    result = tune(reg, tmp_path, models=("elman",), trials=2)
    assert result.trials_run == 2
    doc = read(tmp_path, "elman")
    assert doc["trials_done"] == 2 and [t["number"] for t in doc["trials"]] == [1, 2]
    assert doc["hyperparameters"] is not None
    states = {t.number: (t.state.name, t.user_attrs.get("interrupted")) for t in journal_trials(tmp_path, "elman")}
    assert states[0] == ("FAIL", True) and states[1][0] in ("COMPLETE", "PRUNED")
    assert tune(reg, tmp_path, models=("elman",), trials=2).trials_run == 0


KILLED = """
import os, signal
from rnnbench import tuning
from rnnbench.testing import load_registry
from rnnbench import store
reg = load_registry("fixtures.tuning_toy")
s = tuning.open_study(reg, {out!r}, "smoke", "tune-toy", "elman", 2)
store.write_json_atomic(s.json_path, s.doc)
tuning._ask(s)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_tuner_killed_mid_trial_resumes_from_its_journal(tmp_path, reg):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", KILLED.format(out=str(tmp_path))], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    assert [t.state.name for t in journal_trials(tmp_path, "elman")] == ["RUNNING"]

    assert tune(reg, tmp_path, models=("elman",), trials=2).trials_run == 2
    doc = read(tmp_path, "elman")
    assert doc["trials_done"] == 2 and all(t["number"] != 0 for t in doc["trials"])


def test_a_corrupt_tuning_file_is_rebuilt_from_the_journal(tmp_path, reg):
    tune(reg, tmp_path, models=("elman",), trials=2)
    good = read(tmp_path, "elman")
    tuning.tuning_path(tmp_path, "smoke", TASK, "elman").write_text("{ half a file")
    assert tune(reg, tmp_path, models=("elman",), trials=2).trials_run == 0
    assert read(tmp_path, "elman")["trials"] == good["trials"]


# --- stale studies and files ------------------------------------------------------------------


def changed_registry(**changes):
    """A registry of its own (the cached one stays as it is) whose toy smoke profile changed."""
    reg = registry_module.load([PLUGIN])
    task = reg.tasks[TASK]
    task.profiles = {**task.profiles, "smoke": task.profiles["smoke"].replace(**changes)}
    return reg


def test_a_changed_profile_starts_a_new_study_and_run_ignores_the_stale_choice(tmp_path, reg):
    tune(reg, tmp_path, models=("elman",), trials=2)
    old = read(tmp_path, "elman")
    prof = reg.tasks[TASK].profiles["smoke"]
    assert tuning.chosen(tmp_path, "smoke", TASK, "elman", prof)["hyperparameters"] == old["hyperparameters"]

    changed = changed_registry(grad_clip=0.5)
    new_prof = changed.tasks[TASK].profiles["smoke"]
    assert tuning.chosen(tmp_path, "smoke", TASK, "elman", new_prof) is None
    cells, _, _ = runner.plan(changed, [TASK], ["elman"], "smoke", 1, tmp_path)
    assert cells[0].tuning is None and "lr" not in cells[0].settings

    s = tuning.open_study(changed, tmp_path, "smoke", TASK, "elman", 2)
    assert s.done == 0 and s.doc["study"] != old["study"] and s.doc["hyperparameters"] is None
    assert s.study.get_trials(deepcopy=False) == []  # the old set-up's trials are not mixed in


def test_tuning_at_another_param_budget_is_another_study(tmp_path, reg):
    tune(reg, tmp_path, models=("elman",), trials=2)
    assert tuning.open_study(reg, tmp_path, "smoke", TASK, "elman", 2).done == 2
    # trials at another model size are not the same search
    assert tune(reg, tmp_path, models=("elman",), trials=2, param_budget=300).trials_run == 2
    assert all(abs(t["parameters"] - 300) <= 30 for t in read(tmp_path, "elman")["trials"])
    assert tune(reg, tmp_path, models=("elman",), trials=2, param_budget=300).trials_run == 0
    assert tune(reg, tmp_path, models=("elman",), trials=2).trials_run == 2


def test_load_all_keeps_only_tuning_files_where_their_content_says(tmp_path, reg):
    tune(reg, tmp_path, models=("elman",), trials=1)
    moved = tmp_path / "tuning" / "smoke" / TASK / "gru.json"
    moved.write_text(json.dumps(read(tmp_path, "elman")))  # elman's file under gru's name
    (tmp_path / "tuning" / "smoke" / TASK / "lstm.json").write_text("not json")
    found = tuning.load_all(tmp_path)
    assert list(found) == ["smoke"] and list(found["smoke"][TASK]) == ["elman"]


def toy_settings_key(reg):
    return tuning._settings_key(reg.tasks[TASK].profiles["smoke"])


def hostile(reg, hyperparameters, **changes):
    return {
        "schema": tuning.TUNING_SCHEMA,
        "task": TASK,
        "model": "elman",
        "profile": "smoke",
        "profile_settings": toy_settings_key(reg),
        "trials": [],
        "trials_done": 3,
        "hyperparameters": hyperparameters,
        **changes,
    }


HOSTILE = {
    "not-json": lambda reg: "{ not json",
    "a-list": lambda reg: "[1, 2, 3]",
    "wrong-schema": lambda reg: json.dumps({**hostile(reg, {"lr": 0.01}), "schema": 99}),
    "hyperparameters-a-string": lambda reg: json.dumps(hostile(reg, "lr=0.01")),
    "not-a-profile-field": lambda reg: json.dumps(hostile(reg, {"learning_rate": 0.01})),
    "invalid-optimizer": lambda reg: json.dumps(hostile(reg, {"optimizer": "rmsprop"})),
    "invalid-schedule": lambda reg: json.dumps(hostile(reg, {"schedule": "exponential"})),
    "not-tunable-max-steps": lambda reg: json.dumps(hostile(reg, {"max_steps": 10**9})),
    "not-tunable-options": lambda reg: json.dumps(hostile(reg, {"options": {"sizes": {}}})),
    "not-tunable-param-budget": lambda reg: json.dumps(hostile(reg, {"param_budget": 1})),
    "lr-a-string": lambda reg: json.dumps(hostile(reg, {"lr": "fast"})),
    "lr-nan": lambda reg: json.dumps(hostile(reg, {"lr": float("nan")})),
    "dropout-a-list": lambda reg: json.dumps(hostile(reg, {"dropout": [0.1]})),
    "no-trials": lambda reg: json.dumps(hostile(reg, {"lr": 0.01}, trials_done=0)),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_broken_or_hostile_tuning_file_stops_run_with_one_line_naming_it(tmp_path, reg, capsys, kind):
    path = tuning.tuning_path(tmp_path, "smoke", TASK, "elman")
    path.parent.mkdir(parents=True)
    path.write_text(HOSTILE[kind](reg))
    args = ["run", "--task", TASK, "--model", "elman", "--profile", "smoke", "--out", str(tmp_path)]
    assert main([*args, "-p", PLUGIN, "--executor", "inprocess"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("rnnbench: error: ") and str(path) in err[0] and "Traceback" not in err[0]
    assert not list((tmp_path / "results").rglob("*.json")) if (tmp_path / "results").exists() else True


def test_a_valid_tuning_file_for_the_profile_is_taken(tmp_path, reg):
    path = tuning.tuning_path(tmp_path, "smoke", TASK, "elman")
    path.parent.mkdir(parents=True)
    params = {"lr": 0.003, "optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-5, "warmup_steps": 2}
    path.write_text(json.dumps(hostile(reg, params)))
    prof = reg.tasks[TASK].profiles["smoke"]
    assert tuning.chosen(tmp_path, "smoke", TASK, "elman", prof) == {
        "hyperparameters": params,
        "trials": 3,
        "path": "tuning/smoke/tune-toy/elman.json",
    }
    # the same file for another profile set-up is stale, not an error
    path.write_text(json.dumps(hostile(reg, {"lr": "fast"}, profile_settings="0123456789abcdef")))
    assert tuning.chosen(tmp_path, "smoke", TASK, "elman", prof) is None


# --- run after tune -----------------------------------------------------------------------------


def test_run_after_tune_trains_with_the_chosen_hyperparameters(tmp_path, reg):
    untuned, _, _ = runner.plan(reg, [TASK], ["elman", "gru"], "smoke", 1, tmp_path)
    assert all(c.tuning is None and c.settings == {} for c in untuned)

    tune(reg, tmp_path, models=("elman", "gru"), trials=2)
    tuned, _, _ = runner.plan(reg, [TASK], ["elman", "gru"], "smoke", 1, tmp_path)
    for before, after in zip(untuned, tuned):
        assert after.config_hash != before.config_hash
        assert after.settings == read(tmp_path, after.model)["hyperparameters"]

    result = run_suite(
        [TASK],
        ["elman", "gru"],
        profile="smoke",
        out=tmp_path,
        plugins=[PLUGIN],
        make_executor=executor,
    )
    assert result.exit_code == 0 and len(result.records) == 2
    for rec in result.records:
        chosen = read(tmp_path, rec["model"])["hyperparameters"]
        assert rec["status"] == "ok"
        assert rec["hyperparameters"]["lr"] == chosen["lr"] and rec["hyperparameters"]["optimizer"] == "adam"
        assert rec["tuning"] == {"trials": 2, "file": f"tuning/smoke/{TASK}/{rec['model']}.json"}
    # the task page says how the hyperparameters were chosen and charts the trials
    page = (tmp_path / "smoke" / f"{TASK}.md").read_text()
    assert "with 2 Optuna TPE trials per model (an equal budget)" in page
    assert (tmp_path / "smoke" / "charts" / f"{TASK}-tuning.png").is_file()
    # the runs are finished: a second run keeps them
    again = run_suite([TASK], ["elman", "gru"], profile="smoke", out=tmp_path, make_executor=executor, registry=reg)
    assert again.records == [] and len(again.kept) == 2


def test_without_tuning_records_say_so(tmp_path, reg):
    result = run_suite([TASK], ["elman"], profile="smoke", out=tmp_path, make_executor=executor, registry=reg)
    (rec,) = result.records
    prof = reg.tasks[TASK].profiles["smoke"]
    assert rec["tuning"] is None and rec["param_budget"] is None
    assert rec["hyperparameters"] == {name: getattr(prof, name) for name in runner.HYPERPARAMETERS}
    page = (tmp_path / "smoke" / f"{TASK}.md").read_text()
    assert "not tuned" in page and "equal width" in page


# --- pruning -----------------------------------------------------------------------------------


STARTUP = tuning.PRUNER["startup_trials"]
HISTORY = [
    {"curve": [[10, 1.0], [20, 0.6], [30, 0.4]]},
    {"curve": [[10, 0.9], [20, 0.5], [30, 0.3]]},
    {"curve": [[10, 1.1], [20, 0.7], [30, 0.5]]},
]


def pruner(history=HISTORY, direction="min"):
    return tuning.trial_pruner({"number": 3, "direction": direction, "val_every": 10, "history": history})


def test_the_pruner_stops_a_clearly_worse_curve_after_the_warm_up_and_never_before():
    bad = pruner()
    assert bad(10, 50.0) is False  # the first validation is warm-up, however bad
    assert bad(20, 50.0) is True
    good = pruner()
    assert [good(s, v) for s, v in [(10, 0.8), (20, 0.4), (30, 0.2)]] == [False] * 3
    # maximised metrics: worse is lower
    flipped = [{"curve": [[s, -v] for s, v in h["curve"]]} for h in HISTORY]
    low = pruner(flipped, "max")
    assert low(10, -50.0) is False and low(20, -50.0) is True
    high = pruner(flipped, "max")
    assert high(20, -0.1) is False


def test_the_pruner_waits_for_its_startup_trials_and_ignores_non_finite_values():
    assert 2 <= STARTUP <= len(HISTORY)
    early = pruner(HISTORY[: STARTUP - 1])
    assert [early(s, 50.0) for s in (10, 20, 30)] == [False] * 3
    # a history curve of NaNs is no finished trial
    nan_history = [*HISTORY[: STARTUP - 1], {"curve": [[10, float("nan")], [20, None]]}]
    still_early = pruner(nan_history)
    assert [still_early(s, 50.0) for s in (10, 20, 30)] == [False] * 3
    bad = pruner()
    assert bad(20, math.nan) is False and bad(20, math.inf) is False


def test_a_pruned_trial_is_recorded_pruned_and_counts_toward_the_budget(tmp_path, reg, monkeypatch):
    real = tuning.trial_pruner

    def prune_trial_one(trial):
        real(trial)  # the real one must accept the context the tuner sends
        return lambda step, value: trial["number"] == 1

    monkeypatch.setattr(tuning, "trial_pruner", prune_trial_one)
    result = tune(reg, tmp_path, models=("elman",), trials=3)
    assert result.trials_run == 3
    doc = read(tmp_path, "elman")
    assert [t["state"] for t in doc["trials"]] == ["complete", "pruned", "complete"]
    pruned = doc["trials"][1]
    assert pruned["pruned_at"] == 2 and pruned["steps"] == 2 and pruned["curve"] == [[2, pruned["value"]]]
    assert doc["trials_done"] == 3 and doc["best_trial"] in (0, 2)
    assert tuning.expected_validation(doc) and len(tuning.expected_validation(doc)) == 3


def test_the_tuner_sends_finished_curves_to_the_pruner(tmp_path, reg, monkeypatch):
    seen = []
    real = tuning.trial_pruner

    def spy(trial):
        seen.append((trial["number"], trial["direction"], trial["val_every"], len(trial["history"])))
        return real(trial)

    monkeypatch.setattr(tuning, "trial_pruner", spy)
    tune(reg, tmp_path, models=("elman",), trials=3)
    assert [s[0] for s in seen] == [0, 1, 2] and {s[1:3] for s in seen} == {("min", 2)}
    assert [s[3] for s in seen] == [0, 1, 2]  # the finished trials before each


# --- search spaces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task, message",
    [
        ("tune-toy-bad-space", "'batch_size' is not a tunable Profile field"),
        ("tune-toy-max-steps", "'max_steps' is not a tunable Profile field"),
        ("tune-toy-not-a-dimension", "'lr' is tuple, not rnnbench.LogUniform, Uniform or Choice"),
    ],
)
def test_a_search_space_with_a_key_that_cannot_be_tuned_is_refused(tmp_path, reg, capsys, task, message):
    t, m = reg.tasks[task], reg.models["elman"]
    with pytest.raises(ValueError, match=message):
        tuning.search_space(t, m, t.profiles["smoke"])
    with pytest.raises(RunRefused, match=message):
        tune_suite(
            [task],
            ["elman"],
            profile="smoke",
            trials=1,
            out=tmp_path,
            plugins=[PLUGIN],
            registry=reg,
            make_executor=executor,
        )
    code = main(["tune", "--task", task, "--model", "elman", "--profile", "smoke", "--out", str(tmp_path),
                 "-p", PLUGIN, "--executor", "inprocess", "--trials", "1"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


@pytest.mark.parametrize("name", ["batch_size", "max_steps", "val_every", "param_budget", "hidden_size", "num_layers",
                                  "seeds", "time_limit", "options", "stop_at", "tuning_trials"])  # fmt: skip
def test_sizes_lengths_and_data_settings_are_not_tunable(name):
    assert name not in tuning.TUNABLE


def test_the_default_space_is_the_learning_rate_over_two_decades(reg):
    t = reg.tasks[TASK]
    space = tuning.search_space(t, reg.models["lstm"], t.profiles["smoke"].replace(lr=2e-3))
    assert list(space) == ["lr"]
    assert math.isclose(space["lr"].low, 2e-4) and math.isclose(space["lr"].high, 2e-2)


def test_a_choice_dimension_is_searched_and_run_trains_with_it(tmp_path, reg):
    tune(reg, tmp_path, tasks=("tune-toy-optimizer",), models=("elman",), trials=3)
    doc = read(tmp_path, "elman", task="tune-toy-optimizer")
    assert set(doc["space"]) == {"lr", "optimizer"} and doc["space"]["optimizer"]["values"] == ["adam", "sgd"]
    assert all(t["params"]["optimizer"] in ("adam", "sgd") for t in doc["trials"])
    cells, _, _ = runner.plan(reg, ["tune-toy-optimizer"], ["elman"], "smoke", 1, tmp_path)
    assert cells[0].settings["optimizer"] == doc["hyperparameters"]["optimizer"]


def test_the_cli_tunes_and_reports_the_pairs(tmp_path, capsys):
    args = ["tune", "--task", TASK, "--model", "elman,gru", "--profile", "smoke", "--out", str(tmp_path)]
    assert main([*args, "-p", PLUGIN, "--executor", "inprocess", "--trials", "2"]) == 0
    out = capsys.readouterr()
    assert "tuned 2 of 2 (task, model) pair(s): 4 trial(s) run" in out.out
    assert out.err.count("round ") == 2 and out.err.count(f"{TASK} × elman trial") == 2
    assert main([*args, "-p", PLUGIN, "--executor", "inprocess", "--trials", "2"]) == 0
    assert "0 trial(s) run" in capsys.readouterr().out


class Recording:
    """An executor that runs nothing: every trial fails at once; it keeps the cells."""

    name = "recording"

    def __init__(self):
        self.cells = []

    def describe(self):
        return "recording"

    def run(self, cells, on_result, on_start=lambda c: None):
        for cell in cells:
            self.cells.append(cell)
            on_result(cell, {"status": "failed", "reason": "RuntimeError: not run"})

    def drain(self):
        pass


def test_trials_run_under_the_timeout_asked_for_and_failed_trials_count(tmp_path, reg, capsys):
    executor_ = Recording()
    result = tune_suite([TASK], ["elman"], profile="smoke", trials=2, out=tmp_path, registry=reg, timeout=7.0,
                        make_executor=lambda: executor_)  # fmt: skip
    assert [c.time_limit for c in executor_.cells] == [7.0, 7.0]
    assert all(c.trial is not None and c.tuning is None for c in executor_.cells)
    doc = read(tmp_path, "elman")
    assert [t["state"] for t in doc["trials"]] == ["failed", "failed"] and doc["trials_done"] == 2
    assert doc["hyperparameters"] is None and result.trials_run == 2  # nothing to choose from
    assert tuning.chosen(tmp_path, "smoke", TASK, "elman", reg.tasks[TASK].profiles["smoke"]) is None
    executor_ = Recording()
    tune_suite([TASK], ["gru"], profile="smoke", trials=1, out=tmp_path, registry=reg, make_executor=lambda: executor_)
    assert [c.time_limit for c in executor_.cells] == [reg.tasks[TASK].profiles["smoke"].time_limit]
    with pytest.raises(RunRefused, match="time limit"):
        tune_suite([TASK], ["gru"], profile="smoke", out=tmp_path, registry=reg, timeout=-1.0,
                   make_executor=lambda: executor_)  # fmt: skip
