import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench import runner, store
from rnnbench.cli import main
from rnnbench.suite import run_suite

TESTS = Path(__file__).parent


def rnnbench(*args, check_rc=None):
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "rnnbench.cli", *args], env=env, capture_output=True, text=True)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    return proc


def records(out):
    return {(r["model"], r["seed"]): r for r in store.load_records(out)[0]}


def test_each_way_a_cell_can_fail_fails_that_cell_only(tmp_path):
    """An exception, a non-finite loss and a dying worker, beside a good cell."""
    proc = rnnbench(
        "run",
        "--task",
        "adding-50",
        "--model",
        "lstm,raises-at-build,goes-nan,dies-hard",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path),
        "-p",
        "fixtures.misbehaving",
        check_rc=1,
    )
    got = records(tmp_path)
    assert got[("lstm", 0)]["status"] == "ok", proc.stderr
    reasons = {m: got[(m, 0)]["reason"] for m in ("raises-at-build", "goes-nan", "dies-hard")}
    assert all(got[(m, 0)]["status"] == "failed" for m in reasons)
    assert reasons["raises-at-build"] == (
        "RuntimeError: this model cannot be built (in model plugin 'fixtures.misbehaving')"
    )
    assert reasons["goes-nan"] == "non-finite loss at step 0"
    assert reasons["dies-hard"] == "worker process died (exit code 17)"
    assert "failed: adding-50 × dies-hard (seed 0): worker process died (exit code 17)" in proc.stdout
    # the failures are on the leaderboard with their reasons
    board = (tmp_path / "smoke" / "adding-50.md").read_text()
    assert "goes-nan (seed 0): failed — non-finite loss at step 0" in board


def test_a_hanging_cell_is_stopped_at_its_time_limit(tmp_path):
    rnnbench(
        "run",
        "--task",
        "adding-50",
        "--model",
        "hangs",
        "--profile",
        "smoke",
        "--timeout",
        "3",
        "--out",
        str(tmp_path),
        "-p",
        "fixtures.misbehaving",
        check_rc=1,
    )
    assert records(tmp_path)[("hangs", 0)]["reason"] == "timeout after 3 s"


def test_interrupted_run_resumes_without_retraining(tmp_path, capsys):
    args = [
        "run",
        "--task",
        "adding-50",
        "--model",
        "elman,gru",
        "--seeds",
        "2",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path),
        "--executor",
        "inprocess",
    ]
    assert main(args) == 0
    paths = sorted((tmp_path / "results").rglob("*.json"))
    assert len(paths) == 4
    before = {p: p.stat().st_mtime_ns for p in paths}
    paths[0].unlink()  # as if the run had been killed before this cell finished
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 cell(s) to run, 3 already done" in err
    for p in paths[1:]:
        assert p.stat().st_mtime_ns == before[p], f"{p} was retrained"
    assert paths[0].exists()


def test_changed_profile_settings_rerun_the_cell(tmp_path):
    from rnnbench.testing import load_registry

    reg = load_registry()
    cells, kept, _ = runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)
    assert len(cells) == 1
    rec = runner.finish_record(reg, cells[0], {"status": "ok", "metrics": {"mse": 0.1}})
    store.write_record(tmp_path, rec)
    assert runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)[1] == [rec]
    rec["provenance"]["config_hash"] = "something-else"
    store.write_record(tmp_path, rec)
    assert len(runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)[0]) == 1


def test_a_second_run_on_the_same_out_is_refused(tmp_path, capsys):
    with store.RunLock(tmp_path):
        assert main(["run", "--task", "adding-50", "--model", "elman", "--out", str(tmp_path)]) == 2
    assert "another rnnbench run" in capsys.readouterr().err


def test_out_of_memory_retries_once_with_half_the_batch(monkeypatch):
    from rnnbench.worker import CellRunner

    monkeypatch.syspath_prepend(str(TESTS))
    runner_ = CellRunner(["fixtures.misbehaving"])
    cell = {"task": "adding-50", "seed": 0, "profile": "smoke", "param_budget": None}
    ok = runner_.run({**cell, "model": "ooms-above-16"})  # smoke batch is 32
    assert ok["status"] == "ok", ok.get("reason")
    assert ok["batch_size"] == 16 and ok["retried"] == "out of memory; retried with batch size 16"
    failed = runner_.run({**cell, "model": "ooms-always"})
    assert failed["status"] == "failed" and "OutOfMemoryError: CUDA out of memory" in failed["reason"]


def test_a_cudnn_allocation_failure_is_retried_after_the_failed_attempt_is_freed(monkeypatch):
    """cuDNN reports its allocation failures as RuntimeError; the retry frees what the
    failed attempt held (its frames, kept alive by the exception's traceback) before the
    device cache is emptied, or the cache would keep the memory the retry needs."""
    import weakref

    import torch

    from rnnbench import training
    from rnnbench.worker import CellRunner

    held, freed_then, batches = [], [], []

    def fit_cell(task, model, profile, seed, data, *args, **kwargs):
        batches.append(profile.batch_size)
        activations = torch.zeros(1024)  # what a failed attempt holds on the device
        held.append(weakref.ref(activations))
        if len(batches) == 1:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED")
        raise ValueError("stop here")

    real_free = training.free_device_memory

    def free_device_memory():
        real_free()
        freed_then.append(held[0]() is None)

    monkeypatch.setattr(training, "fit_cell", fit_cell)
    monkeypatch.setattr(training, "free_device_memory", free_device_memory)
    result = CellRunner([]).run({"task": "adding-50", "model": "elman", "seed": 0, "profile": "smoke"})
    assert batches == [32, 16] and freed_then == [True]
    assert result["status"] == "failed" and "stop here" in result["reason"]


def test_the_worker_reports_the_sequence_length_a_task_declares():
    from rnnbench.worker import CellRunner

    cell = {"task": "adding-50", "seed": 0, "profile": "smoke", "param_budget": None, "model": "elman"}
    result = CellRunner([]).run(cell)
    assert result["status"] == "ok" and result["sequence_length"] == 50


def inprocess():
    from rnnbench.executors import InProcessExecutor

    return InProcessExecutor([])


def test_param_budget_sizes_every_model_to_the_same_count(tmp_path):
    result = run_suite(
        ["adding-50"],
        ["elman", "lstm", "gru"],
        profile="smoke",
        param_budget=5000,
        out=tmp_path,
        make_executor=inprocess,
    )
    assert result.exit_code == 0
    got = {(r["model"], r["seed"]): r for r in result.records}
    assert got == records(tmp_path)
    for model in ("elman", "lstm", "gru"):
        assert abs(got[(model, 0)]["params"] - 5000) <= 500, (model, got[(model, 0)]["params"])
    widths = {got[(m, 0)]["hidden_size"] for m in ("elman", "lstm", "gru")}
    assert len(widths) == 3  # each model got its own width
    board = (tmp_path / "smoke" / "adding-50.md").read_text()
    assert "| params |" in board.replace("params | train s", "params |")


def test_an_unreachable_param_budget_fails_the_cell_with_one_line(tmp_path):
    result = run_suite(["lm-char"], ["lstm"], profile="smoke", param_budget=100, out=tmp_path, make_executor=inprocess)
    assert result.exit_code == 1
    (failed,) = result.failed
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("--param-budget 100: lstm on lm-char: no width")


# --- nothing lost: every result reaches disk or the run says so --------------------------------


def disk_fills_after(monkeypatch, n):
    """store.write_record succeeds ``n`` times, then the disk is full."""
    import errno

    real, calls = store.write_record, []

    def write_record(out, record):
        calls.append(record)
        if len(calls) > n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(out, record)

    monkeypatch.setattr(store, "write_record", write_record)
    return calls


@pytest.mark.parametrize("executor", ["inprocess", "local"])
def test_a_result_that_cannot_be_written_is_reported_and_stops_the_run(tmp_path, capsys, monkeypatch, executor):
    calls = disk_fills_after(monkeypatch, 1)
    rc = main(
        [
            "run",
            "--task",
            "adding-50",
            "--model",
            "elman,gru,lstm",
            "--profile",
            "smoke",
            "--executor",
            executor,
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1, err
    assert len(calls) == 2, "a cell started after a result could not be written"
    written = records(tmp_path)
    assert len(written) == 1 and all(r["status"] == "ok" for r in written.values())
    lost = calls[1]
    label = f"adding-50 × {lost['model']} (seed 0)"
    assert f"could not save the result of {label}: [Errno 28] No space left on device" in err
    assert "lost (not saved): " + label in err
    assert "1 cell(s) not started" in err
    assert "free space" in err and "run the same command again" in err


@pytest.mark.parametrize("out", ["/dev/null/x", "file"])
def test_an_unwritable_out_is_one_line_before_any_training(tmp_path, capsys, out):
    if out == "file":
        out = tmp_path / "a-file"
        out.write_text("")
    rc = main(
        [
            "run",
            "--task",
            "adding-50",
            "--model",
            "elman",
            "--profile",
            "smoke",
            "--executor",
            "inprocess",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith(f"rnnbench: error: cannot write to --out {out}"), err


def test_a_full_out_is_one_line_before_any_training(tmp_path, capsys, monkeypatch):
    import errno

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "write_json_atomic", full)
    trained = []
    monkeypatch.setattr("rnnbench.worker.CellRunner.run", lambda self, cell: trained.append(cell))
    rc = main(
        [
            "run",
            "--task",
            "adding-50",
            "--model",
            "elman",
            "--profile",
            "smoke",
            "--executor",
            "inprocess",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not trained
    assert err == [f"rnnbench: error: cannot write to --out {tmp_path}: [Errno 28] No space left on device"]


# --- stale results: the hash covers everything that changes a result -----------------------


def test_the_data_source_a_task_declares_is_part_of_the_hash(tmp_path, monkeypatch):
    from rnnbench.testing import load_registry
    from rnnbench_plugins.stock import CSV_ENV

    reg = load_registry()
    assert CSV_ENV in reg.tasks["stock-direction"].data_environment

    def h():
        return runner.config_hash(reg, "stock-direction", "lstm", 0, "smoke")

    monkeypatch.delenv(CSV_ENV, raising=False)
    default = h()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n")
    b.write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,2,2,2,2,2\n")
    monkeypatch.setenv(CSV_ENV, str(a))
    on_a = h()
    monkeypatch.setenv(CSV_ENV, str(b))
    on_b = h()
    assert len({default, on_a, on_b}) == 3
    b.write_text(a.read_text())  # the same name, other content: the content decides
    assert h() == on_a
    # a task that declares no such variable keeps its hash
    adding = runner.config_hash(reg, "adding-50", "lstm", 0, "smoke")
    monkeypatch.delenv(CSV_ENV)
    assert runner.config_hash(reg, "adding-50", "lstm", 0, "smoke") == adding


def test_a_folder_of_data_enters_the_hash_by_its_files(tmp_path, monkeypatch):
    from rnnbench.testing import load_registry

    reg = load_registry()
    assert "SWORD_PATH" in reg.tasks["lm-word"].data_environment

    def h():
        return runner.config_hash(reg, "lm-word", "lstm", 0, "smoke")

    modules = tmp_path / "sword"
    (modules / "mods.d").mkdir(parents=True)
    (modules / "mods.d" / "a.conf").write_text("[A]\n")
    monkeypatch.setenv("SWORD_PATH", str(modules))
    first = h()
    (modules / "mods.d" / "b.conf").write_text("[B]\n")  # a module added to the same folder
    second = h()
    (modules / "mods.d" / "b.conf").write_text("[B]\nVersion=2\n")  # one replaced
    assert len({first, second, h()}) == 3
    copy = tmp_path / "elsewhere"
    (copy / "mods.d").mkdir(parents=True)
    for f in (modules / "mods.d").iterdir():
        (copy / "mods.d" / f.name).write_text(f.read_text())
    changed = h()
    monkeypatch.setenv("SWORD_PATH", str(copy))  # the same files in another place: the same data
    assert h() == changed


def test_a_stale_result_from_other_data_is_run_again(tmp_path, monkeypatch):
    from rnnbench.testing import load_registry
    from rnnbench_plugins.stock import CSV_ENV

    reg = load_registry()
    monkeypatch.delenv(CSV_ENV, raising=False)
    cells, _, _ = runner.plan(reg, ["stock-direction"], ["lstm"], "smoke", 1, tmp_path)
    store.write_record(tmp_path, runner.finish_record(reg, cells[0], {"status": "ok", "metrics": {"accuracy": 0.5}}))
    assert runner.plan(reg, ["stock-direction"], ["lstm"], "smoke", 1, tmp_path)[0] == []
    other = tmp_path / "other.csv"
    other.write_text("Date,Open,High,Low,Close,Volume\n")
    monkeypatch.setenv(CSV_ENV, str(other))
    assert len(runner.plan(reg, ["stock-direction"], ["lstm"], "smoke", 1, tmp_path)[0]) == 1


def test_versions_are_part_of_the_hash(monkeypatch):
    import rnnbench
    from rnnbench.testing import load_registry

    reg = load_registry()
    before = runner.config_hash(reg, "adding-50", "lstm", 0, "smoke")
    monkeypatch.setattr(rnnbench, "__version__", "99.0")
    assert runner.config_hash(reg, "adding-50", "lstm", 0, "smoke") != before
    monkeypatch.undo()
    assert runner.config_hash(reg, "adding-50", "lstm", 0, "smoke") == before
    for kind, name in (("task", "adding-50"), ("model", "lstm")):
        info = reg.plugin_of(kind, name)
        monkeypatch.setattr(info, "version", "99.0")
        assert runner.config_hash(reg, "adding-50", "lstm", 0, "smoke") != before, kind
        monkeypatch.undo()


# --- one plugin's value never stops the suite ---------------------------------------------------


def test_plugin_numbers_become_plain_json_in_the_worker(monkeypatch):
    from rnnbench.worker import CellRunner

    monkeypatch.syspath_prepend(str(TESTS))
    cell = {"model": "elman", "seed": 0, "profile": "smoke", "param_budget": None}
    result = CellRunner(["fixtures.escapes"]).run({**cell, "task": "numpy-baselines"})
    assert result["status"] == "ok", result.get("reason")
    assert result["baselines"]["predict-1.0"] == {"mse": 0.25, "solved": 0.5}
    assert type(result["baselines"]["predict-1.0"]["mse"]) is float
    assert type(result["baselines"]["predict-1.0"]["solved"]) is float
    assert result["baselines"]["count"]["n"] == 64 and type(result["baselines"]["count"]["n"]) is int
    assert result["baselines"]["nan"]["mse"] != result["baselines"]["nan"]["mse"]  # NaN stays NaN
    json.dumps(result, allow_nan=True)


def test_a_value_json_cannot_hold_fails_that_cell_naming_the_plugin(monkeypatch):
    from rnnbench.worker import CellRunner

    monkeypatch.syspath_prepend(str(TESTS))
    cell = {"model": "elman", "seed": 0, "profile": "smoke", "param_budget": None}
    result = CellRunner(["fixtures.escapes"]).run({**cell, "task": "object-baselines"})
    assert result["status"] == "failed"
    assert result["reason"] == (
        "task plugin 'fixtures.escapes': baselines['predict-1.0']['mse'] is an object, "
        "not a number, string, list or dict"
    )


def test_the_driver_records_a_result_it_cannot_serialise_as_failed(tmp_path, capsys, monkeypatch):
    """Belt and braces: should a result reach the driver unconverted, that cell fails."""
    import numpy as np

    from rnnbench.worker import CellRunner

    real = CellRunner.run

    def run(self, cell):
        result = real(self, cell)
        if cell["model"] == "gru":
            result["metrics"]["mse"] = np.float32(0.5)
            result["odd"] = object()
        return result

    monkeypatch.setattr(CellRunner, "run", run)
    rc = main(
        [
            "run",
            "--task",
            "adding-50",
            "--model",
            "elman,gru,lstm",
            "--profile",
            "smoke",
            "--executor",
            "inprocess",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1
    got = records(tmp_path)
    assert got[("elman", 0)]["status"] == got[("lstm", 0)]["status"] == "ok"
    assert got[("gru", 0)]["status"] == "failed"
    reason = got[("gru", 0)]["reason"]
    assert reason.startswith("the result cannot be saved (plugin 'adding'") and "metrics" in reason
    assert (tmp_path / "smoke" / "adding-50.md").exists()


def test_every_record_the_runner_builds_is_of_the_current_schema_and_valid(tmp_path):
    from rnnbench.records import SCHEMA_VERSION
    from rnnbench.testing import load_registry

    reg = load_registry()
    cell = runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)[0][0]
    ok = runner.finish_record(reg, cell, {"status": "ok", "metrics": {"mse": 0.1}, "device": "cpu"})
    failed = runner.failed_record(reg, cell, "timeout after 9 s", wall_seconds=9.0)
    assert (failed["status"], failed["reason"], failed["wall_seconds"]) == ("failed", "timeout after 9 s", 9.0)
    task, model = next((t, m) for t in reg.tasks for m in reg.models if reg.models[m].unsupported(reg.tasks[t]))
    (na,) = runner.plan(reg, [task], [model], "smoke", 1, tmp_path)[2]
    assert na["status"] == "n/a" and na["reason"] == reg.models[model].unsupported(reg.tasks[task])
    for record in (ok, failed, na):
        assert record["schema"] == SCHEMA_VERSION
        assert store.validate_record(record) is record


def test_the_committed_quick_results_are_current(monkeypatch):
    """`make run` on a clone reuses every committed cell (README): none is stale for this code."""
    from rnnbench.testing import load_registry

    for name in ("RNNBENCH_STOCK_CSV", "SWORD_PATH"):
        monkeypatch.delenv(name, raising=False)
    reg = load_registry()
    committed = Path(__file__).resolve().parents[1] / "leaderboards"
    to_run, kept, na = runner.plan(reg, sorted(reg.tasks), sorted(reg.models), "quick", None, committed)
    assert [c.label for c in to_run] == [] and kept and na


# --- the parameter budget and the hyperparameters a record names ------------------------------

TOY = "fixtures.tuning_toy"


def toy_run(out, task, models, **kwargs):
    from rnnbench.executors import InProcessExecutor
    from rnnbench.testing import load_registry

    return run_suite(
        [task],
        models,
        profile="smoke",
        out=out,
        registry=load_registry(TOY),
        make_executor=lambda: InProcessExecutor([TOY]),
        **kwargs,
    )


def test_a_profile_budget_fits_every_model_unless_turned_off(tmp_path):
    from rnnbench.testing import load_registry

    models = ["elman", "gru", "lstm"]
    fitted = toy_run(tmp_path / "fitted", "tune-toy-budget", models)  # its smoke profile: 400 parameters
    assert fitted.exit_code == 0
    for rec in fitted.records:
        assert rec["param_budget"] == 400 and abs(rec["params"] - 400) <= 40, rec["params"]
    assert len({rec["hidden_size"] for rec in fitted.records}) > 1  # widths differ, sizes agree

    off = toy_run(tmp_path / "off", "tune-toy-budget", models, param_budget="off")
    width = load_registry(TOY).tasks["tune-toy-budget"].profiles["smoke"].hidden_size
    assert all(r["param_budget"] is None and r["hidden_size"] == width for r in off.records)
    assert len({r["params"] for r in off.records}) == 3

    other = toy_run(tmp_path / "other", "tune-toy-budget", ["elman"], param_budget=1000)
    (rec,) = other.records
    assert rec["param_budget"] == 1000 and abs(rec["params"] - 1000) <= 100
    hashes = {r["provenance"]["config_hash"] for r in (fitted.records[0], off.records[0], rec)}
    assert len(hashes) == 3  # the budget is part of the configuration


def test_records_name_their_hyperparameters(tmp_path):
    (rec,) = toy_run(tmp_path, "tune-toy", ["elman"]).records
    assert rec["tuning"] is None and rec["param_budget"] is None
    assert set(rec["hyperparameters"]) == set(runner.HYPERPARAMETERS)
    assert rec["hyperparameters"]["optimizer"] == "adam" and rec["hyperparameters"]["schedule"] == "constant"
    # the worker that trained it says what its time was measured on
    assert rec["provenance"]["device_class"].startswith("cpu: ") and "device_class" not in rec


def test_the_device_class_goes_into_provenance_and_changes_no_config_hash(tmp_path):
    from rnnbench.testing import load_registry

    reg = load_registry()
    cell = runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)[0][0]
    measured = {"status": "ok", "metrics": {"mse": 0.1}, "device": "cpu (2 threads)", "outcomes": None}
    rec = runner.finish_record(reg, cell, {**measured, "device_class": "cpu: AMD EPYC 7763, 2 threads"})
    assert rec["provenance"]["device_class"] == "cpu: AMD EPYC 7763, 2 threads"
    assert "device_class" not in rec and store.validate_record(rec) is rec
    assert (
        rec["provenance"]["config_hash"]
        == cell.config_hash
        == runner.config_hash(reg, "adding-50", "elman", 0, "smoke")
    )
    store.write_record(tmp_path, rec)
    # a finished cell is kept whatever it was timed on; only the new model's cells train
    to_run, kept, _ = runner.plan(reg, ["adding-50"], ["elman", "lstm"], "smoke", 1, tmp_path)
    assert [c.label for c in to_run] == ["adding-50 × lstm (seed 0)"]
    assert [(r["model"], r["provenance"]["device_class"]) for r in kept] == [("elman", "cpu: AMD EPYC 7763, 2 threads")]
    # and one written before the class was kept (no device_class) is kept too
    del rec["provenance"]["device_class"]
    store.write_record(tmp_path, rec)
    assert [r["model"] for r in runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)[1]] == ["elman"]


def test_a_record_names_where_its_cell_ran_with_the_worker_s_own_versions_and_settings(tmp_path):
    """A Ray node may run another torch than the driver: the record keeps the worker's
    host, node and versions, and how the worker ran the cell (precision, clock, shared
    GPU, nondeterministic kernels), in provenance, without changing the config hash."""
    from rnnbench.testing import load_registry
    from rnnbench.worker import CellRunner

    reg = load_registry()
    cell = runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, tmp_path)[0][0]
    worker = {"host": "node-b", "node": "5f2a", "torch": "2.99.0", "pytorch_lightning": "9.9", "python": "3.99.0"}
    measured = {
        "status": "ok", "metrics": {"mse": 0.1}, "device": "NVIDIA H200", "outcomes": None,
        "worker_provenance": worker, "precision": "bf16-mixed", "throughput_clock": "cuda-events",
        "nondeterministic_ops": ["cumsum_cuda_kernel"], "cells_per_gpu": 4,
    }  # fmt: skip
    rec = runner.finish_record(reg, cell, measured)
    prov = rec["provenance"]
    assert {k: prov[k] for k in worker} == worker  # not the driver's versions
    assert (prov["precision"], prov["throughput_clock"], prov["cells_per_gpu"]) == ("bf16-mixed", "cuda-events", 4)
    assert prov["nondeterministic_ops"] == ["cumsum_cuda_kernel"] and prov["config_hash"] == cell.config_hash
    assert not (set(measured) - {"status", "metrics", "outcomes"}) & set(rec)  # none left at the top level
    assert store.validate_record(rec) is rec
    # and a local worker says where it is too
    local = CellRunner([]).identity()
    assert local["host"] and local["node"] == "local" and local["torch"]


def test_a_plugin_revision_reruns_only_its_cells(monkeypatch):
    from rnnbench.testing import load_registry

    reg = load_registry()
    adding, stock = (runner.config_hash(reg, t, "lstm", 0, "smoke") for t in ("adding-50", "stock-direction"))
    monkeypatch.setattr(reg.tasks["adding-50"], "revision", 1)
    assert runner.config_hash(reg, "adding-50", "lstm", 0, "smoke") != adding
    assert runner.config_hash(reg, "stock-direction", "lstm", 0, "smoke") == stock
    monkeypatch.undo()
    monkeypatch.setattr(reg.models["lstm"], "revision", 2)
    assert runner.config_hash(reg, "stock-direction", "lstm", 0, "smoke") != stock
    assert runner.config_hash(reg, "stock-direction", "gru", 0, "smoke") == runner.config_hash(
        load_registry(), "stock-direction", "gru", 0, "smoke"
    )


def test_a_diverged_cell_is_kept_and_other_failures_are_tried_again(tmp_path):
    from rnnbench.testing import load_registry
    from rnnbench.training import NonFiniteLoss

    assert str(NonFiniteLoss(3)).startswith(store.DIVERGED)
    reg = load_registry()
    cells, _, _ = runner.plan(reg, ["adding-50"], ["lstm"], "smoke", 1, tmp_path)
    for reason, kept in ((str(NonFiniteLoss(1)), True), ("RuntimeError: boom (in adding)", False)):
        store.write_record(tmp_path, runner.finish_record(reg, cells[0], {"status": "failed", "reason": reason}))
        to_run, finished, _ = runner.plan(reg, ["adding-50"], ["lstm"], "smoke", 1, tmp_path)
        assert (len(to_run), len(finished)) == ((0, 1) if kept else (1, 0)), reason
