"""Padded batches of utterances, grouped by length."""

from __future__ import annotations

from rnnbench_plugins.speech.ctc import BLANK


def collate_digits(items: list[dict]) -> dict:
    import torch
    from torch.nn.utils.rnn import pad_sequence

    return {
        "x": pad_sequence([it["x"] for it in items], batch_first=True),
        "lengths": torch.tensor([len(it["x"]) for it in items], dtype=torch.long),
        "y": torch.stack([it["digits"][0] for it in items]),
    }


def collate_strings(items: list[dict]) -> dict:
    """Padded features and CTC targets (digit d as class d + 1; 0 is the blank)."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    return {
        "x": pad_sequence([it["x"] for it in items], batch_first=True),
        "lengths": torch.tensor([len(it["x"]) for it in items], dtype=torch.long),
        "y": pad_sequence([it["digits"] + 1 for it in items], batch_first=True, padding_value=BLANK),
        "y_lengths": torch.tensor([len(it["digits"]) for it in items], dtype=torch.long),
    }


class BucketedBatches:
    """Whole batches of utterances of similar length, as a map-style dataset.

    On the CPU, a packed batch whose lengths differ widely costs several times as much in
    the backward pass as one of equal lengths (3.5x measured for an LSTM), so each batch
    groups utterances of similar length. With a ``seed`` (training) every epoch is a fresh
    shuffle drawn from ``(seed, epoch)``, so batch ``i`` depends on ``i`` alone, whatever
    order it is asked for in; without one (evaluation) every utterance comes exactly once.
    """

    WINDOW = 50
    """Utterances are sorted by length within windows of this many batches: similar
    lengths in a batch, yet random company across the epoch."""

    def __init__(self, items: list[dict], batch_size: int, collate, epochs: int = 1, seed: int | None = None):
        self.items, self.batch_size, self.collate = items, batch_size, collate
        self.epochs, self.seed = max(1, epochs), seed
        self.lengths = [len(it["x"]) for it in items]
        self.per_epoch = len(self.epoch_plan(0))
        self._cached: tuple[int, list] | None = None

    def epoch_plan(self, epoch: int) -> list:
        import numpy as np

        rng = np.random.default_rng([self.seed, epoch]) if self.seed is not None else None
        order = rng.permutation(len(self.items)) if rng is not None else np.arange(len(self.items))
        window = self.batch_size * self.WINDOW
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start:start + window], key=lambda i: self.lengths[i])
            batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        if rng is not None:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        return batches

    def __len__(self) -> int:
        return self.per_epoch * self.epochs

    def __getitem__(self, i: int) -> dict:
        epoch, k = divmod(i, self.per_epoch)
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self.epoch_plan(epoch))
        return self.collate([self.items[j] for j in self._cached[1][k]])
