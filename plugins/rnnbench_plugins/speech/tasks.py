"""The two speech tasks: what their profiles build from the sources, their nets, metrics
and baselines."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnbench import Profile, Task, TaskData
from rnnbench.data import LengthBucketedBatches, cached, epochs_for_steps, file_digest, fingerprint
from rnnbench_plugins.speech.batching import collate_digits, collate_strings
from rnnbench_plugins.speech.ctc import BLANK, decode
from rnnbench_plugins.speech.features import FEATURES, to_dataset, utterances
from rnnbench_plugins.speech.sources import (
    DIGIT_WORDS,
    PITCH,
    REQUIREMENTS,
    VOICE_SPLIT,
    WORD_GAP_10MS,
    asterisk_digit_files,
    asterisk_rows,
    espeak_voices,
    hub_rows,
    render_specs,
    spliced_asterisk_rows,
    split_voices,
    utterance_specs,
)

DATA_VERSION = "v1"


def transcript(digits) -> str:
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


@dataclass(frozen=True)
class SpeechOptions:
    source: str
    """``espeak`` (utterances synthesised here) or ``hub`` (recordings from ``hub``)."""
    sizes: dict[str, int]
    """Utterances per split; of a hub source, 0 or a missing split: all of them."""
    stack: int = 1
    """Feature frames stacked into one time step (shortens the sequences)."""
    hub: dict | None = None
    """The hub data set of a ``hub`` source, with ``splits`` naming its splits."""
    tests: dict = field(default_factory=dict)
    """Further hub test sets, by name."""
    lengths: tuple[int, int] | None = None
    """How many digits one utterance says; None: the task's own range."""


@dataclass(frozen=True, kw_only=True)
class DigitStringsOptions(SpeechOptions):
    beam_width: int
    """Of the CTC beam search at test time; 1 decodes greedily."""


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two word lists (substitutions, insertions, deletions)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def word_error_outcomes(hypotheses: list[str], references: list[str]) -> dict:
    """Per utterance: word edits and reference words, whose summed ratio is the WER."""
    return {
        "kind": "ratio",
        "num": [float(edit_distance(h.split(), r.split())) for h, r in zip(hypotheses, references)],
        "den": [float(len(r.split())) for r in references],
    }


class SpeechTask(Task):
    """What both speech tasks share: audio sources, features, caching and batching."""

    family = "speech"
    throughput_unit = "utterances"
    requirements = REQUIREMENTS
    lengths: tuple[int, int] = (1, 1)
    """How many digits one utterance says."""
    speed_wpm: tuple[int, int] = (120, 250)
    """espeak-ng speaking rates, words per minute (its default is 175)."""

    def build_tables(self, profile: Profile) -> dict[str, dict[str, list]]:
        raise NotImplementedError

    def digit_range(self, options: SpeechOptions) -> tuple[int, int]:
        return self.lengths if options.lengths is None else options.lengths

    def data_settings(self, profile: Profile) -> dict:
        opts = profile.options
        settings = {
            "version": DATA_VERSION,
            "features": FEATURES,
            "lengths": self.digit_range(opts),
            "sizes": opts.sizes,
            "source": opts.source,
            "hub": opts.hub,
            "tests": opts.tests,
            "real": file_digest(*asterisk_digit_files()),
        }
        if opts.source == "espeak":
            version, accents, variants = espeak_voices()
            settings.update(
                espeak=version,
                accents=accents,
                variants=variants,
                voice_split=VOICE_SPLIT,
                speed=self.speed_wpm,
                pitch=PITCH,
                word_gap=WORD_GAP_10MS,
            )
        return settings

    def prepare(self, profile, cache_dir):
        import datasets

        settings = self.data_settings(profile)

        def build():
            return datasets.DatasetDict({name: to_dataset(cols) for name, cols in self.build_tables(profile).items()})

        tables, fp = cached(cache_dir, self.name, settings, build)
        stack = profile.options.stack
        split = {name: utterances(tables[name], FEATURES["n_mels"], stack) for name in tables}
        test_names = ["test", "real", *[n for n in tables if n not in ("train", "val", "test", "real")]]
        batch_size = profile.batch_size
        epochs = epochs_for_steps(profile.max_steps, batch_size, len(split["train"]))
        return TaskData(
            train=LengthBucketedBatches(split["train"], batch_size, self.collate, epochs=epochs, seed=0),
            val=LengthBucketedBatches(split["val"], batch_size, self.collate),
            test={n: LengthBucketedBatches(split[n], batch_size, self.collate) for n in test_names},
            fingerprint=fingerprint(fp, stack),
            batched=True,
            shuffle=False,
            info={
                "input_size": FEATURES["n_mels"] * stack,
                # padding and stacking each batch's features costs: on a GPU two loader
                # processes collate while the training thread feeds the device
                "loader_workers": 2,
                "speakers": {n: sorted(set(tables[n]["speaker"])) for n in ("val", "test")},
            },
        )

    def espeak_tables(self, profile: Profile) -> dict[str, dict[str, list]]:
        opts = profile.options
        _, accents, variants = espeak_voices()
        voices = split_voices(variants)
        lengths = tuple(self.digit_range(opts))
        return {
            split: render_specs(
                utterance_specs(
                    split, opts.sizes[split], lengths, voices[split], accents, seed=1234, speed_wpm=self.speed_wpm
                ),
                FEATURES,
            )
            for split in ("train", "val", "test")
        }


class SpokenDigits(SpeechTask):
    name = "speech-digits"
    shape = "many-to-one"
    description = (
        "Spoken-digit classification from log-mel features; espeak-ng voices, tested on held-out "
        "voices and on a real human voice (Asterisk): accuracy"
    )
    primary_metric = "accuracy"
    readout = "mean"  # a spoken digit fills a stretch of the utterance, then silence
    direction = "max"
    collate = staticmethod(collate_digits)
    speed_wpm = (80, 250)  # down to 80: the real recordings are slow, careful speech
    profiles = {
        "smoke": Profile(
            max_steps=20,
            batch_size=16,
            hidden_size=32,
            val_every=10,
            options=SpeechOptions(source="espeak", sizes={"train": 160, "val": 40, "test": 40}, stack=2),
        ),
        # most models' validation accuracy has levelled off by step 300, but at the tuned
        # (often lower) rates 4 of 39 cells had their best at the last of 800 steps
        "quick": Profile.for_leaderboard(
            max_steps=1600,
            batch_size=32,
            hidden_size=128,
            lr=3e-3,
            val_every=100,
            param_budget=100_000,
            options=SpeechOptions(source="espeak", sizes={"train": 2000, "val": 250, "test": 400}, stack=2),
        ),
        "full": Profile(
            max_steps=30000,
            batch_size=128,
            hidden_size=256,
            num_layers=2,
            dropout=0.2,
            lr=1e-3,
            val_every=1000,
            seeds=3,
            time_limit=4 * 3600,
            options=SpeechOptions(
                source="hub",
                sizes={},
                hub={
                    "path": "google/speech_commands",
                    "name": "v0.02",
                    "revision": "refs/convert/parquet",
                    "splits": {"train": "train", "val": "validation", "test": "test"},
                },
                tests={"fsdd": {"path": "mteb/free-spoken-digit-dataset", "split": "test"}},
            ),
        ),
    }

    def build_tables(self, profile):
        opts = profile.options
        if opts.source == "espeak":
            tables = self.espeak_tables(profile)
        else:
            hub = opts.hub
            tables = {
                split: hub_rows(hub, name, FEATURES, opts.sizes.get(split, 0)) for split, name in hub["splits"].items()
            }
        tables["real"] = asterisk_rows(FEATURES)
        for name, source in opts.tests.items():
            tables[name] = hub_rows(source, source["split"], FEATURES)
        return tables

    def metrics(self, data):
        from torchmetrics.classification import MulticlassAccuracy

        return {"accuracy": MulticlassAccuracy(num_classes=10, average="micro")}

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import ManyToOne

        core = model.build_core(data.info["input_size"], profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(out, batch):
            return F.cross_entropy(out, batch["y"])

        def update(metrics, out, batch):
            metrics["accuracy"].update(out.argmax(-1), batch["y"])

        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 10))
        return ManyToOne(
            nn.Identity(),
            core,
            head,
            loss,
            update,
            self.readout,
            samples=lambda net: {"real_voice": self.predict_real(net, data)},
        )

    @staticmethod
    def predict_real(net, data) -> dict[str, str]:
        """What the model hears in each real recording: spoken digit -> predicted digit."""
        import torch

        batch = collate_digits(data.test["real"].items)
        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        with torch.no_grad():
            pred = net({k: v.to(device) for k, v in batch.items()}).argmax(-1).tolist()
        net.train(was_training)
        return {str(int(y)): str(p) for y, p in zip(batch["y"], pred)}

    def baselines(self, data):
        from collections import Counter

        majority = Counter(int(it["digits"][0]) for it in data.train.items).most_common(1)[0][0]
        scores = {}
        for name, batches in data.test.items():
            suffix = "" if name == "test" else f"_{name}"
            labels = [int(it["digits"][0]) for it in batches.items]
            scores[f"accuracy{suffix}"] = sum(y == majority for y in labels) / len(labels)
        return {"majority-class": scores, "chance": {k: 0.1 for k in scores}}

    def baseline_outcomes(self, data):
        from collections import Counter

        majority = Counter(int(it["digits"][0]) for it in data.train.items).most_common(1)[0][0]
        test = data.test["test"]  # in the order the test pass sees (length-bucketed batches)
        labels = [int(y) for i in range(len(test)) for y in test[i]["y"]]
        return {
            "majority-class": {
                "value": [float(y == majority) for y in labels],
                "pred": [float(majority)] * len(labels),
                "target": [float(y) for y in labels],
            }
        }


def _split_aware():
    from rnnbench.nets import AlignedManyToMany

    class SplitAware(AlignedManyToMany):
        """Knows which pass it is in (the trainer's ``reset_state``), to decode per split."""

        split = "test"

        def reset_state(self, split: str) -> None:
            super().reset_state(split)
            self.split = split

    return SplitAware


class DigitStrings(SpeechTask):
    name = "speech-asr"
    shape = "seq2seq"
    description = (
        "Connected digit strings spoken by espeak-ng, recognised with a CTC head; "
        "word and character error rates, also on spliced real recordings"
    )
    primary_metric = "wer"
    direction = "min"
    lengths = (1, 4)
    collate = staticmethod(collate_strings)
    profiles = {
        "smoke": Profile(
            max_steps=20,
            batch_size=16,
            hidden_size=32,
            val_every=10,
            options=DigitStringsOptions(
                source="espeak",
                sizes={"train": 120, "val": 30, "test": 30, "real": 20},
                lengths=(1, 4),
                stack=4,
                beam_width=1,
            ),
        ),
        # At a 700-step cap (11 epochs) 24 of 39 tuned cells had their best validation WER
        # at the last validation, most still falling 5-10 % a validation; 1,500 steps is 24
        # epochs of the 2,000 training strings, and early stopping ends most cells sooner.
        "quick": Profile.for_leaderboard(
            max_steps=1500,
            batch_size=32,
            hidden_size=128,
            lr=3e-3,
            val_every=100,
            param_budget=120_000,
            options=DigitStringsOptions(
                source="espeak",
                sizes={"train": 2000, "val": 200, "test": 400, "real": 100},
                lengths=(1, 4),
                stack=4,
                beam_width=1,
            ),
        ),
        "full": Profile(
            max_steps=40000,
            batch_size=64,
            hidden_size=256,
            num_layers=3,
            dropout=0.2,
            lr=1e-3,
            val_every=1000,
            seeds=3,
            time_limit=6 * 3600,
            options=DigitStringsOptions(
                source="espeak",
                lengths=(1, 7),
                sizes={"train": 60000, "val": 2000, "test": 4000, "real": 1000},
                stack=2,
                beam_width=8,
            ),
        ),
    }

    def build_tables(self, profile):
        opts = profile.options
        if opts.source != "espeak":
            raise ValueError(f"{self.name}: unknown source {opts.source!r}; connected strings come from espeak-ng")
        tables = self.espeak_tables(profile)
        tables["real"] = spliced_asterisk_rows(opts.sizes["real"], tuple(self.digit_range(opts)), FEATURES, seed=99)
        return tables

    def metrics(self, data):
        from torchmetrics import MeanMetric
        from torchmetrics.text import CharErrorRate, WordErrorRate

        return {"wer": WordErrorRate(), "cer": CharErrorRate(), "string_accuracy": MeanMetric()}

    @staticmethod
    def score(metrics, hypotheses: list[list[int]], references: list[list[int]]) -> None:
        hyp = [transcript(h) for h in hypotheses]
        ref = [transcript(r) for r in references]
        metrics["wer"].update(hyp, ref)
        metrics["cer"].update(hyp, ref)
        metrics["string_accuracy"].update([float(h == r) for h, r in zip(hyp, ref)])

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import batch_size

        _SplitAware = _split_aware()
        core = model.build_core(data.info["input_size"], profile.hidden_size, profile.num_layers, profile.dropout)
        beam_width = profile.options.beam_width

        def loss(out, batch):
            log_probs = out.log_softmax(-1).transpose(0, 1)
            # zero_infinity: a core that shortened nothing can still meet an utterance too
            # short for its string; that one contributes no gradient instead of inf
            return F.ctc_loss(
                log_probs, batch["y"], batch["lengths"], batch["y_lengths"], blank=BLANK, zero_infinity=True
            )

        nets = []
        decoded: dict = {}

        def update(metrics, out, batch):
            refs = [(y[:n] - 1).tolist() for y, n in zip(batch["y"].cpu(), batch["y_lengths"].tolist())]
            # greedy in validation, the beam search at test (as translation does): a Python
            # beam search at every validation would leave a GPU idle
            width = beam_width if nets[0].split == "test" else 1
            decoded["hyp"], decoded["ref"] = decode(out, batch["lengths"], width), refs
            self.score(metrics, decoded["hyp"], refs)

        def outcomes(out, batch):
            # the decoding that update() just scored: a beam search is not run twice
            return word_error_outcomes([transcript(h) for h in decoded["hyp"]], [transcript(r) for r in decoded["ref"]])

        net = _SplitAware(
            nn.Identity(),
            core,
            nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 11)),
            loss,
            update,
            count=batch_size,  # utterances, not the labels counted by default
            samples=lambda net: self.transcribe_examples(net, data, beam_width),
            outcomes=outcomes,
        )
        nets.append(net)
        return net

    def baseline_outcomes(self, data):
        from collections import Counter

        digit = Counter(int(d) for it in data.train.items for d in it["digits"]).most_common(1)[0][0]
        length = Counter(len(it["digits"]) for it in data.train.items).most_common(1)[0][0]
        test = data.test["test"]  # in the order the test pass sees (length-bucketed batches)
        refs = [
            transcript((y[:n] - 1).tolist())
            for batch in (test[i] for i in range(len(test)))
            for y, n in zip(batch["y"], batch["y_lengths"].tolist())
        ]
        out = {}
        for name, guess in {"empty-output": [], "most-frequent-digit-string": [digit] * length}.items():
            out[name] = word_error_outcomes([transcript(guess)] * len(refs), refs)
            del out[name]["kind"]
        return out

    @staticmethod
    def transcribe_examples(net, data, beam_width: int, n: int = 5) -> dict[str, list[dict]]:
        import torch

        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        out = {}
        with torch.no_grad():
            for name in ("test", "real"):
                items = data.test[name].items[:n]
                batch = {k: v.to(device) for k, v in collate_strings(items).items()}
                hyps = decode(net(batch, "eval"), batch["lengths"], beam_width)
                out[name] = [
                    {"reference": transcript(it["digits"]), "hypothesis": transcript(h)} for it, h in zip(items, hyps)
                ]
        net.train(was_training)
        return out

    def baselines(self, data):
        from collections import Counter

        from torchmetrics.text import CharErrorRate, WordErrorRate

        digit = Counter(int(d) for it in data.train.items for d in it["digits"]).most_common(1)[0][0]
        length = Counter(len(it["digits"]) for it in data.train.items).most_common(1)[0][0]
        guesses = {"empty-output": [], "most-frequent-digit-string": [digit] * length}
        scores: dict[str, dict[str, float]] = {name: {} for name in guesses}
        for set_name, batches in data.test.items():
            suffix = "" if set_name == "test" else f"_{set_name}"
            refs = [transcript(it["digits"]) for it in batches.items]
            for name, guess in guesses.items():
                hyp = [transcript(guess)] * len(refs)
                scores[name][f"wer{suffix}"] = float(WordErrorRate()(hyp, refs))
                scores[name][f"cer{suffix}"] = float(CharErrorRate()(hyp, refs))
                scores[name][f"string_accuracy{suffix}"] = sum(h == r for h, r in zip(hyp, refs)) / len(refs)
        return scores
