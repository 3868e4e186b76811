"""The run use case as a library call (in the spirit of lm-eval's ``simple_evaluate``):
select the cells, plan them against the store, execute, write each result the moment it
arrives, render the leaderboards, and return what happened.

``rnnbench run`` only parses arguments and prints what a ``Reporter`` is told; Python
callers (tests, notebooks, a tuner) call ``run_suite`` and read the ``SuiteResult``.
Nothing here imports torch: training happens in the executor's workers.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from rnnbench import report, runner, store
from rnnbench.api import PROFILES
from rnnbench.registry import Registry
from rnnbench.tuning import TuningFileError

if TYPE_CHECKING:  # typing only: the local executor is imported when it is used
    from rnnbench.executors import Executor

WRITE_ERRORS = (OSError,)
"""What a failed write raises: a full disk, a read-only or vanished --out."""


class RunRefused(Exception):
    """The run cannot start (an unknown name, a bad number, an unwritable --out): one
    line that says what to change. Nothing was trained or written."""


class Reporter:
    """What a run tells its caller as it goes; every hook is a no-op by default."""

    def note(self, message: str) -> None:
        """Something worth knowing that does not stop the run (a task skipped, data missing)."""

    def planned(self, cells: list[runner.Cell], kept: list[dict], not_applicable: list[dict], executor: str) -> None:
        """The plan, before the first cell starts."""

    def started(self, cell: runner.Cell) -> None:
        pass

    def finished(self, cell: runner.Cell, record: dict) -> None:
        """A cell's record, once it is on disk."""

    def lost(self, cell: runner.Cell, why: str, first: bool) -> None:
        """A result that could not be written; ``first``: no more cells will start."""


@dataclass
class SuiteResult:
    profile: str
    out: Path
    records: list[dict] = field(default_factory=list)
    """Cells run now, each as written to the store."""
    kept: list[dict] = field(default_factory=list)
    """Finished cells of an earlier run with the same configuration, reused."""
    not_applicable: list[dict] = field(default_factory=list)
    lost: list[tuple[runner.Cell, str]] = field(default_factory=list)
    """Cells that trained but whose result could not be written, with the OS error."""
    not_started: int = 0
    seconds: float = 0.0
    board_error: str | None = None
    interrupted: bool = False

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.lost or self.board_error or self.failed else 0


def select(
    registry: Registry, tasks: Sequence[str], models: Sequence[str], profile: str, reporter: Reporter
) -> tuple[list[str], list[str]]:
    """The tasks (empty: all) and models (empty: all) to run, checked against the registry."""
    from rnnbench.requirements import missing

    task_names = _pick("task", tasks, list(registry.tasks)) if tasks else sorted(registry.tasks)
    model_names = _pick("model", models, list(registry.models)) if models else sorted(registry.models)
    # beyond smoke/quick/full a task may define its own profiles (e.g. a second hub corpus)
    known = sorted(set(PROFILES) | {p for t in task_names for p in registry.tasks[t].profiles})
    if profile not in known:
        raise RunRefused(f"unknown profile '{profile}'; {closest(profile, known)}")
    lacking = [t for t in task_names if profile not in registry.tasks[t].profiles]
    if lacking:
        reporter.note(f"{', '.join(lacking)} define(s) no '{profile}' profile; skipped")
        task_names = [t for t in task_names if t not in lacking]
    for t in task_names:
        absent = missing(registry.tasks[t].requirements)
        if absent:  # its cells would each fail with this line once the workers start
            reporter.note(f"{t}: {absent[0].unavailable()} (see `rnnbench doctor`)")
    return task_names, model_names


def _check_cell_settings(param_budget: int | str | None, timeout: float | None) -> None:
    """What ``run`` and ``tune`` both pass to every cell, checked before anything starts."""
    if param_budget is not None and param_budget != "off" and not (isinstance(param_budget, int) and param_budget >= 1):
        raise RunRefused(f"the parameter budget must be a positive number of parameters or 'off', not {param_budget!r}")
    if timeout is not None and not timeout > 0:  # NaN is not > 0 either
        raise RunRefused("the time limit must be a positive number of seconds")


def run_suite(
    tasks: Sequence[str] = (),
    models: Sequence[str] = (),
    *,
    profile: str = "quick",
    seeds: int | None = None,
    out: str | Path = "leaderboards",
    param_budget: int | str | None = None,
    timeout: float | None = None,
    plugins: Sequence[str] = (),
    make_executor: Callable[[], Executor] | None = None,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
) -> SuiteResult:
    """Train, test and store every selected (task, model, seed) cell, then render the
    leaderboards. ``tasks``/``models`` empty means all. ``make_executor`` builds the
    executor (default: local worker processes) once the request's names and settings
    have passed their checks, so a bad request never starts a Ray cluster, and before the
    store's lock, which is never held while a cluster is joined. Raises ``RunRefused``
    before any training for a bad request."""
    from rnnbench.registry import load

    reporter = reporter or Reporter()
    if seeds is not None and seeds < 1:
        raise RunRefused("seeds must be at least 1")
    _check_cell_settings(param_budget, timeout)
    registry = registry or load(plugins)
    task_names, model_names = select(registry, tasks, models, profile, reporter)
    out = Path(out)
    result = SuiteResult(profile, out)
    # before the store's lock: joining a cluster may wait (ray.init), and another run
    # must not find the store locked by a run that has not trained anything yet
    executor = _make_executor(make_executor, plugins)
    with _writable_store(out):
        store.remove_temp_files(out)
        try:
            cells, result.kept, result.not_applicable = runner.plan(
                registry, task_names, model_names, profile, seeds, out, timeout, param_budget
            )
        except TuningFileError as exc:
            raise RunRefused(str(exc)) from None
        try:
            for rec in result.not_applicable:
                store.write_record(out, rec)
        except WRITE_ERRORS as exc:
            raise RunRefused(f"cannot write to --out {out}: {os_error(exc)}") from None
        reporter.planned(cells, result.kept, result.not_applicable, executor.describe())
        cells.sort(key=lambda c: (c.task, -c.expected_cost, c.model, c.seed))
        started = time.monotonic()

        def on_result(cell: runner.Cell, measured) -> None:
            record = _save(registry, out, cell, measured, result)
            if record is None:
                reporter.lost(cell, result.lost[-1][1], first=len(result.lost) == 1)
                if len(result.lost) == 1:
                    executor.drain()  # a full disk will not make room for the next result either
                return
            result.records.append(record)
            reporter.finished(cell, record)

        try:
            executor.run(cells, on_result, reporter.started)
        except KeyboardInterrupt:
            result.interrupted = True
        result.seconds = time.monotonic() - started
        result.not_started = len(cells) - len(result.records) - len(result.lost)
        if not result.interrupted:
            try:
                report.write(out, report.published_of(registry.tasks))
            except WRITE_ERRORS as exc:
                result.board_error = os_error(exc)
    return result


def tune_suite(
    tasks: Sequence[str] = (),
    models: Sequence[str] = (),
    *,
    profile: str = "quick",
    trials: int | None = None,
    out: str | Path = "leaderboards",
    param_budget: int | str | None = None,
    plugins: Sequence[str] = (),
    make_executor: Callable[[], Executor] | None = None,
    reporter: Reporter | None = None,
    tune_reporter=None,
    timeout: float | None = None,
    registry: Registry | None = None,
):
    """Tune every selected (task, model) pair with an equal budget (``rnnbench.tuning``),
    then re-render the leaderboards (they show the tuning curves). Raises ``RunRefused``
    before any trial for a bad request."""
    from rnnbench import tuning
    from rnnbench.registry import load

    reporter = reporter or Reporter()
    if trials is not None and trials < 1:
        raise RunRefused("the number of trials must be at least 1")
    _check_cell_settings(param_budget, timeout)
    registry = registry or load(plugins)
    task_names, model_names = select(registry, tasks, models, profile, reporter)
    out = Path(out)
    executor = _make_executor(make_executor, plugins)  # before the lock, as in run_suite
    with _writable_store(out):
        try:
            result = tuning.tune(
                registry,
                task_names,
                model_names,
                profile=profile,
                trials=trials,
                out=out,
                executor=executor,
                reporter=tune_reporter,
                param_budget=param_budget,
                timeout=timeout,
            )
        except ValueError as exc:  # a plugin's search space that cannot be searched
            raise RunRefused(str(exc)) from None
        except WRITE_ERRORS as exc:
            raise RunRefused(f"cannot write to --out {out}: {os_error(exc)}") from None
        if not result.interrupted:
            try:
                report.write(out, report.published_of(registry.tasks))
            except WRITE_ERRORS as exc:
                result.lost.append(("leaderboards", os_error(exc)))
    return result


def _save(registry: Registry, out: Path, cell: runner.Cell, measured, result: SuiteResult) -> dict | None:
    """The record as written, or None when it could not be: nothing counts as done that
    is not on disk."""
    if not isinstance(measured, dict):
        measured = {"status": "failed", "reason": f"the executor returned {type(measured).__name__}, not a result"}
    try:
        try:
            measured = dict(measured)
            kept = _outcomes(measured)
            record = runner.finish_record(registry, cell, measured)
            # what every reader will demand: a plugin value of the wrong shape fails this
            # cell now, not every later run and leaderboard that reads the record
            store.validate_record(record)
            if kept is not None:
                record = store.write_outcomes(out, record, kept)
            store.write_record(out, record)
        except (TypeError, ValueError) as exc:
            why = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
            wall = measured.get("wall_seconds")
            record = runner.failed_record(
                registry,
                cell,
                f"the result cannot be saved ({registry.plugin_of('task', cell.task).label}): {why}",
                wall_seconds=wall if isinstance(wall, (int, float)) else 0.0,
            )
            store.write_record(out, record)
        return record
    except WRITE_ERRORS as exc:
        result.lost.append((cell, os_error(exc)))
        return None


def _outcomes(measured: dict) -> Any:
    """Pop the worker's plain outcomes from ``measured``: the Outcomes to write beside an
    ok record, or None (and ``outcomes_note`` says why, where it is not obvious)."""
    from rnnbench import outcomes

    plain = measured.pop("outcomes", None)
    if measured.get("status") != "ok":
        return None
    measured["outcomes"] = None
    if plain is None:
        measured.setdefault("outcomes_note", "the task net keeps no per-example outcomes")
        return None
    try:
        return outcomes.from_plain(plain)
    except outcomes.OutcomesError as exc:
        measured["outcomes_note"] = f"per-example outcomes not kept: {exc}"
        return None


def _make_executor(make_executor: Callable[[], Executor] | None, plugins: Sequence[str]) -> Executor:
    if make_executor is None:
        from rnnbench.executors import LocalExecutor

        return LocalExecutor(list(plugins))
    return make_executor()


@contextlib.contextmanager
def _writable_store(out: Path) -> Iterator[None]:
    """The run's lock on ``out``, once ``out`` has taken a file the size of a record: a
    read-only, full or impossible ``out`` is refused before any training, not reported
    once for every cell that then finishes."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store.RunLock(out))
            probe = out / ".rnnbench-write-check"
            store.write_json_atomic(probe, {"check": "x" * 16384})  # written as records are
            probe.unlink()
        except WRITE_ERRORS as exc:
            raise RunRefused(f"cannot write to --out {out}: {os_error(exc)}") from None
        yield


def os_error(exc: BaseException) -> str:
    """One line: '[Errno 28] No space left on device', without the temp file's name."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"[Errno {exc.errno}] {exc.strerror}"
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def closest(name: str, choices: Iterable[str]) -> str:
    import difflib

    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.4)
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return "known: " + ", ".join(sorted(choices))


def _pick(kind: str, asked: Sequence[str], known: Sequence[str]) -> list[str]:
    names = [n.strip() for a in asked for n in a.split(",") if n.strip()]
    for n in names:
        if n not in known:
            raise RunRefused(f"unknown {kind} '{n}'; {closest(n, known)} (see `rnnbench list`)")
    return list(dict.fromkeys(names))
