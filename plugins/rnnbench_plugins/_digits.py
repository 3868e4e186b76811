"""scikit-learn's 8×8 handwritten digits as digits-vector and caption-digits both use them:
one cached table and one stratified split, so both tasks test on the same images."""

from __future__ import annotations

from rnnbench.data import cached
from rnnbench_plugins._labels import stratified_split

SPLIT_FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
SPLIT_SEED = 0
PIXELS = 64
MAX_GREY = 16.0


def digit_images(cache_dir: str):
    """The digits as an HF dataset (``pixels`` in [0, 1], ``label``, ``split``), cached,
    because importing scikit-learn alone takes seconds."""
    import importlib.metadata

    import datasets

    def build():
        from sklearn.datasets import load_digits

        digits = load_digits()
        split_of = {}
        for name, idx in stratified_split(digits.target, SPLIT_FRACTIONS, SPLIT_SEED).items():
            split_of.update({i: name for i in idx})
        return datasets.Dataset.from_dict(
            {
                "pixels": (digits.data / MAX_GREY).astype("float32").tolist(),
                "label": digits.target.tolist(),
                "split": [split_of[i] for i in range(len(digits.target))],
            }
        )

    settings = {
        "fractions": SPLIT_FRACTIONS,
        "seed": SPLIT_SEED,
        "v": 1,
        "sklearn": importlib.metadata.version("scikit-learn"),
    }
    return cached(cache_dir, "sklearn-digits", settings, build)


def split_tensors(table, split: str):
    """``(pixels [n, 64] float, labels [n] long)`` of one split."""
    import torch

    columns = table.with_format("torch", columns=["pixels", "label"])[:]
    in_split = torch.tensor([s == split for s in table.data.column("split").to_pylist()])
    return columns["pixels"][in_split].float(), columns["label"][in_split].long()
