"""rnnbench verify: a sample of cells re-run from their records, metrics compared."""

from rnnbench import store
from rnnbench.cli import main
from rnnbench.executors import InProcessExecutor
from rnnbench.registry import load
from rnnbench.suite import run_suite
from rnnbench.verify import compare, sample, verify


def _results(tmp_path):
    run_suite(
        ["adding-50"], ["elman", "gru"], profile="smoke", out=tmp_path, make_executor=lambda: InProcessExecutor([])
    )
    return store.load_records(tmp_path)[0]


def test_a_rerun_reproduces_the_records_and_a_tampered_metric_is_caught(tmp_path, capsys):
    records = _results(tmp_path)
    verdicts = verify(load([]), tmp_path, k=5, executor=InProcessExecutor([])).verdicts
    assert sorted(v.status for v in verdicts) == ["same", "same"]  # bit for bit on the CPU

    tampered = dict(records[0], metrics={**records[0]["metrics"], "mse": records[0]["metrics"]["mse"] * 0.5})
    store.write_record(tmp_path, tampered)
    result = verify(load([]), tmp_path, k=5, executor=InProcessExecutor([]))
    assert result.exit_code == 1
    bad = [v for v in result.verdicts if v.status == "differs"]
    assert len(bad) == 1 and bad[0].record["model"] == tampered["model"] and "mse" in bad[0].detail


def test_a_record_of_another_configuration_is_stale_not_rerun(tmp_path):
    record = _results(tmp_path)[0]
    record["provenance"]["config_hash"] = "0" * 16
    store.write_record(tmp_path, record)
    verdicts = verify(load([]), tmp_path, k=5, executor=InProcessExecutor([])).verdicts
    stale = [v for v in verdicts if v.status == "stale"]
    assert len(stale) == 1 and "config hash" in stale[0].detail


def test_the_sample_is_seeded_and_never_larger_than_the_records():
    recs = [{"profile": "quick", "task": "t", "model": f"m{i}", "seed": 0} for i in range(10)]
    assert sample(recs, 3, seed=1) == sample(list(reversed(recs)), 3, seed=1)
    assert len(sample(recs, 50, seed=0)) == 10


def test_compare_is_exact_by_default_and_accepts_a_relative_tolerance():
    assert compare({"a": 1.0}, {"a": 1.0}, 0.0) == []
    assert compare({"a": 1.0}, {"a": 1.0 + 1e-12}, 0.0) != []
    assert compare({"a": 1.0}, {"a": 1.0 + 1e-12}, 1e-9) == []
    assert compare({"a": float("nan")}, {"a": float("nan")}, 0.0) == []
    assert compare({"a": 1.0}, {}, 0.0) == ["a: 1.0 recorded, None now"]


def test_cli_verify_without_results_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results/ folder" in err


def test_cli_verify_prints_a_line_per_cell_and_a_summary(tmp_path, capsys):
    _results(tmp_path)
    capsys.readouterr()
    assert main(["verify", str(tmp_path), "--sample", "1", "--workers", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("same") and out[-1] == "1 of 2 ok cell(s) checked: 1 same"
