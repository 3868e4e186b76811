"""rnnbench.suite.run_suite: the run use case as a library call, without the CLI."""

import pytest

from rnnbench import store
from rnnbench.executors import InProcessExecutor
from rnnbench.suite import Reporter, RunRefused, run_suite


class Recorder(Reporter):
    def __init__(self):
        self.events = []

    def note(self, message):
        self.events.append(("note", message))

    def planned(self, cells, kept, not_applicable, executor):
        self.events.append(("planned", len(cells), len(kept), len(not_applicable), executor))

    def started(self, cell):
        self.events.append(("started", cell.label))

    def finished(self, cell, record):
        self.events.append(("finished", cell.label, record["status"]))


def test_a_run_returns_its_records_and_resumes_from_the_store(tmp_path):
    recorder = Recorder()
    result = run_suite(
        ["adding-50"],
        ["elman", "bi-lstm"],
        profile="smoke",
        out=tmp_path,
        make_executor=lambda: InProcessExecutor([]),
        reporter=recorder,
    )
    assert result.exit_code == 0 and not result.lost and not result.interrupted
    assert sorted((r["model"], r["status"]) for r in result.records) == [("bi-lstm", "ok"), ("elman", "ok")]
    on_disk = {(r["model"], r["seed"]): r for r in store.load_records(tmp_path)[0]}
    assert all(on_disk[(r["model"], r["seed"])] == r for r in result.records)
    assert recorder.events[0] == ("planned", 2, 0, 0, "in-process")
    assert [e[0] for e in recorder.events[1:]] == ["started", "finished"] * 2
    assert (tmp_path / "smoke" / "adding-50.md").is_file()

    again = run_suite(
        ["adding-50"], ["elman", "bi-lstm"], profile="smoke", out=tmp_path, make_executor=lambda: InProcessExecutor([])
    )
    assert again.records == [] and len(again.kept) == 2 and again.exit_code == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tasks": ["lm-chr"]}, "unknown task 'lm-chr'; did you mean 'lm-char'"),
        ({"models": ["lstn"]}, "unknown model 'lstn'; did you mean 'lstm'"),
        ({"profile": "quik"}, "unknown profile 'quik'; did you mean 'quick'"),
        ({"seeds": 0}, "seeds must be at least 1"),
        ({"timeout": -1.0}, "the time limit must be a positive number of seconds"),
    ],
)
def test_a_bad_request_is_refused_before_any_executor_starts(tmp_path, kwargs, message):
    def no_executor():
        raise AssertionError("the executor must not start")

    with pytest.raises(RunRefused, match=message):
        run_suite(**{"tasks": ["adding-50"], "models": ["elman"], **kwargs}, out=tmp_path, make_executor=no_executor)
    assert not (tmp_path / "results").exists()


def test_a_result_of_the_wrong_shape_fails_its_cell_and_the_leaderboard_still_renders(tmp_path):
    result = run_suite(
        ["flat-baselines", "adding-50"],
        ["elman"],
        profile="smoke",
        out=tmp_path,
        plugins=["fixtures.escapes"],
        make_executor=lambda: InProcessExecutor(["fixtures.escapes"]),
    )
    (failed,) = result.failed
    assert failed["task"] == "flat-baselines" and "baselines" in failed["reason"]
    assert "plugin 'fixtures.escapes'" in failed["reason"] and "\n" not in failed["reason"]
    assert result.board_error is None and (tmp_path / "smoke" / "adding-50.md").is_file()
    records, bad = store.load_records(tmp_path, warn=False)
    assert bad == [] and len(records) == 2  # both on disk, both readable: nothing re-runs forever


@pytest.mark.parametrize("verb", ["run", "tune"])
def test_the_executor_is_built_before_the_store_is_locked(tmp_path, verb):
    """Joining a Ray cluster may wait (ray.init on an address that answers but is slow or
    not Ray); meanwhile another run must not find the store locked by this one."""
    from rnnbench.suite import tune_suite

    class Built(Exception):
        pass

    def make_executor():
        with store.RunLock(tmp_path):  # raises StoreLocked while this run holds the lock
            pass
        raise Built

    suite = run_suite if verb == "run" else tune_suite
    with pytest.raises(Built):
        suite(["adding-50"], ["elman"], profile="smoke", out=tmp_path, make_executor=make_executor)
