import csv
import io

from _records import rec, sample_board

from rnnbench import report, store
from rnnbench.report import csv_writer, model


def test_a_task_csv_leads_with_rank_model_kind_n(results):
    csv_text = csv_writer.task_csv(model.task_table(sample_board(results)))
    assert csv_text.splitlines()[1].startswith("1,lstm,model,3,0.02,0.01")


def test_csv_cells_cannot_be_formulas_and_numbers_stay_numbers(tmp_path):
    for seed in (0, 1):
        r = rec("lstm", seed, -0.5 - seed)
        r["metrics"]["=cmd|' /C calc'!A0"] = -1.0
        r["throughput"]["unit"] = "@SUM(1+1)"
        r["baselines"] = {"+baseline": {"mse": -2.0}}
        store.write_record(tmp_path, r)
    store.write_record(tmp_path, rec("gru", 0, None, status="failed", reason='=HYPERLINK("http://x","y")'))
    store.write_record(tmp_path, rec("tcn", 0, None, status="n/a", reason="\tcannot serve -x"))
    files, _ = report.write(tmp_path)
    rows = list(csv.reader(io.StringIO(files["quick/adding-50.csv"])))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not _is_number(c))]
    assert "'=cmd|' /C calc'!A0_mean" in rows[0]
    assert "-1.0" in rows[1] and "-2.0" in cells
    assert '\'=HYPERLINK("http://x","y")' in cells


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_every_csv_row_has_the_same_columns_and_reasons_sit_under_reason(results):
    files, _ = report.render(store.load_records(results)[0])
    rows = list(csv.reader(io.StringIO(files["quick/adding-50.csv"])))
    assert len({len(r) for r in rows}) == 1
    head = rows[0]
    assert head[-2:] == ["status", "reason"]
    failed = next(r for r in rows if r[1] == "tcn")
    assert failed[head.index("reason")] == "timeout after 900 s"
    assert failed[head.index("status")] == "failed" and failed[head.index("beats_baselines")] == ""
