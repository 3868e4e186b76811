"""Per-example outcomes recompute the metric the task reports, for every kind."""

import math

import numpy as np
import pytest
import torch

from rnnbench import outcomes
from rnnbench.nets import classification_outcomes, sequence_nll_outcomes


def test_a_mean_outcome_is_the_accuracy():
    out = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    y = torch.tensor([0, 0, 0])
    kept = classification_outcomes(out, {"y": y})
    stat = outcomes.statistic(kept["kind"], {"value": kept["value"].numpy()}, "accuracy")
    assert stat.value() == pytest.approx(2 / 3)


def test_a_ratio_outcome_gives_perplexity_bits_and_cross_entropy_as_the_metrics_do():
    from torchmetrics.text import Perplexity

    torch.manual_seed(0)
    logits, y = torch.randn(4, 7, 11), torch.randint(0, 11, (4, 7))
    kept = sequence_nll_outcomes(logits, {"y": y})
    cols = {"num": kept["num"].double().numpy(), "den": kept["den"].double().numpy()}
    ppl = Perplexity()
    ppl.update(logits, y)
    nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    assert outcomes.statistic("ratio", cols, "perplexity", "auto").value() == pytest.approx(float(ppl.compute()), 1e-5)
    assert outcomes.statistic("ratio", cols, "bpc", "auto").value() == pytest.approx(nll / math.log(2), 1e-5)
    assert outcomes.statistic("ratio", cols, "cross_entropy", "auto").value() == pytest.approx(nll, 1e-5)


def test_bleu_outcomes_give_torchmetrics_sacrebleu_and_resample_by_sentence():
    from torchmetrics.text import SacreBLEUScore

    hyp = ["the cat sat on the mat today", "a dog runs in the big park", "it is a fine day for a walk"]
    ref = ["the cat sat on the mat", "a dog runs in the park", "it is a fine day for a long walk"]
    metric = SacreBLEUScore()
    metric.update(hyp, [[r] for r in ref])
    stat = outcomes.statistic("bleu", {"hyp": np.array(hyp), "ref": np.array(ref)}, "bleu")
    assert stat.value() == pytest.approx(100 * float(metric.compute()), 1e-4)
    # weights that draw the first sentence three times score that corpus
    again = SacreBLEUScore()
    again.update(hyp[:1] * 3, [[ref[0]]] * 3)
    assert stat.resampled(np.array([[3.0, 0.0, 0.0]]))[0] == pytest.approx(100 * float(again.compute()), 1e-4)


def test_a_constant_direction_call_has_an_mcc_of_zero():
    from rnnbench_plugins._mcc import BinaryMCC

    truth = (torch.rand(724, generator=torch.Generator().manual_seed(1)) > 0.45).long()
    for call in (torch.ones_like(truth), torch.zeros_like(truth)):
        mcc = BinaryMCC()
        mcc.update(call, truth)
        assert float(mcc.compute()) == 0.0
    mcc = BinaryMCC()
    mcc.update(truth, truth)
    assert float(mcc.compute()) == pytest.approx(1.0)


def test_a_corrupt_or_foreign_outcomes_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "m--seed0.outcomes.npz"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(outcomes.OutcomesError, match="corrupt") as info:
        outcomes.read(path)
    assert "\n" not in str(info.value)
    np.savez(path, **{"col/value": np.array([object()], dtype=object)})
    with pytest.raises(outcomes.OutcomesError):
        outcomes.read(path)


def test_the_parallel_series_of_outcomes_survive_the_file_and_old_files_read_one(tmp_path):
    kept = outcomes.Outcomes(
        "mean", {"value": np.arange(8) % 2 * 1.0}, serial=True, baselines={"b": {"value": np.ones(8)}}, series=2
    )
    path = tmp_path / "m--seed0.outcomes.npz"
    path.write_bytes(outcomes.to_bytes(kept))
    again = outcomes.read(path)
    assert again.series == 2 and again.steps == 4 and again.serial
    np.testing.assert_array_equal(again.columns["value"], kept.columns["value"])
    # the worker's plain form carries it too; without it, one series
    plain = {"kind": "mean", "columns": {"value": [1.0, 0.0, 1.0, 1.0]}, "serial": True}
    assert outcomes.from_plain({**plain, "series": 2}).series == 2
    assert outcomes.from_plain(plain).series == 1
    # a file written before outcomes kept their series (no meta/series) reads one series
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "meta/series"}
    np.savez_compressed(path, **arrays)
    assert outcomes.read(path).series == 1
    # a file whose series do not divide its examples is refused in one line
    np.savez_compressed(path, **{**arrays, "meta/series": np.asarray(3)})
    with pytest.raises(outcomes.OutcomesError, match="8 outcomes cannot be 3 parallel series") as info:
        outcomes.read(path)
    assert "\n" not in str(info.value) and path.name in str(info.value)
