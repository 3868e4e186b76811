"""Data helpers for task plugins: content-hashed, Arrow-backed caching of prepared data.

Tokenisation, feature extraction and synthesis run once per distinct setting; a second
run loads the cached Arrow files. The key is a hash of everything the data depends on,
so changing a task's data settings invalidates the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable


def default_cache_dir() -> str:
    return os.environ.get("RNNBENCH_CACHE") or str(Path.home() / ".cache" / "rnnbench")


def fingerprint(*parts: Any) -> str:
    """A short, stable hash of JSON-able parts (settings, file digests, versions)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_digest(*paths: str | os.PathLike) -> str:
    """Hash of the bytes of the given files, in order: a data source's fingerprint."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def cached(cache_dir: str, name: str, settings: dict, build: Callable[[], Any]):
    """Return ``(datasets.DatasetDict or Dataset, fingerprint)``, building it only once.

    ``build`` returns an HF ``Dataset`` or ``DatasetDict``; it is saved to
    ``cache_dir/name-<fingerprint>`` atomically (temp dir + rename), so an interrupted
    build never leaves a half-written cache behind.
    """
    import datasets

    datasets.disable_progress_bars()
    key = fingerprint(name, settings)
    path = Path(cache_dir) / f"{name}-{key}"
    if path.exists():
        try:
            return datasets.load_from_disk(str(path)), key
        except Exception:  # a corrupt cache is rebuilt, not trusted
            shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = build()
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{name}-"))
    ds.save_to_disk(str(tmp / "d"))
    try:
        os.replace(tmp / "d", path)
    except OSError:
        if not path.exists():
            raise
        # another worker finished the same build first; its copy is as good as ours
    shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(path)), key


class DataUnavailable(Exception):
    """A data source is missing (no network for a hub dataset, a system package absent).

    The message is one line that says what to do next; the runner shows it as the
    cell's failure reason and the CLI prints it without a traceback.
    """


def hub_dataset(path: str, *args: Any, offline_default: str = "", **kwargs: Any):
    """``datasets.load_dataset`` with one clear line when the hub cannot be reached."""
    import datasets

    try:
        return datasets.load_dataset(path, *args, **kwargs)
    except Exception as exc:
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = f"; use the offline default ({offline_default})" if offline_default else ""
        why = "offline mode is on (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE)" if offline else f"{type(exc).__name__}"
        raise DataUnavailable(
            f"hub dataset '{path}' is unreachable: {why}{hint}"
        ) from None
