import math
import subprocess
import sys

import datasets
import pytest

from rnnbench.data import LengthBucketedBatches, cached, epochs_for_steps, stream_batches


def test_cached_builds_once_and_survives_a_concurrent_builder(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return datasets.Dataset.from_dict({"x": [1, 2, 3]})

    first, key = cached(str(tmp_path), "demo", {"a": 1}, build)
    second, key2 = cached(str(tmp_path), "demo", {"a": 1}, build)
    assert key == key2 and len(calls) == 1 and second["x"] == [1, 2, 3]
    assert cached(str(tmp_path), "demo", {"a": 2}, build)[1] != key and len(calls) == 2

    # another worker finished the same build while this one was building
    def build_racing():
        datasets.Dataset.from_dict({"x": [9]}).save_to_disk(str(tmp_path / f"demo-{key3}"))
        return datasets.Dataset.from_dict({"x": [9]})

    from rnnbench.data import fingerprint

    key3 = fingerprint("demo", {"a": 3})
    ds, _ = cached(str(tmp_path), "demo", {"a": 3}, build_racing)
    assert ds["x"] == [9]


def test_importing_data_loads_neither_torch_nor_numpy():
    # the CLI's torch-free paths import rnnbench.data (DataUnavailable)
    code = "import sys, rnnbench.data; assert not {'torch', 'numpy'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def lengths_of(batch: list[dict]) -> list[int]:
    return [len(item["x"]) for item in batch]


def test_length_bucketed_batches_cover_each_item_once_per_epoch():
    items = [{"x": [0] * n} for n in range(1, 301)]
    train = LengthBucketedBatches(items, 8, lengths_of, epochs=3, seed=0)
    assert len(train) == 3 * math.ceil(300 / 8)
    epochs = [[n for i in range(e * train.per_epoch, (e + 1) * train.per_epoch) for n in train[i]] for e in range(3)]
    assert all(sorted(e) == list(range(1, 301)) for e in epochs)
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    again = LengthBucketedBatches(items, 8, lengths_of, epochs=3, seed=0)
    assert again[40] == train[40]  # batch i depends on i alone, whatever was asked for before
    assert LengthBucketedBatches(items, 8, lengths_of, epochs=3, seed=1)[40] != train[40]
    # within a batch the lengths are close: far closer than a random batch of 1..300
    assert max(max(b) - min(b) for b in (train[i] for i in range(len(train)))) < 10
    with pytest.raises(IndexError):
        train[len(train)]


def test_length_bucketed_batches_without_a_seed_keep_every_item_and_the_last_small_batch():
    items = [{"x": [0] * (n % 17 + 1), "id": n} for n in range(100)]
    test = LengthBucketedBatches(items, 64, lambda batch: [it["id"] for it in batch])
    assert [len(test[i]) for i in range(len(test))] == [64, 36]
    assert sorted(i for k in range(len(test)) for i in test[k]) == list(range(100))
    assert [test[k] for k in range(len(test))] == [test[k] for k in range(len(test))]  # a fixed order


def test_length_bucketed_batches_sort_by_any_key():
    # items with two sequences (a source and a target) bucket by both lengths
    items = [{"x": [0] * (n % 3 + 1), "y": [0] * (n % 5 + 1)} for n in range(60)]
    both = LengthBucketedBatches(items, 4, list, seed=0, length=lambda it: (len(it["x"]), len(it["y"])))
    for k in range(len(both)):
        batch = both[k]
        assert len({len(it["x"]) for it in batch}) == 1  # 20 items of each source length
        assert len({len(it["y"]) for it in batch}) <= 2


def test_epochs_for_steps_reach_the_last_step():
    assert epochs_for_steps(steps=10, batch_size=8, items=80) == 1
    assert epochs_for_steps(steps=11, batch_size=8, items=80) == 2
    # bucketing may need more batches per epoch than items / batch_size: never fewer
    items = [{"x": [0] * (n % 7 + 1)} for n in range(1000)]
    epochs = epochs_for_steps(steps=500, batch_size=16, items=len(items))
    assert len(LengthBucketedBatches(items, 16, lengths_of, epochs=epochs, seed=0)) >= 500


def test_stream_batches_continue_row_by_row():
    torch = pytest.importorskip("torch")
    ids = torch.arange(103)
    batches = stream_batches(ids, batch_size=4, bptt=7)
    for k, b in enumerate(batches):
        assert torch.equal(b["x"][:, 1:], b["y"][:, :-1])  # targets are the next tokens
        if k + 1 < len(batches):
            assert torch.equal(batches[k + 1]["x"][:, 0], b["y"][:, -1])  # batch k+1 continues batch k
    rows = torch.cat([b["x"] for b in batches], dim=1)
    assert torch.equal(rows, ids[: 4 * 25].view(4, 25))  # each row is one contiguous stretch
    assert [b["x"].size(1) for b in batches] == [7, 7, 7, 4]  # the short tail window is kept
    with pytest.raises(ValueError, match="too short"):
        stream_batches(torch.arange(4), batch_size=4, bptt=7)
