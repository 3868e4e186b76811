import errno
import json
import os
import tempfile
from pathlib import Path

import pytest

from rnnbench import store


def test_records_are_written_atomically_and_read_back(tmp_path):
    rec = {
        "schema": 2,
        "task": "t",
        "model": "m",
        "seed": 0,
        "profile": "smoke",
        "status": "ok",
        "metrics": {"x": 1.0},
        "primary": {"name": "x", "value": 1.0, "direction": "max"},
        "outcomes": None,
    }
    path = store.write_record(tmp_path, rec)
    assert path == tmp_path / "results" / "smoke" / "t" / "m--seed0.json"
    assert store.read_record(path) == rec
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temp file left behind"


def test_unreadable_results_are_skipped_with_a_warning(tmp_path, capsys):
    good = {
        "schema": 2,
        "task": "t",
        "model": "m",
        "seed": 0,
        "profile": "smoke",
        "status": "ok",
        "metrics": {"x": 1.0},
        "primary": {"name": "x", "value": 1.0, "direction": "max"},
        "outcomes": None,
    }
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


def full_record(**changes):
    rec = {
        "task": "t",
        "model": "m",
        "seed": 0,
        "profile": "smoke",
        "status": "ok",
        "primary": {"name": "x", "value": 1.0, "direction": "max"},
        "metrics": {"x": 1.0},
    }
    return {**rec, **changes}


@pytest.mark.parametrize(
    "content, why",
    [
        ("5", "not a JSON object"),
        ("null", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps(full_record(metrics=None)), "metrics"),
        (json.dumps({k: v for k, v in full_record().items() if k != "metrics"}), "metrics"),
        (json.dumps({k: v for k, v in full_record().items() if k != "primary"}), "primary"),
        (json.dumps(full_record(primary={"name": "x", "direction": "sideways"})), "direction"),
        (json.dumps(full_record(metrics={"y": 1.0})), "primary metric 'x'"),
        (json.dumps(full_record(seed="0")), "seed"),
        (json.dumps(full_record(seed=0.5)), "seed"),
        (json.dumps(full_record(seed=True)), "seed"),
        (json.dumps(full_record(status="great")), "status"),
        (json.dumps(full_record(params="many")), "params"),
        (json.dumps(full_record(throughput=3)), "throughput"),
        (json.dumps(full_record(curve=[[1, 2, 3]])), "curve"),
        (json.dumps(full_record(provenance="x")), "provenance"),
        (json.dumps(full_record(schema=3)), "written by schema 3"),
        (json.dumps(full_record(schema=2, outcomes=None) | {"outcomes": {"file": "../x"}}), "outcomes"),
        (json.dumps({k: v for k, v in full_record(schema=2).items() if k != "outcomes"}), "outcomes"),
        (json.dumps(full_record(schema="1")), "written by schema '1'"),
    ],
)
def test_a_record_of_the_wrong_shape_is_skipped_with_one_warning_and_is_not_done(tmp_path, capsys, content, why):
    path = tmp_path / "results" / "smoke" / "t" / "m--seed0.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    recs, skipped = store.load_records(tmp_path)
    assert recs == [] and [b.path for b in skipped] == [path]
    assert why in skipped[0].why and "\n" not in skipped[0].why
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"skipping unreadable result {path}" in err
    # the runner must re-run this cell rather than count it as done
    assert store.existing(tmp_path, "smoke", "t", "m", 0) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err


@pytest.mark.parametrize(
    "changes",
    [
        {"profile": ".."},
        {"task": "../../x"},
        {"model": "a/b"},
        {"model": "lstm\n"},
        {"profile": ""},
        {"model": "other"},
        {"seed": 1},
        {"task": "u"},
        {"profile": "quick"},
    ],
)
def test_a_record_whose_identity_is_not_a_slug_or_disagrees_with_its_path_is_invalid(tmp_path, capsys, changes):
    path = tmp_path / "results" / "smoke" / "t" / "m--seed0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(full_record(**changes)))
    recs, skipped = store.load_records(tmp_path)
    assert recs == [] and [b.path for b in skipped] == [path]
    assert store.existing(tmp_path, "smoke", "t", "m", 0) is None


def test_a_file_outside_the_layout_is_invalid(tmp_path):
    stray = tmp_path / "results" / "smoke" / "m--seed0.json"
    stray.parent.mkdir(parents=True)
    stray.write_text(json.dumps(full_record()))
    assert store.load_records(tmp_path, warn=False)[0] == []


def test_a_valid_record_passes_and_a_nan_metric_is_kept(tmp_path):
    rec = full_record(metrics={"x": float("nan")}, seed=3, curve=[[1, 0.5]], params=10)
    store.write_record(tmp_path, rec)
    (got,), bad = store.load_records(tmp_path)
    assert bad == [] and got["seed"] == 3 and got["metrics"]["x"] != got["metrics"]["x"]


@pytest.mark.parametrize("changes", [{"profile": ".."}, {"task": "../x"}, {"model": "m\n"}, {"seed": "0"}])
def test_write_record_refuses_an_identity_that_is_not_a_slug(tmp_path, changes):
    with pytest.raises(ValueError):
        store.write_record(tmp_path / "out", full_record(**changes))
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_failed_write_is_one_line_and_leaves_the_old_file(tmp_path, monkeypatch):
    path = store.write_record(tmp_path, full_record())
    before = path.read_bytes()

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store.os, "fsync", full_disk)
    with pytest.raises(store.StoreWriteError) as err:
        store.write_record(tmp_path, full_record(metrics={"x": 2.0}))
    assert isinstance(err.value, OSError)
    assert str(err.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name], "temp file left behind"


def test_temp_target_names_the_file_a_temp_file_was_for(tmp_path):
    fd, made = tempfile.mkstemp(dir=tmp_path, prefix=".adding-50.md.", suffix=".tmp")
    os.close(fd)
    assert store.temp_target(Path(made).name) == "adding-50.md"
    assert store.temp_target("adding-50.md") is None and store.temp_target(".adding-50.md.tmp") is None


def test_a_record_of_the_current_schema_passes_and_one_of_schema_1_is_upgraded(tmp_path):
    """Records written before the schema was declared have no ``schema`` key: they are of
    the first version, which had no outcomes; they read as records without outcomes."""
    from rnnbench.records import SCHEMA_VERSION

    assert SCHEMA_VERSION == 2
    current = full_record(schema=SCHEMA_VERSION, outcomes=None)
    assert store.validate_record(current) == current
    for old in (full_record(), full_record(schema=1)):
        upgraded = store.validate_record(old)
        assert upgraded["schema"] == 2 and upgraded["upgraded_from"] == 1 and upgraded["outcomes"] is None
        assert "schema 1" in upgraded["outcomes_note"]


def _outcomes(n=5):
    import numpy as np

    from rnnbench.outcomes import Outcomes

    return Outcomes("mean", {"value": np.arange(n) % 2 * 1.0}, baselines={"b": {"value": np.ones(n)}})


def test_outcomes_are_written_beside_the_record_and_read_back_without_pickle(tmp_path):
    import numpy as np

    rec = store.write_outcomes(tmp_path, full_record(schema=2), _outcomes())
    path = store.write_record(tmp_path, rec)
    assert rec["outcomes"]["file"] == "m--seed0.outcomes.npz" and rec["outcomes"]["n"] == 5
    got = store.outcomes_of(tmp_path, store.read_record(path))
    assert got.kind == "mean" and got.columns["value"].tolist() == [0, 1, 0, 1, 0]
    assert got.baselines["b"]["value"].tolist() == [1] * 5
    with np.load(path.with_name(rec["outcomes"]["file"]), allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temp file left behind"


@pytest.mark.parametrize("damage", ["remove", "truncate", "replace"])
def test_an_ok_record_without_its_outcomes_is_run_again_and_reported(tmp_path, capsys, damage):
    rec = store.write_outcomes(tmp_path, full_record(schema=2), _outcomes())
    path = store.write_record(tmp_path, rec)
    assert store.existing(tmp_path, "smoke", "t", "m", 0) == rec
    npz = path.with_name(rec["outcomes"]["file"])
    if damage == "remove":
        npz.unlink()
    elif damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:20])
    else:  # a valid file, but not the one the record names
        from rnnbench.outcomes import to_bytes

        npz.write_bytes(to_bytes(_outcomes(6)))
    assert store.existing(tmp_path, "smoke", "t", "m", 0) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "running" in err[0] and rec["outcomes"]["file"] in err[0]
    records, bad = store.load_records(tmp_path, warn=False)
    assert records == [] and len(bad) == 1 and "rerun the cell" in bad[0].why


def test_a_record_of_schema_1_is_run_again_but_still_read(tmp_path, capsys):
    store.write_record(tmp_path, full_record(schema=1))
    assert store.existing(tmp_path, "smoke", "t", "m", 0) is None
    assert "schema 1" in capsys.readouterr().err
    records, bad = store.load_records(tmp_path)
    assert len(records) == 1 and not bad and records[0]["outcomes"] is None


def test_an_ok_record_written_without_outcomes_removes_a_stale_outcomes_file(tmp_path):
    rec = store.write_outcomes(tmp_path, full_record(schema=2), _outcomes())
    path = store.write_record(tmp_path, rec)
    store.write_record(tmp_path, full_record(schema=2, outcomes=None))
    assert not path.with_name("m--seed0.outcomes.npz").exists()


@pytest.mark.parametrize("umask, mode", [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_result_files_get_the_permissions_of_an_ordinary_open(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = store.write_record(
            tmp_path,
            {
                "task": "t",
                "model": "m",
                "seed": 0,
                "profile": "smoke",
                "status": "n/a",
                "primary": {"name": "x", "value": None, "direction": "max"},
            },
        )
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_a_failed_records_traceback_is_an_optional_string(tmp_path):
    rec = {
        "task": "t",
        "model": "m",
        "seed": 0,
        "profile": "smoke",
        "status": "failed",
        "reason": "RuntimeError: boom (in model plugin 'p')",
        "primary": {"name": "x", "value": None, "direction": "max"},
    }
    assert store.validate_record({**rec, "traceback": "Traceback ...\nRuntimeError: boom"})
    assert store.validate_record(rec)
    with pytest.raises(ValueError, match="traceback must be a string"):
        store.validate_record({**rec, "traceback": ["frame"]})
