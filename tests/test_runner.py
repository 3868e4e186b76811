import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench import runner, store
from rnnbench.cli import main

TESTS = Path(__file__).parent


def rnnbench(*args, check_rc=None):
    env = {**os.environ, "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "rnnbench.cli", *args], env=env, capture_output=True, text=True)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    return proc


def records(out):
    return {(r["model"], r["seed"]): r for r in store.load_records(out)[0]}


def test_each_way_a_cell_can_fail_fails_that_cell_only(tmp_path):
    """An exception, a non-finite loss and a dying worker, beside a good cell."""
    proc = rnnbench("run", "--task", "adding-50", "--model", "lstm,raises-at-build,goes-nan,dies-hard",
                    "--profile", "smoke", "--out", str(tmp_path), "-p", "fixtures.misbehaving", check_rc=1)
    got = records(tmp_path)
    assert got[("lstm", 0)]["status"] == "ok", proc.stderr
    reasons = {m: got[(m, 0)]["reason"] for m in ("raises-at-build", "goes-nan", "dies-hard")}
    assert all(got[(m, 0)]["status"] == "failed" for m in reasons)
    assert reasons["raises-at-build"] == (
        "RuntimeError: this model cannot be built (in model plugin 'fixtures.misbehaving')")
    assert reasons["goes-nan"] == "non-finite loss at step 0"
    assert reasons["dies-hard"] == "worker process died (exit code 17)"
    assert "failed: adding-50 × dies-hard (seed 0): worker process died (exit code 17)" in proc.stdout
    # the failures are on the leaderboard with their reasons
    board = (tmp_path / "smoke" / "adding-50.md").read_text()
    assert "goes-nan (seed 0): failed — non-finite loss at step 0" in board


def test_a_hanging_cell_is_stopped_at_its_time_limit(tmp_path):
    proc = rnnbench("run", "--task", "adding-50", "--model", "hangs", "--profile", "smoke",
                    "--timeout", "3", "--out", str(tmp_path), "-p", "fixtures.misbehaving", check_rc=1)
    assert records(tmp_path)[("hangs", 0)]["reason"] == "timeout after 3 s"


def test_interrupted_run_resumes_without_retraining(tmp_path, capsys):
    args = ["run", "--task", "adding-50", "--model", "elman,gru", "--seeds", "2", "--profile", "smoke",
            "--out", str(tmp_path), "--executor", "inprocess"]
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


def test_param_budget_sizes_every_model_to_the_same_count(tmp_path):
    assert main(["run", "--task", "adding-50", "--model", "elman,lstm,gru", "--profile", "smoke",
                 "--param-budget", "5000", "--out", str(tmp_path), "--executor", "inprocess"]) == 0
    got = records(tmp_path)
    for model in ("elman", "lstm", "gru"):
        assert abs(got[(model, 0)]["params"] - 5000) <= 500, (model, got[(model, 0)]["params"])
    widths = {got[(m, 0)]["hidden_size"] for m in ("elman", "lstm", "gru")}
    assert len(widths) == 3  # each model got its own width
    board = (tmp_path / "smoke" / "adding-50.md").read_text()
    assert "| params |" in board.replace("params | train s", "params |")


def test_an_unreachable_param_budget_fails_the_cell_with_one_line(tmp_path):
    main(["run", "--task", "lm-char", "--model", "lstm", "--profile", "smoke",
          "--param-budget", "100", "--out", str(tmp_path), "--executor", "inprocess"])
    failed = records(tmp_path)[("lstm", 0)]
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("--param-budget 100: lstm on lm-char: no width")
