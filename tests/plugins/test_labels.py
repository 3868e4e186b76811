"""What digits-vector, caption-digits and sentiment share (_labels): the stratified split
and the majority label."""

import numpy as np

from rnnbench_plugins._labels import majority_label, stratified_split


def test_stratified_split_is_a_disjoint_cover_that_keeps_class_balance():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    parts = stratified_split(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    seen = np.concatenate([parts[s] for s in parts])
    assert sorted(seen.tolist()) == list(range(60))  # every index exactly once
    for name, fraction in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        counts = np.bincount(labels[parts[name]], minlength=3)
        assert counts.tolist() == [round(fraction * n) for n in (10, 20, 30)]
    assert parts == stratified_split(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert parts != stratified_split(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)


def test_majority_label_breaks_ties_towards_the_smaller_label():
    assert majority_label([2, 1, 1, 2, 0]) == 1  # tie between 1 and 2 goes to the smaller
