"""Data helpers for task plugins: content-hashed, Arrow-backed caching of prepared data,
and the batching that tasks of several shapes share.

Tokenisation, feature extraction and synthesis run once per distinct setting; a second
run loads the cached Arrow files. The key is a hash of everything the data depends on,
so changing a task's data settings invalidates the cache.

Batching: ``LengthBucketedBatches`` for variable-length sequences and ``stream_batches``
for truncated backpropagation through time. The CLI imports this module on paths that
must not load torch or numpy, so those are imported inside the functions that use them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence


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
        raise DataUnavailable(f"hub dataset '{path}' is unreachable: {why}{hint}") from None


# --- batching ---------------------------------------------------------------------------
def item_length(item: dict) -> int:
    """The length of an item's input sequence ``x``: the default bucketing key."""
    return len(item["x"])


class LengthBucketedBatches:
    """Whole padded batches of items of similar length, as a map-style dataset
    (``TaskData(batched=True, shuffle=False)``).

    Batches are padded and the padding is masked (or packed by the core), so a batch
    costs as much as its longest item. On the CPU a batch whose lengths differ widely is
    worse still: the backward pass of a packed batch costs several times that of one of
    equal lengths (3-4x measured for an LSTM). Grouping items of similar length keeps
    both costs near the real work.

    With a ``seed`` (training) every epoch is a fresh shuffle drawn from ``(seed,
    epoch)``, so batch ``i`` depends on ``i`` alone, whatever order it is asked for in,
    and a run is reproducible. Without one (evaluation) the order is fixed. Either way
    every item comes exactly once per epoch and the last, smaller batch is kept.

    ``length(item)`` is any sortable size (an int, or a tuple for items with two
    sequences); ``collate(items)`` makes one batch of a list of items.
    """

    WINDOW = 50
    """Items are sorted by length within windows of this many batches: similar lengths
    in a batch, yet random company across the epoch."""

    def __init__(
        self,
        items: Sequence[Any],
        batch_size: int,
        collate: Callable[[list], Any],
        epochs: int = 1,
        seed: int | None = None,
        length: Callable[[Any], Any] = item_length,
    ):
        self.items, self.batch_size, self.collate = items, batch_size, collate
        self.epochs, self.seed = max(1, epochs), seed
        self.lengths = [length(it) for it in items]
        self.per_epoch = len(self.epoch_plan(0))
        self._cached: tuple[int, list] | None = None

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        """The item indices of each batch of ``epoch``, in the order they are served."""
        import numpy as np

        rng = np.random.default_rng([self.seed, epoch]) if self.seed is not None else None
        order = rng.permutation(len(self.items)) if rng is not None else np.arange(len(self.items))
        window = self.batch_size * self.WINDOW
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda i: self.lengths[i])
            batches += [chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        if rng is not None:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        return batches

    def with_seed(self, seed: int) -> "LengthBucketedBatches":
        """The same items in the order ``seed`` draws (each cell's own); an evaluation
        set, which has no seed, keeps its one order."""
        if self.seed is None:
            return self
        other = copy.copy(self)
        other.seed, other._cached = seed, None
        return other

    def __len__(self) -> int:
        return self.per_epoch * self.epochs

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} of {len(self)}")
        epoch, k = divmod(i, self.per_epoch)
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self.epoch_plan(epoch))
        return self.collate([self.items[j] for j in self._cached[1][k]])


def epochs_for_steps(steps: int, batch_size: int, items: int) -> int:
    """Epochs of ``items`` that ``steps`` batches of ``batch_size`` reach into."""
    return max(1, -(-steps * batch_size // items))


def stream_batches(ids, batch_size: int, bptt: int) -> list[dict]:
    """Cut a 1-D tensor of token ids into ``batch_size`` parallel streams and consecutive
    ``bptt``-long windows, so batch k+1 continues batch k row by row: truncated
    backpropagation through time carries the hidden state from one batch into the next
    (``TaskData(batched=True, shuffle=False)``). ``y`` is ``x`` shifted by one token."""
    n = (len(ids) - 1) // batch_size
    if n < 1:
        raise ValueError(f"stream of {len(ids)} tokens is too short for batch size {batch_size}")
    x = ids[: n * batch_size].view(batch_size, n)
    y = ids[1 : n * batch_size + 1].view(batch_size, n)
    return [{"x": x[:, i : i + bptt], "y": y[:, i : i + bptt]} for i in range(0, n, bptt)]
