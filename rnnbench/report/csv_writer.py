"""One CSV per task: every row of its table (models, baselines, cells that did not
run), raw values, one header per field."""

from __future__ import annotations

import csv
import io
from typing import Any

from rnnbench.report.model import Table


def _csv_cell(x: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading quote (OWASP);
    numbers, negative ones included, are written as numbers and stay numbers."""
    if isinstance(x, str) and x[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + x
    return x


def task_csv(table: Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    # a stable sort: what identifies a row first, then the measurements in page order
    order = sorted(range(len(table.columns)), key=lambda i: not table.columns[i].identifies)
    w.writerow([_csv_cell(f) for i in order for f in table.columns[i].fields])
    for row in table.rows:
        w.writerow([_csv_cell(v) for i in order for v in row.cells[i].values])
    return buf.getvalue()
