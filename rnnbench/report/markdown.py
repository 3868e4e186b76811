"""The Markdown pages: ``README.md`` (per profile, the tasks and the cross-task summary)
and one page per task. Every plugin string is escaped."""

from __future__ import annotations

from typing import Any, Callable

from rnnbench.report.cd import CD
from rnnbench.report.model import (
    ANCHORS_INTRO,
    BASELINE,
    MODEL,
    PUBLISHED_COLUMNS,
    Cell,
    Row,
    Table,
    Tables,
    metric_note_lines,
    protocol,
    published_text,
    summary_text,
    timing_elsewhere,
    timing_text,
)

_MD_SPECIAL = {"\\": "\\\\", "|": "\\|", "<": "&lt;", "[": "\\[", "]": "\\]", "`": "\\`"}


def _esc(text: Any) -> str:
    """Plugin strings go into Markdown tables: keep them on one line and inert (no HTML,
    no links or images, no extra table columns)."""
    return "".join(" " if ch < " " or ch == "\x7f" else _MD_SPECIAL.get(ch, ch) for ch in str(text))


_CODE_SPECIAL = {"\\": "\\\\", "|": "\\|", "<": "&lt;", "`": "'"}


def _esc_code(text: Any) -> str:
    """For inside a `code span`, where Markdown is literal: only a backtick could end it
    (and a backslash cannot escape one there), so it becomes a quote."""
    return "".join(" " if ch < " " or ch == "\x7f" else _CODE_SPECIAL.get(ch, ch) for ch in str(text))


def _cell(cell: Cell, link: Callable[[str], str]) -> str:
    text = _esc(cell.text)
    if cell.muted:
        text = f"*{text}*"
    if cell.alert:
        text = f"**{text}**"
    if cell.link is not None:
        text = f"[{text}]({link(cell.link)})"
    return f"{text} {_esc(cell.note)}" if cell.note else text


def _table(table: Table, rows: list[Row], link: Callable[[str], str] = str) -> list[str]:
    shown = [i for i, c in enumerate(table.columns) if c.title is not None]
    lines = ["| " + " | ".join(_esc(table.columns[i].title) for i in shown) + " |", "|" + "---|" * len(shown)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.cells[i], link) for i in shown) + " |")
    return lines


def task_page(board: dict, table: Table, charts: list | None = None) -> str:
    p, d = board["primary"]["name"], board["primary"]["direction"]
    sig = board["significance"]
    lines = [f"# {board['task']} — {board['profile']} profile", ""]
    if sig["nothing_beats"]:
        lines += [f"**No model is significantly better than the best baseline ({_esc(sig['best_baseline'])}).**", ""]
    elif sig.get("baseline_untested"):
        lines += [
            f"**Whether any model beats the best baseline ({_esc(sig['best_baseline'])}) cannot be tested here "
            "(one seed or seeds without variation, and no per-example outcomes).**",
            "",
        ]
    if board["description"]:
        lines += [_esc(board["description"]), ""]
    lines += [
        f"Shape: {_esc(board['shape'])} · family: {_esc(board['family'])} · primary metric: **{_esc(p)}** "
        f"({'lower' if d == 'min' else 'higher'} is better) · mean ± std over n seeds; ranks are fractional "
        "(tied means share them).",
        "",
    ]
    lines += _table(table, table.rows_of(MODEL, BASELINE))
    lines += [""] + [f"- {_esc(x)}" for x in significance_lines(board)]
    heading, published = published_text(board)
    if published:
        lines += ["", _esc(heading) + ":", "", "| " + " | ".join(PUBLISHED_COLUMNS) + " |"]
        lines += ["|" + "---|" * len(PUBLISHED_COLUMNS)]
        lines += ["| " + " | ".join(_esc(x) for x in row) + " |" for row in published]
    lines += [""] + [_esc(line) for line in protocol(board)]
    metric_notes = metric_note_lines(board)
    if metric_notes:
        lines += ["", "How the metrics are computed:", ""] + [f"- {_esc(x)}" for x in metric_notes]
    timing = timing_text(board)
    if timing:
        lines += [""] + [_esc(line) for line in timing]
        lines += [f"- {_esc(x)}" for x in timing_elsewhere(board)]
    if board["not_ok"]:
        lines += ["", "Not run or failed:", ""]
        for x in board["not_ok"]:
            lines.append(f"- {_esc(x['model'])} (seed {x['seed']}): {x['status']} — {_esc(x['reason'])}")
    if board.get("notes"):
        lines += ["", "Notes:", ""]
        for x in board["notes"]:
            lines.append(f"- {_esc(x['model'])} (seed {x['seed']}): {_esc(x['note'])}")
    if charts:
        lines += [""] + [f"![{_esc(c.title)}](charts/{c.slug}.png)" for c in charts]
    samples = [(r["model"], r["samples"]) for r in board["rows"] if r["samples"]]
    if samples:
        lines += ["", "Samples from the best validation checkpoint (seed of the first run):", ""]
        for model, s in samples[:3]:
            lines.append(
                f"- **{_esc(model)}**: " + "; ".join(f"{_esc(k)}: `{_esc_code(v)[:300]}`" for k, v in sorted(s.items()))
            )
    return "\n".join(lines) + "\n"


def significance_lines(board: dict) -> list[str]:
    """What the tier, interval and baseline columns mean on this task, in sentences."""
    sig = board["significance"]
    out = [sig["tiers"]] if sig["tiers"] else []
    if sig["method"]:
        out.append(f"Intervals: {sig['method']}.")
    if sig["best_baseline"]:
        out.append(
            f'"beats" means significantly better than the best baseline, {sig["best_baseline"]} '
            f"(one-sided, Holm-corrected over the models, α = {sig['alpha']}; {sig['baseline_method']})."
        )
    tests = [f"{r['model']}: {r['metric_test']}" for r in board["rows"] if r.get("metric_test")]
    if tests:
        out.append(
            "Tests made for the metric against the best baseline (also required to beat it): " + "; ".join(tests)
        )
    out += sig["notes"]
    return out


def index_page(data: dict, tables: Tables, chart_sets: dict | None = None) -> str:
    lines = [
        "# rnnbench leaderboards",
        "",
        "Generated by `rnnbench leaderboard` from `results/`; do not edit by hand. "
        "Open [index.html](index.html) for the tables with charts, and [anchors.md](anchors.md) for published "
        "results beside ours.",
        "",
    ]
    for profile in sorted(data["profiles"]):
        overview = tables.overview[profile]
        lines += [f"## {profile} profile", ""] + _table(
            overview, list(overview.rows), lambda task: f"{profile}/{task}.md"
        )
        for c in (chart_sets or {}).get(profile, {}).get("", []):
            lines += ["", f"![{_esc(c.title)}]({profile}/charts/{c.slug}.png)"]
        summary = tables.summary[profile]
        lines += ["", "### Cross-task summary"]
        for sentence in summary_text(data["summary"][profile]):
            lines += ["", _esc(sentence)]
        if summary.rows:
            lines += [""] + _table(summary, list(summary.rows))
        if (chart_sets or {}).get(profile, {}).get(CD):
            c = chart_sets[profile][CD][0]
            lines += ["", f"![{_esc(c.title)}]({profile}/charts/{c.slug}.png)"]
        partial = tables.partial[profile]
        if partial.rows:
            lines += ["", "Models that served fewer tasks (not ranked against the others):", ""]
            lines += _table(partial, list(partial.rows))
        lines.append("")
    if not data["profiles"]:
        lines += ["No results yet: run `rnnbench run --all`.", ""]
    return "\n".join(lines)


def anchors_page(tables: Tables) -> str:
    """``anchors.md``: every task's published results beside ours (``model.anchors``)."""
    lines = [
        "# rnnbench anchors: published results beside ours",
        "",
        "Generated by `rnnbench leaderboard` from `results/` and the tasks' published results; do not edit by hand.",
        "",
        _esc(ANCHORS_INTRO),
        "",
    ]
    if tables.anchors.rows:
        lines += _table(tables.anchors, list(tables.anchors.rows), lambda page: f"{page}.md")
    else:
        lines.append("No registered task declares a published result.")
    return "\n".join(lines) + "\n"
