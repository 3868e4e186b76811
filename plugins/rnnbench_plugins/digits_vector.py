"""One-to-one: a real 8×8 digit image fed as ONE vector, a length-1 sequence, to its class.

The images are scikit-learn's ``load_digits`` (1,797 handwritten digits, 64 grey levels
0..16, scaled to [0, 1]). The core runs a single step, so there is no recurrence over
time: this shape puts on the leaderboard what a recurrent cell does as a plain
feed-forward layer. The split is stratified by digit with a fixed seed and shared with
``caption-digits``, so both tasks test on the same images.
"""

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.data import cached, fingerprint

SPLIT_FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
SPLIT_SEED = 0
PIXELS = 64
MAX_GREY = 16.0


def stratified_split(labels, fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Indices per split, each class divided in the given proportions (sorted indices).

    Every class is shuffled with its own draw from one seeded generator, so the split
    depends only on the labels and the seed, and each split keeps the class balance.
    """
    import numpy as np

    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    names = list(fractions)
    parts: dict[str, list[int]] = {name: [] for name in names}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        bounds = np.round(np.cumsum([fractions[n] for n in names]) * len(members)).astype(int)
        start = 0
        for name, end in zip(names, bounds):
            parts[name].extend(int(i) for i in members[start:end])
            start = end
    return {name: sorted(idx) for name, idx in parts.items()}


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
        return datasets.Dataset.from_dict({
            "pixels": (digits.data / MAX_GREY).astype("float32").tolist(),
            "label": digits.target.tolist(),
            "split": [split_of[i] for i in range(len(digits.target))],
        })

    settings = {"fractions": SPLIT_FRACTIONS, "seed": SPLIT_SEED, "v": 1,
                "sklearn": importlib.metadata.version("scikit-learn")}
    return cached(cache_dir, "sklearn-digits", settings, build)


def split_tensors(table, split: str):
    """``(pixels [n, 64] float, labels [n] long)`` of one split."""
    import torch

    columns = table.with_format("torch", columns=["pixels", "label"])[:]
    in_split = torch.tensor([s == split for s in table.data.column("split").to_pylist()])
    return columns["pixels"][in_split].float(), columns["label"][in_split].long()


def majority_label(labels) -> int:
    """The most frequent label; a tie goes to the smallest label."""
    import torch

    return int(torch.bincount(torch.as_tensor(labels)).argmax())


class DigitsVector(Task):
    name = "digits-vector"
    family = "vision"
    requirements = (Requirement.python("sklearn", pip="scikit-learn"),)
    shape = "one-to-one"
    description = "8×8 digit image (sklearn load_digits) as one vector -> digit class; accuracy"
    primary_metric = "accuracy"
    direction = "max"
    profiles = {
        "smoke": Profile(max_steps=10, batch_size=64, hidden_size=32, val_every=5),
        "quick": Profile(max_steps=300, batch_size=64, hidden_size=128, lr=3e-3, val_every=50),
        "full": Profile(max_steps=3000, batch_size=64, hidden_size=256, lr=1e-3, dropout=0.2,
                        val_every=100, seeds=5),
    }

    def prepare(self, profile, cache_dir):
        from torch.utils.data import StackDataset

        table, fp = digit_images(cache_dir)
        splits = {}
        for split in ("train", "val", "test"):
            x, y = split_tensors(table, split)
            splits[split] = StackDataset(x=x, y=y)
        return TaskData(
            train=splits["train"], val=splits["val"], test={"test": splits["test"]},
            fingerprint=fingerprint(fp, "v1"),
            info={"train_labels": splits["train"].datasets["y"], "test_labels": splits["test"].datasets["y"]},
        )

    def metrics(self, data):
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

        return {"accuracy": MulticlassAccuracy(num_classes=10, average="micro"),
                "macro_f1": MulticlassF1Score(num_classes=10, average="macro")}

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import ManyToOne

        core = model.build_core(PIXELS, profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(out, batch):
            return F.cross_entropy(out, batch["y"])

        def update(metrics, out, batch):
            pred = out.argmax(-1)
            for metric in metrics.values():
                metric.update(pred, batch["y"])

        # [batch, 64] -> [batch, 1, 64]: the whole image is the one and only time step
        as_one_step = nn.Unflatten(1, (1, PIXELS))
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 10))
        pool = "last" if "causal" in model.provides else "mean"
        return ManyToOne(as_one_step, core, head, loss, update, pool)

    def baselines(self, data):
        majority = majority_label(data.info["train_labels"])
        test = data.info["test_labels"]
        accuracy = float((test == majority).float().mean())
        # predicting one class everywhere: F1 is 0 for the other nine classes
        hits = int((test == majority).sum())
        f1_majority = 2 * hits / (hits + len(test))
        return {"majority-class": {"accuracy": accuracy, "macro_f1": f1_majority / 10}}


@hookimpl
def rnnbench_tasks():
    return [DigitsVector()]
