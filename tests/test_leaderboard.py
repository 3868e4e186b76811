import errno
import io
import json
import os

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


# --- nothing escapes: hostile or malformed records --------------------------------------


def _files(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _plant(out, rel, record):
    path = out / "results" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize("changes", [{"profile": ".."}, {"task": "../../x"}, {"profile": "../.."}])
def test_a_record_naming_a_path_outside_out_touches_nothing_outside(tmp_path, capsys, changes):
    (tmp_path / "README.md").write_text("canary\n")
    (tmp_path / "CONTRIBUTING.md").write_text("canary\n")
    (tmp_path / "data.csv").write_text("canary\n")
    out = tmp_path / "leaderboards"
    for r in sample_records():
        store.write_record(out, r)
    planted = _plant(out, "quick/adding-50/lstm--seed9.json", {**rec("lstm", 9, 0.01), **changes})
    outside = {p: b for p, b in _files(tmp_path).items() if out not in p.parents}
    leaderboard.write(out)
    assert {p: b for p, b in _files(tmp_path).items() if out not in p.parents} == outside
    assert f"skipping unreadable result {planted}" in capsys.readouterr().err
    assert main(["leaderboard", "--out", str(out)]) == 0
    assert {p: b for p, b in _files(tmp_path).items() if out not in p.parents} == outside


def test_orphans_are_only_files_the_renderer_would_write(results, tmp_path):
    leaderboard.write(results)
    (results / "quick" / "Notes By Hand.md").write_text("mine\n")
    (results / "results" / "Not A Slug").mkdir()
    (results / "Not A Slug").mkdir()
    (results / "Not A Slug" / "x.md").write_text("mine\n")
    elsewhere = tmp_path.parent / (tmp_path.name + "-elsewhere")
    elsewhere.mkdir()
    (elsewhere / "precious.md").write_text("mine\n")
    (results / "results" / "linked").mkdir()
    (results / "linked").symlink_to(elsewhere)
    leaderboard.write(results)
    assert (results / "quick" / "Notes By Hand.md").exists()
    assert (results / "Not A Slug" / "x.md").exists()
    assert (elsewhere / "precious.md").read_text() == "mine\n"
    assert "linked/precious.md" not in leaderboard.check(results)[0]


@pytest.mark.parametrize("content", ["5", "null", '"text"', "[]"])
def test_valid_json_of_the_wrong_shape_does_not_crash_the_leaderboard(results, capsys, content):
    bad = results / "results" / "quick" / "adding-50" / "gru--seed7.json"
    bad.write_text(content)
    assert main(["leaderboard", "--out", str(results)]) == 0
    captured = capsys.readouterr()
    assert f"skipping unreadable result {bad}" in captured.err and "Traceback" not in captured.err


def test_an_ok_record_without_metrics_or_primary_is_skipped(results, capsys):
    r = rec("gru", 7, 0.01)
    del r["metrics"]
    _plant(results, "quick/adding-50/gru--seed7.json", r)
    r = rec("gru", 8, 0.01)
    del r["primary"]
    _plant(results, "quick/adding-50/gru--seed8.json", r)
    files, bad = leaderboard.write(results)
    assert len(bad) == 2
    assert "| ≈2 | gru | 0.03 ± 0.0071 | 2 |" in files["quick/adding-50.md"]


def test_a_nan_metric_is_shown_not_dropped(tmp_path):
    for seed, v in enumerate((0.01, 0.02, float("nan"))):
        store.write_record(tmp_path, rec("lstm", seed, v))
    files, _ = leaderboard.write(tmp_path)
    md = files["quick/adding-50.md"]
    assert "| 1 | lstm | 0.015 ± 0.0071 | 2 |" in md
    assert "lstm (seed 2): mse is not finite" in md
    assert "lstm (seed 2): mse is not finite" in files["index.html"]


def test_plugin_strings_are_inert_in_markdown_and_html(tmp_path):
    hostile = "<script>alert(1)</script>"
    for task, length in (("adding-50", 50), ("adding-200", 200)):
        for seed in (0, 1):
            r = rec("lstm", seed, 0.01 * (seed + 1), task=task)
            r.update(task_family=hostile, task_shape="<img src=x onerror=alert(1)>", sequence_length=length)
            r["metrics"]["a|b <img src=x onerror=alert(2)>"] = 1.0
            r["baselines"] = {"[click](http://x.example)": {"mse": 0.1}}
            store.write_record(tmp_path, r)
    files, _ = leaderboard.write(tmp_path)
    for rel in ("quick/adding-50.md", "README.md"):
        md = files[rel]
        assert "<script" not in md and "<img" not in md and "[click](http" not in md
        header = next(line for line in md.splitlines() if line.startswith("| rank") or line.startswith("| task"))
        sep = md.splitlines()[md.splitlines().index(header) + 1]
        assert header.replace("\\|", "").count("|") == sep.count("|")  # no extra columns
    assert "\\[click\\](http://x.example)" in files["quick/adding-50.md"]
    assert "&lt;script&gt;" in files["index.html"] and "<script" not in files["index.html"]
    assert "<img" not in files["index.html"]
    out_files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(tmp_path in p.parents for p in out_files)
    assert [p.name for p in (tmp_path / "quick" / "charts").glob("*by-length*.png")]


def test_a_family_naming_a_path_cannot_place_a_chart_outside(tmp_path):
    out = tmp_path / "out"
    for task, length in (("adding-50", 50), ("adding-200", 200)):
        r = rec("lstm", 0, 0.01, task=task)
        r.update(task_family="../../../evil", sequence_length=length)
        store.write_record(out, r)
    leaderboard.write(out)
    pngs = [p for p in tmp_path.rglob("*.png")]
    assert pngs and all(p.parent == out / "quick" / "charts" for p in pngs)


def test_a_metric_name_with_dollars_renders_as_plain_text(tmp_path):
    for seed in (0, 1):
        r = rec("lstm", seed, 0.01 * (seed + 1))
        r["primary"]["name"] = "acc$\\foo$"
        r["metrics"] = {"acc$\\foo$": 0.1 * (seed + 1)}
        r["curve"] = [[1, 0.5], [2, 0.4]]
        store.write_record(tmp_path, r)
    files, _ = leaderboard.write(tmp_path)
    assert "acc$\\\\foo$" in files["quick/adding-50.md"]
    assert (tmp_path / "quick" / "charts" / "adding-50-params.png").stat().st_size > 1000


def test_csv_cells_cannot_be_formulas_and_numbers_stay_numbers(tmp_path):
    import csv as csv_mod

    for seed in (0, 1):
        r = rec("lstm", seed, -0.5 - seed)
        r["metrics"]["=cmd|' /C calc'!A0"] = -1.0
        r["throughput"]["unit"] = "@SUM(1+1)"
        r["baselines"] = {"+baseline": {"mse": -2.0}}
        store.write_record(tmp_path, r)
    store.write_record(tmp_path, rec("gru", 0, None, status="failed", reason='=HYPERLINK("http://x","y")'))
    store.write_record(tmp_path, rec("tcn", 0, None, status="n/a", reason="\tcannot serve -x"))
    files, _ = leaderboard.write(tmp_path)
    rows = list(csv_mod.reader(io.StringIO(files["quick/adding-50.csv"])))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not _is_number(c))]
    assert "'=cmd|' /C calc'!A0_mean" in rows[0]
    assert "-1.0" in rows[1] and "-2.0" in cells
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_every_csv_row_has_the_same_columns_and_reasons_sit_under_reason(results):
    files = leaderboard.render(store.load_records(results)[0])
    import csv as csv_mod

    rows = list(csv_mod.reader(io.StringIO(files["quick/adding-50.csv"])))
    assert len({len(r) for r in rows}) == 1
    head = rows[0]
    assert head[-2:] == ["status", "reason"]
    failed = next(r for r in rows if r[1] == "tcn")
    assert failed[head.index("reason")] == "timeout after 900 s"
    assert failed[head.index("status")] == "failed" and failed[head.index("beats_baselines")] == ""


def test_length_chart_survives_a_failed_first_record(tmp_path):
    for task, length in (("adding-50", 50), ("adding-200", 200)):
        failed = rec("aaa-first", 0, None, task=task, status="failed", reason="boom")
        store.write_record(tmp_path, failed)  # no sequence_length, and first by path
        r = rec("lstm", 0, 0.01, task=task)
        r["sequence_length"] = length
        store.write_record(tmp_path, r)
    files = leaderboard.render(store.load_records(tmp_path)[0])
    assert "quick/charts/long-range-mse-by-length.png" in files["README.md"]


def test_a_failed_write_is_one_store_error_and_leaves_no_partial_files(results, monkeypatch):
    leaderboard.write(results)
    (results / "quick" / "charts" / "adding-50-params.png").unlink()
    store.write_record(results, rec("gru", 2, 0.001))

    import matplotlib.figure

    def full_disk(self, fname, *a, **k):
        fname.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(store.StoreWriteError, match=r"^cannot write .*adding-50-params.png: No space left on device$"):
        leaderboard.write(results)
    assert not (results / "quick" / "charts" / "adding-50-params.png").exists()
    assert not [p for p in results.rglob(".*.tmp")]
    monkeypatch.undo()

    leaderboard.write(results)
    before = _files(results)
    store.write_record(results, rec("tcn", 1, None, status="failed", reason="out of memory"))

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store.os, "fsync", no_space)
    with pytest.raises(store.StoreWriteError, match=r"^cannot write .*: No space left on device$"):
        leaderboard.write(results)
    monkeypatch.undo()
    assert {p: b for p, b in _files(results).items() if "results" not in p.parts} == {
        p: b for p, b in before.items() if "results" not in p.parts}
    assert not [p for p in results.rglob(".*.tmp")]


def test_samples_stay_inside_their_code_span(tmp_path):
    r = rec("lstm", 0, 0.01)
    r["samples"] = {"text": "a`<img src=x onerror=alert(1)>`[x](http://x.example)\nnext"}
    store.write_record(tmp_path, r)
    md = leaderboard.render(store.load_records(tmp_path)[0])["quick/adding-50.md"]
    line = next(line for line in md.splitlines() if line.startswith("- **lstm**"))
    assert line.count("`") == 2 and "<img" not in line and line.endswith("next`")


def test_a_charts_json_of_the_wrong_shape_redraws_instead_of_crashing(results):
    leaderboard.write(results)
    (results / "quick" / "charts" / "charts.json").write_text("[]\n")
    leaderboard.write(results)
    assert leaderboard.check(results)[0] == []
