"""The ``reverse`` task: a random string of 3 to 8 digits in, the same digits reversed out.

A seq2seq task written on ``rnnbench.seq2seq.EncoderDecoder``: the task supplies the data,
the source embedding, the vocabulary ids and the metrics; the encoder-decoder with
attention, teacher forcing, greedy and beam decoding come from rnnbench, and the model
supplies both cores. No decoder is written here.

A string's split is a hash of its digits, so no string is in two splits. Metrics: exact
match of the whole reversed string (primary) and the fraction of target digits right at
their position. Baseline: copying the source unreversed (right for palindromes only).
"""

import hashlib
import random
from dataclasses import dataclass

from rnnbench import Profile, Task, TaskData
from rnnbench.api import option_settings
from rnnbench.data import fingerprint

PAD, BOS, EOS = 0, 1, 2  # then the digits 0-9 as ids 3-12
VOCAB = 13


@dataclass(frozen=True)
class ReverseOptions:
    min_len: int = 3
    max_len: int = 8
    """Digits of the shortest and the longest string."""


def split_of(digits: list[int]) -> str:
    """A stable split for a string, from a hash of its digits: 80 % train, 10 % each other."""
    bucket = int(hashlib.sha1(bytes(digits)).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def draw_splits(opts: ReverseOptions, sizes: dict[str, int], seed: int = 0) -> dict[str, list[list[int]]]:
    """Random digit strings, each in the split its hash gives, until every split is full."""
    rng = random.Random(seed)
    splits = {name: [] for name in sizes}
    while any(len(splits[name]) < size for name, size in sizes.items()):
        digits = [rng.randrange(10) for _ in range(rng.randint(opts.min_len, opts.max_len))]
        name = split_of(digits)
        if len(splits[name]) < sizes[name]:
            splits[name].append(digits)
    return splits


def scores(hypotheses: list[list[int]], targets: list[list[int]]) -> tuple[list[float], list[float]]:
    """Exact match of each hypothesis, and the correctness of each target token (a
    hypothesis is compared position by position, a missing token counts as wrong)."""
    exact, tokens = [], []
    for hyp, ref in zip(hypotheses, targets):
        exact.append(float(hyp == ref))
        tokens += [float(i < len(hyp) and hyp[i] == t) for i, t in enumerate(ref)]
    return exact, tokens


def collate(items: list[dict]) -> dict:
    """Pad source and target ids; ``lengths`` and ``y_lengths`` (with the ``<eos>``) stay on the CPU."""
    import torch

    def pad(seqs):
        out = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s)
        return out, torch.tensor([len(s) for s in seqs])

    x, lengths = pad([item["x"] for item in items])
    y, y_lengths = pad([item["y"] for item in items])
    return {"x": x, "lengths": lengths, "y": y, "y_lengths": y_lengths, "target_tokens": int(y_lengths.sum())}


def targets(batch: dict) -> list[list[int]]:
    """The reference ids of each item, ``<eos>`` stripped, as the decoder's ``tokens`` are."""
    return [row[: n - 1] for row, n in zip(batch["y"].tolist(), batch["y_lengths"].tolist())]


class Reverse(Task):
    name = "reverse"
    family = "diagnostic"
    shape = "seq2seq"
    description = "Reverse a string of 3-8 random digits (encoder-decoder with attention); exact match"
    primary_metric = "exact_match"
    direction = "max"
    throughput_unit = "target tokens"
    # the decoder is the model's own core, stepped one token at a time from the encoder's state
    requires = frozenset({"causal", "stateful"})
    profiles = {
        "smoke": Profile(max_steps=20, batch_size=32, hidden_size=16, val_every=10, options=ReverseOptions()),
        "quick": Profile.for_leaderboard(
            max_steps=800,
            batch_size=64,
            hidden_size=64,
            lr=3e-3,
            val_every=100,
            param_budget=65_000,  # a GRU of width 64
            options=ReverseOptions(),
        ),
        "full": Profile(
            max_steps=5000,
            batch_size=128,
            hidden_size=128,
            val_every=500,
            seeds=5,
            options=ReverseOptions(max_len=16),
        ),
    }

    def prepare(self, profile, cache_dir):
        opts = profile.options
        splits = draw_splits(opts, {"train": 4096, "val": 256, "test": 512})

        def items(strings):
            return [{"x": [d + 3 for d in s], "y": [d + 3 for d in reversed(s)] + [EOS]} for s in strings]

        return TaskData(
            train=items(splits["train"]),
            val=items(splits["val"]),
            test={"test": items(splits["test"])},
            collate=collate,
            fingerprint=fingerprint("reverse", option_settings(opts), "v1"),
            info={"test_strings": splits["test"], "max_len": opts.max_len},
        )

    def metrics(self, data):
        from torchmetrics import MeanMetric

        return {"exact_match": MeanMetric(), "token_accuracy": MeanMetric()}

    def build(self, data, model, profile):
        import torch
        from torch import nn

        from rnnbench.seq2seq import EncoderDecoder

        exact_of_batch: list = []

        def update(metrics, out, batch):  # out["tokens"]: the decoded ids of each item, <eos> stripped
            exact, tokens = scores(out["tokens"], targets(batch))
            device = batch["y"].device
            metrics["exact_match"].update(torch.tensor(exact, device=device))
            metrics["token_accuracy"].update(torch.tensor(tokens, device=device))
            exact_of_batch[:] = exact

        def samples(net):
            digits = [1, 2, 3, 4, 5, 6, 7]
            batch = collate([{"x": [d + 3 for d in digits], "y": [EOS]}])
            batch["x"] = batch["x"].to(next(net.parameters()).device)
            decoded = net.translate(batch)[0]
            return {"1234567": "".join(str(i - 3) if i > EOS else "?" for i in decoded)}

        embed = profile.hidden_size
        return EncoderDecoder.from_model(  # both cores from model.build_core, attention between them
            model,
            src_adapter=nn.Embedding(VOCAB, embed, padding_idx=PAD),  # source ids -> [B, S, embed]
            embed_size=embed,
            vocab_size=VOCAB,  # of the target; the decoder's embedding and output head
            hidden_size=profile.hidden_size,
            num_layers=profile.num_layers,
            dropout=profile.dropout,
            update=update,
            pad_id=PAD,
            bos_id=BOS,
            eos_id=EOS,
            max_len=data.info["max_len"] + 1,
            beam_size=1,  # greedy on the test set too: one right answer, and cheap
            samples=samples,
            # per test string, what exact_match averages: its intervals and paired tests
            outcomes=lambda out, batch: {"kind": "mean", "value": list(exact_of_batch)},
        )

    def baselines(self, data):
        exact, tokens = self._copy_source(data)
        return {"copy-source": {"exact_match": sum(exact) / len(exact), "token_accuracy": sum(tokens) / len(tokens)}}

    def baseline_outcomes(self, data):
        return {"copy-source": {"value": self._copy_source(data)[0]}}

    def _copy_source(self, data):
        strings = data.info["test_strings"]
        return scores(strings, [list(reversed(s)) for s in strings])
