"""The result store: one JSON file per cell under ``OUT/results/<profile>/<task>/``.

Files are written atomically (temp file in the same folder, then rename), so a run
killed at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from rnnbench import records
from rnnbench.api import is_slug

FINISHED = ("ok", "n/a")
"""Statuses that a repeated run keeps; ``failed`` cells are tried again, except those
that diverged."""
DIVERGED = "non-finite loss"
"""How the reason of a cell whose training diverged begins. Divergence is a result of the
configuration, which repeats it bit for bit, so a repeated run keeps that cell too; other
hyperparameters (a new config hash) train it again."""


def finished(record: dict) -> bool:
    """Whether a repeated run keeps ``record`` (given the same config hash)."""
    status = record.get("status")
    return status in FINISHED or (status == "failed" and str(record.get("reason") or "").startswith(DIVERGED))


class StoreLocked(Exception):
    pass


class StoreWriteError(OSError):
    """A file of the store or of the leaderboards could not be written (disk full,
    read-only folder ...); ``str()`` is one line for the user, naming the file."""

    def __init__(self, path: str | Path, error: OSError, action: str = "write"):
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.message = f"cannot {action} {path}: {error.strerror or error}"

    def __str__(self) -> str:
        return self.message


STATUSES = ("ok", "n/a", "failed")


def _check_identity(profile: Any, task: Any, model: Any, seed: Any) -> None:
    for key, value in (("profile", profile), ("task", task), ("model", model)):
        if not is_slug(value):
            raise ValueError(f"{key} {_short(value)} is not a slug ([a-z0-9][a-z0-9-]*)")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed {_short(seed)} is not a non-negative integer")


def result_path(out: str | Path, profile: str, task: str, model: str, seed: int) -> Path:
    """Built from validated parts only, so that no record can name a path outside ``out``."""
    _check_identity(profile, task, model, seed)
    return Path(out) / "results" / profile / task / f"{model}--seed{seed}.json"


def write_atomic(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through ``write(file)`` to a temp file beside ``path``, then rename it over
    ``path``: readers see the old file or the new one, never a partial one. An OSError
    becomes a StoreWriteError naming ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            # mkstemp creates 0600; a result file gets what an ordinary open() would give
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except StoreWriteError:
        raise
    except OSError as exc:
        raise StoreWriteError(path, exc) from exc


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n")


def remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreWriteError(path, exc, "remove") from exc


def within(out: str | Path, path: Path) -> Path:
    """``path`` if no folder between ``out`` and it is a symbolic link, else
    StoreWriteError: writing through one would land outside the folder the user named."""
    folder = Path(out)
    for part in path.relative_to(out).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise StoreWriteError(path, OSError(errno.ELOOP, f"{folder} is a symbolic link out of {out}"))
    return path


def write_record(out: str | Path, record: dict) -> Path:
    """Write ``record``. An ok record without outcomes removes an outcomes file that an
    earlier run of its cell left, which is no longer this record's."""
    path = within(out, result_path(out, record["profile"], record["task"], record["model"], record["seed"]))
    if record.get("status") == "ok" and not record.get("outcomes"):
        from rnnbench import outcomes as _outcomes

        remove(_outcomes.path_for(path))
    write_json_atomic(path, record)
    return path


def write_outcomes(out: str | Path, record: dict, outcomes: Any) -> dict:
    """Write ``outcomes`` (``rnnbench.outcomes.Outcomes``) beside where ``record`` goes
    and return the record naming the file and its digest; write the record after it
    (``write_record``), so that a record never names an outcomes file that is not there."""
    from rnnbench import outcomes as _outcomes

    path = within(out, result_path(out, record["profile"], record["task"], record["model"], record["seed"]))
    data = _outcomes.to_bytes(outcomes)
    target = _outcomes.path_for(path)
    write_atomic(target, lambda f: f.write(data))
    ref = {"file": target.name, "sha256": _outcomes.digest(data), "kind": outcomes.kind, "n": outcomes.n}
    return dict(record, outcomes=ref)


def outcomes_of(out: str | Path, record: dict) -> Any:
    """The record's outcomes (``rnnbench.outcomes.Outcomes``), or None where it names
    none; OutcomesError (one line) when its file is missing, altered or corrupt."""
    from rnnbench import outcomes as _outcomes

    ref = record.get("outcomes")
    if not ref:
        return None
    path = result_path(out, record["profile"], record["task"], record["model"], record["seed"])
    return _outcomes.read(path.with_name(ref["file"]), ref["sha256"])


def outcomes_problem(out: str | Path, record: dict, upgraded: bool = True) -> str | None:
    """Why an ok record's outcomes cannot be used (so the cell must run again), or None.
    ``upgraded``: a record of an older schema, which has none, is such a record too."""
    from rnnbench import outcomes as _outcomes

    if record.get("status") != "ok":
        return None
    if upgraded and record.get("upgraded_from") is not None:
        return f"written by schema {record['upgraded_from']}, without per-example outcomes; rerun the cell"
    ref = record.get("outcomes")
    if not ref:
        return None
    path = result_path(out, record["profile"], record["task"], record["model"], record["seed"]).with_name(ref["file"])
    try:
        data = path.read_bytes()
    except OSError:
        return f"its outcomes file {ref['file']} is missing; rerun the cell"
    if _outcomes.digest(data) != ref["sha256"]:
        return f"its outcomes file {ref['file']} does not match the record (altered or truncated); rerun the cell"
    return None


_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp\Z")
"""``write_atomic``'s temp files: ``.<target name>.<mkstemp's 8 characters>.tmp``."""


def temp_target(name: str) -> str | None:
    """The name of the file that a temp file of ``write_atomic`` was to become, or None
    when ``name`` is not such a temp file."""
    m = _TEMP_NAME.match(name)
    return m["target"] if m else None


def remove_temp_files(out: str | Path) -> None:
    """Temp files of writes that a killed run never finished (call under RunLock)."""
    root = Path(out) / "results"
    if root.is_dir():
        for tmp in root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)


# --- validation -----------------------------------------------------------------------


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expect(record: dict, key: str, ok: Callable[[Any], bool], what: str) -> None:
    if record.get(key) is not None and not ok(record[key]):
        raise ValueError(f"{key} must be {what}, not {_short(record[key])}")


def _published_list(value: Any) -> bool:
    """``task_published``: entries with text where the page shows text and a number as the value."""
    return isinstance(value, list) and all(
        isinstance(p, dict)
        and all(isinstance(p.get(k), str) for k in ("source", "model", "metric", "differences"))
        and _is_num(p.get("value"))
        for p in value
    )


def _number_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and (v is None or _is_num(v)) for k, v in value.items())


def validate_record(record: Any, path: Path | None = None) -> dict:
    """``record`` if it has the shape every reader relies on, else ValueError with a
    one-line reason. With ``path``, the record's identity must also be where it lies
    (``results/<profile>/<task>/<model>--seed<N>.json``)."""
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object (got {type(record).__name__})")
    schema = records.schema_of(record)
    if schema in records.UPGRADABLE:
        record = records.upgrade(record)
        schema = records.SCHEMA_VERSION
    if schema != records.SCHEMA_VERSION:
        raise ValueError(
            f"written by schema {_short(schema)}, this rnnbench reads schema {records.SCHEMA_VERSION}; rerun the cell"
        )
    for key in ("task", "model", "seed", "profile", "status"):
        if key not in record:
            raise ValueError(f"missing key {key!r}")
    _check_identity(record["profile"], record["task"], record["model"], record["seed"])
    if path is not None:
        where = (path.parent.parent.name, path.parent.name, path.name)
        says = (record["profile"], record["task"], f"{record['model']}--seed{record['seed']}.json")
        if where != says:
            raise ValueError(f"its content says {'/'.join(says)}, but it lies at {'/'.join(where)}")
    if record["status"] not in STATUSES:
        raise ValueError(f"status {_short(record['status'])} is not one of {', '.join(STATUSES)}")
    primary = record.get("primary")
    if not isinstance(primary, dict):
        raise ValueError("missing or malformed key 'primary'")
    if not isinstance(primary.get("name"), str) or not primary["name"]:
        raise ValueError(f"primary name {_short(primary.get('name'))} is not a non-empty string")
    if primary.get("direction") not in ("min", "max"):
        raise ValueError(f"primary direction {_short(primary.get('direction'))} is not 'min' or 'max'")
    if record["status"] == "ok":
        if not _number_map(record.get("metrics")):
            raise ValueError("an ok record needs 'metrics': an object of numbers")
        if primary["name"] not in record["metrics"]:
            raise ValueError(f"metrics lack the primary metric {_short(primary['name'])}")
    else:
        _expect(record, "metrics", _number_map, "an object of numbers")
    for key in ("task_family", "task_shape", "task_description", "reason", "traceback"):
        _expect(record, key, lambda v: isinstance(v, str), "a string")
    _expect(record, "task_published", _published_list, "a list of published results")
    _expect(record, "params", lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    for key in ("train_seconds", "wall_seconds", "peak_memory_mb", "sequence_length"):
        _expect(record, key, _is_num, "a number")
    _expect(
        record,
        "throughput",
        lambda v: (
            isinstance(v, dict)
            and (v.get("value") is None or _is_num(v["value"]))
            and isinstance(v.get("unit", ""), str)
        ),
        "an object with a numeric value and a unit",
    )
    _expect(record, "samples", lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), "an object")
    _expect(
        record,
        "curve",
        lambda v: (
            isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 and all(_is_num(x) for x in p) for p in v)
        ),
        "a list of [step, value] pairs",
    )
    _expect(
        record,
        "baselines",
        lambda v: isinstance(v, dict) and all(isinstance(k, str) and _number_map(m) for k, m in v.items()),
        "an object of metric objects",
    )
    _expect(record, "provenance", lambda v: isinstance(v, dict), "an object")
    if record["status"] == "ok" and "outcomes" not in record:
        raise ValueError("an ok record needs 'outcomes': its outcomes file, or null with 'outcomes_note'")
    _expect(record, "outcomes", _outcomes_ref, "an object with file, sha256, kind and n")
    _expect(record, "outcomes_note", lambda v: isinstance(v, str), "a string")
    return record


def _outcomes_ref(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    name, sha = value.get("file"), value.get("sha256")
    return (
        isinstance(name, str)
        and re.fullmatch(r"[a-z0-9][a-z0-9-]*--seed[0-9]+\.outcomes\.npz", name) is not None
        and isinstance(sha, str)
        and re.fullmatch(r"[0-9a-f]{64}", sha) is not None
        and isinstance(value.get("kind"), str)
        and _is_int(value.get("n"))
    )


def read_record(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return validate_record(record, path)


def _warn(path: Path, why: str) -> None:
    print(f"warning: skipping unreadable result {path} ({why})", file=sys.stderr)


def _why(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [type(exc).__name__])[0]


def existing(out: str | Path, profile: str, task: str, model: str, seed: int) -> dict | None:
    """The cell's record, or None if there is none or it is invalid (so the cell is run)."""
    try:
        path = result_path(out, profile, task, model, seed)
    except ValueError:
        return None
    try:
        record = read_record(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _warn(path, _why(exc))
        return None
    problem = outcomes_problem(out, record)
    if problem:
        print(f"note: running {path} again ({problem.removesuffix('; rerun the cell')})", file=sys.stderr)
        return None
    return record


@dataclass
class BadFile:
    path: Path
    why: str


def iter_records(out: str | Path) -> Iterator[dict | BadFile]:
    """Every record under ``out/results``, sorted by path; unreadable or invalid files as BadFile."""
    root = Path(out) / "results"
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = read_record(path)
        except (OSError, ValueError) as exc:
            yield BadFile(path, _why(exc))
            continue
        problem = outcomes_problem(out, record, upgraded=False)
        yield BadFile(path, problem) if problem else record


def load_records(out: str | Path, warn: bool = True) -> tuple[list[dict], list[BadFile]]:
    records, bad = [], []
    for item in iter_records(out):
        if isinstance(item, BadFile):
            bad.append(item)
            if warn:
                _warn(item.path, item.why)
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
