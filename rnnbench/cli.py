"""The ``rnnbench`` command line. Imports neither torch nor lightning: listing, help and
leaderboards answer at once; training happens in worker processes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from rnnbench import __version__
from rnnbench.api import PROFILES

DEFAULT_OUT = "leaderboards"


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


def _registry(args: argparse.Namespace):
    from rnnbench.registry import load

    reg = load(args.plugin)
    for info in reg.plugins.values():
        if info.error and args.strict:
            raise UsageError(f"{info.label} is broken: {info.error} (without --strict it is skipped)")
        if info.heavy_import:
            print(f"warning: {info.label} {info.heavy_import}", file=sys.stderr)
        if info.error:
            print(
                f"warning: {info.label} is broken and was skipped: {info.error} (`-p no:{info.name}` silences this)",
                file=sys.stderr,
            )
    return reg


# --- list / info ----------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.json:
        print(json.dumps(_describe(reg), indent=1, sort_keys=True))
        return 0
    print("Tasks:")
    _table(
        [("name", "family", "shape", "primary metric", "plugin")]
        + [
            (
                t.name,
                t.family,
                t.shape,
                f"{t.primary_metric} ({'↓' if t.direction == 'min' else '↑'})",
                reg.owner[("task", t.name)],
            )
            for t in sorted(reg.tasks.values(), key=lambda t: (t.family, t.name))
        ]
    )
    print("\nModels:")
    _table(
        [("name", "family", "serves", "plugin")]
        + [
            (m.name, m.family, _serves(m, reg), reg.owner[("model", m.name)])
            for m in sorted(reg.models.values(), key=lambda m: (m.family, m.name))
        ]
    )
    if any(" of " in _serves(m, reg) for m in reg.models.values()):
        print("  (k of n): serves k of the shape's n tasks, n/a on the others; `rnnbench info MODEL` names them")
    print("\nPlugins:")
    _table(
        [("name", "distribution", "hooks", "status")]
        + [
            (
                p.name,
                f"{p.distribution} {p.version}",
                ", ".join(h.removeprefix("rnnbench_") for h in p.hooks) or "-",
                "ok" if not p.error else f"BROKEN: {p.error}",
            )
            for p in sorted(reg.plugins.values(), key=lambda p: p.name)
        ]
    )
    return 0


def _serving(model, reg) -> dict[str, tuple[list[str], int]]:
    """Shape -> (the tasks of that shape the model serves, how many tasks have the shape),
    for every shape it serves at least one task of. ``model.unsupported`` is the rule the
    runner uses to mark a cell n/a, so the two never disagree."""
    serving: dict[str, tuple[list[str], int]] = {}
    for shape in sorted({t.shape for t in reg.tasks.values()}):
        of_shape = sorted(t.name for t in reg.tasks.values() if t.shape == shape)
        served = [name for name in of_shape if not model.unsupported(reg.tasks[name])]
        if served:
            serving[shape] = (served, len(of_shape))
    return serving


def _serves(model, reg) -> str:
    """``many-to-one, seq2seq (1 of 2)``: a count marks a shape served only partly."""
    return (
        ", ".join(
            shape if len(served) == total else f"{shape} ({len(served)} of {total})"
            for shape, (served, total) in _serving(model, reg).items()
        )
        or "-"
    )


def _describe(reg) -> dict:
    return {
        "tasks": {
            t.name: {
                "family": t.family,
                "shape": t.shape,
                "description": t.description,
                "primary_metric": t.primary_metric,
                "direction": t.direction,
                "requires": sorted(t.requires),
                "profiles": sorted(t.profiles),
                "plugin": reg.owner[("task", t.name)],
            }
            for t in reg.tasks.values()
        },
        "models": {
            m.name: {
                "family": m.family,
                "description": m.description,
                "provides": sorted(m.provides),
                "serves": [shape for shape, (served, total) in _serving(m, reg).items() if len(served) == total],
                "serves_tasks": {shape: served for shape, (served, _) in _serving(m, reg).items()},
                "not_applicable": {t.name: m.unsupported(t) for t in reg.tasks.values() if m.unsupported(t)},
                "plugin": reg.owner[("model", m.name)],
            }
            for m in reg.models.values()
        },
        "plugins": {
            p.name: {
                "module": p.module,
                "distribution": p.distribution,
                "version": p.version,
                "hooks": p.hooks,
                "tasks": p.tasks,
                "models": p.models,
                "error": p.error,
            }
            for p in reg.plugins.values()
        },
    }


def cmd_info(args: argparse.Namespace) -> int:
    reg = _registry(args)
    desc = _describe(reg)
    name = args.name
    # a name may be a task and a plugin at once (a plugin named after its one task)
    kinds = [kind for kind in ("tasks", "models", "plugins") if name in desc[kind]]
    if not kinds:
        from rnnbench.suite import closest

        everything = sorted({n for kind in ("tasks", "models", "plugins") for n in desc[kind]})
        raise UsageError(f"unknown task, model or plugin '{name}'; {closest(name, everything)}")
    for i, kind in enumerate(kinds):
        if i:
            print()
        {"tasks": _info_task, "models": _info_model, "plugins": _info_plugin}[kind](name, desc)
    return 0


def _info_task(name: str, desc: dict) -> None:
    t = desc["tasks"][name]
    print(f"task {name}: {t['description']}")
    print(f"  family:    {t['family']}\n  shape:     {t['shape']}")
    print(f"  primary:   {t['primary_metric']} ({t['direction']})\n  requires:  {', '.join(t['requires']) or '-'}")
    print(f"  profiles:  {', '.join(t['profiles'])}\n  plugin:    {t['plugin']}")
    na = {m: d["not_applicable"][name] for m, d in sorted(desc["models"].items()) if name in d["not_applicable"]}
    served = sorted(m for m in desc["models"] if m not in na)
    print(f"  served by: {', '.join(served) or '-'}")
    for model, why in na.items():
        print(f"  n/a {model}: {why}")


def _info_model(name: str, desc: dict) -> None:
    m = desc["models"][name]
    print(f"model {name}: {m['description']}")
    print(f"  family:   {m['family']}\n  provides: {', '.join(m['provides']) or '-'}\n  plugin:   {m['plugin']}")
    for shape, served in m["serves_tasks"].items():
        print(f"  serves {shape}: {', '.join(served)}")
    for task, why in sorted(m["not_applicable"].items()):
        print(f"  n/a {task}: {why}")


def _info_plugin(name: str, desc: dict) -> None:
    p = desc["plugins"][name]
    print(f"plugin {name}\n  module:       {p['module']}\n  distribution: {p['distribution']} {p['version']}")
    print(f"  hooks:        {', '.join(p['hooks']) or '-'}")
    if p["error"]:
        print(f"  BROKEN:       {p['error']}")
    for t in p["tasks"]:
        d = desc["tasks"][t]
        print(f"  task {t}: {d['shape']}, {d['primary_metric']} ({d['direction']}) — {d['description']}")
    for m in p["models"]:
        d = desc["models"][m]
        print(f"  model {m}: serves {_serves_text(d)} — {d['description']}")


def _serves_text(model: dict) -> str:
    return ", ".join(
        shape if shape in model["serves"] else f"{shape} (only {', '.join(served)})"
        for shape, served in model["serves_tasks"].items()
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    """Whether each task's offline data can be prepared here, and the one command that
    fixes it when not. Checks what tasks declare (``Task.requirements``); imports no torch."""
    from rnnbench.requirements import missing

    reg = _registry(args)
    report = {}
    for name in sorted(reg.tasks):
        lacking = missing(reg.tasks[name].requirements)
        report[name] = {
            "ok": not lacking,
            "missing": [r.what for r in lacking],
            "fix": list(dict.fromkeys(r.fix() for r in lacking)),
        }
    broken = {p.name: p.error for p in reg.plugins.values() if p.error}
    if args.json:
        print(json.dumps({"tasks": report, "broken_plugins": broken}, indent=1, sort_keys=True))
    else:
        _table(
            [("task", "offline data", "fix")]
            + [
                (name, "ok" if r["ok"] else "missing: " + "; ".join(r["missing"]), " && ".join(r["fix"]) or "-")
                for name, r in report.items()
            ]
        )
        fixes = list(dict.fromkeys(f for r in report.values() for f in r["fix"]))
        if fixes:
            print("\nTo fix everything: " + " && ".join(_merge_installs(fixes)))
        else:
            print(f"\nAll {len(report)} tasks can prepare their offline data here.")
    return 1 if broken or any(not r["ok"] for r in report.values()) else 0


def _merge_installs(fixes: list[str]) -> list[str]:
    """``sudo apt-get install a`` and ``sudo apt-get install b`` become one command."""
    merged: dict[str, list[str]] = {}
    for fix in fixes:
        verb, _, package = fix.rpartition(" ")
        merged.setdefault(verb, []).append(package)
    return [f"{verb} {' '.join(packages)}" for verb, packages in merged.items()]


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, row in enumerate(rows):
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))


# --- run ------------------------------------------------------------------------------


def param_budget(text: str) -> int | str:
    """``--param-budget``'s value: a positive number of parameters, or ``off``."""
    if text.strip().lower() == "off":
        return "off"
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of parameters or 'off'")
    return value


def _check_cells_args(args: argparse.Namespace, verb: str) -> None:
    """The options ``run`` and ``tune`` share (the ``cells`` parent parser), checked alike."""
    if not (args.all or args.task or args.model):
        raise UsageError(f"say what to {verb}: --all, or --task NAME and/or --model NAME")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.cells_per_gpu < 1:
        raise UsageError("--cells-per-gpu must be at least 1")
    if args.timeout is not None and not args.timeout > 0:  # NaN is not > 0 either
        raise UsageError("--timeout must be a positive number of seconds")
    _check_ray_address(args)


def cmd_run(args: argparse.Namespace) -> int:
    from rnnbench.suite import run_suite

    _check_cells_args(args, "run")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    reg = _registry(args)
    printer = _RunPrinter(args.progress, args.profile)
    try:
        result = run_suite(
            args.task,
            args.model,
            profile=args.profile,
            seeds=args.seeds,
            out=args.out,
            param_budget=args.param_budget,
            timeout=args.timeout,
            plugins=args.plugin,
            make_executor=lambda: _executor(args),
            reporter=printer,
            registry=reg,
        )
    finally:
        printer.close()
    out = result.out
    if result.interrupted:
        print(
            f"interrupted: {len(result.records)} finished cell(s) are saved in {out}/results; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        _report_lost(result)
        return result.exit_code
    _summary(result)
    _report_lost(result)
    if result.board_error:
        print(
            f"error: the leaderboards could not be written to {out}: {result.board_error}; "
            f"free space and run `rnnbench leaderboard --out {out}`",
            file=sys.stderr,
        )
    return result.exit_code


def cmd_tune(args: argparse.Namespace) -> int:
    from rnnbench.suite import tune_suite

    _check_cells_args(args, "tune")
    if args.trials is not None and args.trials < 1:
        raise UsageError("--trials must be at least 1")
    reg = _registry(args)
    printer = _TunePrinter()
    result = tune_suite(
        args.task,
        args.model,
        profile=args.profile,
        trials=args.trials,
        out=args.out,
        param_budget=args.param_budget,
        timeout=args.timeout,
        plugins=args.plugin,
        make_executor=lambda: _executor(args),
        reporter=_RunPrinter(False, args.profile),
        tune_reporter=printer,
        registry=reg,
    )
    done = sum(1 for s in result.studies if s.doc["hyperparameters"] is not None)
    print(
        f"tuned {done} of {len(result.studies)} (task, model) pair(s): {result.trials_run} trial(s) run in "
        f"{_minutes(result.seconds)}; chosen hyperparameters are in {args.out}/tuning/{args.profile}/, "
        f"and `rnnbench run` uses them"
    )
    if result.interrupted:
        print("interrupted: finished trials are saved; run the same command again to resume", file=sys.stderr)
    for where, why in result.lost:
        print(f"error: {where}: {why}", file=sys.stderr)
    return result.exit_code


class _TunePrinter:
    """One line per round and per finished trial on stderr: tuning runs for a long time."""

    def note(self, message: str) -> None:
        print(f"note: {message}", file=sys.stderr)

    def round_started(self, number: int, trials: int, studies: int) -> None:
        print(f"round {number}: {trials} trial(s) of {studies} stud(ies)", file=sys.stderr, flush=True)

    def trial_done(self, study, number: int, entry: dict) -> None:
        value = entry.get("value")
        shown = f"{value:.4g}" if isinstance(value, float) else "-"
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry["params"].items())
        extra = f" ({entry.get('reason')})" if entry["state"] == "failed" else ""
        print(
            f"  {study.task} × {study.model} trial {number}: {entry['state']} val {study.metric}={shown} "
            f"[{params}] {entry.get('seconds', 0):.1f}s{extra}",
            file=sys.stderr,
            flush=True,
        )


class _RunPrinter:
    """Prints what a run reports: a progress bar on a terminal, a line per finished cell.
    Without a terminal (no bar) it also prints a progress line every ``every`` seconds, so
    that a log shows the run is alive while long cells train."""

    def __init__(self, progress: bool, profile: str, every: float = 60.0):
        self.progress, self.profile, self.bar, self.every = progress, profile, None, every
        self.total = self.done = 0
        self.start = time.monotonic()
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None

    def note(self, message: str) -> None:
        print(f"note: {message}", file=sys.stderr)

    def planned(self, cells, kept, not_applicable, executor: str) -> None:
        from tqdm import tqdm

        tasks = {c.task for c in cells} | {r["task"] for r in kept + not_applicable}
        models = {c.model for c in cells} | {r["model"] for r in kept + not_applicable}
        print(
            f"rnnbench {__version__}: {len(tasks)} task(s) × {len(models)} model(s), profile {self.profile}; "
            f"{len(cells)} cell(s) to run, {len(kept)} already done, {len(not_applicable)} n/a; {executor}",
            file=sys.stderr,
        )
        self.bar = tqdm(
            total=len(cells),
            unit="cell",
            dynamic_ncols=True,
            file=sys.stderr,
            disable=None if not self.progress else False,
        )
        self.total, self.start = len(cells), time.monotonic()
        if self.bar.disable and cells:
            self.ticker = threading.Thread(target=self._tick, name="rnnbench-progress", daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(self.every):
            print(self.progress_line(), file=sys.stderr, flush=True)

    def progress_line(self) -> str:
        elapsed = time.monotonic() - self.start
        line = f"progress: {self.done}/{self.total} cells, {_minutes(elapsed)} elapsed"
        if self.done:
            line += f", ~{_minutes(elapsed / self.done * (self.total - self.done))} left"
        return line

    def started(self, cell) -> None:
        self.bar.set_postfix_str(cell.label, refresh=True)

    def finished(self, cell, record: dict) -> None:
        from rnnbench.report import fmt

        self.done += 1
        self.bar.update(1)
        p = record.get("primary", {})
        figure = f"{p.get('name')}={fmt(p.get('value'))}" if record["status"] == "ok" else record.get("reason")
        self.bar.write(f"{record['status']:>6}  {cell.label}  {figure}  ({record.get('wall_seconds', 0):.1f} s)")

    def lost(self, cell, why: str, first: bool) -> None:
        self.done += 1
        self.bar.update(1)
        self.bar.write(f"error: could not save the result of {cell.label}: {why}", file=sys.stderr)
        if first:
            self.bar.write("error: no more cells will start; the running ones finish first", file=sys.stderr)

    def close(self) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        if self.bar is not None:
            self.bar.close()


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def _report_lost(result) -> None:
    if not result.lost:
        return
    for cell, why in result.lost:
        print(f"lost (not saved): {cell.label}: {why}", file=sys.stderr)
    if result.not_started > 0:
        print(f"{result.not_started} cell(s) not started", file=sys.stderr)
    print(
        f"{len(result.lost)} result(s) could not be written to {result.out}: free space (or fix --out) and "
        "run the same command again; the saved cells are kept",
        file=sys.stderr,
    )


def _check_ray_address(args: argparse.Namespace) -> None:
    """With ``--executor ray``, the cluster's address answers within seconds or the run
    stops with one line, before it takes the result store's lock. Also passes the run's
    ``--precision`` to every worker (an RNNBENCH_* variable: inherited locally, forwarded
    to Ray workers)."""
    if getattr(args, "precision", None):
        os.environ["RNNBENCH_PRECISION"] = args.precision
    if getattr(args, "executor", None) == "ray":
        from rnnbench import executors

        args.ray_address = executors.resolve_ray_address(args.ray_address)


def _executor(args: argparse.Namespace):
    from rnnbench import executors

    if args.executor == "inprocess":
        return executors.InProcessExecutor(args.plugin, reraise=True)
    if args.executor == "ray":
        return executors.RayExecutor(
            args.plugin, address=args.ray_address, workers=args.workers, cells_per_gpu=getattr(args, "cells_per_gpu", 1)
        )
    per_gpu = getattr(args, "cells_per_gpu", 1)
    return executors.LocalExecutor(
        args.plugin, workers=args.workers, fresh_worker=args.fresh_worker, cells_per_gpu=per_gpu
    )


def _summary(result) -> None:
    """What this run did, and each of its tasks' first model as its leaderboard page ranks it."""
    from rnnbench import store
    from rnnbench.report import build, fmt_stat, leader

    records, out, profile = result.records, result.out, result.profile
    by_status = {
        s: sum(1 for r in records + result.not_applicable if r["status"] == s) for s in ("ok", "failed", "n/a")
    }
    kept = f"; {len(result.kept)} kept from earlier runs" if result.kept else ""
    print(
        f"\n{by_status['ok']} ok, {by_status['failed']} failed, {by_status['n/a']} n/a in {result.seconds:.0f} s{kept}"
    )
    # the page ranks every model in the store, not only those this run selected
    tasks = {r["task"] for r in records + result.kept + result.not_applicable}
    stored = [r for r in store.load_records(out, warn=False)[0] if r["profile"] == profile and r["task"] in tasks]
    boards = build(stored)["profiles"].get(profile, {})
    best = {task: (board, leader(board)) for task, board in sorted(boards.items()) if leader(board)}
    if best:
        _table(
            [("task", "best model", "primary", "mean ± std (n)")]
            + [
                (
                    task,
                    row["model"],
                    board["primary"]["name"],
                    f"{fmt_stat(row['metrics'][board['primary']['name']])} "
                    f"({row['metrics'][board['primary']['name']]['n']})",
                )
                for task, (board, row) in best.items()
            ]
        )
    for r in records:
        if r["status"] == "failed":
            print(f"failed: {r['task']} × {r['model']} (seed {r['seed']}): {r.get('reason')}")
    print(f"leaderboards: {out}/README.md")


# --- show -----------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    from rnnbench import store

    try:
        path = store.result_path(args.out, args.profile, args.task, args.model, args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        record = store.read_record(path)
    except FileNotFoundError:
        raise UsageError(
            f"no result for {args.task} × {args.model} seed {args.seed} (profile {args.profile}) in {args.out}; "
            + _what_exists(Path(args.out), args.profile, args.task, args.model)
        ) from None
    except (OSError, ValueError) as exc:
        why = (f"{type(exc).__name__}: {exc}".splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot read {path}: {why}") from None
    if args.json:  # as stored: not as upgraded from an older schema
        print(json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=1, sort_keys=True))
    else:
        _print_record(record, path)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from rnnbench.verify import verify

    if args.sample < 1:
        raise UsageError("--sample must be at least 1")
    if not args.tolerance >= 0:
        raise UsageError("--tolerance must be a relative difference of 0 or more")
    if not (Path(args.dir) / "results").is_dir():
        raise UsageError(f"{args.dir} holds no results/ folder; name the --out folder of a run")
    reg = _registry(args)

    def show(v) -> None:
        r = v.record
        line = f"{v.status:8s} {r['profile']}/{r['task']} × {r['model']} (seed {r['seed']})"
        print(line + (f": {v.detail}" if v.detail else ""), flush=True)

    result = verify(
        reg,
        args.dir,
        k=args.sample,
        seed=args.seed,
        tolerance=args.tolerance,
        executor=_executor(args),
        on_verdict=show,
    )
    counts = {s: sum(1 for v in result.verdicts if v.status == s) for s in ("same", "differs", "failed", "stale")}
    print(
        f"{len(result.verdicts)} of {result.ok_records} ok cell(s) checked: "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + ("" if args.tolerance == 0 else f" (relative tolerance {args.tolerance:g})")
    )
    return result.exit_code


def _what_exists(out: Path, profile: str, task: str, model: str) -> str:
    """One clause naming the results nearest to the cell asked for."""
    results = out / "results"
    profiles = sorted(p.name for p in results.glob("*") if p.is_dir()) if results.is_dir() else []
    if not profiles:
        return f"it has no results; run `rnnbench run --task {task} --model {model} --out {out}`"
    if profile not in profiles:
        return f"it has results for profile(s) {', '.join(profiles)} (--profile)"
    tasks = sorted(t.name for t in (results / profile).iterdir() if t.is_dir())
    if task not in tasks:
        return f"profile {profile} has results for task(s) {_few(tasks)}"
    cells: dict[str, list[str]] = {}
    for file in sorted((results / profile / task).glob("*--seed*.json")):
        name, _, seed = file.stem.rpartition("--seed")
        cells.setdefault(name, []).append(seed)
    if model in cells:
        return f"{model} has seed(s) {', '.join(sorted(cells[model], key=int))} (--seed)"
    return f"{task} has results for model(s) {_few(sorted(cells))}" if cells else f"{task} has no results"


def _few(names: list[str], most: int = 12) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _print_record(r: dict, path: Path) -> None:
    from rnnbench import records
    from rnnbench.report import fmt

    p = r["primary"]
    print(f"{r['task']} × {r['model']}, seed {r['seed']}, profile {r['profile']}: {r['status']}")
    if r["status"] == "ok":
        print(f"  {p['name']} ({p['direction']}): {fmt(p.get('value'))}")
    if r.get("metrics"):
        print("  metrics:    " + ", ".join(f"{k}={fmt(v)}" for k, v in sorted(r["metrics"].items())))
    for key in ("reason", "retried"):
        if r.get(key):
            print(f"  {key + ':':<11} {r[key]}")
    measured = [
        (label, r.get(key), unit)
        for label, key, unit in (
            ("params", "params", ""),
            ("train", "train_seconds", " s"),
            ("wall", "wall_seconds", " s"),
            ("peak memory", "peak_memory_mb", " MB"),
        )
        if r.get(key) is not None
    ]
    if records.throughput(r) is not None:
        measured.append(("throughput", records.throughput(r), " " + records.throughput_unit(r)))
    if measured:
        print("  " + ", ".join(f"{label} {fmt(value)}{unit}" for label, value, unit in measured))
    prov = r.get("provenance") or {}
    if prov:
        plugins = [
            f"{k.removesuffix('_plugin')} plugin {v.get('name')} ({v.get('distribution')} {v.get('version')})"
            for k, v in sorted(prov.items())
            if k.endswith("_plugin") and isinstance(v, dict)
        ]
        versions = [f"{k} {prov[k]}" for k in ("rnnbench", "torch", "pytorch_lightning", "python") if prov.get(k)]
        print("  made by:    " + "; ".join(versions + plugins))
        print(f"  device:     {prov.get('device') or '-'}, config {prov.get('config_hash') or '-'}")
        if prov.get("device") or prov.get("device_class"):
            print(f"  timed on:   {records.device_class(r)} (times compare within one device class only)")
    if r.get("traceback"):
        print("  " + r["traceback"].replace("\n", "\n  "))
    print(f"  file:       {path} (--json prints it whole)")


# --- leaderboard ----------------------------------------------------------------------


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from rnnbench import report

    out = Path(args.out)
    if not (out / "results").is_dir():
        raise UsageError(f"no results in {out}/results; run `rnnbench run --all --out {out}` first")
    published = report.published_of(_registry(args).tasks)
    if args.check:
        stale, bad = report.check(out, published)
        for b in bad:
            print(f"unreadable result: {b.path} ({b.why})")
        for rel in stale:
            print(f"stale: {out / rel}")
        if stale or bad:
            print(f"leaderboards in {out} do not match results/; run `rnnbench leaderboard --out {out}`")
            return 1
        print(f"leaderboards in {out} are up to date")
        return 0
    files, bad = report.write(out, published)
    print(f"wrote {len(files)} file(s) to {out}" + (f"; skipped {len(bad)} unreadable result(s)" if bad else ""))
    return 0


# --- compare --------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    from rnnbench.compare import CompareError, compare

    models = None
    if args.models:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        if len(models) != 2 and args.second is None:
            raise UsageError("--models takes two model names, A,B, to compare within one directory")
    try:
        text = compare(
            Path(args.first),
            Path(args.second) if args.second else None,
            models,
            args.profile,
            missing_before_ok=args.missing_before_ok,
        )
    except CompareError as exc:
        raise UsageError(str(exc)) from None
    if args.output:
        from rnnbench.store import write_text_atomic

        write_text_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0  # a verdict is information, not a failure


# --- new-plugin -----------------------------------------------------------------------


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from rnnbench.scaffold import write_plugin

    contributions = [("model", n) for n in _names(args.model)] + [("task", n) for n in _names(args.task)]
    if not contributions:
        contributions = [(args.kind, args.name)]
    try:
        root = write_plugin(args.name, contributions, Path(args.dir), args.distribution)
    except (ValueError, FileExistsError) as exc:
        raise UsageError(str(exc)) from None
    what = ", ".join(f"{kind} {name}" for kind, name in contributions)
    runs = "\n".join(f"  rnnbench run --{kind} {name} --profile smoke" for kind, name in contributions)
    print(f"wrote {root}/ ({what}). Next:\n  pip install -e '{root}[test]'\n  pytest {root}/tests")
    print(f"  rnnbench list\n{runs}")
    return 0


def _names(values: list[str]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


# --- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-p",
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="load MODULE as a plugin (repeatable); 'no:NAME' switches plugin NAME off. "
        "RNNBENCH_PLUGINS=mod1,no:name does the same from the environment",
    )
    common.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2) when a plugin is broken, instead of skipping it with a warning",
    )
    parser = argparse.ArgumentParser(
        prog="rnnbench",
        description="Benchmark recurrent sequence models: every (task, model, seed) cell is trained "
        "with PyTorch Lightning and the results become leaderboards.",
        epilog="Start with `rnnbench list`, then `rnnbench run --all` (quick profile, offline data). "
        "Plugins come from the 'rnnbench' entry-point group; see CONTRIBUTING.md to write one.",
    )
    parser.add_argument("--version", action="version", version=f"rnnbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "list",
        parents=[common],
        help="show tasks, models and plugins",
        description="Show every task (family, shape, primary metric), model (what shapes it "
        "serves) and plugin (distribution, version, hooks).",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="can each task's offline data be prepared here?",
        description="For every task, check what its offline default data needs from this "
        "machine (executables, files, Python modules) and print the one command that "
        "installs what is missing. Exit 1 when anything is missing or a plugin is broken.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "info",
        parents=[common],
        help="show one task, model or plugin in detail",
        description="Show a task (shape, metric, which models serve it and why the others are n/a), "
        "a model (the tasks it serves per shape, its n/a cells) or a plugin (distribution, hooks, "
        "contributions). A name that is both, e.g. a plugin named after its task, shows both.",
    )
    p.add_argument("name", help="task, model or plugin name, as in `rnnbench list`")
    p.set_defaults(func=cmd_info)

    cells = argparse.ArgumentParser(add_help=False)
    cells.add_argument("--all", action="store_true", help="every task × every model")
    cells.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="NAME",
        help="task(s) (repeatable or comma-separated); without --model, every model",
    )
    cells.add_argument(
        "--model", action="append", default=[], metavar="NAME", help="model(s); without --task, on every task"
    )
    cells.add_argument(
        "--profile",
        default="quick",
        metavar="|".join(PROFILES),
        help="smoke: seconds, for checks; quick: a laptop run (default); full: published recipes, GPU",
    )
    cells.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"results and leaderboards (default {DEFAULT_OUT}/)"
    )
    cells.add_argument(
        "--param-budget",
        type=param_budget,
        metavar="N|off",
        help="fit every model's width so its task net has N parameters within ±10%% (default: each task "
        "profile's own budget, so models are compared at equal size); 'off' compares at the profile's width",
    )
    cells.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: one per visible GPU, else one per CPU core up to 8); torch threads "
        "are divided between them",
    )
    cells.add_argument(
        "--executor",
        choices=["local", "ray", "inprocess"],
        default="local",
        help="local: worker processes with per-cell time limits (default); ray: one Ray task per "
        "cell (pip install 'rnnbench[ray]'); inprocess: debugging, no isolation or time limit, and a "
        "cell's exception is raised, not recorded, with its full traceback (`python -m pdb -m "
        "rnnbench.cli run ... --executor inprocess` stops there)",
    )
    cells.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="Ray cluster to submit to: auto (the cluster `ray start` made on this machine), HOST:PORT "
        "(its GCS) or ray://HOST:10001 (Ray client); default: RAY_ADDRESS, else a new local Ray instance "
        "that listens on loopback only, with token authentication",
    )
    cells.add_argument("--timeout", type=float, metavar="SECONDS", help="per-cell time limit (default: the profile's)")
    cells.add_argument(
        "--cells-per-gpu",
        type=int,
        default=1,
        metavar="K",
        help="run K cells at a time on each GPU (or MIG slice), each worker held to 1/K of its memory; "
        "recorded in provenance (default 1; see benchmarks/cells_per_gpu.py)",
    )
    cells.add_argument(
        "--precision",
        choices=["fp32", "tf32", "bf16-mixed"],
        help="float policy on GPUs, the same for every model and recorded in each record's provenance: fp32 "
        "(full float32 matmuls and cuDNN), tf32 (TF32 tensor cores for every family; default, or "
        "RNNBENCH_PRECISION), bf16-mixed (bfloat16 autocast); no effect on CPUs",
    )
    cells.add_argument(
        "--fresh-worker",
        action="store_true",
        help="start a new worker process for every cell (local executor): for plugins that keep global state "
        "between cells; by default a worker is reused, which saves its imports and prepared data",
    )

    p = sub.add_parser(
        "run",
        parents=[common, cells],
        help="train and test cells, then render leaderboards",
        description="Train every selected (task, model, seed) cell, test its best validation "
        "checkpoint, write one JSON result per cell and re-render the leaderboards. A cell trains "
        "with the hyperparameters `rnnbench tune` chose when DIR/tuning holds them, else with its "
        "profile's. Finished cells with the same configuration are kept, so an interrupted "
        "run resumes where it stopped; failed cells are tried again (not those that diverged).",
    )
    p.add_argument("--seeds", type=int, metavar="N", help="seeds 0..N-1 (default: the task profile's)")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "tune",
        parents=[common, cells],
        help="search each model's hyperparameters, the same number of trials for every model",
        description="For every selected (task, model) pair, search the hyperparameters the task "
        "declares (learning rate, and dropout or weight decay where the task wants them) with "
        "Optuna's seeded TPE sampler, on the validation set only, with the same number of trials "
        "for every model; hopeless trials are pruned by the median rule. Trials run as cells on "
        "the chosen executor. The studies and every trial are written to DIR/tuning/PROFILE/TASK/"
        "MODEL.{journal,json}; a killed run resumes. `rnnbench run` then trains with the chosen "
        "hyperparameters, and each task's page shows expected validation performance against the "
        "number of trials (Dodge et al. 2019).",
    )
    p.add_argument(
        "--trials", type=int, metavar="N", help="trials per model (default: the task profile's tuning_trials)"
    )
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser(
        "show",
        parents=[common],
        help="print one cell's result record",
        description="Print the record of one (task, model, seed) cell from DIR/results: its status, "
        "metrics, time, provenance and, for a failed cell, the reason and the traceback trimmed to "
        "the plugins' frames. Exit 2 when there is no such record, naming what there is.",
    )
    p.add_argument("task", help="task name")
    p.add_argument("model", help="model name")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed (default 0)")
    p.add_argument("--profile", default="quick", metavar="|".join(PROFILES), help="profile (default quick)")
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"results and leaderboards (default {DEFAULT_OUT}/)"
    )
    p.add_argument("--json", action="store_true", help="the raw record, as stored")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "verify",
        parents=[common],
        help="re-run a random sample of ok cells and compare their metrics with the records",
        description="Re-run K randomly chosen ok cells of DIR (rebuilt from their records: task, model, "
        "seed, profile, hyperparameters, parameter budget) and compare every metric with the record. "
        "Nothing is written to DIR. A record the installed code would configure differently (another "
        "version, other data) is reported as stale, not re-run. Exit 1 when a metric differs or a cell "
        "fails; on the CPU cells reproduce bit for bit, elsewhere allow --tolerance.",
    )
    p.add_argument("dir", help="a results folder (the --out of a run), e.g. leaderboards")
    p.add_argument("--sample", type=int, default=5, metavar="K", help="cells to re-run (default 5)")
    p.add_argument("--seed", type=int, default=0, help="which cells the sample draws (default 0)")
    p.add_argument(
        "--tolerance", type=float, default=0.0, metavar="REL", help="relative difference accepted (default 0: exact)"
    )
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: one per core or GPU)")
    p.set_defaults(func=cmd_verify, executor="local", ray_address=None, fresh_worker=False)

    p = sub.add_parser("leaderboard", parents=[common], help="re-render (or --check) leaderboards from results/")
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"results and leaderboards (default {DEFAULT_OUT}/)"
    )
    p.add_argument("--check", action="store_true", help="exit 1 if the rendered files differ from what results/ gives")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser(
        "compare",
        help="per task, the change between two result sets, with intervals and p-values (Markdown)",
        description="Compare two result directories (every model both have on every task both have), or two "
        "models of one directory (--models A,B). Prints Markdown fit for a pull-request comment; exits 0 "
        "whatever the verdict.",
    )
    p.add_argument("first", metavar="BEFORE", help="a folder with results/ (the baseline of the comparison)")
    p.add_argument("second", metavar="AFTER", nargs="?", help="a folder with results/ (omit with --models)")
    p.add_argument("--models", metavar="A,B", help="two models of BEFORE, or with AFTER: only these models")
    p.add_argument("--profile", metavar="|".join(PROFILES), help="only this profile")
    p.add_argument("--output", metavar="FILE", help="write the Markdown here instead of to stdout")
    p.add_argument(
        "--missing-before-ok",
        action="store_true",
        help="a BEFORE without results/ (a base branch with no leaderboard results yet) is not an error: "
        "the Markdown says there is nothing to compare against, and the command exits 0",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "new-plugin",
        help="write a plugin skeleton (package, entry points, tests)",
        description="Write a pip-installable plugin distribution (default rnnbench-NAME/) with its entry "
        "points and tests that use rnnbench.testing: one model (or --kind task) named NAME, or the models "
        "and tasks given with --model and --task, several in one distribution.",
    )
    p.add_argument("name", help="plugin name, a slug like my-rnn (the package is rnnbench_<name>)")
    p.add_argument(
        "--kind", choices=["model", "task"], default="model", help="without --model/--task: what NAME is (model)"
    )
    p.add_argument("--model", action="append", default=[], metavar="NAME", help="a model to include (repeatable)")
    p.add_argument("--task", action="append", default=[], metavar="NAME", help="a task to include (repeatable)")
    p.add_argument("--distribution", metavar="DIST", help="the distribution's name on PyPI (default rnnbench-NAME)")
    p.add_argument("--dir", default=".", help="where to write it (default: here)")
    p.set_defaults(func=cmd_new_plugin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from rnnbench.data import DataUnavailable
    from rnnbench.executors import ExecutorUnavailable
    from rnnbench.registry import PluginError
    from rnnbench.store import StoreLocked, StoreWriteError
    from rnnbench.suite import RunRefused

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (
        UsageError,
        RunRefused,
        PluginError,
        StoreLocked,
        StoreWriteError,
        DataUnavailable,
        ExecutorUnavailable,
    ) as exc:
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
