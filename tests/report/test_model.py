import ast
import subprocess
import sys
from pathlib import Path

from _records import rec, sample_board

from rnnbench.report import model


def test_mean_std_n_ranks_ties_and_baselines(results):
    board = sample_board(results)
    rows = {r["model"]: r for r in board["rows"]}
    assert [r["model"] for r in board["rows"]] == ["lstm", "gru", "elman"]
    assert rows["lstm"]["metrics"]["mse"] == {"mean": 0.02, "std": 0.01, "n": 3}
    assert rows["gru"]["metrics"]["mse"]["n"] == 2
    # these records keep no outcomes (schema 1): intervals and Welch tests over seeds
    assert rows["lstm"]["ci_method"] == "seeds" and rows["lstm"]["ci"][0] < 0.02 < rows["lstm"]["ci"][1]
    assert rows["lstm"]["top_tier"] is True and rows["gru"]["top_tier"] is True  # 0.02 ± 0.01 vs 0.03 ± 0.007
    assert rows["elman"]["top_tier"] is False
    assert [rows[m]["rank"] for m in ("lstm", "gru", "elman")] == [1, 2, 3]
    # elman (0.170, 0.168) is no better than predict-1.0 (0.167); lstm's three seeds are
    assert rows["lstm"]["beats_baselines"] is True and rows["elman"]["beats_baselines"] is False
    assert not board["significance"]["nothing_beats"]
    assert "not significantly different" in board["significance"]["tiers"]


def test_the_cross_task_summary_ranks_only_models_that_served_every_compared_task():
    base = {"predict-1.0": {"mse": 1.0}}
    records = [
        rec(m, s, v + 0.001 * s, task=t, baselines=base)
        for t, values in {
            "a": {"lstm": 0.1, "gru": 0.2, "elman": 0.3},
            "b": {"lstm": 0.2, "gru": 0.1, "elman": 0.3},
        }.items()
        for m, v in values.items()
        for s in range(3)
    ]
    records += [rec("tcn", s, 0.05, task="a", baselines=base) for s in range(3)]
    # a task where nothing beats the baseline is left out of the comparison
    records += [rec(m, s, 1.5 + 0.01 * s, task="c", baselines=base) for m in ("lstm", "gru") for s in range(3)]
    summary = model.build(records)["summary"]["quick"]
    assert summary["tasks"] == ["a", "b"]
    assert summary["left_out"] == [{"task": "c", "why": "no model significantly beats predict-1.0"}]
    assert summary["ranked"] == [
        {"model": "gru", "mean_rank": 1.5, "tasks": 2},
        {"model": "lstm", "mean_rank": 1.5, "tasks": 2},
        {"model": "elman", "mean_rank": 3.0, "tasks": 2},
    ]
    assert summary["partial"] == [{"model": "tcn", "tasks": 1, "of": 3, "top_tier": ["a"], "beats": ["a"]}]
    assert summary["friedman"] is not None and summary["critical_difference"] > 0


def test_tied_means_share_a_fractional_rank_whatever_their_names():
    records = [rec("zeta", 0, 0.02), rec("alpha", 0, 0.02), rec("mid", 0, 0.01)]
    rows = {r["model"]: r for r in model.build(records)["profiles"]["quick"]["adding-50"]["rows"]}
    assert (rows["mid"]["rank"], rows["alpha"]["rank"], rows["zeta"]["rank"]) == (1, 2.5, 2.5)


def test_a_task_table_has_one_row_per_model_baseline_and_cell_that_did_not_run(results):
    table = model.task_table(sample_board(results))
    assert [(r.kind, r.cells[1].text) for r in table.rows] == [
        (model.MODEL, "lstm"),
        (model.MODEL, "gru"),
        (model.MODEL, "elman"),
        (model.BASELINE, "predict-1.0"),
        (model.NOT_RUN, "tcn"),
        (model.NOT_RUN, "bi-lstm"),
    ]
    assert [c.title for c in table.columns if c.title] == [
        "rank",
        "model",
        "mse ↓",
        "95 % CI",
        "tier",
        "n",
        "solved",
        "params",
        "train s",
        "throughput",
        "peak MB",
        "vs best baseline",
    ]
    column = {c.title or c.fields[0]: i for i, c in enumerate(table.columns)}
    gru, baseline, tcn = table.rows[1], table.rows[3], table.rows[4]
    assert gru.cells[column["rank"]] == model.Cell("2", (2,))
    assert gru.cells[column["tier"]].text == "top"
    assert gru.cells[column["mse ↓"]] == model.Cell("0.03 ± 0.0071", (0.03, 0.00707107))
    # a column a row does not have shows a dash on pages and blanks in the CSV
    assert baseline.cells[column["n"]] == model.Cell("–", (None,))
    assert tcn.cells[column["mse ↓"]] == model.Cell("–", (None, None))
    assert tcn.cells[column["reason"]].values == ("timeout after 900 s",)
    elman = table.rows[2].cells[column["vs best baseline"]]
    assert elman.text.startswith("does not beat (p ") and elman.alert and elman.values[0] is False


def _report_imports(path):
    """The modules of rnnbench.report that a module of it imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "rnnbench.report":
            found |= {a.name for a in node.names if (path.parent / f"{a.name}.py").exists()}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnnbench.report."):
            found.add(node.module.rsplit(".", 1)[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.rsplit(".", 1)[1] for a in node.names if a.name.startswith("rnnbench.report.")}
    return found


def test_the_writers_import_the_model_never_the_other_way():
    folder = Path(model.__file__).parent
    imports = {p.stem: _report_imports(p) for p in folder.glob("*.py") if p.stem != "__init__"}
    assert imports["model"] == set() and imports["charts"] == set()
    for writer in ("markdown", "csv_writer", "html"):
        assert imports[writer] <= {"model", "charts", "cd", "markdown"}, (writer, imports[writer])
    assert imports["cd"] <= {"charts"}


def test_rendering_imports_no_torch():
    code = (
        "import sys; from rnnbench import report\n"
        "assert not {'torch', 'pytorch_lightning', 'lightning', 'datasets', 'matplotlib'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_cd_summary_reproduces_demsars_worked_example():
    """Demšar (2006), Table 6: AUC of four C4.5 variants on 14 data sets, as 14 tasks."""
    import pytest

    from rnnbench.report.cd import cd_chart

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from test_stats import DEMSAR_AUC

    names = ["c45", "c45-m", "c45-cf", "c45-m-cf"]
    records = []
    for i, row in enumerate(DEMSAR_AUC):
        for name, auc in zip(names, row):
            r = rec(name, 0, auc, task=f"data-{i:02d}")
            r.update(primary={"name": "auc", "value": auc, "direction": "max"}, metrics={"auc": auc}, baselines={})
            records.append(r)
    summary = model.build(records)["summary"]["quick"]
    ranks = {r["model"]: r["mean_rank"] for r in summary["ranked"]}
    # The paper ranked unrounded AUCs; its table prints three decimals, at which one data
    # set ties C4.5+cf with C4.5+m+cf (0.975, 0.975): half a rank moves between the two,
    # 0.5 / 14 = 0.036 of an average rank. The other two are exact.
    assert ranks["c45"] == pytest.approx(3.143, abs=1e-3) and ranks["c45-m"] == pytest.approx(2.000, abs=1e-3)
    assert ranks["c45-cf"] == pytest.approx(2.893 + 0.5 / 14, abs=1e-3)
    assert ranks["c45-m-cf"] == pytest.approx(1.964 - 0.5 / 14, abs=1e-3)
    assert summary["critical_difference"] == pytest.approx(1.25, abs=5e-3)
    # (the paper's F = 3.69 from its printed ranks is checked in tests/test_stats.py)
    from rnnbench import stats

    expected = stats.friedman_from_average_ranks([ranks[n] for n in names], 14)
    assert summary["friedman"]["f"] == pytest.approx(expected.f, rel=1e-4) and summary["friedman"]["p"] < 0.05
    # "even the difference between the best and the worst is smaller than CD": one group
    (chart,) = cd_chart("quick", summary)
    assert chart.cliques() == [(pytest.approx(ranks["c45-m-cf"]), pytest.approx(ranks["c45"]))]


def _timed(model_name, seed, value, device_class=None, device="cpu (1 threads)", seconds=2.0):
    r = rec(model_name, seed, value)
    r["provenance"] = {"device": device, **({"device_class": device_class} if device_class else {})}
    r["train_seconds"], r["throughput"], r["peak_memory_mb"] = seconds, {"unit": "samples/s", "value": 10 / seconds}, 7
    return r


H200 = "gpu: NVIDIA H200, tf32"


def test_times_compare_within_the_device_class_of_most_cells_and_quality_across_all():
    records = [_timed("lstm", s, 0.01 * (s + 1)) for s in range(3)]  # old records: cpu (1 threads)
    records += [_timed("gru", 0, 0.02), _timed("gru", 1, 0.03, H200, "NVIDIA H200", seconds=0.5)]
    records += [_timed("elman", s, 0.2, H200, "NVIDIA H200", seconds=0.25) for s in range(2)]
    board = model.build(records)["profiles"]["quick"]["adding-50"]
    rows = {r["model"]: r for r in board["rows"]}
    old_cpu = "cpu: model not recorded, 1 thread"
    assert board["timing"]["reference"] == old_cpu and (board["timing"]["cells"], board["timing"]["of"]) == (4, 7)
    # quality over every seed, whatever it ran on
    assert rows["gru"]["metrics"]["mse"]["n"] == 2 and rows["elman"]["metrics"]["mse"]["n"] == 2
    # times over the reference class's seeds only: gru's GPU seed does not lower its mean
    assert (rows["gru"]["train_seconds"], rows["gru"]["throughput"], rows["gru"]["device_class"]) == (2.0, 5.0, old_cpu)
    assert rows["gru"]["timed_elsewhere"] and not rows["lstm"]["timed_elsewhere"]
    assert rows["elman"]["train_seconds"] is None and rows["elman"]["peak_memory_mb"] is None
    assert rows["elman"]["device_class"] is None and rows["elman"]["timed_elsewhere"]
    assert [(x["model"], x["device_class"], x["seeds"], x["train_seconds"]) for x in board["timing"]["elsewhere"]] == [
        ("elman", H200, [0, 1], 0.25),
        ("gru", H200, [1], 0.5),
    ]
    table = model.task_table(board)
    column = {c.title or c.fields[0]: i for i, c in enumerate(table.columns)}
    cells = {r.cells[column["model"]].text: r.cells for r in table.rows_of(model.MODEL)}
    assert cells["elman"][column["train s"]] == model.Cell("–", (None,), note="†")
    assert cells["elman"][column["throughput"]] == model.Cell("–", (None, None), note="†")
    assert cells["gru"][column["throughput"]] == model.Cell("5 samples/s", (5.0, "samples/s"), note="†")
    assert cells["lstm"][column["train s"]] == model.Cell("2", (2.0,))
    assert cells["lstm"][column["device_class"]].values == (old_cpu,)
    assert cells["elman"][column["device_class"]].values == (None,)


def test_a_new_record_and_an_old_one_of_the_same_cpu_are_kept_apart_and_ties_go_by_name():
    new = "cpu: AMD EPYC 7763 64-Core Processor, 1 thread"
    records = [_timed("lstm", 0, 0.01), _timed("gru", 0, 0.02, new)]
    timing = model.build(records)["profiles"]["quick"]["adding-50"]["timing"]
    # one cell each: the first name is the reference, and the other's times are apart
    assert timing["reference"] == "cpu: AMD EPYC 7763 64-Core Processor, 1 thread"
    assert [x["model"] for x in timing["elsewhere"]] == ["lstm"]


def test_a_page_with_one_device_class_says_which_and_marks_nothing():
    board = model.build([_timed("lstm", s, 0.01 * (s + 1), H200, "NVIDIA H200") for s in range(2)])
    board = board["profiles"]["quick"]["adding-50"]
    assert board["timing"] == {"reference": H200, "cells": 2, "of": 2, "elsewhere": []}
    assert model.timing_text(board) == [
        f"Train time, throughput and peak memory are compared on one device class only: {H200} (every ok cell). "
        "The quality columns use every cell, whatever it ran on."
    ]
    assert model.timing_elsewhere(board) == []


def test_means_equal_but_for_float_noise_share_a_rank_and_rows_follow_the_ranks():
    """stock-direction: bi-gru and elman both got 2409 of 4344 test days right over three
    seeds, but their float32 accuracies averaged to 0.55455800 and 0.55455802, which
    ranked elman 2 and bi-gru 3 while the page listed bi-gru first."""
    bi_gru = [0.5573204159736633, 0.5524861812591553, 0.5538673996925354]
    elman = [0.5545580387115479, 0.5559391975402832, 0.5531768202781677]
    records = [rec("top", s, 0.6) for s in range(3)]
    records += [rec("bi-gru", s, v) for s, v in enumerate(bi_gru)] + [rec("elman", s, v) for s, v in enumerate(elman)]
    records += [rec("low", s, 0.5) for s in range(3)]
    for r in records:
        r["primary"]["direction"] = "max"
    rows = model.build(records)["profiles"]["quick"]["adding-50"]["rows"]
    assert [(r["model"], r["rank"]) for r in rows] == [("top", 1), ("bi-gru", 2.5), ("elman", 2.5), ("low", 4)]
