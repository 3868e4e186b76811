"""Render leaderboards from ``OUT/results`` alone (no torch, no plugins needed).

Outputs, all deterministic so that ``--check`` can compare them byte for byte:
``OUT/README.md`` (the index and cross-task summary), ``OUT/<profile>/<task>.md`` and
``.csv`` per task, and ``OUT/leaderboard.json``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from rnnbench import store

ARROW = {"min": "↓", "max": "↑"}


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(float(x)) else None


def _stats(values: list[float]) -> dict[str, Any]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return {"mean": _round(statistics.fmean(vals)), "std": _round(std), "n": len(vals)}


def _round(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.6g}")


def fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "–"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_stat(s: dict) -> str:
    if s["mean"] is None:
        return "–"
    if s["n"] > 1:
        return f"{fmt(s['mean'])} ± {fmt(s['std'], 2)}"
    return fmt(s["mean"])


def better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "min" else a > b


def build(records: list[dict]) -> dict[str, Any]:
    """The leaderboard data: per profile, per task, ranked model rows and baselines."""
    by_task: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        by_task[(r["profile"], r["task"])].append(r)
    out: dict[str, Any] = {"profiles": {}}
    for (profile, task), recs in sorted(by_task.items()):
        out["profiles"].setdefault(profile, {})[task] = _task_board(task, recs)
    out["summary"] = {p: _summary(tasks) for p, tasks in out["profiles"].items()}
    return out


def _task_board(task: str, recs: list[dict]) -> dict[str, Any]:
    ok = [r for r in recs if r["status"] == "ok"]
    # a failed or n/a cell may lack what only a trained cell reports (e.g. sequence_length)
    first = ok[0] if ok else recs[0]
    primary = first["primary"]["name"]
    direction = first["primary"]["direction"]
    metric_names = sorted({m for r in ok for m in r.get("metrics", {})} - {primary})
    metric_names = [primary] + metric_names
    rows = []
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        by_model[r["model"]].append(r)
    for model, mrecs in by_model.items():
        mrecs.sort(key=lambda r: r["seed"])
        rows.append({
            "model": model,
            "seeds": [r["seed"] for r in mrecs],
            "metrics": {m: _stats([_num(r["metrics"].get(m)) for r in mrecs]) for m in metric_names},
            "params": max(r.get("params") or 0 for r in mrecs),
            "train_seconds": _stats([_num(r.get("train_seconds")) for r in mrecs])["mean"],
            "throughput": _stats([_num((r.get("throughput") or {}).get("value")) for r in mrecs])["mean"],
            "throughput_unit": (mrecs[0].get("throughput") or {}).get("unit", ""),
            "peak_memory_mb": max((_num(r.get("peak_memory_mb")) or 0) for r in mrecs),
            "samples": mrecs[0].get("samples") or {},
            "curve": mrecs[0].get("curve") or [],
        })
    sign = 1 if direction == "min" else -1
    rows.sort(key=lambda row: (row["metrics"][primary]["mean"] is None,
                               sign * (row["metrics"][primary]["mean"] or 0), row["model"]))
    baselines = _baselines(ok, metric_names)
    best_baseline = None
    for b in baselines:
        v = b["metrics"].get(primary)
        if v is not None and (best_baseline is None or better(v, best_baseline, direction)):
            best_baseline = v
    prev = None
    for i, row in enumerate(rows, 1):
        s = row["metrics"][primary]
        row["rank"] = i
        # within one standard deviation of the row above: the ranking there is not meaningful
        row["tied_with_above"] = bool(
            prev and s["mean"] is not None and prev["mean"] is not None and (s["n"] > 1 or prev["n"] > 1)
            and abs(s["mean"] - prev["mean"]) <= max(s["std"], prev["std"])
        )
        row["beats_baselines"] = None if best_baseline is None or s["mean"] is None else better(s["mean"], best_baseline, direction)
        prev = s
    problems = [
        {"model": r["model"], "seed": r["seed"], "status": r["status"], "reason": r.get("reason") or ""}
        for r in sorted(recs, key=lambda r: (r["status"], r["model"], r["seed"])) if r["status"] != "ok"
    ]
    # a non-finite metric leaves its seed out of mean ± std; say so rather than show a smaller n
    notes = [
        {"model": r["model"], "seed": r["seed"], "note": f"{m} is not finite"}
        for r in sorted(ok, key=lambda r: (r["model"], r["seed"])) for m in metric_names
        if r["metrics"].get(m) is not None and _num(r["metrics"][m]) is None
    ]
    return {
        "task": task, "profile": first["profile"], "description": first.get("task_description", ""),
        "shape": first.get("task_shape", ""), "family": first.get("task_family", ""),
        "primary": {"name": primary, "direction": direction},
        "metric_names": metric_names, "rows": rows, "baselines": baselines, "not_ok": problems,
        "notes": notes,
        "sequence_length": next((r["sequence_length"] for r in ok if r.get("sequence_length") is not None), None),
    }


def leader(board: dict) -> dict | None:
    """The model a task's page ranks first (by the mean over seeds), or None: the one
    definition of "best" that the index, the HTML page and the CLI's summary all show."""
    return board["rows"][0] if board["rows"] else None


def _baselines(ok: list[dict], metric_names: list[str]) -> list[dict]:
    """Baselines are computed by the task on its data; any one ok record carries them."""
    for r in sorted(ok, key=lambda r: (r["model"], r["seed"])):
        if r.get("baselines"):
            return [
                {"name": name, "metrics": {m: _round(_num(vals.get(m))) for m in metric_names if m in vals}}
                for name, vals in sorted(r["baselines"].items())
            ]
    return []


def _summary(tasks: dict[str, Any]) -> list[dict]:
    """Mean rank of each model over the tasks it served, with how many tasks that is."""
    ranks: dict[str, list[int]] = defaultdict(list)
    for board in tasks.values():
        for row in board["rows"]:
            ranks[row["model"]].append(row["rank"])
    rows = [{"model": m, "mean_rank": _round(statistics.fmean(r)), "tasks": len(r)} for m, r in ranks.items()]
    return sorted(rows, key=lambda r: (r["mean_rank"], -r["tasks"], r["model"]))


# --- rendering ------------------------------------------------------------------------


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


def render_task_md(board: dict, charts: list | None = None) -> str:
    p, d = board["primary"]["name"], board["primary"]["direction"]
    others = board["metric_names"][1:]
    lines = [f"# {board['task']} — {board['profile']} profile", ""]
    if board["description"]:
        lines += [_esc(board["description"]), ""]
    lines += [f"Shape: {_esc(board['shape'])} · family: {_esc(board['family'])} · primary metric: **{_esc(p)}** "
              f"({'lower' if d == 'min' else 'higher'} is better) · mean ± std over n seeds; "
              "≈ marks a model within one standard deviation of the one above.", ""]
    head = ["rank", "model", f"{_esc(p)} {ARROW[d]}", "n"] + [_esc(o) for o in others] + [
        "params", "train s", "throughput", "peak MB", "vs baselines"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in board["rows"]:
        m = row["metrics"]
        beats = {True: "beats", False: "**does not beat**", None: "–"}[row["beats_baselines"]]
        cells = [("≈" if row["tied_with_above"] else "") + str(row["rank"]), _esc(row["model"]), fmt_stat(m[p]),
                 str(m[p]["n"])] + [fmt_stat(m[o]) for o in others] + [
            f"{row['params']:,}", fmt(row["train_seconds"], 3),
            f"{fmt(row['throughput'], 3)} {_esc(row['throughput_unit'])}", fmt(row["peak_memory_mb"], 4), beats]
        lines.append("| " + " | ".join(cells) + " |")
    for b in board["baselines"]:
        cells = ["–", f"*{_esc(b['name'])}* (baseline)", fmt(b["metrics"].get(p)), "–"] + [
            fmt(b["metrics"].get(o)) for o in others] + ["–"] * 5
        lines.append("| " + " | ".join(cells) + " |")
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
            lines.append(f"- **{_esc(model)}**: " + "; ".join(f"{_esc(k)}: `{_esc_code(v)[:300]}`" for k, v in sorted(s.items())))
    return "\n".join(lines) + "\n"


def _csv_cell(x: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading quote (OWASP);
    numbers, negative ones included, are written as numbers and stay numbers."""
    if isinstance(x, str) and x[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + x
    return x


def render_task_csv(board: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    writerow = lambda row: w.writerow([_csv_cell(x) for x in row])  # noqa: E731
    names = board["metric_names"]
    writerow(["rank", "model", "kind", "n"] + [f"{m}_{s}" for m in names for s in ("mean", "std")]
             + ["params", "train_seconds", "throughput", "throughput_unit", "peak_memory_mb", "beats_baselines",
                "status", "reason"])
    for row in board["rows"]:
        writerow([row["rank"], row["model"], "model", row["metrics"][names[0]]["n"]]
                 + [row["metrics"][m][s] for m in names for s in ("mean", "std")]
                 + [row["params"], row["train_seconds"], row["throughput"], row["throughput_unit"],
                    row["peak_memory_mb"], row["beats_baselines"], "ok", ""])
    for b in board["baselines"]:
        writerow(["", b["name"], "baseline", ""] + [b["metrics"].get(m) if s == "mean" else "" for m in names for s in ("mean", "std")] + [""] * 8)
    for x in board["not_ok"]:
        writerow(["", x["model"], x["status"], ""] + [""] * (2 * len(names)) + [""] * 6 + [x["status"], x["reason"]])
    return buf.getvalue()


def render_index_md(data: dict, chart_sets: dict | None = None) -> str:
    lines = ["# rnnbench leaderboards", "",
             "Generated by `rnnbench leaderboard` from `results/`; do not edit by hand. "
             "Open [index.html](index.html) for the tables with charts.", ""]
    for profile, tasks in sorted(data["profiles"].items()):
        lines += [f"## {profile} profile", "",
                  "| task | shape | primary | best model | value | best baseline | ok / n/a / failed |",
                  "|---|---|---|---|---|---|---|"]
        for name, b in sorted(tasks.items()):
            p, d = b["primary"]["name"], b["primary"]["direction"]
            best = leader(b)
            base_vals = [x["metrics"].get(p) for x in b["baselines"] if x["metrics"].get(p) is not None]
            base = (min if d == "min" else max)(base_vals) if base_vals else None
            counts = {s: sum(1 for x in b["not_ok"] if x["status"] == s) for s in ("n/a", "failed")}
            n_ok = sum(len(r["seeds"]) for r in b["rows"])
            lines.append(
                f"| [{_esc(name)}]({profile}/{name}.md) | {_esc(b['shape'])} | {_esc(p)} {ARROW[d]} | "
                f"{_esc(best['model']) if best else '–'} | {fmt_stat(best['metrics'][p]) if best else '–'} | "
                f"{fmt(base)} | {n_ok} / {counts['n/a']} / {counts['failed']} |")
        for c in (chart_sets or {}).get(profile, {}).get("", []):
            lines += ["", f"![{_esc(c.title)}]({profile}/charts/{c.slug}.png)"]
        lines += ["", "Cross-task summary (mean rank over the tasks a model served):", "",
                  "| model | mean rank | tasks |", "|---|---|---|"]
        for row in data["summary"][profile]:
            lines.append(f"| {_esc(row['model'])} | {fmt(row['mean_rank'], 3)} | {row['tasks']} |")
        lines.append("")
    if not data["profiles"]:
        lines += ["No results yet: run `rnnbench run --all`.", ""]
    return "\n".join(lines)


def all_charts(data: dict) -> dict[str, dict[str, list]]:
    """profile -> task (or "" for cross-task views) -> charts."""
    from rnnbench import charts

    out: dict[str, dict[str, list]] = {}
    for profile, tasks in data["profiles"].items():
        out[profile] = {name: charts.task_charts(board) for name, board in tasks.items()}
        out[profile][""] = charts.length_charts(profile, tasks)
    return out


def render(records: list[dict]) -> dict[str, str]:
    """Relative path -> file content, for every text file of the leaderboard. Chart PNGs
    are drawn by ``write`` from the same data; ``charts.json`` holds their digests."""
    return _render(records)[0]


def _render(records: list[dict]) -> tuple[dict[str, str], dict[str, dict[str, list]]]:
    from rnnbench import charts as charts_mod
    from rnnbench.html import render_html

    data = build(records)
    chart_sets = all_charts(data)
    files = {"README.md": render_index_md(data, chart_sets),
             "leaderboard.json": json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
             "index.html": render_html(data, chart_sets)}
    for profile, tasks in data["profiles"].items():
        for name, board in tasks.items():
            files[f"{profile}/{name}.md"] = render_task_md(board, chart_sets[profile][name])
            files[f"{profile}/{name}.csv"] = render_task_csv(board)
        flat = [c for cs in chart_sets[profile].values() for c in cs]
        if flat:
            files[f"{profile}/charts/charts.json"] = charts_mod.digests(flat)
    return files, chart_sets


def _same(path: Path, content: str) -> bool:
    try:
        return path.read_bytes() == content.encode("utf-8")
    except OSError:
        return False


def write(out: str | Path) -> tuple[dict[str, str], list[store.BadFile]]:
    """Render the leaderboards into ``out``. Every path comes from validated slugs, every
    file is replaced atomically, and a failed write raises store.StoreWriteError."""
    from rnnbench import charts as charts_mod

    records, bad = store.load_records(out)
    files, chart_sets = _render(records)
    for profile, sets in chart_sets.items():
        charts_mod.write_pngs([c for cs in sets.values() for c in cs], Path(out) / profile / "charts")
    for rel, content in files.items():
        path = Path(out) / rel
        if not _same(path, content):
            store.write_text_atomic(path, content)
    for rel in _orphans(out, files):
        store.remove(Path(out) / rel)
    return files, bad


def _orphans(out: str | Path, files: dict[str, str]) -> list[str]:
    """Rendered files of tasks or profiles that no longer have results: only names this
    renderer writes (``<profile>/<task>.md`` or ``.csv``, both slugs) in a real folder
    directly inside ``out``, so that nothing else is ever deleted."""
    root = Path(out)
    profiles = {rel.split("/")[0] for rel in files if "/" in rel}
    if (root / "results").is_dir():
        profiles |= {p.name for p in (root / "results").iterdir() if p.is_dir()}
    found = []
    for profile in sorted(p for p in profiles if store.is_slug(p)):
        folder = root / profile
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            rel = f"{profile}/{path.name}"
            if (path.suffix in (".md", ".csv") and store.is_slug(path.stem) and rel not in files
                    and (path.is_symlink() or path.is_file())):
                found.append(rel)
    return found


def check(out: str | Path) -> tuple[list[str], list[store.BadFile]]:
    """Files whose content on disk differs from what the results give (stale, missing,
    or left over from a task that no longer has results)."""
    records, bad = store.load_records(out, warn=False)
    files = render(records)
    stale = [rel for rel, content in files.items() if not _same(Path(out) / rel, content)]
    for rel, content in files.items():
        if rel.endswith("charts/charts.json"):
            folder = (Path(out) / rel).parent
            stale += [f"{folder.relative_to(out)}/{slug}.png" for slug in json.loads(content)
                      if not (folder / f"{slug}.png").exists()]
    return stale + _orphans(out, files), bad
