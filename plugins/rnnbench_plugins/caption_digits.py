"""One-to-many: caption a real 8×8 digit image with its spelled name, character by character.

The images are scikit-learn's ``load_digits`` with the stratified split of
``digits-vector``; the caption of digit d is ``num2words(d)`` ("seven"). Tokens are
characters, not words: a one-word caption would make the output a single token, while
spelling it makes a real sequence of 3-5 characters plus ``<eos>`` that the decoder must
emit in order. The image, projected to a vector, is the decoder's first input step (Show
and Tell); training uses teacher forcing, evaluation greedy decoding. Metrics: token
accuracy over the target positions including ``<eos>``, and exact match of the caption.
"""

from dataclasses import dataclass

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.data import fingerprint
from rnnbench_plugins._digits import PIXELS, digit_images, split_tensors
from rnnbench_plugins._labels import majority_label

PAD, EOS = "<pad>", "<eos>"


def captions(lang: str) -> list[str]:
    """The caption of each digit 0..9 in language ``lang`` (a num2words code)."""
    from num2words import num2words

    return [num2words(d, lang=lang) for d in range(10)]


def build_vocab(train_captions) -> list[str]:
    """``<pad>``, ``<eos>``, then the characters of the training captions, sorted."""
    return [PAD, EOS] + sorted(set("".join(train_captions)))


def encode(caption: str, vocab: list[str]) -> list[int]:
    index = {tok: i for i, tok in enumerate(vocab)}
    return [index[c] for c in caption] + [index[EOS]]


def decode_text(ids, vocab: list[str]) -> str:
    """Token ids up to the first ``<eos>`` as text (``<pad>`` dropped)."""
    out = []
    for i in ids:
        if vocab[i] == EOS:
            break
        if vocab[i] != PAD:
            out.append(vocab[i])
    return "".join(out)


def caption_scores(predicted: list[int], target: list[int]) -> tuple[int, int, bool]:
    """``(matching positions, target positions, exact)`` of one predicted id sequence
    against one target (both including ``<eos>``): the pure-Python definition of the
    metrics, used by the baselines and checked against torchmetrics in the tests."""
    padded = list(predicted[: len(target)]) + [0] * max(0, len(target) - len(predicted))
    hits = sum(p == t for p, t in zip(padded, target))
    return hits, len(target), hits == len(target)


def pad_captions(batch: list[dict]) -> dict:
    """Collate: stack images, pad the caption ids with ``<pad>`` (id 0), keep lengths."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    ids = [item["y"] for item in batch]
    return {
        "x": torch.stack([item["x"] for item in batch]),
        "y": pad_sequence(ids, batch_first=True, padding_value=0),
        "lengths": torch.tensor([len(i) for i in ids], dtype=torch.long),
    }


@dataclass(frozen=True)
class CaptionOptions:
    lang: str
    """The language the captions are written in."""


class CaptionDigits(Task):
    name = "caption-digits"
    family = "captioning"
    requirements = (
        Requirement.python("sklearn", pip="rnnbench[digits]"),
        Requirement.python("num2words", pip="rnnbench[digits]"),
    )
    shape = "one-to-many"
    description = "8×8 digit image (sklearn) -> its name spelled by num2words, char by char; exact match"
    primary_metric = "exact_match"
    direction = "max"
    requires = frozenset({"causal", "stateful"})
    profiles = {
        "smoke": Profile(max_steps=10, batch_size=64, hidden_size=32, val_every=5, options=CaptionOptions(lang="en")),
        "quick": Profile.for_leaderboard(
            max_steps=600,
            batch_size=64,
            hidden_size=128,
            lr=3e-3,
            val_every=50,
            param_budget=100_000,
            options=CaptionOptions(lang="en"),
        ),
        "full": Profile(
            max_steps=4000,
            batch_size=64,
            hidden_size=256,
            lr=1e-3,
            dropout=0.2,
            val_every=200,
            seeds=5,
            options=CaptionOptions(lang="en"),
        ),
    }

    def prepare(self, profile, cache_dir):
        import torch

        lang = profile.options.lang
        table, fp = digit_images(cache_dir)
        names = captions(lang)
        tensors = {split: split_tensors(table, split) for split in ("train", "val", "test")}
        train_digits = tensors["train"][1].tolist()
        vocab = build_vocab(names[d] for d in set(train_digits))
        targets = [torch.tensor(encode(name, vocab), dtype=torch.long) for name in names]
        splits = {
            split: [{"x": x, "y": targets[int(d)], "digit": int(d)} for x, d in zip(*tensors[split])]
            for split in tensors
        }
        return TaskData(
            train=splits["train"],
            val=splits["val"],
            test={"test": splits["test"]},
            fingerprint=fingerprint(fp, lang, "v1"),
            collate=pad_captions,
            info={
                "vocab": vocab,
                "captions": names,
                "train_digits": train_digits,
                "test_digits": tensors["test"][1].tolist(),
            },
        )

    def metrics(self, data):
        from torchmetrics.classification import MulticlassAccuracy, MulticlassExactMatch

        vocab_size = len(data.info["vocab"])
        # ignore_index=0 skips the <pad> positions of the targets
        return {
            "exact_match": MulticlassExactMatch(num_classes=vocab_size, ignore_index=0),
            "token_accuracy": MulticlassAccuracy(num_classes=vocab_size, average="micro", ignore_index=0),
        }

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import OneToMany

        vocab = data.info["vocab"]
        width = min(64, profile.hidden_size)
        core = model.build_core(width, profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(logits, batch):
            return F.cross_entropy(logits.flatten(0, 1), batch["y"].flatten(), ignore_index=0)

        def update(metrics, tokens, batch):
            for metric in metrics.values():
                metric.update(tokens, batch["y"])

        image_encoder = nn.Sequential(nn.Linear(PIXELS, width), nn.Tanh())
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, len(vocab)))
        examples = [data.test["test"][i] for i in range(0, len(data.test["test"]), 36)]

        def samples(net):
            import torch

            was_training = net.training
            net.eval()
            x = torch.stack([e["x"] for e in examples]).to(next(net.parameters()).device)
            decoded = net.decode(x, max(len(e["y"]) for e in examples) + 2).tolist()
            net.train(was_training)
            return {
                "captions": [
                    {"digit": e["digit"], "decoded": decode_text(ids, vocab)} for e, ids in zip(examples, decoded)
                ]
            }

        return OneToMany(
            image_encoder,
            nn.Embedding(len(vocab), width),
            core,
            head,
            loss,
            update,
            eos_id=vocab.index(EOS),
            samples=samples,
        )

    def baselines(self, data):
        names, vocab = data.info["captions"], data.info["vocab"]
        most_frequent = majority_label(data.info["train_digits"])
        guess = encode(names[most_frequent], vocab)
        hits = total = exact = 0
        for digit in data.info["test_digits"]:
            h, n, e = caption_scores(guess, encode(names[digit], vocab))
            hits, total, exact = hits + h, total + n, exact + e
        n_test = len(data.info["test_digits"])
        return {"most-frequent-caption": {"exact_match": exact / n_test, "token_accuracy": hits / total}}

    def baseline_outcomes(self, data):
        names, vocab = data.info["captions"], data.info["vocab"]
        guess = encode(names[majority_label(data.info["train_digits"])], vocab)
        exact = [float(caption_scores(guess, encode(names[d], vocab))[2]) for d in data.info["test_digits"]]
        return {"most-frequent-caption": {"value": exact}}


@hookimpl
def rnnbench_tasks():
    return [CaptionDigits()]
