"""Labelled examples, whatever they are (digit images, reviews): a stratified split and
the majority label."""

from __future__ import annotations


def stratified_split(labels, fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Indices per split, each class divided in the given proportions (sorted indices).

    Every class is shuffled with its own draw from one seeded generator, so the split
    depends only on the labels and the seed, and each split keeps the class balance.
    """
    import numpy as np

    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    names = list(fractions)
    parts: dict[str, list[int]] = {name: [] for name in names}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        bounds = np.round(np.cumsum([fractions[n] for n in names]) * len(members)).astype(int)
        start = 0
        for name, end in zip(names, bounds):
            parts[name].extend(int(i) for i in members[start:end])
            start = end
    return {name: sorted(idx) for name, idx in parts.items()}


def majority_label(labels) -> int:
    """The most frequent label; a tie goes to the smallest label."""
    import torch

    return int(torch.bincount(torch.as_tensor(labels)).argmax())
