"""The self-contained ``index.html``: every table and chart inline, no script, no
network. Every string that comes from a plugin or a result is escaped."""

from __future__ import annotations

from html import escape as e
from typing import Callable

from rnnbench.report.cd import CD
from rnnbench.report.charts import svg
from rnnbench.report.markdown import significance_lines
from rnnbench.report.model import (
    ANCHORS_INTRO,
    BASELINE,
    MODEL,
    PUBLISHED_COLUMNS,
    Cell,
    Table,
    Tables,
    metric_note_lines,
    protocol,
    published_text,
    summary_text,
    timing_elsewhere,
    timing_text,
)

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left} tr.baseline td{color:#666;font-style:italic}
.below{color:#b00020;font-weight:600} .charts{display:flex;flex-wrap:wrap;gap:8px}
section{border-top:2px solid #ddd;margin-top:1.5em} .note{color:#555;font-size:13px}
pre{white-space:pre-wrap;background:#f8f8f8;padding:6px;font-size:12px}
"""


def _content(cell: Cell, link: Callable[[str], str]) -> str:
    # a muted cell needs no markup: its whole row is styled (tr.baseline)
    text = f'<span class="below">{e(cell.text)}</span>' if cell.alert else e(cell.text)
    if cell.link is not None:
        text = f"<a href='{link(cell.link)}'>{text}</a>"
    return f"{text} {e(cell.note)}" if cell.note else text


def _task_table(table: Table) -> list[str]:
    cols = [i for i, c in enumerate(table.columns) if c.title is not None]
    th = lambda i: '<th class="l">' if table.columns[i].left else '<th class="">'  # noqa: E731
    td = lambda i: '<td class="l">' if table.columns[i].left else "<td>"  # noqa: E731
    out = ["<table><tr>" + "".join(f"{th(i)}{e(table.columns[i].title)}</th>" for i in cols) + "</tr>"]
    for row in table.rows_of(MODEL, BASELINE):
        tr = '<tr class="baseline">' if row.kind == BASELINE else "<tr>"
        out.append(tr + "".join(f"{td(i)}{_content(row.cells[i], str)}</td>" for i in cols) + "</tr>")
    out.append("</table>")
    return out


def _brief_table(table: Table, link: Callable[[str], str] = str) -> list[str]:
    """A table of an overview: only the columns in brief, one line per row."""
    cols = [i for i, c in enumerate(table.columns) if c.title is not None and c.in_brief]
    cls = lambda i: " class='l'" if table.columns[i].left else ""  # noqa: E731
    out = ["<table><tr>" + "".join(f"<th{cls(i)}>{e(table.columns[i].title)}</th>" for i in cols) + "</tr>"]
    for row in table.rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{_content(row.cells[i], link)}</td>" for i in cols) + "</tr>")
    out.append("</table>")
    return out


def _task_section(board: dict, table: Table, charts: list) -> str:
    sig = board["significance"]
    out = [f'<section id="{e(board["profile"])}-{e(board["task"])}"><h3>{e(board["task"])}</h3>']
    if sig["nothing_beats"]:
        out.append(
            f'<p class="below">No model is significantly better than the best baseline ({e(sig["best_baseline"])}).</p>'
        )
    elif sig.get("baseline_untested"):
        out.append(
            f'<p class="below">Whether any model beats the best baseline ({e(sig["best_baseline"])}) cannot be '
            "tested here (one seed or seeds without variation, and no per-example outcomes).</p>"
        )
    out += [
        f'<p class="note">{e(board["description"])} · shape {e(board["shape"])} · family {e(board["family"])} · '
        f"mean ± std over n seeds; ranks are fractional (tied means share them).</p>",
    ]
    out += _task_table(table)
    out.append('<ul class="note">' + "".join(f"<li>{e(x)}</li>" for x in significance_lines(board)) + "</ul>")
    heading, published = published_text(board)
    if published:
        out.append(f'<p class="note">{e(heading)}:</p><table class="published">')
        out.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in PUBLISHED_COLUMNS) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{e(x)}</td>" for x in row) + "</tr>" for row in published]
        out.append("</table>")
    out += [f'<p class="note">{e(line)}</p>' for line in protocol(board)]
    metric_notes = metric_note_lines(board)
    if metric_notes:
        out.append(
            '<p class="note">How the metrics are computed:</p><ul class="note">'
            + "".join(f"<li>{e(x)}</li>" for x in metric_notes)
            + "</ul>"
        )
    out += [f'<p class="note">{e(line)}</p>' for line in timing_text(board)]
    elsewhere = timing_elsewhere(board)
    if elsewhere:
        out.append('<ul class="note">' + "".join(f"<li>{e(x)}</li>" for x in elsewhere) + "</ul>")
    if board["not_ok"]:
        out.append(
            "<ul>"
            + "".join(
                f"<li>{e(x['model'])} (seed {x['seed']}): {e(x['status'])} — {e(x['reason'])}</li>"
                for x in board["not_ok"]
            )
            + "</ul>"
        )
    if board.get("notes"):
        out.append(
            '<p class="note">Notes:</p><ul>'
            + "".join(f"<li>{e(x['model'])} (seed {x['seed']}): {e(x['note'])}</li>" for x in board["notes"])
            + "</ul>"
        )
    if charts:
        out.append('<div class="charts">' + "".join(svg(c) for c in charts) + "</div>")
    samples = [(r["model"], r["samples"]) for r in board["rows"] if r["samples"]][:3]
    for model, s in samples:
        out.append(
            f"<p><b>{e(model)}</b> samples:</p><pre>"
            + e("\n".join(f"{k}: {v}" for k, v in sorted(s.items())))
            + "</pre>"
        )
    out.append("</section>")
    return "\n".join(out)


def page(data: dict, tables: Tables, chart_sets: dict) -> str:
    body = [
        "<h1>rnnbench leaderboards</h1>",
        '<p class="note">Generated by <code>rnnbench leaderboard</code> from results/; every number is '
        "from a real run, tested on the best validation checkpoint.</p>",
    ]
    if tables.anchors.rows:
        body.append('<p class="note">Published results beside ours: <a href="#anchors">anchors</a>.</p>')
    for profile, tasks in sorted(data["profiles"].items()):
        body.append(f"<h2>{e(profile)} profile</h2>")
        body += _brief_table(tables.overview[profile], lambda task: f"#{e(profile)}-{e(task)}")
        body.append("<h3>Cross-task summary</h3>")
        body += [f'<p class="note">{e(x)}</p>' for x in summary_text(data["summary"][profile])]
        if tables.summary[profile].rows:
            body += _brief_table(tables.summary[profile])
        body += [svg(c) for c in chart_sets.get(profile, {}).get(CD, [])]
        if tables.partial[profile].rows:
            body.append('<p class="note">Models that served fewer tasks (not ranked against the others):</p>')
            body += _brief_table(tables.partial[profile])
        cross = chart_sets.get(profile, {}).get("", [])
        if cross:
            body.append('<div class="charts">' + "".join(svg(c) for c in cross) + "</div>")
        for name, board in sorted(tasks.items()):
            body.append(_task_section(board, tables.tasks[profile][name], chart_sets.get(profile, {}).get(name, [])))
    if tables.anchors.rows:
        body += ['<section id="anchors"><h2>Anchors: published results beside ours</h2>']
        body += [f'<p class="note">{e(ANCHORS_INTRO)}</p>']
        body += _brief_table(tables.anchors, lambda page: "#" + page.replace("/", "-"))
        body.append("</section>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>rnnbench leaderboards</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
