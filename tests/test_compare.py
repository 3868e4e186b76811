"""`rnnbench compare`: synthetic result sets whose verdicts are known."""

import numpy as np

from rnnbench import store
from rnnbench.cli import main
from rnnbench.outcomes import Outcomes


def _write(out, model, seed, correct, task="digits", fingerprint="data-v1"):
    value = float(np.mean(correct))
    r = {
        "schema": 2,
        "task": task,
        "model": model,
        "seed": seed,
        "profile": "quick",
        "status": "ok",
        "primary": {"name": "accuracy", "value": value, "direction": "max"},
        "metrics": {"accuracy": value},
        "provenance": {"data_fingerprint": fingerprint},
        "outcomes": None,
    }
    store.write_record(out, store.write_outcomes(out, r, Outcomes("mean", {"value": correct})))


def test_two_directories_compare_per_task_and_model_and_exit_0(tmp_path, capsys):
    rng = np.random.default_rng(0)
    before, after = tmp_path / "before", tmp_path / "after"
    truth = rng.random(400)
    for seed in range(3):
        _write(before, "lstm", seed, (truth < 0.6).astype(float))
        _write(after, "lstm", seed, (truth < 0.9).astype(float))  # right wherever it was, and more
        same = (rng.random(400) < 0.7).astype(float)
        _write(before, "gru", seed, same)
        _write(after, "gru", seed, same)
    _write(after, "tcn", 0, (truth < 0.5).astype(float))
    assert main(["compare", str(before), str(after)]) == 0
    md = capsys.readouterr().out
    lines = {line.split(" | ")[2]: line for line in md.splitlines() if line.startswith("| quick |")}
    # the smallest p-value 1000 bootstrap replicates can show: 2 / 1001
    assert lines["lstm"].endswith("| better |") and "| 0.002 |" in lines["lstm"]
    assert lines["gru"].endswith("| no significant change |")
    assert "only after: quick/digits × tcn" in md


def test_two_models_of_one_directory_and_a_worse_one(tmp_path, capsys):
    rng = np.random.default_rng(1)
    truth = rng.random(300)
    for seed in range(2):
        _write(tmp_path, "good", seed, (truth < 0.9).astype(float))
        _write(tmp_path, "poor", seed, (truth < 0.3).astype(float))
    assert main(["compare", str(tmp_path), "--models", "good,poor", "--output", str(tmp_path / "c.md")]) == 0
    md = (tmp_path / "c.md").read_text()
    assert "`good` → `poor`" in md and "| worse |" in md and "paired" in md


def test_other_test_data_are_compared_over_seeds_only(tmp_path, capsys):
    rng = np.random.default_rng(2)
    for seed in range(3):
        _write(tmp_path / "a", "lstm", seed, (rng.random(100) < 0.5).astype(float))
        _write(tmp_path / "b", "lstm", seed, (rng.random(100) < 0.5).astype(float), fingerprint="data-v2")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "test data differ" in capsys.readouterr().out


def test_a_folder_without_results_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "none"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no results in" in err


def test_a_before_without_results_may_be_nothing_to_compare_against(tmp_path, capsys):
    _write(tmp_path / "after", "lstm", 0, np.ones(10))
    _write(tmp_path / "after", "gru", 0, np.ones(10), task="words")
    assert main(["compare", str(tmp_path / "none"), str(tmp_path / "after"), "--missing-before-ok"]) == 0
    md = capsys.readouterr().out
    assert "Nothing to compare against" in md and "has no results/" in md
    assert "- quick/digits: lstm" in md and "- quick/words: gru" in md and "2 new model × task results" in md
    # an AFTER without results is still a mistake
    assert main(["compare", str(tmp_path / "none"), str(tmp_path / "gone"), "--missing-before-ok"]) == 2
