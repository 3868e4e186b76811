import json

import pytest

from rnnbench import leaderboard, store
from rnnbench.cli import main


def rec(model, seed, value, status="ok", task="adding-50", reason=None, baselines=None):
    return {
        "task": task, "model": model, "seed": seed, "profile": "quick", "status": status, "reason": reason,
        "task_shape": "many-to-one", "task_family": "long-range", "task_description": "sum | two <b>marked</b>",
        "primary": {"name": "mse", "value": value, "direction": "min"},
        "metrics": {"mse": value, "solved": 0.5} if status == "ok" else {},
        "params": 1000, "train_seconds": 2.0, "throughput": {"unit": "samples/s", "value": 100.0},
        "peak_memory_mb": 10.0, "baselines": baselines or {"predict-1.0": {"mse": 0.167}},
    }


def sample_records():
    return [rec("lstm", 0, 0.010), rec("lstm", 1, 0.020), rec("lstm", 2, 0.030),
            rec("gru", 0, 0.025), rec("gru", 1, 0.035),
            rec("elman", 0, 0.170), rec("elman", 1, 0.168),
            rec("bi-lstm", 0, None, status="n/a", reason="bi-lstm is not causal"),
            rec("tcn", 0, None, status="failed", reason="timeout after 900 s")]


@pytest.fixture
def results(tmp_path):
    for r in sample_records():
        store.write_record(tmp_path, r)
    return tmp_path


def test_mean_std_n_ranks_ties_and_baselines(results):
    board = leaderboard.build(store.load_records(results)[0])["profiles"]["quick"]["adding-50"]
    rows = {r["model"]: r for r in board["rows"]}
    assert [r["model"] for r in board["rows"]] == ["lstm", "gru", "elman"]
    assert rows["lstm"]["metrics"]["mse"] == {"mean": 0.02, "std": 0.01, "n": 3}
    assert rows["gru"]["metrics"]["mse"]["n"] == 2
    assert rows["gru"]["tied_with_above"] is True  # |0.03 - 0.02| <= max std
    assert rows["elman"]["tied_with_above"] is False
    assert rows["lstm"]["beats_baselines"] is True and rows["elman"]["beats_baselines"] is False
    md = leaderboard.render_task_md(board)
    assert "| 1 | lstm | 0.02 ± 0.01 | 3 |" in md
    assert "| ≈2 | gru |" in md
    assert "**does not beat**" in md and "*predict-1.0* (baseline)" in md
    assert "- bi-lstm (seed 0): n/a — bi-lstm is not causal" in md
    assert "sum \\| two &lt;b>marked&lt;/b>" in md  # plugin strings are escaped
    csv_text = leaderboard.render_task_csv(board)
    assert csv_text.splitlines()[1].startswith("1,lstm,model,3,0.02,0.01")


def test_check_passes_on_fresh_files_and_fails_on_stale_ones(results, capsys):
    assert main(["leaderboard", "--out", str(results)]) == 0
    assert main(["leaderboard", "--check", "--out", str(results)]) == 0
    assert "up to date" in capsys.readouterr().out
    # a new result makes the rendered files stale
    store.write_record(results, rec("gru", 2, 0.001))
    assert main(["leaderboard", "--check", "--out", str(results)]) == 1
    assert f"stale: {results}/quick/adding-50.md" in capsys.readouterr().out
    main(["leaderboard", "--out", str(results)])
    # a hand edit is stale too
    (results / "README.md").write_text("edited by hand\n")
    assert main(["leaderboard", "--check", "--out", str(results)]) == 1


def test_check_reports_an_unreadable_result(results, capsys):
    main(["leaderboard", "--out", str(results)])
    (results / "results" / "quick" / "adding-50" / "gru--seed1.json").write_text("{truncated")
    assert main(["leaderboard", "--check", "--out", str(results)]) == 1
    assert "unreadable result:" in capsys.readouterr().out


def test_leftover_task_files_are_removed_and_flagged(results):
    leaderboard.write(results)
    (results / "quick" / "gone-task.md").write_text("old\n")
    stale, _ = leaderboard.check(results)
    assert stale == ["quick/gone-task.md"]
    leaderboard.write(results)
    assert not (results / "quick" / "gone-task.md").exists()


def test_index_has_cross_task_summary(results):
    files = leaderboard.render(store.load_records(results)[0])
    index = files["README.md"]
    assert "[adding-50](quick/adding-50.md)" in index
    assert "| lstm | 1 | 1 |" in index
    data = json.loads(files["leaderboard.json"])
    assert data["summary"]["quick"][0] == {"model": "lstm", "mean_rank": 1.0, "tasks": 1}


def test_html_page_is_self_contained_and_escapes_plugin_strings(results):
    leaderboard.write(results)
    page = (results / "index.html").read_text()
    assert "<svg" in page and "adding-50: mse against parameters" in page
    assert "sum | two &lt;b&gt;marked&lt;/b&gt;" in page and "<b>marked</b>" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in page
    md = (results / "quick" / "adding-50.md").read_text()
    assert "![adding-50: mse against parameters](charts/adding-50-params.png)" in md
    assert (results / "quick" / "charts" / "adding-50-params.png").stat().st_size > 1000


def test_a_missing_chart_makes_the_leaderboard_stale(results):
    leaderboard.write(results)
    (results / "quick" / "charts" / "adding-50-time.png").unlink()
    assert leaderboard.check(results)[0] == ["quick/charts/adding-50-time.png"]


def test_metric_against_sequence_length_view(tmp_path):
    for task, length, values in (("adding-50", 50, (0.01, 0.16)), ("adding-200", 200, (0.02, 0.167))):
        for model, v in zip(("lstm", "elman"), values):
            r = rec(model, 0, v, task=task)
            r["sequence_length"] = length
            store.write_record(tmp_path, r)
    files = leaderboard.render(store.load_records(tmp_path)[0])
    assert "![long-range: mse against sequence length](quick/charts/long-range-mse-by-length.png)" in files["README.md"]
    assert "long-range: mse against sequence length" in files["index.html"]
