"""A task's published results (``Task.published``) on its page, beside ours."""

import pytest
from _records import rec

from rnnbench import Published, records, report, store

PUBLISHED = [
    Published("Doe et al. (2020), Table 1", "LSTM", "mse", 0.012, "their data <b>differ</b>", ours="lstm").to_dict(),
    Published("Roe (2021)", "RNN", "mse", 0.2, "second-hand", ours="elman", verified=False, profile="quick").to_dict(),
    Published("Poe (2022)", "Transformer", "mse", 0.001, "no such model here", setup="1M sums").to_dict(),
]


def write(tmp_path, published=None, in_records=None):
    for model, seed, value in (("lstm", 0, 0.01), ("lstm", 1, 0.03), ("elman", 0, 0.17)):
        r = rec(model, seed, value)
        if in_records is not None:
            r["task_published"] = in_records
        store.write_record(tmp_path, r)
    files, _ = report.write(tmp_path, published)
    return files


def test_the_page_shows_published_results_beside_ours_with_what_differs(tmp_path):
    files = write(tmp_path, {"adding-50": PUBLISHED})
    md = files["quick/adding-50.md"]
    assert "Published results (not directly comparable" in md
    assert "| Source | Setup | Model | Metric | Published | Ours | What differs |" in md
    doe = (
        "| Doe et al. (2020), Table 1 | – | LSTM | mse | 0.012 | lstm: 0.02 ± 0.014 (quick profile, not the "
        "published recipe) | their data &lt;b>differ&lt;/b> |"
    )
    assert doe in md
    assert "| Roe (2021) | – | RNN | mse | 0.2 (not verified) | elman: 0.17 | second-hand |" in md
    assert "| Poe (2022) | 1M sums | Transformer | mse | 0.001 | – | no such model here |" in md
    html = files["index.html"]
    assert "Published results (not directly comparable" in html and "0.2 (not verified)" in html
    assert "their data &lt;b&gt;differ&lt;/b&gt;" in html and "<b>differ" not in html


def test_a_task_without_published_results_has_no_such_section(tmp_path):
    files = write(tmp_path)
    assert "Published results" not in files["quick/adding-50.md"] and "Published results" not in files["index.html"]


def test_published_results_come_from_the_registry_not_from_old_records(tmp_path):
    files = write(tmp_path, in_records=PUBLISHED)
    assert "Published results" not in files["quick/adding-50.md"] and "Doe et al." not in files["anchors.md"]
    assert report.check(tmp_path) == ([], [])


def test_published_of_lists_the_tasks_that_declare_any():
    class Declares:
        published = (Published("Doe (2020)", "LSTM", "mse", 0.1, "x", profile="full"),)

    class DeclaresNone:
        published = ()

    got = report.published_of({"b-task": Declares(), "a-task": DeclaresNone()})
    assert got == {"b-task": [Declares.published[0].to_dict()]}
    assert got["b-task"][0]["profile"] == "full" and got["b-task"][0]["setup"] == ""


def test_a_malformed_published_entry_in_an_old_record_is_refused_with_one_line():
    r = {**rec("lstm", 0, 0.01), "schema": records.SCHEMA_VERSION, "outcomes": None, "outcomes_note": "none kept"}
    store.validate_record(dict(r, task_published=PUBLISHED))
    bad = [{"source": "x", "model": "y", "metric": "mse", "value": "high", "differences": ""}]
    with pytest.raises(ValueError, match="task_published must be a list of published results"):
        store.validate_record(dict(r, task_published=bad))
