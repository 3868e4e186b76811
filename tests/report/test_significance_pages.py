"""The pages built from records with per-example outcomes: bootstrap intervals, tiers,
the baseline verdict at the top of a page, and the CD diagram in both formats."""

import json

import numpy as np
from _records import rec

from rnnbench import report, store
from rnnbench.outcomes import Outcomes


def _write(out, model, seed, errors, baseline_errors, task="adding-50"):
    r = dict(rec(model, seed, float(np.mean(errors)), task=task), schema=2, outcomes=None)
    r["baselines"] = {"predict-1.0": {"mse": float(np.mean(baseline_errors))}}
    kept = Outcomes("mean", {"value": errors}, baselines={"predict-1.0": {"value": baseline_errors}})
    store.write_record(out, store.write_outcomes(out, r, kept))


def test_a_page_from_outcomes_has_bootstrap_intervals_tiers_and_a_baseline_verdict(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.random(300) * 0.3
    for seed in range(3):
        _write(tmp_path, "good", seed, base * 0.2 + rng.random(300) * 0.01, base)
        _write(tmp_path, "same", seed, base * 0.2 + rng.random(300) * 0.01, base)
        _write(tmp_path, "poor", seed, base * 1.0 + rng.random(300) * 0.01, base)
    files, bad = report.write(tmp_path)
    assert not bad
    md = files["quick/adding-50.md"]
    board = json.loads(files["leaderboard.json"])["profiles"]["quick"]["adding-50"]
    rows = {r["model"]: r for r in board["rows"]}
    assert rows["good"]["ci_method"] == "bootstrap" and rows["good"]["top_tier"] and rows["same"]["top_tier"]
    assert rows["poor"]["top_tier"] is False and rows["poor"]["beats_baselines"] is False
    assert rows["good"]["beats_baselines"] and "Diebold–Mariano" in rows["good"]["metric_test"]
    assert "two-way bootstrap" in md and "No model is significantly better" not in md
    # the same records render the same pages: --check can compare them
    assert report.check(tmp_path) == ([], [])


def test_a_task_no_model_beats_says_so_at_the_top_and_is_left_out_of_the_summary(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.random(200)
    for seed in range(2):
        _write(tmp_path, "lstm", seed, base + rng.normal(0, 0.01, 200), base)
        _write(tmp_path, "gru", seed, base + rng.normal(0, 0.01, 200), base)
    files, _ = report.write(tmp_path)
    md = files["quick/adding-50.md"]
    assert md.splitlines()[2] == "**No model is significantly better than the best baseline (predict-1.0).**"
    assert "Left out: adding-50 (no model significantly beats predict-1.0)" in files["README.md"]
    assert "No model is significantly better" in files["index.html"]


def test_the_cd_diagram_is_drawn_as_svg_and_png_over_the_compared_tasks(tmp_path):
    rng = np.random.default_rng(2)
    for task in ("adding-50", "adding-200"):
        base = rng.random(200)
        for seed in range(2):
            for model, factor in (("lstm", 0.1), ("gru", 0.3), ("elman", 0.6)):
                _write(tmp_path, model, seed, base * factor + rng.random(200) * 0.01, base, task=task)
    files, _ = report.write(tmp_path)
    summary = json.loads(files["leaderboard.json"])["summary"]["quick"]
    assert [r["model"] for r in summary["ranked"]] == ["lstm", "gru", "elman"]
    assert summary["critical_difference"] > 0
    assert "<svg" in files["index.html"] and "CD = " in files["index.html"]
    assert "![Critical difference" in files["README.md"]
    assert (tmp_path / "quick" / "charts" / "critical-difference.png").stat().st_size > 1000


def test_an_outcomes_file_gone_missing_is_reported_by_check(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.random(50)
    _write(tmp_path, "lstm", 0, base * 0.5, base)
    report.write(tmp_path)
    (tmp_path / "results" / "quick" / "adding-50" / "lstm--seed0.outcomes.npz").unlink()
    stale, bad = report.check(tmp_path)
    assert len(bad) == 1 and "outcomes file lstm--seed0.outcomes.npz is missing" in bad[0].why
