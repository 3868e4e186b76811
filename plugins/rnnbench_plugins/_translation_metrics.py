"""chrF as a torchmetrics Metric on sacreBLEU's own statistics (imports torch).

torchmetrics' CHRFScore scores ~60 sentences a second on one CPU thread, slower than
training the model it evaluates, and it averages over all six character orders even
when a hypothesis is shorter than six characters, where sacreBLEU averages over the
orders present. This metric keeps sacreBLEU's corpus statistics (hypothesis, reference
and matching n-gram counts per order) as summed tensor states and scores them with
sacreBLEU, so values are exactly sacreBLEU's ``corpus_chrf`` and states sync across
processes like any torchmetrics sum.
"""

import torch
from sacrebleu.metrics import CHRF
from torchmetrics import Metric


class SacreCHRF(Metric):
    """Corpus chrF (sacreBLEU defaults: character 6-grams, beta 2, no word n-grams), 0-100."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.chrf = CHRF()
        self.add_state("stats", default=torch.zeros(3 * self.chrf.order, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: list[str], target: list[list[str]]) -> None:
        """``preds``: one hypothesis per item; ``target``: the references of each item."""
        references = [list(refs) for refs in zip(*target)]  # sacreBLEU wants one stream per reference
        sentence_stats = self.chrf._extract_corpus_statistics(list(preds), references)
        if sentence_stats:
            self.stats += torch.tensor(sentence_stats, dtype=torch.float64, device=self.stats.device).sum(0)

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.chrf._compute_f_score([int(s) for s in self.stats.tolist()]))
