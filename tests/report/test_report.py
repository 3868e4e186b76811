"""The package's entry points: render, write and check, over a result store."""

import errno
import fcntl
import json
import os
import tempfile
import threading
from pathlib import Path

import pytest
from _records import rec, sample_records

from rnnbench import report, store
from rnnbench.cli import main


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
    report.write(results)
    (results / "quick" / "gone-task.md").write_text("old\n")
    stale, _ = report.check(results)
    assert stale == ["quick/gone-task.md"]
    report.write(results)
    assert not (results / "quick" / "gone-task.md").exists()


def test_write_returns_what_render_gives(results):
    files, bad = report.write(results)
    assert bad == [] and files == report.render(store.load_records(results)[0])[0]
    assert all((results / rel).read_text() == content for rel, content in files.items())


def test_write_builds_the_data_and_the_charts_once(results, monkeypatch):
    calls = []
    for module, name in ((report, "build"), (report, "build_tables"), (report.charts, "task_charts")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    report.write(results)
    assert sorted(calls) == ["build", "build_tables", "task_charts"]  # one task


def test_a_killed_write_leaves_nothing_behind_after_the_next(results):
    report.write(results)
    leftovers = [
        results / ".README.md.k3_x9q2a.tmp",
        results / ".index.html.abcdefgh.tmp",
        results / "quick" / ".adding-50.md.12345678.tmp",
        results / "quick" / ".gone-task.csv.a1b2c3d4.tmp",
    ]
    fd, made = tempfile.mkstemp(dir=results / "quick", prefix=".adding-50.csv.", suffix=".tmp")  # as store makes them
    os.close(fd)
    leftovers.append(Path(made))
    for path in leftovers:
        path.write_text("partial")
    # names this renderer never writes stay, whatever they look like
    kept = [
        results / ".notes.md.abcdefgh.tmp",
        results / "quick" / ".Hand Made.md.abcdefgh.tmp",
        results / "quick" / "adding-50.md.tmp",
        results / "quick" / ".adding-50.md.short.tmp",
    ]
    for path in kept:
        path.write_text("mine")
    report.write(results)
    assert [p for p in leftovers if p.exists()] == []
    assert all(p.read_text() == "mine" for p in kept)
    assert report.check(results)[0] == []


def test_a_write_waits_for_another_into_the_same_out_and_spares_its_temp_files(results):
    report.write(results)
    other = os.open(results, os.O_RDONLY)
    fcntl.flock(other, fcntl.LOCK_EX)
    in_flight = results / ".README.md.abcdefgh.tmp"
    in_flight.write_text("being written")
    waiting = threading.Thread(target=report.write, args=(results,))
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and in_flight.exists()
    os.close(other)  # the other write is done; what it left behind is a killed write's
    waiting.join(60)
    assert not waiting.is_alive() and not in_flight.exists()


def test_where_out_cannot_be_locked_leftovers_stay(results, monkeypatch):
    report.write(results)

    def unsupported(fd, op):
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    monkeypatch.setattr(report.fcntl, "flock", unsupported)
    leftovers = [results / ".README.md.abcdefgh.tmp", results / "quick" / "charts" / ".charts.json.abcdefgh.tmp"]
    for path in leftovers:
        path.write_text("partial")
    files, _ = report.write(results)
    assert all(p.exists() for p in leftovers) and (results / "README.md").read_text() == files["README.md"]


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
    report.write(out)
    assert {p: b for p, b in _files(tmp_path).items() if out not in p.parents} == outside
    assert f"skipping unreadable result {planted}" in capsys.readouterr().err
    assert main(["leaderboard", "--out", str(out)]) == 0
    assert {p: b for p, b in _files(tmp_path).items() if out not in p.parents} == outside


def test_orphans_are_only_files_the_renderer_would_write(results, tmp_path):
    report.write(results)
    (results / "quick" / "Notes By Hand.md").write_text("mine\n")
    (results / "results" / "Not A Slug").mkdir()
    (results / "Not A Slug").mkdir()
    (results / "Not A Slug" / "x.md").write_text("mine\n")
    (results / "Not A Slug" / ".x.md.abcdefgh.tmp").write_text("mine\n")
    elsewhere = tmp_path.parent / (tmp_path.name + "-elsewhere")
    elsewhere.mkdir()
    (elsewhere / "precious.md").write_text("mine\n")
    (elsewhere / ".precious.md.abcdefgh.tmp").write_text("mine\n")
    (results / "results" / "linked").mkdir()
    (results / "linked").symlink_to(elsewhere)
    report.write(results)
    assert (results / "quick" / "Notes By Hand.md").exists()
    assert (results / "Not A Slug" / "x.md").exists() and (results / "Not A Slug" / ".x.md.abcdefgh.tmp").exists()
    assert (elsewhere / "precious.md").read_text() == "mine\n"
    assert (elsewhere / ".precious.md.abcdefgh.tmp").exists()
    assert "linked/precious.md" not in report.check(results)[0]


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
    files, bad = report.write(results)
    assert len(bad) == 2
    assert "| 2 | gru | 0.03 ± 0.0071 |" in files["quick/adding-50.md"]


def test_a_failed_write_is_one_store_error_and_leaves_no_partial_files(results, monkeypatch):
    report.write(results)
    (results / "quick" / "charts" / "adding-50-params.png").unlink()
    store.write_record(results, rec("gru", 2, 0.001))

    import matplotlib.figure

    def full_disk(self, fname, *a, **k):
        fname.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(store.StoreWriteError, match=r"^cannot write .*adding-50-params.png: No space left on device$"):
        report.write(results)
    assert not (results / "quick" / "charts" / "adding-50-params.png").exists()
    assert not [p for p in results.rglob(".*.tmp")]
    monkeypatch.undo()

    report.write(results)
    before = _files(results)
    store.write_record(results, rec("tcn", 1, None, status="failed", reason="out of memory"))

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store.os, "fsync", no_space)
    with pytest.raises(store.StoreWriteError, match=r"^cannot write .*: No space left on device$"):
        report.write(results)
    monkeypatch.undo()
    assert {p: b for p, b in _files(results).items() if "results" not in p.parts} == {
        p: b for p, b in before.items() if "results" not in p.parts
    }
    assert not [p for p in results.rglob(".*.tmp")]


def test_a_symlinked_folder_inside_out_is_never_written_through(tmp_path, capsys):
    """A profile folder that is a link elsewhere: one line, exit 2, nothing written there."""
    import shutil

    out, outside = tmp_path / "lb", tmp_path / "outside"
    committed = Path(__file__).resolve().parents[2] / "leaderboards" / "results" / "quick" / "stock-return"
    shutil.copytree(committed, out / "results" / "quick" / "stock-return")
    outside.mkdir()
    (out / "quick").symlink_to(outside, target_is_directory=True)
    assert main(["leaderboard", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a symbolic link" in err[0]
    assert list(outside.iterdir()) == []
