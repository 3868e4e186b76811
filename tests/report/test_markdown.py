import json

from _records import rec, sample_board

from rnnbench import report, store
from rnnbench.report import markdown, model


def test_a_task_page_shows_ranks_ties_baselines_and_what_did_not_run(results):
    board = sample_board(results)
    md = markdown.task_page(board, model.task_table(board))
    assert "| 1 | lstm | 0.02 ± 0.01 | \\[" in md and "(seeds) | top | 3 |" in md
    assert "| 2 | gru |" in md and "≈" not in md
    assert "**does not beat (p " in md and "*predict-1.0* (baseline)" in md
    assert "2 models are not significantly different from the top one (lstm, gru" in md
    assert "t-interval over seeds" in md
    assert "- bi-lstm (seed 0): n/a — bi-lstm is not causal" in md
    assert "sum \\| two &lt;b>marked&lt;/b>" in md  # plugin strings are escaped


def test_index_has_cross_task_summary(results):
    files, _ = report.render(store.load_records(results)[0])
    index = files["README.md"]
    assert "[adding-50](quick/adding-50.md)" in index
    assert "| lstm | 1 | 1 |" in index and "### Cross-task summary" in index
    data = json.loads(files["leaderboard.json"])
    assert data["summary"]["quick"]["ranked"][0] == {"model": "lstm", "mean_rank": 1.0, "tasks": 1}


def test_a_nan_metric_is_shown_not_dropped(tmp_path):
    for seed, v in enumerate((0.01, 0.02, float("nan"))):
        store.write_record(tmp_path, rec("lstm", seed, v))
    files, _ = report.write(tmp_path)
    md = files["quick/adding-50.md"]
    assert "| 1 | lstm | 0.015 ± 0.0071 |" in md and "| top | 2 |" in md
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
    files, _ = report.write(tmp_path)
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


def test_samples_stay_inside_their_code_span(tmp_path):
    r = rec("lstm", 0, 0.01)
    r["samples"] = {"text": "a`<img src=x onerror=alert(1)>`[x](http://x.example)\nnext"}
    store.write_record(tmp_path, r)
    md = report.render(store.load_records(tmp_path)[0])[0]["quick/adding-50.md"]
    line = next(line for line in md.splitlines() if line.startswith("- **lstm**"))
    assert line.count("`") == 2 and "<img" not in line and line.endswith("next`")


def test_pages_name_the_reference_device_class_and_list_times_from_others_apart():
    records = []
    for seed in range(3):
        r = rec("lstm", seed, 0.01 * (seed + 1))
        r["provenance"] = {"device": "cpu (1 threads)"}
        records.append(r)
    gpu = rec("gru", 0, 0.05)
    gpu["provenance"] = {"device": "NVIDIA H200", "device_class": "gpu: NVIDIA H200, tf32"}
    gpu["train_seconds"] = 0.125
    records.append(gpu)
    files, _ = report.render(records)
    md = files["quick/adding-50.md"]
    assert "| 2 | gru | 0.05 | – | " in md and "| 1,000 | – † | – † | – † |" in md
    assert "| 2 † |" not in md and "| lstm | 0.02 ± 0.01 |" in md
    assert (
        "compared on one device class only: cpu: model not recorded, 1 thread (3 of 4 ok cells). "
        "The quality columns use every cell" in md
    )
    assert "- gru (seed 0) on gpu: NVIDIA H200, tf32: train 0.125 s, 100 samples/s, peak 10 MB" in md
    html = files["index.html"]
    assert "<td>– †</td>" in html and "cpu: model not recorded, 1 thread (3 of 4 ok cells)" in html
    assert "<li>gru (seed 0) on gpu: NVIDIA H200, tf32: train 0.125 s" in html
    header, *rows = files["quick/adding-50.csv"].splitlines()
    assert "peak_memory_mb,device_class," in header
    assert rows[1].startswith("2,gru,model,1,") and ",1000,,,,,," in rows[1]


def test_a_tasks_metric_notes_are_on_its_pages_naming_the_models_when_not_everyones(tmp_path):
    signature = {"bleu": "sacreBLEU nrefs:1|case:lc|tok:13a"}
    store.write_record(tmp_path, {**rec("lstm", 0, 0.01), "metric_notes": signature})
    store.write_record(tmp_path, {**rec("gru", 0, 0.02), "metric_notes": signature})
    store.write_record(tmp_path, {**rec("gru", 1, 0.03), "metric_notes": {"bleu": "<older> tok:intl"}})
    files, _ = report.write(tmp_path)
    md = files["quick/adding-50.md"]
    assert "How the metrics are computed:" in md
    assert "- bleu: sacreBLEU nrefs:1\\|case:lc\\|tok:13a\n" in md  # escaped: a | would split a table cell
    assert "(records of gru)" in md  # said by one of gru's records only, not by lstm's
    assert "bleu: &lt;older&gt; tok:intl (records of gru)" in files["index.html"]
