"""caption-digits: the one-to-many shape (digit image -> its spelled name) and OneToMany."""

import pytest
import torch

from rnnbench import Model
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins._labels import majority_label
from rnnbench_plugins.caption_digits import (
    EOS,
    PAD,
    build_vocab,
    caption_scores,
    captions,
    decode_text,
    encode,
    pad_captions,
)

VOCAB = build_vocab(captions("en"))


@pytest.fixture(scope="module")
def task():
    return load_registry().tasks["caption-digits"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def data(task, cache):
    return task.prepare(task.profiles["smoke"], cache)


def test_captions_and_character_vocabulary():
    assert captions("en") == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert VOCAB[:2] == [PAD, EOS]
    assert "".join(VOCAB[2:]) == "efghinorstuvwxz"
    ids = encode("seven", VOCAB)
    assert [VOCAB[i] for i in ids] == ["s", "e", "v", "e", "n", EOS]
    assert decode_text(ids + [0, 5], VOCAB) == "seven"


def test_caption_scores_by_hand():
    three, eight = encode("three", VOCAB), encode("eight", VOCAB)
    # t/e h/i r/g e/h e/t <eos>/<eos>: one position of six agrees
    assert caption_scores(three, eight) == (1, 6, False)
    assert caption_scores(eight, eight) == (6, 6, True)
    # a prediction cut short is padded, so the missing <eos> counts as wrong
    assert caption_scores(encode("six", VOCAB)[:3], encode("six", VOCAB)) == (3, 4, False)


def test_items_and_split_match_digits_vector(data, cache):
    vector_task = load_registry().tasks["digits-vector"]
    vector_data = vector_task.prepare(vector_task.profiles["smoke"], cache)
    test_pixels = torch.stack([item["x"] for item in data.test["test"]])
    assert torch.equal(test_pixels, vector_data.test["test"].datasets["x"])
    assert data.info["test_digits"] == vector_data.info["test_labels"].tolist()
    assert len(data.train) + len(data.val) + len(data.test["test"]) == 1797
    for item in data.train[:20]:
        assert decode_text(item["y"].tolist(), VOCAB) == captions("en")[item["digit"]]


def test_most_frequent_caption_baseline_by_hand_and_with_torchmetrics(task, data):
    base = task.baselines(data)["most-frequent-caption"]
    digit = majority_label(data.info["train_digits"])
    test_digits = data.info["test_digits"]
    assert base["exact_match"] == pytest.approx(sum(d == digit for d in test_digits) / len(test_digits))
    # the same constant caption through the task's torchmetrics gives the same numbers
    batch = pad_captions(list(data.test["test"]))
    guess = torch.tensor(encode(captions("en")[digit], VOCAB))
    tokens = torch.zeros_like(batch["y"])
    width = min(len(guess), tokens.size(1))
    tokens[:, :width] = guess[:width]
    metrics = task.metrics(data)
    for metric in metrics.values():
        metric.update(tokens, batch["y"])
    assert float(metrics["exact_match"].compute()) == pytest.approx(base["exact_match"])
    assert float(metrics["token_accuracy"].compute()) == pytest.approx(base["token_accuracy"])


def test_one_to_many_shapes_and_greedy_decoding_agrees_with_teacher_forcing(task, data):
    torch.manual_seed(0)
    net = task.build(data, load_registry().models["gru"], task.profiles["smoke"]).eval()
    batch = pad_captions([data.test["test"][i] for i in range(8)])
    logits = net(batch)
    assert logits.shape == (8, batch["y"].size(1), len(VOCAB))
    tokens = net.decode(batch["x"], 7)
    assert tokens.shape == (8, 7)
    for row in tokens.tolist():  # nothing but <pad> after the first <eos>
        if 1 in row:
            assert set(row[row.index(1) + 1 :]) <= {0}
    # stepping the decoder on its own choices == one teacher-forced pass over them
    own = {"x": batch["x"], "y": tokens, "lengths": torch.full((8,), 7)}
    forced = net(own).argmax(-1)
    for b, row in enumerate(tokens.tolist()):
        valid = row.index(1) + 1 if 1 in row else len(row)
        assert forced[b, :valid].tolist() == row[:valid]


def test_needs_a_causal_stateful_decoder(task):
    class Bidirectional(Model):
        name = "bi-test"
        provides = frozenset()

        def build_core(self, input_size, hidden_size, num_layers, dropout):
            raise AssertionError("an n/a cell never builds a core")

    assert "causal" in Bidirectional().unsupported(task)


def test_smoke_fit_runs_and_records_captions():
    record = fit_smoke("caption-digits", "lstm")
    assert 0.0 <= record["primary"]["value"] <= 1.0
    assert 0.0 <= record["metrics"]["token_accuracy"] <= 1.0
    captions_seen = record["samples"]["captions"]
    assert len(captions_seen) == 10 and all(isinstance(c["decoded"], str) for c in captions_seen)
