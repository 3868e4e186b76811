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
    assert rows["gru"]["tied_with_above"] is True  # |0.03 - 0.02| <= max std
    assert rows["elman"]["tied_with_above"] is False
    assert rows["lstm"]["beats_baselines"] is True and rows["elman"]["beats_baselines"] is False


def test_the_cross_task_summary_is_the_mean_rank_over_the_tasks_served():
    records = [rec("lstm", 0, 0.01), rec("gru", 0, 0.02), rec("gru", 0, 0.01, task="other")]
    summary = model.build(records)["summary"]["quick"]
    assert summary == [{"model": "lstm", "mean_rank": 1.0, "tasks": 1}, {"model": "gru", "mean_rank": 1.5, "tasks": 2}]


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
        "n",
        "solved",
        "params",
        "train s",
        "throughput",
        "peak MB",
        "vs baselines",
    ]
    column = {c.title or c.fields[0]: i for i, c in enumerate(table.columns)}
    gru, baseline, tcn = table.rows[1], table.rows[3], table.rows[4]
    assert gru.cells[column["rank"]] == model.Cell("≈2", (2,))
    assert gru.cells[column["mse ↓"]] == model.Cell("0.03 ± 0.0071", (0.03, 0.00707107))
    # a column a row does not have shows a dash on pages and blanks in the CSV
    assert baseline.cells[column["n"]] == model.Cell("–", (None,))
    assert tcn.cells[column["mse ↓"]] == model.Cell("–", (None, None))
    assert tcn.cells[column["reason"]].values == ("timeout after 900 s",)
    assert table.rows[2].cells[column["vs baselines"]] == model.Cell("does not beat", (False,), alert=True)


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
        assert imports[writer] <= {"model", "charts"}, (writer, imports[writer])


def test_rendering_imports_no_torch():
    code = (
        "import sys; from rnnbench import report\n"
        "assert not {'torch', 'pytorch_lightning', 'lightning', 'datasets', 'matplotlib'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
