import pytest
from _records import rec

from rnnbench import report, store


def test_a_missing_chart_makes_the_leaderboard_stale(results):
    report.write(results)
    (results / "quick" / "charts" / "adding-50-time.png").unlink()
    assert report.check(results)[0] == ["quick/charts/adding-50-time.png"]


def test_metric_against_sequence_length_view(tmp_path):
    for task, length, values in (("adding-50", 50, (0.01, 0.16)), ("adding-200", 200, (0.02, 0.167))):
        for model, v in zip(("lstm", "elman"), values):
            r = rec(model, 0, v, task=task)
            r["sequence_length"] = length
            store.write_record(tmp_path, r)
    files, _ = report.render(store.load_records(tmp_path)[0])
    assert "![long-range: mse against sequence length](quick/charts/long-range-mse-by-length.png)" in files["README.md"]
    assert "long-range: mse against sequence length" in files["index.html"]


def test_a_family_naming_a_path_cannot_place_a_chart_outside(tmp_path):
    out = tmp_path / "out"
    for task, length in (("adding-50", 50), ("adding-200", 200)):
        r = rec("lstm", 0, 0.01, task=task)
        r.update(task_family="../../../evil", sequence_length=length)
        store.write_record(out, r)
    report.write(out)
    pngs = [p for p in tmp_path.rglob("*.png")]
    assert pngs and all(p.parent == out / "quick" / "charts" for p in pngs)


def test_a_metric_name_with_dollars_renders_as_plain_text(tmp_path):
    for seed in (0, 1):
        r = rec("lstm", seed, 0.01 * (seed + 1))
        r["primary"]["name"] = "acc$\\foo$"
        r["metrics"] = {"acc$\\foo$": 0.1 * (seed + 1)}
        r["curve"] = [[1, 0.5], [2, 0.4]]
        store.write_record(tmp_path, r)
    files, _ = report.write(tmp_path)
    assert "acc$\\\\foo$" in files["quick/adding-50.md"]
    assert (tmp_path / "quick" / "charts" / "adding-50-params.png").stat().st_size > 1000


def test_length_chart_survives_a_failed_first_record(tmp_path):
    for task, length in (("adding-50", 50), ("adding-200", 200)):
        failed = rec("aaa-first", 0, None, task=task, status="failed", reason="boom")
        store.write_record(tmp_path, failed)  # no sequence_length, and first by path
        r = rec("lstm", 0, 0.01, task=task)
        r["sequence_length"] = length
        store.write_record(tmp_path, r)
    files, _ = report.render(store.load_records(tmp_path)[0])
    assert "quick/charts/long-range-mse-by-length.png" in files["README.md"]


def test_a_charts_json_of_the_wrong_shape_redraws_instead_of_crashing(results):
    report.write(results)
    (results / "quick" / "charts" / "charts.json").write_text("[]\n")
    report.write(results)
    assert report.check(results)[0] == []


@pytest.mark.parametrize("name", [".adding-50-params.png.k3_x9q2a.tmp", ".charts.json.0abc_def.tmp"])
def test_a_killed_chart_write_leaves_nothing_behind_after_the_next(results, name):
    report.write(results)
    leftover = results / "quick" / "charts" / name
    leftover.write_bytes(b"\x89PNG partial")
    mine = results / "quick" / "charts" / ".notes.txt.abcdefgh.tmp"  # not a name the charts write
    mine.write_text("mine\n")
    report.write(results)
    assert not leftover.exists() and mine.exists()
