"""benchmarks/reproduce_published.py: the same script that runs the full profile on a GPU,
run here on the smoke profile through the real CLI."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "reproduce_published.py"


def test_smoke_run_prints_chorales_beside_published_and_adding_beside_baseline(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--profile", "smoke", "--workers", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    chorales = [line.split() for line in lines if line.startswith(("gru (nll)", "lstm (nll)", "elman (nll)"))]
    assert [row[0] for row in chorales] == ["gru", "lstm", "elman"]
    assert [row[4] for row in chorales] == ["8.54", "8.67", "9.10"]  # Task.published, beside ours
    for row in chorales:
        ours, published, difference = float(row[3]), float(row[4]), float(row[-1])
        assert difference == pytest.approx(ours - published, abs=2e-3)
    adding = [line.split() for line in lines if line.startswith("adding-")]
    table_rows = [(row[0], row[1]) for row in adding if not row[0].endswith(":")]
    expected = [(t, m) for t in ("adding-50", "adding-200") for m in ("irnn", "elman", "lstm")]
    assert table_rows == expected
    assert all(row[4] == "0.167" for row in adding if not row[0].endswith(":"))
    sentences = [line for line in lines if line.startswith(("adding-50:", "adding-200:"))]
    assert len(sentences) == 2
    irnn, elman = (
        json.loads((tmp_path / f"results/smoke/adding-50/{model}--seed0.json").read_text())["metrics"]["mse"]
        for model in ("irnn", "elman")
    )
    verb = "beats" if irnn < elman else "does not beat"
    assert sentences[0].startswith(f"adding-50: irnn {verb} elman ({irnn:.4f} vs {elman:.4f}")


def _script():
    spec = importlib.util.spec_from_file_location("reproduce_published", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failed_cell_is_one_line_naming_it(tmp_path):
    script = _script()
    folder = tmp_path / "results" / "quick" / "adding-50"
    folder.mkdir(parents=True)
    (folder / "irnn--seed0.json").write_text(json.dumps({"status": "failed", "reason": "out of memory"}))
    with pytest.raises(script.Missing, match="adding-50 irnn seed 0: failed: out of memory"):
        script.seed_metrics(tmp_path, "quick", "adding-50", "irnn", 1)
    with pytest.raises(script.Missing, match="no record .*irnn--seed1.json"):
        (folder / "irnn--seed0.json").write_text(json.dumps({"status": "ok", "metrics": {"mse": 0.1}}))
        script.seed_metrics(tmp_path, "quick", "adding-50", "irnn", 2)


def test_ordering_sentence_follows_the_numbers():
    script = _script()
    assert script.ordering("adding-200", {"irnn": 0.01, "elman": 0.17, "lstm": 0.001}) == (
        "adding-200: irnn beats elman (0.0100 vs 0.1700 mean test MSE) and does not reach lstm (0.0100 vs 0.0010)."
    )
    assert "irnn does not beat elman" in script.ordering("adding-50", {"irnn": 0.2, "elman": 0.1, "lstm": 0.3})
    assert "and reaches lstm" in script.ordering("adding-50", {"irnn": 0.2, "elman": 0.1, "lstm": 0.3})


def test_a_diverged_cell_is_a_result_not_an_error(tmp_path):
    script = _script()
    folder = tmp_path / "results" / "quick" / "adding-200"
    folder.mkdir(parents=True)
    (folder / "irnn--seed0.json").write_text(json.dumps({"status": "failed", "reason": "non-finite loss at step 1"}))
    (folder / "irnn--seed1.json").write_text(json.dumps({"status": "ok", "metrics": {"mse": 0.1}}))
    metrics = script.seed_metrics(tmp_path, "quick", "adding-200", "irnn", 2)
    assert metrics == [None, {"mse": 0.1}]
    assert script.summary(metrics, "mse", 2) == (0.1, "0.10 (1 of 2 seeds diverged)")
    mean, shown = script.summary([None, None], "mse", 2)
    assert mean == float("inf") and shown == "diverged (2 of 2 seeds)"
    assert script.ordering("adding-200", {"irnn": mean, "elman": 0.17, "lstm": 0.001}) == (
        "adding-200: irnn diverged on every seed at this profile's learning rate."
    )
