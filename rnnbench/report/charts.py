"""Charts of a leaderboard: the Pareto views (primary metric against parameters and
against train time), learning curves, and metric against sequence length for the
long-range diagnostics.

Each chart is data first (``Chart``); it renders to an inline SVG for the self-contained
``index.html`` (deterministic text, so ``--check`` can compare it) and to a PNG with
matplotlib for the Markdown pages, re-drawn only when the chart's data changed.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from rnnbench import store

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
]


@dataclass
class Chart:
    slug: str
    title: str
    x_label: str
    y_label: str
    series: dict[str, list[tuple[float, float]]]
    lines: bool = False
    log_x: bool = False
    baselines: dict[str, float] = field(default_factory=dict)

    def digest(self) -> str:
        blob = json.dumps(
            [self.title, self.x_label, self.y_label, self.series, self.lines, self.log_x, self.baselines],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_SAFE_PART = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
_CHART_FILE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
"""Stems of the PNGs this module writes; nothing else in a charts folder is removed."""


def file_part(text: str) -> str:
    """A plugin string (a family, a metric name) as part of a file name: the string itself
    when it is already safe there, else a readable slug plus a digest of the string, so
    that no string can name another folder and two strings never share a file."""
    if _SAFE_PART.match(text):
        return text
    base = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-_")[:32].strip("-_")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{base}-{digest}" if base else digest


def task_charts(board: dict) -> list[Chart]:
    p = board["primary"]["name"]
    rows = [r for r in board["rows"] if r["metrics"][p]["mean"] is not None]
    base = {b["name"]: b["metrics"][p] for b in board["baselines"] if b["metrics"].get(p) is not None}
    y = f"{p} ({'lower' if board['primary']['direction'] == 'min' else 'higher'} is better)"
    charts = []
    if rows:
        charts.append(
            Chart(
                f"{board['task']}-params",
                f"{board['task']}: {p} against parameters",
                "parameters",
                y,
                {r["model"]: [(r["params"], r["metrics"][p]["mean"])] for r in rows if r["params"]},
                log_x=True,
                baselines=base,
            )
        )
        charts.append(
            Chart(
                f"{board['task']}-time",
                f"{board['task']}: {p} against train time",
                "train seconds",
                y,
                {r["model"]: [(r["train_seconds"], r["metrics"][p]["mean"])] for r in rows if r["train_seconds"]},
                log_x=True,
                baselines=base,
            )
        )
        curves = {r["model"]: [tuple(pt) for pt in r.get("curve", []) if _finite(pt[1])] for r in rows}
        if any(len(c) > 1 for c in curves.values()):
            charts.append(
                Chart(
                    f"{board['task']}-curves",
                    f"{board['task']}: validation {p} during training",
                    "optimiser step",
                    f"validation {p}",
                    {m: c for m, c in curves.items() if c},
                    lines=True,
                )
            )
    evp = {
        m: list(enumerate(t["expected_best"], 1)) for m, t in (board.get("tuning") or {}).items() if t["expected_best"]
    }
    if evp:
        charts.append(
            Chart(
                f"{board['task']}-tuning",
                f"{board['task']}: expected best validation {p} against tuning trials",
                "trials",
                f"expected best validation {p}",
                evp,
                lines=True,
            )
        )
    return charts


def length_charts(profile: str, tasks: dict[str, dict]) -> list[Chart]:
    """Metric against sequence length, per family and primary metric, one line per model."""
    groups: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for board in tasks.values():
        if board.get("sequence_length") is None:
            continue
        p = board["primary"]["name"]
        series = groups.setdefault((board["family"], p), {})
        for r in board["rows"]:
            if r["metrics"][p]["mean"] is not None:
                series.setdefault(r["model"], []).append((board["sequence_length"], r["metrics"][p]["mean"]))
    charts, slugs = [], set()
    for (family, metric), series in sorted(groups.items()):
        if len({x for pts in series.values() for x, _ in pts}) > 1:
            slug = f"{file_part(family)}-{file_part(metric)}-by-length"
            if slug in slugs:  # e.g. family "a-b" with metric "c" and family "a" with metric "b-c"
                slug = f"{file_part(family + '/' + metric)}-by-length"
            slugs.add(slug)
            charts.append(
                Chart(
                    slug,
                    f"{family}: {metric} against sequence length",
                    "sequence length",
                    metric,
                    {m: sorted(v) for m, v in sorted(series.items())},
                    lines=True,
                )
            )
    return charts


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


# --- SVG --------------------------------------------------------------------------------

W, H, ML, MR, MT, MB = 560, 300, 64, 150, 28, 44


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10.0**e for e in range(math.floor(lo), math.ceil(hi) + 1)]
    span = hi - lo or 1.0
    step = 10 ** math.floor(math.log10(span / 4))
    for mult in (1, 2, 5, 10):
        if span / (step * mult) <= 6:
            step *= mult
            break
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 2)]


def svg(chart: Chart) -> str:
    custom = getattr(chart, "to_svg", None)  # a chart that is no scatter (the CD diagram)
    if custom is not None:
        return custom()
    pts = [
        (x, y) for s in chart.series.values() for x, y in s if _finite(x) and _finite(y) and (x > 0 or not chart.log_x)
    ]
    ys = [y for _, y in pts] + [v for v in chart.baselines.values() if _finite(v)]
    if not pts:
        return ""
    tx = (lambda v: math.log10(v)) if chart.log_x else (lambda v: v)
    x0, x1 = min(tx(x) for x, _ in pts), max(tx(x) for x, _ in pts)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 == y0:
        y0, y1 = y0 - abs(y0) * 0.1 - 1e-9, y1 + abs(y1) * 0.1 + 1e-9
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    px = lambda v: ML + (tx(v) - x0) / (x1 - x0) * (W - ML - MR)  # noqa: E731
    py = lambda v: MT + (y1 - v) / (y1 - y0) * (H - MT - MB)  # noqa: E731
    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{e(chart.title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{W / 2:.0f}" y="16" text-anchor="middle" font-size="13">{e(chart.title)}</text>',
        f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" fill="none" stroke="#999"/>',
    ]
    for t in _ticks(y0, y1, False):
        if y0 <= t <= y1:
            out.append(
                f'<line x1="{ML}" x2="{W - MR}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                f'<text x="{ML - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{_label(t)}</text>'
            )
    for t in _ticks(x0, x1, chart.log_x):
        if x0 - 1e-9 <= tx(t) <= x1 + 1e-9:
            out.append(f'<text x="{px(t):.1f}" y="{H - MB + 14}" text-anchor="middle">{_label(t)}</text>')
    out.append(
        f'<text x="{(ML + W - MR) / 2:.0f}" y="{H - 8}" text-anchor="middle">{e(chart.x_label)}'
        f"{' (log)' if chart.log_x else ''}</text>"
    )
    out.append(
        f'<text transform="translate(12 {(MT + H - MB) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f"{e(chart.y_label)}</text>"
    )
    for i, (name, v) in enumerate(sorted(chart.baselines.items())):
        if _finite(v) and y0 <= v <= y1:
            out.append(
                f'<line x1="{ML}" x2="{W - MR}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                f'stroke="#555" stroke-dasharray="4 3"/>'
                f'<text x="{W - MR - 2}" y="{py(v) - 3:.1f}" text-anchor="end" fill="#555">{e(name)}</text>'
            )
    for i, (name, series) in enumerate(sorted(chart.series.items())):
        color = PALETTE[i % len(PALETTE)]
        pts_ = [(px(x), py(y)) for x, y in series if _finite(x) and _finite(y) and (x > 0 or not chart.log_x)]
        if chart.lines and len(pts_) > 1:
            out.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="'
                + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts_)
                + '"/>'
            )
        for a, b in pts_:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{color}"><title>{e(name)}</title></circle>')
        ly = MT + 10 + i * 14
        out.append(
            f'<rect x="{W - MR + 10}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
            f'<text x="{W - MR + 24}" y="{ly + 1}">{e(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _label(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0e}"


# --- PNG --------------------------------------------------------------------------------


def write_pngs(charts: list[Chart], folder: Path) -> None:
    """Draw each chart whose data changed since its PNG was drawn, per the digests in
    ``folder/charts.json`` (which the leaderboard writes afterwards); drop orphans."""
    try:
        drawn = json.loads((folder / "charts.json").read_text())
    except (OSError, ValueError):
        drawn = {}
    if not isinstance(drawn, dict):  # hand-edited: redraw everything rather than crash
        drawn = {}
    todo = [c for c in charts if drawn.get(c.slug) != c.digest() or not (folder / f"{c.slug}.png").exists()]
    if todo:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        # labels are plugin strings: a "$" must be a dollar sign, not the start of mathtext
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            for c in todo:
                fig, ax = plt.subplots(figsize=(7, 3.8), dpi=90)
                try:
                    if hasattr(c, "draw"):  # a chart that draws itself (the CD diagram)
                        c.draw(ax)
                        fig.tight_layout()
                        store.write_atomic(
                            folder / f"{c.slug}.png",
                            lambda f: fig.savefig(f, format="png", metadata={"Software": None}),
                        )
                        continue
                    for name, series in sorted(c.series.items()):
                        xs, ys = zip(*series) if series else ((), ())
                        ax.plot(xs, ys, marker="o", linestyle="-" if c.lines else "none", label=name)
                    for name, v in sorted(c.baselines.items()):
                        ax.axhline(v, color="#555", linestyle="--", linewidth=1)
                        ax.annotate(
                            name, (1, v), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=8
                        )
                    if c.log_x:
                        ax.set_xscale("log")
                    ax.set(title=c.title, xlabel=c.x_label, ylabel=c.y_label)
                    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
                    fig.tight_layout()
                    store.write_atomic(
                        folder / f"{c.slug}.png", lambda f: fig.savefig(f, format="png", metadata={"Software": None})
                    )
                finally:
                    plt.close(fig)
    keep = {c.slug for c in charts}
    for png in folder.glob("*.png") if folder.is_dir() and not folder.is_symlink() else []:
        if png.stem not in keep and _CHART_FILE.match(png.stem):
            store.remove(png)


def is_chart_file(name: str) -> bool:
    """A name this module gives a file in a charts folder: a chart's PNG or charts.json."""
    return name == "charts.json" or (name.endswith(".png") and _CHART_FILE.match(name[:-4]) is not None)


def digests(charts: list[Chart]) -> str:
    return json.dumps({c.slug: c.digest() for c in charts}, indent=1, sort_keys=True) + "\n"
