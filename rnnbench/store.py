"""The result store: one JSON file per cell under ``OUT/results/<profile>/<task>/``.

Files are written atomically (temp file in the same folder, then rename), so a run
killed at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

FINISHED = ("ok", "n/a")
"""Statuses that a repeated run keeps; ``failed`` cells are tried again."""


class StoreLocked(Exception):
    pass


def result_path(out: str | Path, profile: str, task: str, model: str, seed: int) -> Path:
    return Path(out) / "results" / profile / task / f"{model}--seed{seed}.json"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True, allow_nan=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(out: str | Path, record: dict) -> Path:
    path = result_path(out, record["profile"], record["task"], record["model"], record["seed"])
    write_json_atomic(path, record)
    return path


def remove_temp_files(out: str | Path) -> None:
    """Temp files of writes that a killed run never finished (call under RunLock)."""
    root = Path(out) / "results"
    if root.is_dir():
        for tmp in root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def read_record(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    for key in ("task", "model", "seed", "profile", "status"):
        if key not in record:
            raise ValueError(f"missing key {key!r}")
    return record


def existing(out: str | Path, profile: str, task: str, model: str, seed: int) -> dict | None:
    try:
        return read_record(result_path(out, profile, task, model, seed))
    except (OSError, ValueError):
        return None


@dataclass
class BadFile:
    path: Path
    why: str


def iter_records(out: str | Path) -> Iterator[dict | BadFile]:
    """Every record under ``out/results``, sorted by path; unreadable files as BadFile."""
    root = Path(out) / "results"
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            yield read_record(path)
        except (OSError, ValueError) as exc:
            yield BadFile(path, f"{type(exc).__name__}: {exc}".splitlines()[0])


def load_records(out: str | Path, warn: bool = True) -> tuple[list[dict], list[BadFile]]:
    records, bad = [], []
    for item in iter_records(out):
        if isinstance(item, BadFile):
            bad.append(item)
            if warn:
                print(f"warning: skipping unreadable result {item.path} ({item.why})", file=sys.stderr)
        else:
            records.append(item)
    return records, bad


class RunLock:
    """An exclusive lock on ``out`` so that two runs never write the same store."""

    def __init__(self, out: str | Path):
        self.path = Path(out) / ".rnnbench.lock"
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self.fd, 32).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            self.fd = None
            raise StoreLocked(
                f"another rnnbench run (pid {holder}) is writing to {self.path.parent}; "
                "wait for it to finish or pass a different --out"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
