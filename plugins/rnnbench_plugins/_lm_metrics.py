"""The metrics of a word language model whose vocabulary has an ``<unk>`` token (imports
torch): how much of the text scored is ``<unk>``, and the perplexity without it.

A model that learns to predict ``<unk>`` well lowers the usual perplexity without
predicting any real word, and a corpus with more ``<unk>`` targets is easier to score
on: the two metrics show how much of a perplexity that is.
"""

import torch
from torchmetrics import Metric
from torchmetrics.text import Perplexity


class TargetShare(Metric):
    """The share of target tokens that are one vocabulary entry (``<unk>``: the
    out-of-vocabulary rate of the text scored)."""

    full_state_update = False
    higher_is_better = None

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index
        self.add_state("hits", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, target: torch.Tensor) -> None:
        self.hits += (target == self.index).sum()
        self.total += target.numel()

    def compute(self) -> torch.Tensor:
        return self.hits.double() / self.total


def unknown_token_metrics(unk_index: int) -> dict:
    """``oov_rate``: the share of target tokens that are ``<unk>``; ``perplexity_known``:
    the perplexity over the other targets only (an ``<unk>`` target leaves both the summed
    log-likelihood and the count). ``rnnbench_plugins._lm.update_lm_metrics`` feeds them."""
    return {"oov_rate": TargetShare(unk_index), "perplexity_known": Perplexity(ignore_index=unk_index)}
