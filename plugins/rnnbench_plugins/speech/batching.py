"""Padded batches of utterances; rnnbench.data.LengthBucketedBatches groups them by length."""

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
