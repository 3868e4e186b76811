"""BLEU and chrF as torchmetrics Metrics on sacreBLEU's own statistics (imports torch).

Each metric keeps sacreBLEU's corpus statistics (for BLEU: hypothesis and reference
lengths, matching and total n-grams per order; for chrF: hypothesis, reference and
matching n-gram counts per order) as summed tensor states and scores them with
sacreBLEU, so values are exactly sacreBLEU's ``corpus_score`` and states sync across
processes like any torchmetrics sum. ``signature()`` is sacreBLEU's signature of the
settings, the string published scores quote.

torchmetrics' CHRFScore scores ~60 sentences a second on one CPU thread, slower than
training the model it evaluates, and it averages over all six character orders even
when a hypothesis is shorter than six characters, where sacreBLEU averages over the
orders present; its SacreBLEUScore has no signature.
"""

import torch
from sacrebleu.metrics import BLEU, CHRF
from torchmetrics import Metric


class _SacreMetric(Metric):
    higher_is_better = True
    full_state_update = False

    def __init__(self, scorer, size: int, **kwargs):
        super().__init__(**kwargs)
        self.scorer = scorer
        self.add_state("stats", default=torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: list[str], target: list[list[str]]) -> None:
        """``preds``: one hypothesis per item; ``target``: the references of each item."""
        references = [list(refs) for refs in zip(*target)]  # sacreBLEU wants one stream per reference
        sentence_stats = self.scorer._extract_corpus_statistics(list(preds), references)
        if sentence_stats:
            self.stats += torch.tensor(sentence_stats, dtype=torch.float64, device=self.stats.device).sum(0)

    def signature(self) -> str:
        """sacreBLEU's signature, e.g. ``nrefs:1|case:lc|eff:no|tok:13a|smooth:none|version:2.6.0``."""
        if not hasattr(self.scorer, "num_refs"):  # sacreBLEU learns it from the first references it reads
            self.scorer._extract_corpus_statistics(["-"], [["-"]])
        return self.scorer.get_signature().format()


class SacreBLEU(_SacreMetric):
    """Corpus BLEU (sacreBLEU: 13a tokenisation, 4-grams), 0-100.

    ``lowercase`` and ``smooth_method`` are sacreBLEU's options; ``smooth_method="none"``
    is what ``rnnbench.outcomes`` recomputes from per-sentence statistics."""

    def __init__(self, lowercase: bool = False, smooth_method: str = "none", **kwargs):
        scorer = BLEU(lowercase=lowercase, smooth_method=smooth_method)
        super().__init__(scorer, 2 + 2 * scorer.max_ngram_order, **kwargs)

    def compute(self) -> torch.Tensor:
        return torch.tensor(
            self.scorer._compute_score_from_stats([int(s) for s in self.stats.tolist()]).score, dtype=torch.float64
        )


class SacreCHRF(_SacreMetric):
    """Corpus chrF (sacreBLEU defaults: character 6-grams, beta 2, no word n-grams), 0-100."""

    def __init__(self, lowercase: bool = False, **kwargs):
        scorer = CHRF(lowercase=lowercase)
        super().__init__(scorer, 3 * scorer.order, **kwargs)

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.scorer._compute_f_score([int(s) for s in self.stats.tolist()]), dtype=torch.float64)
