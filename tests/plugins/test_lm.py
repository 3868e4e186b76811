"""What lm-char and lm-word share (_lm): the naive baselines."""

import math

import pytest

torch = pytest.importorskip("torch")

from rnnbench_plugins._lm import unigram_baselines  # noqa: E402


def test_unigram_baselines_match_a_hand_computed_example():
    # add-one counts of [0, 0, 1] over 3 tokens: 3/6, 2/6, 1/6; the targets 0 and 1 score 1/2 and 1/3
    out = unigram_baselines(torch.tensor([0, 0, 1]), torch.tensor([0, 1]), 3, bits_name="bpc")
    nll = -(math.log(1 / 2) + math.log(1 / 3)) / 2
    assert out["unigram"]["cross_entropy"] == pytest.approx(nll)
    assert out["unigram"]["perplexity"] == pytest.approx(math.exp(nll))
    assert out["unigram"]["bpc"] == pytest.approx(nll / math.log(2))
    assert out["uniform"] == pytest.approx({"perplexity": 3.0, "cross_entropy": math.log(3), "bpc": math.log2(3)})
    assert "bpc" not in unigram_baselines(torch.tensor([0]), torch.tensor([0]), 2)["unigram"]
