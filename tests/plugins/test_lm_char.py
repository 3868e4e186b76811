"""lm-char: Markdown cleaning, characters and vocabulary, play splits, bits per character
against a hand-computed example, and a smoke fit on the real Shakespeare plays."""

import math

import pytest

torch = pytest.importorskip("torch")

from rnnbench.data import default_cache_dir  # noqa: E402
from rnnbench.testing import fit_smoke  # noqa: E402
from rnnbench_plugins._lm import update_lm_metrics  # noqa: E402
from rnnbench_plugins.lm_char import (  # noqa: E402
    PROMPT,
    TEST_PLAYS,
    UNK,
    VAL_PLAYS,
    CharLM,
    build_vocab,
    clean_markdown,
    encode,
    shakespeare_plays,
    split_of,
)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_markdown_becomes_play_text():
    md = (
        "# Macbeth\n\n## Act 1\n\n**FIRST WITCH**\n\n_Thunder._ When shall we three meet again"
        "\n\n\n\n\nIn **thunder**?\n"
    )
    assert clean_markdown(md) == "FIRST WITCH:\n\nThunder. When shall we three meet again\n\nIn thunder?\n"


def test_vocab_comes_from_training_text_and_unknown_characters_are_unk():
    vocab = build_vocab("ab\n\nba")
    assert vocab == [UNK, "\n", "a", "b"]
    assert encode("abz\n", vocab).tolist() == [2, 3, 0, 1]  # "z" was never seen in training
    assert encode(UNK + "é", vocab).tolist() == [0, 0]
    assert encode("", vocab).tolist() == []
    assert encode("ab", [UNK]).tolist() == [0, 0]


def test_plays_split_disjointly_and_held_out_plays_exist():
    plays = shakespeare_plays()
    assert set(VAL_PLAYS) | set(TEST_PLAYS) <= set(plays)
    splits = {p: split_of(p) for p in plays}
    assert {p for p, s in splits.items() if s == "val"} == set(VAL_PLAYS)
    assert {p for p, s in splits.items() if s == "test"} == set(TEST_PLAYS)
    assert sum(s == "train" for s in splits.values()) >= 30
    assert all(text.strip() for text in plays.values())


@pytest.fixture(scope="module")
def smoke_data():
    task = CharLM()
    return task, task.prepare(task.profiles["smoke"], default_cache_dir())


def test_training_stream_has_no_unk_and_the_batches_continue(smoke_data):
    _, data = smoke_data
    assert int((data.info["train_ids"] == 0).sum()) == 0  # the vocabulary is the training text's
    for k in range(len(data.train) - 1):
        assert torch.equal(data.train[k + 1]["x"][:, 0], data.train[k]["y"][:, -1])


def test_bpc_perplexity_cross_entropy_match_a_hand_computed_example(smoke_data):
    task, data = smoke_data
    metrics = task.metrics(data)
    # p(target) = 1/2 then 1/8 -> 1 bit and 3 bits: 2 bits per character on average
    logits = torch.tensor([[[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]]]).log()
    update_lm_metrics(metrics, logits, {"y": torch.tensor([[0, 1]])})
    assert float(metrics["bpc"].compute()) == pytest.approx(2.0, rel=1e-6)
    assert float(metrics["cross_entropy"].compute()) == pytest.approx(2 * math.log(2), rel=1e-6)
    assert float(metrics["perplexity"].compute()) == pytest.approx(4.0, rel=1e-6)


def test_baselines_score_the_test_targets(smoke_data):
    task, data = smoke_data
    base = task.baselines(data)
    assert base["uniform"]["bpc"] == pytest.approx(math.log2(len(data.info["vocab"])))
    assert base["unigram"]["bpc"] < base["uniform"]["bpc"]
    assert base["unigram"]["perplexity"] == pytest.approx(2 ** base["unigram"]["bpc"])


def test_smoke_fit_trains_and_keeps_a_sample(smoke_data):
    record = fit_smoke("lm-char", "lstm")
    bpc = record["primary"]["value"]
    assert record["primary"]["name"] == "bpc" and math.isfinite(bpc)
    assert bpc < math.log2(len(smoke_data[1].info["vocab"]))  # better than guessing uniformly
    assert record["samples"]["prompt"] == PROMPT and len(record["samples"]["continuation"]) == 200
