"""``rnnbench compare``: what changed between two result sets, as a pull-request comment.

Two result directories (every model each has on every task both have), or two models
of one directory. Per task and model: the difference of the primary metric's means over
seeds, its 95 % interval and two-sided p-value (``significance.paired_difference``:
a bootstrap paired over test examples where both sides kept outcomes of the same test
data, else Welch over seeds), in Markdown. The verdict is information, not a gate: the
command exits 0 whatever it says.

A BEFORE without ``results/`` is a mistake (exit 2), except with ``--missing-before-ok``
(the leaderboard workflow's comparison against a base branch that has no results yet):
the Markdown then says there is nothing to compare against and lists what AFTER has.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rnnbench import significance, store
from rnnbench.outcomes import OutcomesError
from rnnbench.report.markdown import _esc
from rnnbench.report.model import fmt

ALPHA = significance.ALPHA


class CompareError(ValueError):
    """A request that cannot be compared; ``str()`` is one line."""


def _load(folder: Path) -> dict[tuple[str, str, str], list[dict]]:
    if not (folder / "results").is_dir():
        raise CompareError(f"no results in {folder}/results")
    records, _ = store.load_records(folder, warn=False)
    cells: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in records:
        if r["status"] == "ok" and isinstance(r["metrics"].get(r["primary"]["name"]), (int, float)):
            cells[(r["profile"], r["task"], r["model"])].append(r)
    return cells


def _entry(folder: Path, name: str, recs: list[dict], notes: list[str]) -> significance.Entry:
    recs = sorted(recs, key=lambda r: r["seed"])
    outs = []
    for r in recs:
        try:
            outs.append(store.outcomes_of(folder, r))
        except (OutcomesError, OSError) as exc:
            notes.append(f"{folder} {r['task']} × {r['model']} seed {r['seed']}: {exc}")
            outs.append(None)
    return significance.Entry(name, [float(r["metrics"][r["primary"]["name"]]) for r in recs], outs)


def _fingerprint(recs: list[dict]) -> set:
    return {(r.get("provenance") or {}).get("data_fingerprint") for r in recs}


def compare(
    first: Path,
    second: Path | None,
    models: tuple[str, str] | None = None,
    profile: str | None = None,
    missing_before_ok: bool = False,
) -> str:
    """The Markdown comparison. ``second`` None: ``models`` (two names) of ``first``.
    ``missing_before_ok``: a ``first`` without results/ gives a comparison that says so."""
    if missing_before_ok and second is not None and not (first / "results").is_dir():
        return _nothing_before(first, second, _load(second), models, profile)
    a_cells = _load(first)
    b_cells = a_cells if second is None else _load(second)
    pairs: list[tuple[str, str, str, str, list[dict], list[dict]]] = []  # profile, task, a label, b label
    if second is None:
        if not models:
            raise CompareError("give two result directories, or one and --models A,B")
        ma, mb = models
        for (p, t, m), recs in sorted(a_cells.items()):
            if m == ma and (p, t, mb) in a_cells:
                pairs.append((p, t, ma, mb, recs, a_cells[(p, t, mb)]))
        title = f"`{ma}` → `{mb}` in `{first}`"
        if not pairs:
            raise CompareError(f"{ma} and {mb} share no task with ok results in {first}")
    else:
        for key in sorted(set(a_cells) & set(b_cells)):
            if models and key[2] not in models:
                continue
            pairs.append((key[0], key[1], key[2], key[2], a_cells[key], b_cells[key]))
        title = f"`{first}` → `{second}`"
    if profile:
        pairs = [x for x in pairs if x[0] == profile]
    notes: list[str] = []
    lines = [
        f"## rnnbench compare: {title}",
        "",
        "Per task, the change in its primary metric (mean over seeds; after minus before), its 95 % interval "
        f'and two-sided p-value; "better" or "worse" where p ≤ {ALPHA}. Intervals and tests are paired '
        "over test examples where both sides kept per-example outcomes of the same test data, else over seeds.",
        "",
        "| profile | task | model | metric | before | after | change | 95 % CI | p | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    counts: dict[str, int] = defaultdict(int)
    for p, t, la, lb, ra, rb in pairs:
        metric, direction = ra[0]["primary"]["name"], ra[0]["primary"]["direction"]
        ea, eb = _entry(first, la, ra, notes), _entry(second or first, lb, rb, notes)
        if second is not None and _fingerprint(ra) != _fingerprint(rb):
            notes.append(f"{p}/{t} × {la}: the test data differ between the two sets; compared over seeds only")
            ea.outcomes, eb.outcomes = [None] * len(ea.values), [None] * len(eb.values)
        diff, ci, pval, how = significance.paired_difference(eb, ea, direction, metric)
        verdict = _verdict(diff, pval, direction)
        counts[verdict] += 1
        model = la if la == lb else f"{la} → {lb}"
        arrow = "↓" if direction == "min" else "↑"
        ci_text = f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "–"
        p_text = "–" if pval is None else ("< 0.001" if pval < 0.001 else f"{pval:.3g}")
        lines.append(
            f"| {p} | {t} | {model} | {_esc(metric)} {arrow} | {fmt(ea.mean)} | {fmt(eb.mean)} | {diff:+.4g} | "
            f"{ci_text} | {p_text} | {verdict} |"
        )
        if "paired" not in how:
            notes.append(f"{p}/{t} × {model}: {how}")
    if not pairs:
        lines.append("| – | – | – | – | – | – | – | – | – | nothing in common |")
    lines += ["", "Summary: " + (", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "nothing compared") + "."]
    if second is not None:
        only_a = sorted({k for k in a_cells if k not in b_cells and (not profile or k[0] == profile)})
        only_b = sorted({k for k in b_cells if k not in a_cells and (not profile or k[0] == profile)})
        if only_a:
            notes.append("only before: " + ", ".join(f"{p}/{t} × {m}" for p, t, m in only_a))
        if only_b:
            notes.append("only after: " + ", ".join(f"{p}/{t} × {m}" for p, t, m in only_b))
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _nothing_before(first: Path, second: Path, cells: dict, models: tuple[str, str] | None, profile: str | None) -> str:
    keys = sorted(k for k in cells if (not profile or k[0] == profile) and (not models or k[2] in models))
    lines = [
        f"## rnnbench compare: `{first}` → `{second}`",
        "",
        f"Nothing to compare against: `{first}` has no results/ (a base without committed leaderboard "
        "results yet), so every result below is new.",
        "",
    ]
    by_task: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p, t, m in keys:
        by_task[(p, t)].append(m)
    lines += [f"- {p}/{t}: {', '.join(ms)}" for (p, t), ms in by_task.items()] or ["- no ok results in either set"]
    lines += ["", f"Summary: nothing compared; {len(keys)} new model × task results."]
    return "\n".join(lines) + "\n"


def _verdict(diff: float, p: float | None, direction: str) -> str:
    if p is None:
        return "not testable"
    if p > ALPHA:
        return "no significant change"
    better = diff < 0 if direction == "min" else diff > 0
    return "better" if better else "worse"
