"""The critical-difference diagram of a profile's cross-task summary (Demšar 2006).

An axis of average ranks (1, the best, on the left), each ranked model marked at its
average rank, a bar as long as the Nemenyi critical difference, and thick lines joining
groups of models whose average ranks differ by less than it (not significantly
different). Drawn as an inline SVG for ``index.html`` and a PNG for the Markdown.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field

from rnnbench.report.charts import Chart

CD = "#critical-difference"
"""The key of a profile's chart sets that holds its diagram (not a task: no slug has #)."""


@dataclass
class CDChart(Chart):
    ranks: dict[str, float] = field(default_factory=dict)
    critical_difference: float = 0.0
    n_tasks: int = 0

    def digest(self) -> str:
        blob = json.dumps([self.title, self.ranks, self.critical_difference, self.n_tasks], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # --- geometry, shared by both renderings -------------------------------------------
    def order(self) -> list[tuple[str, float]]:
        return sorted(self.ranks.items(), key=lambda kv: (kv[1], kv[0]))

    def cliques(self) -> list[tuple[float, float]]:
        """Rank spans of the maximal groups whose ranks differ by less than the CD."""
        ranks = [r for _, r in self.order()]
        spans: list[tuple[float, float]] = []
        last_end = -1
        for i, lo in enumerate(ranks):
            j = i
            while j + 1 < len(ranks) and ranks[j + 1] - lo < self.critical_difference:
                j += 1
            if j > i and j > last_end:
                spans.append((lo, ranks[j]))
                last_end = j
        return spans

    @property
    def k(self) -> int:
        return max(2, len(self.ranks))


def cd_chart(profile: str, summary: dict) -> list[CDChart]:
    """The diagram of ``summary`` (``model._summary``), or none where there is no test."""
    if summary.get("critical_difference") is None or len(summary["ranked"]) < 2:
        return []
    return [
        CDChart(
            slug="critical-difference",
            title=f"Critical difference ({profile}, {len(summary['tasks'])} tasks, Nemenyi α = {summary['alpha']})",
            x_label="average rank",
            y_label="",
            series={},
            ranks={r["model"]: r["mean_rank"] for r in summary["ranked"]},
            critical_difference=summary["critical_difference"],
            n_tasks=len(summary["tasks"]),
        )
    ]


W, LEFT, RIGHT, AXIS_Y, ROW = 640, 150, 150, 60, 18


def _x(chart: CDChart, rank: float) -> float:
    return LEFT + (rank - 1) / (chart.k - 1) * (W - LEFT - RIGHT)


def svg(chart: CDChart) -> str:
    order = chart.order()
    half = (len(order) + 1) // 2
    height = AXIS_Y + 30 + ROW * max(half, len(order) - half) + 10 * len(chart.cliques()) + 20
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" role="img" '
        f'aria-label="{e(chart.title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{W / 2:.1f}" y="14" text-anchor="middle" font-size="12">{e(chart.title)}</text>',
        f'<line x1="{_x(chart, 1):.1f}" y1="{AXIS_Y}" x2="{_x(chart, chart.k):.1f}" y2="{AXIS_Y}" stroke="#222"/>',
    ]
    for r in range(1, chart.k + 1):
        x = _x(chart, r)
        parts.append(f'<line x1="{x:.1f}" y1="{AXIS_Y - 4}" x2="{x:.1f}" y2="{AXIS_Y}" stroke="#222"/>')
        parts.append(f'<text x="{x:.1f}" y="{AXIS_Y - 7}" text-anchor="middle">{r}</text>')
    # the critical difference, as a bar from rank 1
    x0, x1 = _x(chart, 1), _x(chart, 1 + chart.critical_difference)
    parts.append(f'<line x1="{x0:.1f}" y1="28" x2="{x1:.1f}" y2="28" stroke="#b00020" stroke-width="2"/>')
    parts.append(f'<text x="{x1 + 4:.1f}" y="32" fill="#b00020">CD = {chart.critical_difference:.3g}</text>')
    y_cliques = AXIS_Y + 8
    for i, (lo, hi) in enumerate(chart.cliques()):
        y = y_cliques + 6 * i
        parts.append(
            f'<line x1="{_x(chart, lo) - 3:.1f}" y1="{y}" x2="{_x(chart, hi) + 3:.1f}" y2="{y}" '
            'stroke="#444" stroke-width="4"/>'
        )
    base = AXIS_Y + 16 + 6 * len(chart.cliques())
    for i, (name, rank) in enumerate(order):
        left = i < half
        row = i if left else len(order) - 1 - i
        y = base + ROW * (row + 1)
        x = _x(chart, rank)
        end = LEFT - 10 if left else W - RIGHT + 10
        anchor, tx = ("end", end - 4) if left else ("start", end + 4)
        parts.append(f'<polyline points="{x:.1f},{AXIS_Y} {x:.1f},{y} {end:.1f},{y}" fill="none" stroke="#1f77b4"/>')
        parts.append(f'<text x="{tx:.1f}" y="{y + 4}" text-anchor="{anchor}">{e(name)} ({rank:.2f})</text>')
    parts.append("</svg>")
    return "".join(parts)


def draw_png(chart: CDChart, ax) -> None:
    """The same diagram on a matplotlib axis (``charts.write_pngs`` saves the figure)."""
    order = chart.order()
    half = (len(order) + 1) // 2
    cliques = chart.cliques()
    ax.set_xlim(0, W)
    depth = AXIS_Y + 30 + ROW * max(half, len(order) - half) + 10 * len(cliques)
    ax.set_ylim(depth, 0)
    ax.axis("off")
    ax.set_title(chart.title, fontsize=10)
    ax.plot([_x(chart, 1), _x(chart, chart.k)], [AXIS_Y, AXIS_Y], color="#222", linewidth=1)
    for r in range(1, chart.k + 1):
        x = _x(chart, r)
        ax.plot([x, x], [AXIS_Y - 4, AXIS_Y], color="#222", linewidth=1)
        ax.text(x, AXIS_Y - 7, str(r), ha="center", va="bottom", fontsize=8)
    x0, x1 = _x(chart, 1), _x(chart, 1 + chart.critical_difference)
    ax.plot([x0, x1], [28, 28], color="#b00020", linewidth=2)
    ax.text(x1 + 4, 28, f"CD = {chart.critical_difference:.3g}", color="#b00020", va="center", fontsize=8)
    for i, (lo, hi) in enumerate(cliques):
        y = AXIS_Y + 8 + 6 * i
        ax.plot([_x(chart, lo) - 3, _x(chart, hi) + 3], [y, y], color="#444", linewidth=4)
    base = AXIS_Y + 16 + 6 * len(cliques)
    for i, (name, rank) in enumerate(order):
        left = i < half
        row = i if left else len(order) - 1 - i
        y = base + ROW * (row + 1)
        x = _x(chart, rank)
        end = LEFT - 10 if left else W - RIGHT + 10
        ax.plot([x, x, end], [AXIS_Y, y, y], color="#1f77b4", linewidth=1)
        ax.text(
            end - 4 if left else end + 4,
            y,
            f"{name} ({rank:.2f})",
            ha="right" if left else "left",
            va="center",
            fontsize=8,
        )


CDChart.to_svg = svg  # type: ignore[attr-defined]
CDChart.draw = draw_png  # type: ignore[attr-defined]
