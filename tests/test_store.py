import json

from rnnbench import store


def test_records_are_written_atomically_and_read_back(tmp_path):
    rec = {"task": "t", "model": "m", "seed": 0, "profile": "smoke", "status": "ok", "metrics": {"x": 1.0}}
    path = store.write_record(tmp_path, rec)
    assert path == tmp_path / "results" / "smoke" / "t" / "m--seed0.json"
    assert store.read_record(path) == rec
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temp file left behind"


def test_unreadable_results_are_skipped_with_a_warning(tmp_path, capsys):
    good = {"task": "t", "model": "m", "seed": 0, "profile": "smoke", "status": "ok"}
    store.write_record(tmp_path, good)
    bad = tmp_path / "results" / "smoke" / "t" / "x--seed0.json"
    bad.write_text('{"task": "t", "mod')
    edited = tmp_path / "results" / "smoke" / "t" / "y--seed0.json"
    edited.write_text(json.dumps({"task": "t"}))
    recs, skipped = store.load_records(tmp_path)
    assert recs == [good]
    assert {b.path for b in skipped} == {bad, edited}
    err = capsys.readouterr().err
    assert f"skipping unreadable result {bad}" in err and "missing key 'model'" in err
