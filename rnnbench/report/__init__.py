"""Render the leaderboards from ``OUT/results`` and the tasks' published results (no torch
needed): the caller passes those from the registry (``published_of``), the one place they
are declared (``Task.published``).

Outputs, all deterministic so that ``--check`` can compare them byte for byte:
``OUT/README.md`` (the index and cross-task summary), ``OUT/index.html`` (everything on
one page, charts inline), ``OUT/anchors.md`` (published results beside ours),
``OUT/<profile>/<task>.md`` and ``.csv`` per task with its charts as PNGs in
``OUT/<profile>/charts/``, and ``OUT/leaderboard.json``.

``model`` turns records into boards and tables; the writers (``markdown``,
``csv_writer``, ``html``) and ``charts`` only read them.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from rnnbench import store
from rnnbench.api import is_slug
from rnnbench.report import cd, charts, csv_writer, html, markdown
from rnnbench.report.model import Published, build, build_tables, fmt, fmt_stat, leader
from rnnbench.tuning import load_all as load_tuning

__all__ = ["build", "check", "fmt", "fmt_stat", "leader", "published_of", "render", "write"]

ChartSets = dict[str, dict[str, list[charts.Chart]]]
"""profile -> task (or "" for the cross-task views) -> its charts."""


def _charts(data: dict) -> ChartSets:
    out: ChartSets = {}
    for profile, tasks in data["profiles"].items():
        out[profile] = {name: charts.task_charts(board) for name, board in tasks.items()}
        out[profile][""] = charts.length_charts(profile, tasks)
        out[profile][cd.CD] = cd.cd_chart(profile, data["summary"][profile])
    return out


def published_of(tasks: Mapping[str, Any]) -> Published:
    """Task name -> its published results as plain data, for the registry's tasks
    (``Registry.tasks``) that declare any."""
    return {name: [p.to_dict() for p in task.published] for name, task in sorted(tasks.items()) if task.published}


def render(
    records: list[dict],
    tuning: dict | None = None,
    outcomes_of: Callable[[dict], Any] | None = None,
    published: Published | None = None,
) -> tuple[dict[str, str], ChartSets]:
    """Relative path -> content of every text file of the leaderboards, and the charts
    that ``write`` draws as PNGs (``charts.json`` holds their digests). ``tuning`` holds
    the tuning files (``rnnbench.tuning.load_all``), whose trials the task pages chart.
    ``outcomes_of`` gives a record's per-example outcomes (``store.outcomes_of``) for the
    intervals and tests; without it every interval is over seeds only. ``published``
    (``published_of``) gives the tasks' published results, shown on their pages and
    ``anchors.md``."""
    data = build(records, tuning, outcomes_of, published)
    tables = build_tables(data)
    chart_sets = _charts(data)
    files = {
        "README.md": markdown.index_page(data, tables, chart_sets),
        "anchors.md": markdown.anchors_page(tables),
        "leaderboard.json": json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
        "index.html": html.page(data, tables, chart_sets),
    }
    for profile, boards in data["profiles"].items():
        for name, board in boards.items():
            table = tables.tasks[profile][name]
            files[f"{profile}/{name}.md"] = markdown.task_page(board, table, chart_sets[profile][name])
            files[f"{profile}/{name}.csv"] = csv_writer.task_csv(table)
        flat = [c for cs in chart_sets[profile].values() for c in cs]
        if flat:
            files[f"{profile}/charts/charts.json"] = charts.digests(flat)
    return files, chart_sets


def _outcomes_reader(out: str | Path) -> Callable[[dict], Any]:
    def read(record: dict) -> Any:
        return store.outcomes_of(out, record)

    return read


def _same(path: Path, content: str) -> bool:
    try:
        return path.read_bytes() == content.encode("utf-8")
    except OSError:
        return False


def write(out: str | Path, published: Published | None = None) -> tuple[dict[str, str], list[store.BadFile]]:
    """Render the leaderboards into ``out``, with the tasks' ``published`` results
    (``published_of``). Every path comes from validated slugs, every file is replaced
    atomically, and a failed write raises store.StoreWriteError."""
    records, bad = store.load_records(out)
    files, chart_sets = render(records, load_tuning(out), _outcomes_reader(out), published)
    with _writing(Path(out)) as alone:
        if alone:
            _remove_temp_files(out, files)
        for profile, sets in chart_sets.items():
            folder = store.within(out, Path(out) / profile / "charts" / "charts.json").parent
            charts.write_pngs([c for cs in sets.values() for c in cs], folder)
        for rel, content in files.items():
            path = store.within(out, Path(out) / rel)
            if not _same(path, content):
                store.write_text_atomic(path, content)
        for rel in _orphans(out, files):
            store.remove(Path(out) / rel)
    return files, bad


@contextmanager
def _writing(out: Path) -> Iterator[bool]:
    """Two writes into one ``out`` (a run's and `rnnbench leaderboard`'s) take turns, so
    that a temp file one finds is a killed write's, never the other's half-done file.
    Yields whether it holds the lock: where ``out`` cannot be locked, leftovers stay."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise store.StoreWriteError(out, exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # e.g. NFS, where flock needs a file open for writing
            yield False
        else:
            yield True
    finally:
        os.close(fd)


def _profile_folders(out: str | Path, files: dict[str, str]) -> list[Path]:
    """Real folders directly inside ``out`` named by a profile slug, of the rendered files
    or of results/ (a profile whose results are gone has leftovers to remove too)."""
    root = Path(out)
    profiles = {rel.split("/")[0] for rel in files if "/" in rel}
    if (root / "results").is_dir():
        profiles |= {p.name for p in (root / "results").iterdir() if p.is_dir()}
    folders = [root / p for p in sorted(profiles) if is_slug(p)]
    return [f for f in folders if not f.is_symlink() and f.is_dir()]


def _is_page(name: str) -> bool:
    """A name of a task's page or CSV inside a profile's folder."""
    path = Path(name)
    return path.suffix in (".md", ".csv") and is_slug(path.stem)


def _remove_temp_files(out: str | Path, files: dict[str, str]) -> None:
    """Temp files that a killed write left beside the files this renderer writes; those
    of result files are the run's to remove (under its lock)."""
    top = {rel for rel in files if "/" not in rel}
    places = [(Path(out), top.__contains__)]
    for folder in _profile_folders(out, files):
        places.append((folder, _is_page))
        if not (folder / "charts").is_symlink() and (folder / "charts").is_dir():
            places.append((folder / "charts", charts.is_chart_file))
    for folder, ours in places:
        for path in sorted(folder.iterdir()):
            target = store.temp_target(path.name)
            if target and ours(target) and (path.is_symlink() or path.is_file()):
                store.remove(path)


def _orphans(out: str | Path, files: dict[str, str]) -> list[str]:
    """Rendered files of tasks or profiles that no longer have results: only names this
    renderer writes (``<profile>/<task>.md`` or ``.csv``, both slugs) in a real folder
    directly inside ``out``, so that nothing else is ever deleted."""
    found = []
    for folder in _profile_folders(out, files):
        for path in sorted(folder.iterdir()):
            rel = f"{folder.name}/{path.name}"
            if _is_page(path.name) and rel not in files and (path.is_symlink() or path.is_file()):
                found.append(rel)
    return found


def check(out: str | Path, published: Published | None = None) -> tuple[list[str], list[store.BadFile]]:
    """Files whose content on disk differs from what the results and the tasks'
    ``published`` results give (stale, missing, or left over from a task that no longer
    has results)."""
    records, bad = store.load_records(out, warn=False)
    files, _ = render(records, load_tuning(out), _outcomes_reader(out), published)
    stale = [rel for rel, content in files.items() if not _same(Path(out) / rel, content)]
    for rel, content in files.items():
        if rel.endswith("charts/charts.json"):
            folder = (Path(out) / rel).parent
            stale += [
                f"{folder.relative_to(out)}/{slug}.png"
                for slug in json.loads(content)
                if not (folder / f"{slug}.png").exists()
            ]
    return stale + _orphans(out, files), bad
