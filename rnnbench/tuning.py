"""Hyperparameter tuning with an equal budget for every model (``rnnbench tune``).

Each (task, model) pair gets its own Optuna study: a seeded TPE sampler over the search
space the task declares (``Task.search_space``, plus the model's own dimensions), judged
on the validation set only, with the same number of trials for every model. A trial is a
cell like any other (``rnnbench.runner.Cell`` with ``trial`` set), so the run's executors
(local workers, Ray) serve trials too; the driver owns the studies (Optuna's ask/tell).

Trials run in rounds: one trial of every unfinished study per round, so two workers stay
busy across studies while each study's sampler sees all of its earlier trials. A trial
is pruned in its worker: the worker rebuilds the study's finished trials in memory and
asks Optuna's median pruner after each validation, so no shared storage is needed there.

Files, under ``OUT/tuning/<profile>/<task>/``:

- ``<model>.journal``: the study in Optuna's journal storage (append-only, so a run killed
  with ``kill -9`` resumes where it stopped);
- ``<model>.json``: what a reader and ``rnnbench run`` need: the search space, every
  trial (hyperparameters, validation curve, state, seconds) and, once all trials of the
  budget are done, the chosen hyperparameters. ``rnnbench run`` trains with those; they
  enter the config hash and every record names them and the number of trials.

Importing this module is cheap (the CLI plans runs with it); Optuna is imported by the
functions that search.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from rnnbench import store
from rnnbench.api import Choice, LogUniform, Profile, Uniform
from rnnbench.data import fingerprint

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rnnbench.executors import Executor
    from rnnbench.registry import Registry

TUNING_SCHEMA = 1
PRUNER = {"name": "median", "startup_trials": 2, "warmup_validations": 2}
"""Optuna's MedianPruner: a trial stops when its validation score, after the first two
validations, is worse than the median of the finished trials' at the same step; the
first two trials of a study are never pruned (there is no median to compare with)."""


TUNABLE = frozenset(
    f.name
    for f in dataclasses.fields(Profile)
    if f.metadata["role"] == "result"
    and f.name not in ("max_steps", "val_every", "patience", "param_budget", "hidden_size", "num_layers")
)
"""Profile fields a search may set: those that change the result but not the prepared
data, the training length or the model's size (the budget keeps sizes equal)."""


class TuningFileError(ValueError):
    """A tuning file that cannot be used; one line naming it and what to do."""


def tuning_path(out: str | Path, profile: str, task: str, model: str, suffix: str = ".json") -> Path:
    store._check_identity(profile, task, model, 0)
    return Path(out) / "tuning" / profile / task / f"{model}{suffix}"


def search_space(task: Any, model: Any, profile: Profile) -> dict[str, Any]:
    """The task's dimensions with the model's added or replacing them, keyed by ``Profile``
    field; ValueError (one line) for a key that is not a field or a dimension of no known kind."""
    space = {**task.search_space(profile), **model.search_space(task, profile)}
    for name, dim in space.items():
        if name not in TUNABLE:
            raise ValueError(f"search space of {task.name} × {model.name}: {name!r} is not a tunable Profile field")
        if not isinstance(dim, (LogUniform, Uniform, Choice)):
            raise ValueError(
                f"search space of {task.name} × {model.name}: {name!r} is {type(dim).__name__}, "
                "not rnnbench.LogUniform, Uniform or Choice"
            )
    return dict(sorted(space.items()))


def describe_space(space: Mapping[str, Any]) -> dict[str, dict]:
    """The search space as plain JSON (the tuning file keeps it)."""
    return {name: {"kind": type(dim).__name__, **dataclasses.asdict(dim)} for name, dim in space.items()}


def study_fingerprint(profile: Profile, space: Mapping[str, Any]) -> str:
    """What a study's trials depend on: the profile as the task defines it and the search
    space. A changed profile or space starts a new study instead of mixing trials of two
    set-ups; a new rnnbench version alone does not (tuning is costly), nor does another
    budget: a larger one adds trials, a smaller one counts the study's first trials."""
    return fingerprint(profile.result_settings(), describe_space(space))


# --- what `rnnbench run` reads ---------------------------------------------------------


def chosen(out: str | Path, profile: str, task: str, model: str, prof: Profile) -> dict | None:
    """The hyperparameters ``rnnbench tune`` chose for this pair, as ``{"hyperparameters",
    "trials", "path"}``, or None when it has not finished tuning it (or tuned another
    profile set-up). TuningFileError for a file that is not a tuning result."""
    path = tuning_path(out, profile, task, model)
    doc = _load_doc(path)
    if doc is None:
        return None
    params = doc.get("hyperparameters")
    if params is None:
        return None  # still tuning: the profile's own settings until every trial is done
    if doc.get("profile_settings") != _settings_key(prof):
        return None  # tuned for an older profile: stale, `rnnbench tune` starts a new study
    if not isinstance(params, dict) or not all(isinstance(k, str) and k in TUNABLE for k in params):
        raise TuningFileError(f"{path}: 'hyperparameters' must map tunable Profile fields to values")
    wrong = next((k for k in params if not _plausible(k, params[k])), None)
    if wrong is not None:
        raise TuningFileError(f"{path}: hyperparameter {wrong}={params[wrong]!r} is not a value it can take")
    try:
        prof.replace(**params)
    except (TypeError, ValueError) as exc:
        raise TuningFileError(f"{path}: hyperparameters {params} are not valid: {exc}") from None
    trials = doc.get("trials_done")
    if not isinstance(trials, int) or trials < 1:
        raise TuningFileError(f"{path}: 'trials_done' must be a positive count")
    return {"hyperparameters": params, "trials": trials, "path": str(path.relative_to(out))}


def _plausible(name: str, value: Any) -> bool:
    """Whether ``value`` has the type of Profile field ``name`` (a number that is finite
    and not negative, a whole count, a name): a tuning file is read, not trusted."""
    default = getattr(Profile(max_steps=1, batch_size=1), name)
    if name == "patience":
        return value is None or (type(value) is int and value >= 1)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(default, int):
        return isinstance(value, int) and value >= 0
    return math.isfinite(value) and value >= 0


def provenance(chosen_: dict) -> dict:
    """What a record says about its hyperparameters' origin."""
    return {"trials": chosen_["trials"], "file": chosen_["path"]}


def _settings_key(prof: Profile) -> str:
    return fingerprint(prof.result_settings())


# --- in the worker: pruning ---------------------------------------------------------------


def trial_pruner(trial: dict) -> Callable[[int, float], bool]:
    """``should_prune(step, value)`` for a trial cell: Optuna's MedianPruner over the
    study's finished trials (``trial["history"]``: their validation curves), rebuilt in
    memory in the worker."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    direction = "minimize" if trial["direction"] == "min" else "maximize"
    val_every = int(trial["val_every"])
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER["startup_trials"],
        n_warmup_steps=PRUNER["warmup_validations"] * val_every,
    )
    study = optuna.create_study(direction=direction, pruner=pruner)
    for past in trial["history"]:
        curve = _finite_curve(past["curve"])
        if not curve:
            continue
        values = [v for _, v in curve]
        study.add_trial(
            optuna.trial.create_trial(
                value=min(values) if direction == "minimize" else max(values),
                intermediate_values={int(s): v for s, v in curve},
                distributions={},
                params={},
            )
        )
    live = study.ask()

    def should_prune(step: int, value: float) -> bool:
        if not math.isfinite(value):
            return False  # the trainer stops a diverged trial on its own
        live.report(value, int(step))
        return bool(live.should_prune())

    return should_prune


def _finite_curve(curve: list) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, v in curve if v is not None and math.isfinite(v)]


# --- the driver ---------------------------------------------------------------------------


@dataclass
class Study:
    """One (task, model) pair's search: its Optuna study and its tuning file."""

    task: str
    model: str
    profile: str
    direction: str
    metric: str
    space: dict
    budget: int
    val_every: int
    json_path: Path
    study: Any
    doc: dict
    pending: dict = field(default_factory=dict)
    """Cell label -> the Optuna trial it runs."""

    @property
    def done(self) -> int:
        return len(self.doc["trials"])


@dataclass
class TuneResult:
    studies: list[Study] = field(default_factory=list)
    trials_run: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    lost: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.lost else 0


class TuneReporter:
    """What the tuner says while it works; the CLI prints, a library caller may ignore it."""

    def note(self, message: str) -> None:
        pass

    def round_started(self, number: int, trials: int, studies: int) -> None:
        pass

    def trial_done(self, study: Study, number: int, entry: dict) -> None:
        pass


def _sampler(task: str, model: str, space: Mapping[str, Any], budget: int):
    import optuna

    seed = int(fingerprint("tpe", task, model)[:8], 16)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, budget // 2)))


def _distribution(dim: Any):
    import optuna

    if isinstance(dim, LogUniform):
        return optuna.distributions.FloatDistribution(dim.low, dim.high, log=True)
    if isinstance(dim, Uniform):
        return optuna.distributions.FloatDistribution(dim.low, dim.high)
    return optuna.distributions.CategoricalDistribution(list(dim.values))


def open_study(
    registry: "Registry",
    out: Path,
    profile: str,
    task_name: str,
    model_name: str,
    budget: int,
    param_budget: int | str | None = None,
) -> Study:
    """The pair's study, resumed from its journal when one of the same set-up exists
    (``param_budget``, the ``--param-budget`` override, is part of the set-up)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    task, model = registry.tasks[task_name], registry.models[model_name]
    prof = task.profiles[profile]
    space = search_space(task, model, prof)
    trained = prof if param_budget is None else prof.replace(param_budget=_budget_setting(param_budget))
    key = study_fingerprint(trained, space)
    json_path = store.within(out, tuning_path(out, profile, task_name, model_name))
    journal = store.within(out, tuning_path(out, profile, task_name, model_name, ".journal"))
    study_name = f"{profile}/{task_name}/{model_name}"
    doc = _read_doc(json_path)
    if doc is None or doc.get("study") != key:
        # a lost or corrupt file is rebuilt from its journal when that is of this set-up
        keep_journal = doc is None and _journal_fingerprint(journal, study_name) == key
        doc = {
            "schema": TUNING_SCHEMA,
            "task": task_name,
            "model": model_name,
            "profile": profile,
            "metric": task.primary_metric,
            "direction": task.direction,
            "study": key,
            "profile_settings": _settings_key(prof),
            "space": describe_space(space),
            "budget": budget,
            "sampler": "optuna TPESampler (seeded by task and model)",
            "pruner": dict(PRUNER),
            "trials": [],
            "trials_done": 0,
            "hyperparameters": None,
            "best_value": None,
        }
        if not keep_journal:
            journal.unlink(missing_ok=True)  # trials of another set-up must not enter this study
    journal.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=_sampler(task_name, model_name, space, budget),
        direction="minimize" if task.direction == "min" else "maximize",
        load_if_exists=True,
    )
    if study.user_attrs.get("fingerprint") != key:
        study.set_user_attr("fingerprint", key)
    # a trial the journal saw start but never saw end was running when the tuner died:
    # it is asked again, so the budget counts finished trials only
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        optuna.trial.Trial(study, t._trial_id).set_user_attr("interrupted", True)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    found = Study(
        task_name,
        model_name,
        profile,
        task.direction,
        task.primary_metric,
        space,
        budget,
        max(1, min(prof.val_every, prof.max_steps)),
        json_path,
        study,
        doc,
    )
    _project(found)
    return found


def _budget_setting(param_budget: int | str) -> int | None:
    return None if param_budget == "off" else int(param_budget)


def _journal_fingerprint(journal: Path, study_name: str) -> str | None:
    """The set-up a journal's study was started for, or None (no journal, one that
    cannot be read, or one written before studies recorded it)."""
    if not journal.is_file():
        return None
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    try:
        storage = JournalStorage(JournalFileBackend(str(journal)))
        return optuna.load_study(study_name=study_name, storage=storage).user_attrs.get("fingerprint")
    except Exception:  # a journal of no use is replaced like a missing one
        return None


def _load_doc(path: Path) -> dict | None:
    """A tuning file's contents, or None where there is none; TuningFileError for a file
    that is not a tuning file of this schema."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TuningFileError(f"{path}: cannot read it ({exc}); delete it and run `rnnbench tune` again") from None
    if not isinstance(doc, dict) or doc.get("schema") != TUNING_SCHEMA:
        raise TuningFileError(f"{path}: not a tuning file of schema {TUNING_SCHEMA}; delete it and tune again")
    return doc


def _read_doc(path: Path) -> dict | None:
    """For ``tune``: a file that is not a tuning file is replaced by a new study's (the
    journal keeps the trials), where ``run`` refuses it."""
    try:
        return _load_doc(path)
    except TuningFileError:
        return None


def _ask(s: Study) -> tuple[Any, dict]:
    trial = s.study.ask({name: _distribution(dim) for name, dim in s.space.items()})
    history = [{"curve": t["curve"]} for t in s.doc["trials"] if t["state"] == "complete" and t.get("curve")]
    context = {"number": trial.number, "direction": s.direction, "val_every": s.val_every, "history": history}
    return trial, context


def _record_trial(s: Study, trial: Any, measured: dict, seconds: float) -> dict:
    """Tell the study how a trial ended; everything the tuning file shows is kept in the
    journal (intermediate values, user attributes), so the file can always be rebuilt."""
    import optuna

    curve = _finite_curve(measured.get("curve") or [])
    best = (measured.get("best_val") or {}).get("value")
    for step, value in curve:
        trial.report(value, step)
    trial.set_user_attr("seconds", round(seconds, 3))
    for key, attr in (
        ("steps", "steps"),
        ("params", "parameters"),
        ("hidden_size", "hidden_size"),
        ("pruned_at", "pruned_at"),
    ):
        if measured.get(key) is not None:
            trial.set_user_attr(attr, measured[key])
    if measured.get("status") != "ok" or best is None or not math.isfinite(best):
        trial.set_user_attr("reason", measured.get("reason") or "no finite validation score")
        s.study.tell(trial, state=optuna.trial.TrialState.FAIL)
    elif measured.get("pruned_at") is not None:
        trial.set_user_attr("value", best)
        s.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        s.study.tell(trial, best)
    _project(s)
    return next(t for t in s.doc["trials"] if t["number"] == trial.number)


_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}


def _project(s: Study) -> None:
    """The tuning file's trials and choice, from the study: finished trials count against
    the budget (a failed trial too: the budget is trials spent, not successes), except one
    the tuner was killed during, which is asked again."""
    trials = []
    for t in s.study.get_trials(deepcopy=False):
        state = _STATES.get(t.state.name)
        if state is None or t.user_attrs.get("interrupted"):
            continue
        value = t.value if state == "complete" else t.user_attrs.get("value")
        entry = {
            "number": t.number,
            "state": state,
            "params": dict(t.params),
            "seed": t.number,
            "value": value,
            "curve": [[step, v] for step, v in sorted(t.intermediate_values.items())],
            **{k: v for k, v in sorted(t.user_attrs.items()) if k != "value"},
        }
        trials.append(entry)
    # the budget is the study's first trials: a study that once ran more (a larger
    # --trials) is judged on as many as every other model of the task
    trials = trials[: s.budget]
    s.doc["trials"] = trials
    s.doc["trials_done"] = len(trials)
    s.doc["budget"] = s.budget
    complete = [t for t in trials if t["state"] == "complete"]
    if len(trials) >= s.budget and complete:
        pick = min if s.direction == "min" else max
        best = pick(complete, key=lambda t: t["value"])
        s.doc["hyperparameters"] = best["params"]
        s.doc["best_value"] = best["value"]
        s.doc["best_trial"] = best["number"]
    else:
        s.doc["hyperparameters"] = s.doc["best_value"] = s.doc["best_trial"] = None


def tune(
    registry: "Registry",
    tasks: list[str],
    models: list[str],
    *,
    profile: str,
    trials: int | None,
    out: str | Path,
    executor: "Executor",
    reporter: TuneReporter | None = None,
    param_budget: int | str | None = None,
    timeout: float | None = None,
) -> TuneResult:
    """Run every pair's study up to its budget (``trials``, default the profile's
    ``tuning_trials``), one trial per study per round. Pairs a model cannot serve are
    skipped. The caller holds the store's lock."""
    from rnnbench.runner import new_cell

    reporter = reporter or TuneReporter()
    out = Path(out)
    result = TuneResult()
    studies: list[Study] = []
    for task_name in tasks:
        task = registry.tasks[task_name]
        budget = trials or task.profiles[profile].tuning_trials
        for model_name in models:
            if registry.models[model_name].unsupported(task):
                continue
            s = open_study(registry, out, profile, task_name, model_name, budget, param_budget)
            store.write_json_atomic(s.json_path, s.doc)
            studies.append(s)
    result.studies = studies
    started = time.monotonic()
    number = 0
    while True:
        todo = [s for s in studies if s.done < s.budget]
        if not todo:
            break
        number += 1
        cells, by_label = [], {}
        for s in todo:
            trial, context = _ask(s)
            settings = dict(trial.params)
            if param_budget is not None:
                settings["param_budget"] = _budget_setting(param_budget)
            cell = new_cell(
                registry, s.task, s.model, trial.number, profile, settings, time_limit=timeout, trial=context
            )
            cell_label = f"{s.task}/{s.model}/trial{trial.number}"
            by_label[cell_label] = (s, trial, time.monotonic())
            cells.append(cell)
        cells.sort(key=lambda c: (c.task, -c.expected_cost, c.model))
        reporter.round_started(number, len(cells), len(studies))

        def on_result(cell: Any, measured: dict) -> None:
            s, trial, t0 = by_label[f"{cell.task}/{cell.model}/trial{cell.trial['number']}"]
            seconds = measured.get("wall_seconds") or (time.monotonic() - t0)
            entry = _record_trial(s, trial, measured, seconds)
            result.trials_run += 1
            try:
                store.write_json_atomic(s.json_path, s.doc)
            except store.StoreWriteError as exc:
                result.lost.append((cell.label, str(exc)))
                executor.drain()
            reporter.trial_done(s, trial.number, entry)

        try:
            executor.run(cells, on_result, lambda cell: None)
        except KeyboardInterrupt:
            result.interrupted = True
        if result.interrupted or result.lost:
            break
        stalled = [s for s in todo if not any(lbl.startswith(f"{s.task}/{s.model}/") for lbl in by_label)]
        if stalled:  # pragma: no cover - every study asked a trial this round
            break
    result.seconds = time.monotonic() - started
    return result


def load_all(out: str | Path) -> dict[str, dict[str, dict[str, dict]]]:
    """Every tuning file under ``out/tuning``, as profile -> task -> model -> its content
    (files that are not tuning results, or not where their content says, are left out)."""
    from rnnbench.api import is_slug

    root = Path(out) / "tuning"
    found: dict[str, dict[str, dict[str, dict]]] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/*/*.json")):
        profile, task, model = path.parent.parent.name, path.parent.name, path.stem
        if not (is_slug(profile) and is_slug(task) and is_slug(model)):
            continue
        doc = _read_doc(path)
        if doc is not None and (doc.get("profile"), doc.get("task"), doc.get("model")) == (profile, task, model):
            found.setdefault(profile, {}).setdefault(task, {})[model] = doc
    return found


def expected_validation(doc: dict) -> list[float]:
    """Expected best validation score against the number of trials (Dodge et al. 2019)
    from a tuning file's trials: complete ones at their best validation score, pruned
    ones at the best they reached before they were stopped (a pessimistic stand-in)."""
    from rnnbench.stats import expected_best

    scores = [
        t["value"] for t in doc.get("trials", []) if t["state"] in ("complete", "pruned") and t["value"] is not None
    ]
    return expected_best(scores, doc.get("direction", "max"))
