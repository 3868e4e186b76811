"""What the language-model tasks (lm-char, lm-word) share: their metrics and the naive
baselines. Their TBPTT streams are cut by rnnbench.data.stream_batches."""

from __future__ import annotations


def update_lm_metrics(metrics, logits, batch) -> None:
    """Feed a language model's torchmetrics with one batch of logits ``[B, T, V]``:
    perplexity, cross-entropy in nats per token and, where asked for, bits per token and
    the metrics of ``_lm_metrics.unknown_token_metrics``."""
    import math

    from torch.nn import functional as F

    nll = F.cross_entropy(logits.flatten(0, 1), batch["y"].flatten(), reduction="none")
    metrics["cross_entropy"].update(nll)
    if "bpc" in metrics:
        metrics["bpc"].update(nll / math.log(2))
    metrics["perplexity"].update(logits, batch["y"])
    if "oov_rate" in metrics:
        metrics["oov_rate"].update(batch["y"])
    if "perplexity_known" in metrics:
        metrics["perplexity_known"].update(logits, batch["y"])


def unigram_outcomes(train_ids, test_batches, vocab_size: int) -> dict:
    """Per test batch (one TBPTT step across the parallel streams, in test order), of the
    add-one smoothed unigram and the uniform predictor: summed NLL and token count, the
    columns of the task net's ``ratio`` outcomes (``AlignedManyToMany`` with state)."""
    import math

    import torch

    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    token_nll = -(counts / counts.sum()).log()
    unigram, uniform, tokens = [], [], []
    for batch in test_batches:
        y = batch["y"]
        unigram.append(float(token_nll[y].sum()))
        tokens.append(float(y.numel()))
    uniform = [n * math.log(vocab_size) for n in tokens]
    return {"unigram": {"num": unigram, "den": tokens}, "uniform": {"num": uniform, "den": tokens}}


def unigram_baselines(train_ids, test_targets, vocab_size: int, bits_name: str | None = None) -> dict:
    """Test metrics of two naive predictors: the add-one smoothed unigram of the
    training stream, and the uniform distribution over the vocabulary. They score the
    same targets the models are tested on."""
    import math

    import torch

    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    nll = -(counts / counts.sum()).log()[test_targets].mean().item()
    uniform = math.log(vocab_size)
    out = {
        "unigram": {"perplexity": math.exp(nll), "cross_entropy": nll},
        "uniform": {"perplexity": float(vocab_size), "cross_entropy": uniform},
    }
    if bits_name:
        for name, nats in (("unigram", nll), ("uniform", uniform)):
            out[name][bits_name] = nats / math.log(2)
    return out
