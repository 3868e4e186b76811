"""What the leaderboards show, from result records and their per-example outcomes: per
profile and task the ranked models (mean ± std over seeds, a 95 % interval, the tier of
models not significantly different from the top one, the test against the best
baseline; ``rnnbench.significance``) beside the task's baselines (``build``), the
cross-task critical-difference summary, and the tables that every writer lays out
(``build_tables``).

A column is defined once, here: its header, its CSV fields, and for each kind of row
that has it, the cell (text on a page, raw values in the CSV). The writers only lay
tables out, so a new column appears on every page and in the CSV at once.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from rnnbench import records, significance, stats

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


def _better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "min" else a > b


OutcomesOf = Callable[[dict], Any]
"""``outcomes_of(record)``: the record's ``rnnbench.outcomes.Outcomes`` or None; may
raise ``OutcomesError`` (the row then gets an interval over seeds and a note)."""


Published = dict[str, list[dict]]
"""Task -> its published results (``rnnbench.api.Published.to_dict``), from the registry."""


def build(
    records: list[dict],
    tuning: dict | None = None,
    outcomes_of: OutcomesOf | None = None,
    published: Published | None = None,
) -> dict[str, Any]:
    """The leaderboard data: per profile, per task, ranked model rows and baselines, and
    each model's tuning (``rnnbench.tuning.load_all``) where it was tuned; the tasks'
    ``published`` results beside ours, on each task's board and over all tasks
    (``anchors``)."""
    by_task: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        by_task[(r["profile"], r["task"])].append(r)
    out: dict[str, Any] = {"profiles": {}}
    for (profile, task), recs in sorted(by_task.items()):
        board = _task_board(task, recs, outcomes_of, (published or {}).get(task) or [])
        board["tuning"] = _tuning(((tuning or {}).get(profile) or {}).get(task) or {})
        out["profiles"].setdefault(profile, {})[task] = board
    out["summary"] = {p: _summary(tasks) for p, tasks in out["profiles"].items()}
    out["anchors"] = anchors(out["profiles"], published or {})
    return out


def _task_board(
    task: str, recs: list[dict], outcomes_of: OutcomesOf | None = None, published: list[dict] | None = None
) -> dict[str, Any]:
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
    timing = _timing(ok)
    for model, mrecs in by_model.items():
        mrecs.sort(key=lambda r: r["seed"])
        timed = [r for r in mrecs if records.device_class(r) == timing["reference"]]
        rows.append(
            {
                "model": model,
                "seeds": [r["seed"] for r in mrecs],
                "metrics": {m: _stats([_num(r["metrics"].get(m)) for r in mrecs]) for m in metric_names},
                "params": max(r.get("params") or 0 for r in mrecs),
                **_times(timed),
                "device_class": timing["reference"] if timed else None,
                "timed_elsewhere": len(timed) < len(mrecs),
                "samples": mrecs[0].get("samples") or {},
                "curve": mrecs[0].get("curve") or [],
                "hyperparameters": mrecs[0].get("hyperparameters") or {},
                "tuning_trials": (mrecs[0].get("tuning") or {}).get("trials"),
                "param_budget": mrecs[0].get("param_budget"),
            }
        )
    baselines = _baselines(ok, metric_names)
    outcome_notes: list[dict] = []
    significant = _significance(by_model, primary, direction, baselines, outcomes_of, outcome_notes)
    for row in rows:
        res = significant.results.get(row["model"])
        row["rank"] = (int(res.rank) if float(res.rank).is_integer() else res.rank) if res else None
        row["ci"] = [_round(x) for x in res.ci] if res and res.ci else None
        row["ci_method"] = res.ci_method if res else "none"
        row["top_tier"] = res.top_tier if res else None
        row["p_vs_top"] = _round_p(res.p_vs_top) if res else None
        row["beats_baselines"] = res.beats if res else None
        row["p_vs_baseline"] = _round_p(res.p_vs_baseline) if res else None
        row["metric_test"] = res.metric_test if res else None
    # the page lists rows in rank order; the means shown (6 digits) can tie where the
    # ranks do not, or differ in float noise where the ranks tie
    rows.sort(key=lambda row: (row["rank"] is None, row["rank"] or 0, row["model"]))
    problems = [
        {"model": r["model"], "seed": r["seed"], "status": r["status"], "reason": r.get("reason") or ""}
        for r in sorted(recs, key=lambda r: (r["status"], r["model"], r["seed"]))
        if r["status"] != "ok"
    ]
    # a non-finite metric leaves its seed out of mean ± std; say so rather than show a smaller n
    notes = [
        {"model": r["model"], "seed": r["seed"], "note": f"{m} is not finite"}
        for r in sorted(ok, key=lambda r: (r["model"], r["seed"]))
        for m in metric_names
        if r["metrics"].get(m) is not None and _num(r["metrics"][m]) is None
    ] + _collapse(outcome_notes)
    return {
        "task": task,
        "profile": first["profile"],
        "description": first.get("task_description", ""),
        "shape": first.get("task_shape", ""),
        "family": first.get("task_family", ""),
        "primary": {"name": primary, "direction": direction},
        "metric_names": metric_names,
        "rows": rows,
        "baselines": baselines,
        "not_ok": problems,
        "notes": notes,
        "published": published_rows(published or [], rows, metric_names),
        "metric_notes": _metric_notes(ok),
        "sequence_length": next((r["sequence_length"] for r in ok if r.get("sequence_length") is not None), None),
        "timing": timing,
        "significance": {
            "method": significant.method,
            "tiers": significant.tier_text,
            "top": significant.top,
            "best_baseline": significant.best_baseline,
            "baseline_method": significant.baseline_method,
            "nothing_beats": significant.nothing_beats,
            "baseline_untested": significant.baseline_untested,
            "notes": significant.notes,
            "alpha": significance.ALPHA,
        },
    }


def published_rows(entries: list[dict], rows: list[dict], metric_names: list[str]) -> list[dict]:
    """The task's published results, each with our result beside it: the mean ± std of
    the model it names (``ours``) in the metric it reports, where we measure that metric."""
    by_model = {r["model"]: r for r in rows}
    out = []
    for p in entries:
        row = by_model.get(p.get("ours") or "")
        ours = row["metrics"][p["metric"]] if row is not None and p["metric"] in metric_names else None
        out.append({**p, "ours_value": ours})
    return out


def published_text(board: dict) -> tuple[str, list[list[str]]]:
    """The published results as a heading and rows of text (Source, Setup, Model, Metric,
    Published, Ours, What differs), the same on every page format; no rows: none."""
    rows = [
        [
            p["source"],
            p.get("setup") or "–",
            p["model"],
            p["metric"],
            _published_value(p),
            _ours_on_page(p, board["profile"]),
            p["differences"],
        ]
        for p in board.get("published") or []
    ]
    heading = (
        f"Published results (not directly comparable: what differs is named in each row; ours: "
        f"{board['profile']} profile, mean ± std over seeds)"
    )
    return heading, rows


def _ours_on_page(p: dict, profile: str) -> str:
    if p["ours_value"] is None:
        return "–"
    text = f"{p['ours']}: {fmt_stat(p['ours_value'])}"
    # a page of another profile than the entry's shows a number of another recipe
    return text if p.get("profile") == profile else f"{text} ({profile} profile, not the published recipe)"


PUBLISHED_COLUMNS = ("Source", "Setup", "Model", "Metric", "Published", "Ours", "What differs")


def _published_value(p: dict) -> str:
    return fmt(p["value"]) + ("" if p.get("verified", True) else " (not verified)")


SUBSTITUTE = "quick"
"""The profile whose results stand in on the anchors page where an entry's own profile has
none: the one every task's leaderboard runs (``rnnbench.api.PROFILES``)."""


def anchors(profiles: dict[str, dict[str, dict]], published: Published) -> list[dict]:
    """Every task's published results, in task order, each with ours beside it: the mean
    ± std of the model it names under the profile it names (``Published.profile``); where
    that profile has no such result, under the quick profile (``ours_profile`` says which);
    where neither has one, why (``not_run``)."""
    out = []
    for task in sorted(published):
        for p in published[task]:
            direction = _direction(profiles, task, p["metric"])
            out.append({**p, "task": task, "direction": direction, **_ours_beside(profiles, task, p)})
    return out


def _direction(profiles: dict[str, dict[str, dict]], task: str, metric: str) -> str | None:
    """Which way ``metric`` is better, where it is the task's primary metric (the only
    one whose direction the records say)."""
    boards = [tasks[task] for _, tasks in sorted(profiles.items()) if task in tasks]
    return next((b["primary"]["direction"] for b in boards if b["primary"]["name"] == metric), None)


def _ours_beside(profiles: dict[str, dict[str, dict]], task: str, p: dict) -> dict[str, Any]:
    found: dict[str, Any] = {"ours_value": None, "ours_profile": None, "page": None, "not_run": ""}
    if not p.get("ours"):
        return found
    wanted = [p["profile"]] if p.get("profile") else []
    wanted += [SUBSTITUTE] if SUBSTITUTE not in wanted else []
    missing = []
    for profile in wanted:
        board = profiles.get(profile, {}).get(task)
        if board is not None and found["page"] is None:
            found["page"] = profile  # the task's page that comes closest, for a link
        value, why = _ours_under(board, p, profile)
        if value is not None:
            return {**found, "ours_value": value, "ours_profile": profile, "page": profile}
        missing.append(why)
    return {**found, "not_run": "; ".join(missing)}


def _ours_under(board: dict | None, p: dict, profile: str) -> tuple[dict | None, str]:
    """Our mean ± std of ``p`` on ``board`` (a task under ``profile``), or why there is none."""
    ours, metric = p["ours"], p["metric"]
    if board is None:
        if profile == SUBSTITUTE:
            return None, f"no {profile} results of this task"
        # a profile beyond the leaderboard's is a published recipe at full scale
        return None, (
            f"no {profile} results (a full-scale recipe: hours of training, on hub data where a task reads it)"
        )
    row = next((r for r in board["rows"] if r["model"] == ours), None)
    if row is None:
        reasons = sorted({x["reason"] for x in board["not_ok"] if x["model"] == ours and x["reason"]})
        why = f": {' '.join(reasons)}" if reasons else ""
        return None, f"no {profile} result of {ours}{why}"
    if metric not in board["metric_names"] or row["metrics"][metric]["mean"] is None:
        return None, f"{profile} results do not measure {metric}"
    return row["metrics"][metric], ""


def anchor_ours(a: dict) -> str:
    """Our result of an anchors row as text: the model, mean ± std, seeds and profile."""
    if not a.get("ours"):
        return "– (no model of ours named)"
    if a["ours_value"] is None:
        return f"not run here: {a['not_run']}"
    s = a["ours_value"]
    seeds = f"{s['n']} seed{'s' if s['n'] != 1 else ''}"
    text = f"{a['ours']}: {fmt_stat(s)} ({seeds}, {a['ours_profile']} profile"
    if a["ours_profile"] != a.get("profile"):
        text += ", not the published recipe"
    return text + ")"


def anchor_comparison(a: dict) -> str:
    """Whether ours is better or worse than the published value, said only where ours ran
    under the entry's own profile and the metric's direction is known."""
    s, direction = a["ours_value"], a["direction"]
    if s is None or direction is None:
        return "–"
    if a["ours_profile"] != a.get("profile"):
        return "not comparable (another recipe)"
    if s["mean"] == a["value"]:
        return "equal"
    return "better" if _better(s["mean"], a["value"], direction) else "worse"


def _times(recs: list[dict]) -> dict[str, Any]:
    """Train seconds, throughput and peak memory of a model's seeds, all of one device class."""
    return {
        "train_seconds": _stats([_num(r.get("train_seconds")) for r in recs])["mean"],
        "throughput": _stats([_num(records.throughput(r)) for r in recs])["mean"],
        "throughput_unit": records.throughput_unit(recs[0]) if recs else "",
        "peak_memory_mb": max((_num(r.get("peak_memory_mb")) or 0) for r in recs) if recs else None,
    }


def _timing(ok: list[dict]) -> dict[str, Any]:
    """Which cells' times a task's page compares: those of one device class
    (``records.device_class``), the one with the most ok cells (on a tie, the first
    name). Quality compares across classes; time, throughput and memory do not, so the
    times of cells measured elsewhere are listed apart, per model and class."""
    classes = [(r, records.device_class(r)) for r in ok]
    counts: dict[str, int] = defaultdict(int)
    for _, cls in classes:
        counts[cls] += 1
    reference = min(counts, key=lambda c: (-counts[c], c)) if counts else None
    apart: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r, cls in classes:
        if cls != reference:
            apart[(r["model"], cls)].append(r)
    elsewhere = [
        {"model": model, "device_class": cls, "seeds": [r["seed"] for r in recs], **_times(recs)}
        for (model, cls), recs in sorted(apart.items())
        for recs in [sorted(recs, key=lambda r: r["seed"])]
    ]
    return {"reference": reference, "cells": counts.get(reference, 0), "of": len(ok), "elsewhere": elsewhere}


def timing_text(board: dict) -> list[str]:
    """What a task's time columns compare, in sentences for its page, and what † means
    when some times are kept apart (``timing_elsewhere`` lists them)."""
    timing = board.get("timing") or {}
    if not timing.get("reference"):
        return []
    cells = "every ok cell" if timing["cells"] == timing["of"] else f"{timing['cells']} of {timing['of']} ok cells"
    lines = [
        f"Train time, throughput and peak memory are compared on one device class only: {timing['reference']} "
        f"({cells}). The quality columns use every cell, whatever it ran on."
    ]
    if timing["elsewhere"]:
        lines.append(
            "† Some or all of the model's seeds were timed on another device class: those times are listed "
            "here, not compared in the table."
        )
    return lines


def timing_elsewhere(board: dict) -> list[str]:
    """One line per model and other device class: its seeds and their times."""
    out = []
    for x in (board.get("timing") or {}).get("elsewhere", []):
        seeds = ", ".join(str(s) for s in x["seeds"])
        out.append(
            f"{x['model']} (seed{'s' if len(x['seeds']) > 1 else ''} {seeds}) on {x['device_class']}: "
            f"train {fmt(x['train_seconds'], 3)} s, {fmt(x['throughput'], 3)} {x['throughput_unit']}, "
            f"peak {fmt(x['peak_memory_mb'], 4)} MB"
        )
    return out


def _metric_notes(ok: list[dict]) -> list[dict]:
    """The task's notes on its metrics (``Task.metric_notes``), one per label and text,
    naming the models whose records say it when not every record does (records written
    by another version of the task may say otherwise, or nothing)."""
    said: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in ok:
        for label, text in (r.get("metric_notes") or {}).items():
            said[(str(label), str(text))].add(r["model"])
    everyone = {r["model"] for r in ok}
    return [
        {"label": label, "text": text, "models": [] if models == everyone else sorted(models)}
        for (label, text), models in sorted(said.items())
    ]


def metric_note_lines(board: dict) -> list[str]:
    """The task's notes on its metrics, in sentences for its page."""
    return [
        f"{x['label']}: {x['text']}" + (f" (records of {', '.join(x['models'])})" if x["models"] else "")
        for x in board.get("metric_notes") or []
    ]


def _collapse(notes: list[dict]) -> list[dict]:
    """One note per model and text, naming its seeds (an old record set says the same of every seed)."""
    seeds: dict[tuple[str, str], list] = defaultdict(list)
    for x in notes:
        seeds[(x["model"], x["note"])].append(x["seed"])
    return [
        {"model": m, "seed": ", ".join(str(s) for s in sorted(ss)), "note": note}
        for (m, note), ss in sorted(seeds.items())
    ]


def _round_p(p: float | None) -> float | None:
    return None if p is None else float(f"{p:.3g}")


def _significance(
    by_model: dict[str, list[dict]],
    primary: str,
    direction: str,
    baselines: list[dict],
    outcomes_of: OutcomesOf | None,
    notes: list[dict],
) -> significance.TaskStats:
    from rnnbench.outcomes import OutcomesError

    entries = []
    for model, mrecs in sorted(by_model.items()):
        kept = [r for r in mrecs if _num(r["metrics"].get(primary)) is not None]
        outs = []
        for r in kept:
            got = None
            if outcomes_of is not None:
                try:
                    got = outcomes_of(r)
                except (OutcomesError, OSError, ValueError) as exc:
                    notes.append({"model": model, "seed": r["seed"], "note": str(exc).splitlines()[0]})
            if got is None and r.get("outcomes_note"):
                notes.append({"model": model, "seed": r["seed"], "note": r["outcomes_note"]})
            outs.append(got)
        entries.append(significance.Entry(model, [float(r["metrics"][primary]) for r in kept], outs))
    values = {b["name"]: b["metrics"].get(primary) for b in baselines}
    return significance.analyse(entries, direction, primary, values)


def _tuning(docs: dict[str, dict]) -> dict[str, dict]:
    """Per tuned model: trials spent, the chosen hyperparameters and the expected best
    validation score after 1..N trials (Dodge et al. 2019)."""
    from rnnbench.tuning import expected_validation

    return {
        model: {
            "trials": doc.get("trials_done"),
            "budget": doc.get("budget"),
            "hyperparameters": doc.get("hyperparameters"),
            "best_value": _round(_num(doc.get("best_value"))),
            "expected_best": [_round(v) for v in expected_validation(doc)],
            "pruned": sum(1 for t in doc.get("trials", []) if t.get("state") == "pruned"),
            "space": sorted(doc.get("space") or {}),
        }
        for model, doc in sorted(docs.items())
    }


def protocol(board: dict) -> list[str]:
    """How the models of a task were trained, in sentences for its page: the size they
    were matched to, and how their hyperparameters were chosen."""
    rows = board["rows"]
    lines = []
    budgets = sorted({r.get("param_budget") for r in rows}, key=lambda b: (b is None, b or 0))
    if budgets and budgets[0] is not None and len(budgets) == 1:
        lines.append(
            f"Every model's width was fitted to a budget of {budgets[0]:,} parameters (±10 %); the parameters "
            "column shows each count."
        )
    elif len(budgets) > 1:
        shown = ", ".join(f"{b:,}" if b is not None else "none" for b in budgets)
        lines.append(f"Models were sized to different parameter budgets ({shown}): the comparison is unequal.")
    elif rows:
        lines.append("Models were compared at equal width, not equal size (no parameter budget).")
    trials = {r["model"]: r.get("tuning_trials") for r in rows}
    if rows and all(trials.values()):
        counts = sorted(set(trials.values()))
        space = sorted({d for t in board.get("tuning", {}).values() for d in t["space"]})
        lines.append(
            f"Hyperparameters ({', '.join(space) or 'learning rate'}) were chosen on validation with "
            f"{' or '.join(str(c) for c in counts)} Optuna TPE trials per model"
            + (" (an equal budget)." if len(counts) == 1 else ": the budgets differ, so the comparison is unequal.")
        )
        pruned = sum(t.get("pruned", 0) for t in board.get("tuning", {}).values())
        if pruned:
            lines.append(
                f"{pruned} trial(s) below the median of the earlier ones at the same step were stopped early "
                "(Optuna's median pruner); the expected-validation chart counts each at the best score it "
                "reached, a pessimistic stand-in for the score it would have ended with."
            )
    elif rows and any(trials.values()):
        untuned = sorted(m for m, t in trials.items() if not t)
        lines.append(
            "Only some models were tuned; "
            + ", ".join(untuned)
            + " trained with the profile's hyperparameters, so the comparison is unequal."
        )
    elif rows:
        lines.append("Hyperparameters are the profile's, the same for every model (not tuned).")
    return lines


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


def _best_baseline(baselines: list[dict], primary: str, direction: str) -> float | None:
    values = [b["metrics"][primary] for b in baselines if b["metrics"].get(primary) is not None]
    return (min if direction == "min" else max)(values) if values else None


def _summary(tasks: dict[str, Any]) -> dict[str, Any]:
    """The cross-task comparison (Demšar 2006): over the tasks where some model beats its
    best baseline significantly, and the models that served every one of them, the
    average fractional rank, the Friedman test (Iman–Davenport) and the Nemenyi critical
    difference. Tasks where nothing beats the baseline are left out and listed; a model
    that served fewer tasks gets its own summary instead of a rank."""

    def out_because(board: dict) -> str | None:
        sig = board["significance"]
        if sig["nothing_beats"]:
            return f"no model significantly beats {sig['best_baseline']}"
        if sig.get("baseline_untested"):
            return f"whether a model beats {sig['best_baseline']} cannot be tested (one seed, no per-example outcomes)"
        return None

    included = sorted(t for t, b in tasks.items() if b["rows"] and out_because(b) is None)
    left_out = [
        {"task": t, "why": out_because(b)} for t, b in sorted(tasks.items()) if b["rows"] and out_because(b) is not None
    ]
    served: dict[str, set[str]] = defaultdict(set)
    for t in included:
        for row in tasks[t]["rows"]:
            if row["metrics"][tasks[t]["primary"]["name"]]["mean"] is not None:
                served[row["model"]].add(t)
    ranked_models = sorted(m for m, ts in served.items() if len(ts) == len(included))
    ranked, friedman, cd = [], None, None
    if included and ranked_models:
        scores = []
        for t in included:
            board = tasks[t]
            p, d = board["primary"]["name"], board["primary"]["direction"]
            means = {row["model"]: row["metrics"][p]["mean"] for row in board["rows"]}
            # the same direction for every task: rank each task's scores as its metric wants
            scores.append([means[m] if d == "min" else -means[m] for m in ranked_models])
        rank_matrix = stats.fractional_ranks(scores, "min")
        average = rank_matrix.mean(0)
        ranked = [
            {"model": m, "mean_rank": _round(float(r)), "tasks": len(included)} for m, r in zip(ranked_models, average)
        ]
        ranked.sort(key=lambda r: (r["mean_rank"], r["model"]))
        if len(included) >= 2 and len(ranked_models) >= 2:
            f = stats.friedman(rank_matrix)
            friedman = {"chi2": _round(f.chi2), "f": _round(f.f), "p": _round_p(f.p_value)}
            cd = _round(stats.nemenyi_critical_difference(len(ranked_models), len(included)))
    partial = []
    all_models = {row["model"] for b in tasks.values() for row in b["rows"]}
    for m in sorted(all_models - set(ranked_models)):
        rows = {t: next(r for r in b["rows"] if r["model"] == m) for t, b in tasks.items() if _has(b, m)}
        partial.append(
            {
                "model": m,
                "tasks": len(rows),
                "of": len(tasks),
                "top_tier": sorted(t for t, r in rows.items() if r["top_tier"]),
                "beats": sorted(t for t, r in rows.items() if r["beats_baselines"]),
            }
        )
    return {
        "tasks": included,
        "left_out": left_out,
        "ranked": ranked,
        "friedman": friedman,
        "critical_difference": cd,
        "alpha": significance.ALPHA,
        "partial": partial,
    }


def _has(board: dict, model: str) -> bool:
    return any(r["model"] == model for r in board["rows"])


# --- tables ---------------------------------------------------------------------------

MODEL, BASELINE, NOT_RUN, TASK = "model", "baseline", "not run", "task"
"""Kinds of table rows: a model's seeds, a baseline, a cell that was n/a or failed (the
CSV lists it; pages list it below the table with its reason), a task of an index."""


@dataclass(frozen=True)
class Cell:
    text: str = "–"
    """As a page shows it, unescaped: each writer escapes it for its format."""
    values: tuple = ()
    """Raw, one per CSV field of the column (None: a blank)."""
    note: str = ""
    """Shown after the text, plain: e.g. "(baseline)" after a baseline's name."""
    muted: bool = False
    """A baseline's name: secondary to the models."""
    alert: bool = False
    """A model that does not beat the baselines."""
    link: str | None = None
    """A task whose page or section the text links to."""


@dataclass(frozen=True)
class Column:
    title: str | None
    """Header on a page; None for a column only the CSV has."""
    fields: tuple[str, ...]
    """CSV headers, one per raw value; () for a column only pages have."""
    cells: dict[str, Callable[[dict], Cell]]
    """Per kind of row that has this column, its cell; other rows show "–" and blanks."""
    left: bool = False
    """Text rather than a number (aligned left)."""
    identifies: bool = False
    """Says which row this is and how many seeds back it: the CSV leads with such columns."""
    in_brief: bool = True
    """Part of a brief overview (the HTML index, whose task sections follow in full)."""

    def cell(self, kind: str, item: dict) -> Cell:
        if kind in self.cells:
            return self.cells[kind](item)
        return Cell(values=(None,) * len(self.fields))


@dataclass(frozen=True)
class Row:
    kind: str
    cells: tuple[Cell, ...]
    """One per column of its table."""


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def rows_of(self, *kinds: str) -> list[Row]:
        return [r for r in self.rows if r.kind in kinds]


def _table(columns: list[Column], items: list[tuple[str, dict]]) -> Table:
    return Table(tuple(columns), tuple(Row(kind, tuple(c.cell(kind, item) for c in columns)) for kind, item in items))


def _shown(value: Any, text: str | None = None, **style: Any) -> Cell:
    """A one-field cell: the raw value, and its text on a page (by default the value)."""
    return Cell(str(value) if text is None else text, (value,), **style)


def _metric_column(name: str, title: str) -> Column:
    def model(row: dict) -> Cell:
        s = row["metrics"][name]
        return Cell(fmt_stat(s), (s["mean"], s["std"]))

    def baseline(b: dict) -> Cell:
        v = b["metrics"].get(name)
        return Cell(fmt(v), (v, None))

    return Column(title, (f"{name}_mean", f"{name}_std"), {MODEL: model, BASELINE: baseline})


def _vs_baselines(row: dict) -> Cell:
    beats, p = row["beats_baselines"], row["p_vs_baseline"]
    if beats is None:
        return Cell("–", (None, p))
    shown = f" (p {_p_text(p)})" if p is not None else ""
    if beats:
        return Cell("beats" + shown, (True, p))
    return Cell("does not beat" + shown, (False, p), alert=True)


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"= {p:.3g}"


def _rank_text(rank: float | None) -> str:
    if rank is None:
        return "–"
    return str(int(rank)) if float(rank).is_integer() else f"{rank:g}"


def _ci_cell(row: dict) -> Cell:
    ci = row["ci"]
    if not ci:
        return Cell("–", (None, None, row["ci_method"]))
    mark = "" if row["ci_method"] == "bootstrap" else " (seeds)"
    return Cell(f"[{fmt(ci[0])}, {fmt(ci[1])}]{mark}", (ci[0], ci[1], row["ci_method"]))


def _tier_cell(row: dict) -> Cell:
    top, p = row["top_tier"], row["p_vs_top"]
    if top is None:
        return Cell("untested", (None, p))
    if p is None:  # the top model itself
        return Cell("top", (True, None))
    return Cell("top" if top else f"below (p {_p_text(p)})", (top, p))


def _timed(row: dict, values: tuple, digits: int) -> Cell:
    """A time, throughput or memory cell: of the board's reference device class only
    ("–" when none of the model's seeds ran there), marked † when some seeds ran elsewhere."""
    text = fmt(values[0], digits) if row["device_class"] else "–"
    if row["device_class"] and len(values) > 1 and values[1]:
        text += f" {values[1]}"
    return Cell(text, values, note="†" if row["timed_elsewhere"] else "")


def task_table(board: dict) -> Table:
    """A task's ranked models, then its baselines, then the cells that did not run."""
    p, d = board["primary"]["name"], board["primary"]["direction"]
    columns = [
        Column("rank", ("rank",), {MODEL: lambda r: _shown(r["rank"], _rank_text(r["rank"]))}, identifies=True),
        Column(
            "model",
            ("model",),
            {
                MODEL: lambda r: _shown(r["model"]),
                BASELINE: lambda b: _shown(b["name"], note="(baseline)", muted=True),
                NOT_RUN: lambda x: _shown(x["model"]),
            },
            left=True,
            identifies=True,
        ),
        Column(
            None,
            ("kind",),
            {
                MODEL: lambda r: _shown(MODEL),
                BASELINE: lambda b: _shown(BASELINE),
                NOT_RUN: lambda x: _shown(x["status"]),
            },
            identifies=True,
        ),
        _metric_column(p, f"{p} {ARROW[d]}"),
        Column("95 % CI", ("ci_low", "ci_high", "ci_method"), {MODEL: _ci_cell}),
        Column("tier", ("top_tier", "p_vs_top"), {MODEL: _tier_cell}),
        Column("n", ("n",), {MODEL: lambda r: _shown(r["metrics"][p]["n"])}, identifies=True),
        *[_metric_column(m, m) for m in board["metric_names"][1:]],
        Column("params", ("params",), {MODEL: lambda r: _shown(r["params"], f"{r['params']:,}")}),
        Column("train s", ("train_seconds",), {MODEL: lambda r: _timed(r, (r["train_seconds"],), 3)}),
        Column(
            "throughput",
            ("throughput", "throughput_unit"),
            {MODEL: lambda r: _timed(r, (r["throughput"], r["throughput_unit"] if r["device_class"] else None), 3)},
        ),
        Column("peak MB", ("peak_memory_mb",), {MODEL: lambda r: _timed(r, (r["peak_memory_mb"],), 4)}),
        Column(None, ("device_class",), {MODEL: lambda r: _shown(r["device_class"])}),
        Column("vs best baseline", ("beats_baselines", "p_vs_baseline"), {MODEL: _vs_baselines}),
        Column(None, ("metric_test",), {MODEL: lambda r: _shown(r["metric_test"] or "")}),
        Column(None, ("status",), {MODEL: lambda r: _shown("ok"), NOT_RUN: lambda x: _shown(x["status"])}),
        Column(None, ("reason",), {MODEL: lambda r: _shown(""), NOT_RUN: lambda x: _shown(x["reason"])}),
    ]
    items = (
        [(MODEL, r) for r in board["rows"]]
        + [(BASELINE, b) for b in board["baselines"]]
        + [(NOT_RUN, x) for x in board["not_ok"]]
    )
    return _table(columns, items)


def _overview_item(name: str, board: dict) -> dict:
    p, d = board["primary"]["name"], board["primary"]["direction"]
    best = leader(board)
    ran = sum(len(r["seeds"]) for r in board["rows"])
    na, failed = (sum(1 for x in board["not_ok"] if x["status"] == s) for s in ("n/a", "failed"))
    return {
        "task": name,
        "shape": board["shape"],
        "primary": f"{p} {ARROW[d]}",
        "best": best["model"] if best else "–",
        "value": fmt_stat(best["metrics"][p]) if best else "–",
        "best_baseline": fmt(_best_baseline(board["baselines"], p, d)),
        "counts": f"{ran} / {na} / {failed}",
    }


def overview_table(tasks: dict[str, dict]) -> Table:
    """One row per task of a profile: its leader and how many cells ran."""
    columns = [
        Column("task", (), {TASK: lambda t: Cell(t["task"], link=t["task"])}, left=True),
        Column("shape", (), {TASK: lambda t: Cell(t["shape"])}),
        Column("primary", (), {TASK: lambda t: Cell(t["primary"])}),
        Column("best model", (), {TASK: lambda t: Cell(t["best"])}, left=True),
        Column("value", (), {TASK: lambda t: Cell(t["value"])}),
        Column("best baseline", (), {TASK: lambda t: Cell(t["best_baseline"])}, in_brief=False),
        Column("ok / n/a / failed", (), {TASK: lambda t: Cell(t["counts"])}, in_brief=False),
    ]
    return _table(columns, [(TASK, _overview_item(name, board)) for name, board in sorted(tasks.items())])


def summary_table(summary: dict) -> Table:
    """The cross-task summary of a profile: each ranked model's average rank over the
    tasks in the comparison (see ``_summary``)."""
    columns = [
        Column("model", (), {MODEL: lambda r: Cell(r["model"])}, left=True),
        Column("average rank", (), {MODEL: lambda r: Cell(fmt(r["mean_rank"], 3))}),
        Column("tasks", (), {MODEL: lambda r: Cell(str(r["tasks"]))}),
    ]
    return _table(columns, [(MODEL, r) for r in summary["ranked"]])


def partial_table(summary: dict) -> Table:
    """Models that served fewer tasks than the ranked ones: what they did, unranked."""
    columns = [
        Column("model", (), {MODEL: lambda r: Cell(r["model"])}, left=True),
        Column("tasks served", (), {MODEL: lambda r: Cell(f"{r['tasks']} of {r['of']}")}),
        Column("in the top tier on", (), {MODEL: lambda r: Cell(", ".join(r["top_tier"]) or "–")}, left=True),
        Column("beats the best baseline on", (), {MODEL: lambda r: Cell(", ".join(r["beats"]) or "–")}, left=True),
    ]
    return _table(columns, [(MODEL, r) for r in summary["partial"]])


def summary_text(summary: dict) -> list[str]:
    """The cross-task summary in sentences (one per list item), for every writer."""
    lines = []
    n, k = len(summary["tasks"]), len(summary["ranked"])
    if summary["tasks"]:
        lines.append(
            f"Average fractional rank (ties share their ranks) over the {n} task(s) where some model significantly "
            f"beats the best baseline: {', '.join(summary['tasks'])}; the {k} model(s) that served all of them."
        )
    else:
        lines.append("No task has a model that significantly beats its best baseline: there is no cross-task ranking.")
    f, cd = summary["friedman"], summary["critical_difference"]
    if f is not None:
        verdict = "differ" if f["p"] <= summary["alpha"] else "do not differ significantly"
        lines.append(
            f"Friedman test (Iman–Davenport F = {fmt(f['f'], 3)}, p {_p_text(f['p'])}): the models' ranks {verdict}. "
            f"Nemenyi critical difference at α = {summary['alpha']}: {fmt(cd, 3)} ranks; models whose average ranks "
            "differ by less are not significantly different (Demšar 2006)."
        )
    elif summary["tasks"]:
        lines.append("A Friedman test needs at least 2 tasks and 2 models that served them all.")
    if summary["left_out"]:
        lines.append("Left out: " + "; ".join(f"{x['task']} ({x['why']})" for x in summary["left_out"]) + ".")
    if summary["partial"]:
        lines.append("Models that served fewer tasks are not ranked against the others; their own summary follows.")
    return lines


def anchors_table(rows: list[dict]) -> Table:
    """One row per published result of every task, ours beside it (``anchors``)."""

    def text(key: str) -> Callable[[dict], Cell]:
        return lambda a: Cell(str(a.get(key) or "–"))

    columns = [
        Column(
            "task",
            (),
            {TASK: lambda a: Cell(a["task"], link=f"{a['page']}/{a['task']}" if a["page"] else None)},
            left=True,
        ),
        Column("source", (), {TASK: text("source")}, left=True),
        Column("setup", (), {TASK: text("setup")}, left=True),
        Column("model", (), {TASK: text("model")}, left=True),
        Column("metric", (), {TASK: text("metric")}, left=True),
        Column("published", (), {TASK: lambda a: Cell(_published_value(a))}),
        Column("ours", (), {TASK: lambda a: Cell(anchor_ours(a))}, left=True),
        Column("ours vs published", (), {TASK: lambda a: Cell(anchor_comparison(a))}, left=True),
        Column("what differs", (), {TASK: text("differences")}, left=True),
    ]
    return _table(columns, [(TASK, a) for a in rows])


ANCHORS_INTRO = (
    "Results published for the problems of our tasks, each beside ours. A row names the profile of ours: the "
    "task's profile that follows the published setup most closely where its results are here, else the quick "
    "profile, which is not the published recipe. Even under the closest profile the data, preprocessing, "
    "recipe or metric implementation usually differ (the last column says how), so most rows are not "
    'like-for-like: they place our numbers near the literature\'s, they do not rank them. "better" or '
    '"worse" is said only where ours ran under the entry\'s own profile; a value marked "(not verified)" '
    "was read second-hand, not checked against the source."
)


@dataclass(frozen=True)
class Tables:
    """Every table of the leaderboards, built once for all writers (per profile), and
    the anchors table over all tasks."""

    tasks: dict[str, dict[str, Table]]
    overview: dict[str, Table]
    summary: dict[str, Table]
    partial: dict[str, Table]
    anchors: Table


def build_tables(data: dict) -> Tables:
    """The tables of ``build``'s data."""
    profiles = data["profiles"]
    return Tables(
        tasks={p: {name: task_table(board) for name, board in tasks.items()} for p, tasks in profiles.items()},
        overview={p: overview_table(tasks) for p, tasks in profiles.items()},
        summary={p: summary_table(data["summary"][p]) for p in profiles},
        partial={p: partial_table(data["summary"][p]) for p in profiles},
        anchors=anchors_table(data.get("anchors") or []),
    )
