"""Speech recognition from waveforms: spoken digits (many-to-one) and digit strings (CTC).

Offline data is real speech audio made and recorded by Debian packages:

- ``espeak-ng`` speaks the training, validation and synthetic test audio across its English
  accents, voice variants, speaking rates and pitches. Voice variants are split three ways,
  so the synthetic test split is spoken only by voices the model never heard in training;
- ``asterisk-core-sounds-en-wav`` ships one woman's studio recordings of the ten digits
  (8 kHz): the real-voice test set, showing how far synthetic training transfers.

``speech-digits`` classifies one spoken digit; ``speech-asr`` transcribes connected digit
strings ("three seven one nine") with a CTC head and greedy (optionally prefix-beam)
decoding, scored by word and character error rates. Its real-voice test set splices the
Asterisk recordings into strings, so it has no coarticulation between words.

Everything runs at 8 kHz: the real recordings (and FSDD) are telephone-band audio, and a
model trained on 4-8 kHz content that real test audio cannot have would learn cues that
never transfer. Features are 40 log-mel filterbanks (25 ms windows every 10 ms, librosa)
of silence-trimmed audio with per-utterance mean and variance normalisation, which removes
a fixed channel and gain difference between a synthesiser and a microphone. They are
computed once per data setting and cached as Arrow; each utterance keeps its own frame
count, and batches pass ``lengths``, so padding never reaches the recurrent core.

The full profile trains ``speech-digits`` on the digit words of ``google/speech_commands``
and adds the Free Spoken Digit Dataset as a test set, decoding audio with ``soundfile``
(``datasets.Audio`` decoding needs torchcodec). ``speech-asr``'s full profile is the same
espeak-ng recipe at scale (1-7 digits, 60,000 strings, beam search): neither hub corpus
has connected digit strings.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.data import DataUnavailable, cached, file_digest, fingerprint, hub_dataset
from rnnbench.requirements import require

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 8000
BLANK = 0
"""CTC blank index; digit d is class d + 1."""

FEATURES = {"sample_rate": SAMPLE_RATE, "n_mels": 40, "win_ms": 25, "hop_ms": 10, "top_db": 30}
VOICE_SPLIT = {"test": 0.15, "val": 0.10}
"""Fractions of espeak-ng's voice variants that only the test / validation splits use."""
PITCH = (10, 90)
WORD_GAP_10MS = (0, 12)
"""Extra pause between the words of a digit string, in espeak-ng's 10 ms units."""
DATA_VERSION = "v1"

ESPEAK = Requirement.binary("espeak-ng", apt="espeak-ng")
ASTERISK_DIGITS = Requirement.path(
    "the real-voice digit recordings",
    # where the Debian package puts them; the shorter .../sounds/en is only an alternatives
    # link that the separate asterisk-core-sounds-en package creates
    "/usr/share/asterisk/sounds/en_US_f_Allison/digits",
    "/usr/share/asterisk/sounds/en/digits",
    "/var/lib/asterisk/sounds/en/digits",  # Asterisk installed from source
    apt="asterisk-core-sounds-en-wav",
)
REQUIREMENTS = (ESPEAK, ASTERISK_DIGITS, Requirement.python("soundfile", pip="soundfile"),
                Requirement.python("librosa", pip="librosa"))


# --- audio sources ----------------------------------------------------------------------

def espeak_binary() -> str:
    return require(ESPEAK)


def asterisk_digit_files() -> list[Path]:
    folder = Path(require(ASTERISK_DIGITS))
    files = [folder / f"{d}.wav" for d in range(10)]
    if not all(f.is_file() for f in files):
        raise DataUnavailable(f"{ASTERISK_DIGITS.name} in {folder} are incomplete: {ASTERISK_DIGITS.fix()}")
    return files


def espeak_voices() -> tuple[str, list[str], list[str]]:
    """``(version, accents, variants)``: the English accents espeak-ng can speak by itself
    (MBROLA voices need extra packages) and the voice variants that can be put on them."""
    exe = espeak_binary()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    listing = subprocess.run([exe, "--voices=en"], capture_output=True, text=True).stdout
    accents = sorted({line.split()[1] for line in listing.splitlines()[1:]
                      if len(line.split()) > 4 and line.split()[4].startswith("gmw/")})
    listing = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True).stdout
    # a variant whose file name holds a space cannot be named on the command line: skipped
    variants = sorted(set(re.findall(r"!v/(\S+)(?=\s{2,}|\s*$)", listing, flags=re.M)))
    if not accents or not variants:
        raise DataUnavailable("espeak-ng lists no English voices: sudo apt-get install --reinstall espeak-ng-data")
    return version, accents, variants


def synthesize(text: str, voice: str, speed: int, pitch: int, word_gap: int = 0):
    """espeak-ng speaking ``text``, as float32 samples at ``SAMPLE_RATE``."""
    out = subprocess.run(
        [espeak_binary(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(word_gap),
         "--stdout", text],
        capture_output=True, check=True,
    ).stdout
    return read_audio(out)


def read_audio(source):
    """Mono float32 samples at ``SAMPLE_RATE`` from WAV bytes, a path, or a hub-style
    ``{"bytes", "path"}`` audio cell, decoded with soundfile."""
    import io

    import soundfile
    import soxr

    if isinstance(source, dict):
        source = source.get("bytes") or source.get("path")
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    wave, rate = soundfile.read(source, dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if rate != SAMPLE_RATE:
        wave = soxr.resample(wave, rate, SAMPLE_RATE, quality="HQ")  # librosa's own resampler
    return wave.astype("float32")


def log_mel(wave, features: dict, seed: int = 0):
    """``[frames, n_mels]`` log-mel filterbanks of silence-trimmed audio, normalised per
    utterance. A little dither keeps digital silence from becoming ``log(0)`` outliers."""
    import librosa
    import numpy as np

    rate = features["sample_rate"]
    win, hop = rate * features["win_ms"] // 1000, rate * features["hop_ms"] // 1000
    wave = np.asarray(wave, dtype=np.float32)
    wave = wave + 1e-4 * np.random.default_rng(seed).standard_normal(len(wave), dtype=np.float32)
    trimmed, _ = librosa.effects.trim(wave, top_db=features["top_db"], frame_length=2 * win, hop_length=hop)
    if len(trimmed) >= win:
        wave = trimmed
    n_fft = 1 << (win - 1).bit_length()
    mel = librosa.feature.melspectrogram(
        y=wave, sr=rate, n_fft=n_fft, win_length=win, hop_length=hop,
        n_mels=features["n_mels"], fmin=20.0, fmax=rate / 2,
    )
    logmel = np.log(mel + 1e-10).T
    logmel = (logmel - logmel.mean(0)) / (logmel.std(0) + 1e-3)
    return logmel.astype(np.float32)


def digit_label(value, names=None) -> int | None:
    """A hub row's label as a digit 0-9, or None for a word that is not a digit.

    ``value`` is a class index into ``names`` (speech_commands), a digit (FSDD) or a word."""
    if names is not None:
        if not 0 <= int(value) < len(names):  # an unlabelled row (-1)
            return None
        value = names[int(value)]
    if isinstance(value, str):
        value = value.strip().lower()
        if value in DIGIT_WORDS:
            return DIGIT_WORDS.index(value)
        return int(value) if value.isdigit() and len(value) == 1 else None
    return int(value) if 0 <= int(value) <= 9 else None


def hub_digit_examples(ds):
    """``(wave, digit, speaker)`` for every digit row of an HF dataset in the hub's audio
    layout (an ``audio`` column of ``{"bytes", "path"}``, a ``label`` column). The hub loaders
    and the tests' local copies both come through here."""
    import datasets

    if isinstance(ds.features.get("audio"), datasets.Audio):
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
    if "audio" not in ds.column_names or "label" not in ds.column_names:
        raise ValueError(f"audio dataset needs 'audio' and 'label' columns, has {ds.column_names}")
    label = ds.features["label"]
    names = label.names if isinstance(label, datasets.ClassLabel) else None
    for row in ds:
        digit = digit_label(row["label"], names)
        if digit is not None:
            yield read_audio(row["audio"]), digit, str(row.get("speaker_id") or row.get("speaker") or "")


def load_hub_split(source: dict, split: str):
    """One split of a hub dataset described by a profile's ``source`` options."""
    kwargs = {k: v for k, v in source.items() if k in ("name", "revision", "data_files") and v is not None}
    return hub_dataset(source["path"], split=split, offline_default="the quick profile's espeak-ng data", **kwargs)


# --- synthetic utterances ---------------------------------------------------------------

def split_voices(variants: list[str]) -> dict[str, list[str]]:
    """Voice variants per split, disjoint, the same on every machine with the same espeak-ng."""
    import numpy as np

    order = [variants[i] for i in np.random.default_rng(0).permutation(len(variants))]
    n_test = max(1, round(VOICE_SPLIT["test"] * len(order)))
    n_val = max(1, round(VOICE_SPLIT["val"] * len(order)))
    return {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}


def utterance_specs(split: str, size: int, lengths: tuple[int, int], voices, accents, seed: int,
                    speed_wpm: tuple[int, int] = (120, 250)) -> list[dict]:
    """What each synthetic utterance says and how: digits, voice, rate, pitch, pauses.

    Single digits cycle through 0-9 so every class is equally frequent."""
    import numpy as np

    rng = np.random.default_rng([seed, ("train", "val", "test").index(split)])
    specs = []
    for i in range(size):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        digits = [i % 10] if lengths == (1, 1) else [int(d) for d in rng.integers(0, 10, n)]
        specs.append({
            "digits": digits,
            "voice": f"{accents[rng.integers(len(accents))]}+{voices[rng.integers(len(voices))]}",
            "speed": int(rng.integers(*speed_wpm)), "pitch": int(rng.integers(*PITCH)),
            "gap": int(rng.integers(WORD_GAP_10MS[0], WORD_GAP_10MS[1] + 1)) if n > 1 else 0,
            "seed": int(rng.integers(2**31)),
        })
    return specs


def render_specs(specs: list[dict], features: dict) -> dict[str, list]:
    """Speak and featurise the specs, several espeak-ng processes at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def render(spec):
        text = " ".join(DIGIT_WORDS[d] for d in spec["digits"])
        wave = synthesize(text, spec["voice"], spec["speed"], spec["pitch"], spec["gap"])
        return log_mel(wave, features, spec["seed"])

    # threads suffice: each one waits on its own espeak-ng process or in numpy
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        feats = list(pool.map(render, specs))
    return rows(feats, [s["digits"] for s in specs], [s["voice"] for s in specs])


def rows(feats: list, digits: list[list[int]], speakers: list[str]) -> dict[str, list]:
    return {
        "features": [f.reshape(-1) for f in feats],
        "frames": [len(f) for f in feats],
        "digits": digits,
        "speaker": speakers,
    }


def asterisk_rows(features: dict) -> dict[str, list]:
    """The ten real recordings, one utterance per digit."""
    waves = [read_audio(str(f)) for f in asterisk_digit_files()]
    return rows([log_mel(w, features, d) for d, w in enumerate(waves)], [[d] for d in range(10)],
                ["asterisk"] * 10)


def spliced_asterisk_rows(size: int, lengths: tuple[int, int], features: dict, seed: int) -> dict[str, list]:
    """Digit strings spliced from the real recordings with 50-250 ms pauses between words."""
    import librosa
    import numpy as np

    words = []
    for f in asterisk_digit_files():
        wave = read_audio(str(f))
        words.append(librosa.effects.trim(wave, top_db=features["top_db"])[0])
    rng = np.random.default_rng(seed)
    feats, digits = [], []
    for i in range(size):
        string = [int(d) for d in rng.integers(0, 10, int(rng.integers(lengths[0], lengths[1] + 1)))]
        parts = []
        for d in string:
            parts += [words[d], np.zeros(int(rng.uniform(0.05, 0.25) * SAMPLE_RATE), np.float32)]
        feats.append(log_mel(np.concatenate(parts[:-1]), features, seed + i))
        digits.append(string)
    return rows(feats, digits, ["asterisk"] * size)


def hub_rows(source: dict, split: str, features: dict, limit: int = 0) -> dict[str, list]:
    feats, digits, speakers = [], [], []
    for i, (wave, digit, speaker) in enumerate(hub_digit_examples(load_hub_split(source, split))):
        if limit and i >= limit:
            break
        feats.append(log_mel(wave, features, i))
        digits.append([digit])
        speakers.append(speaker)
    return rows(feats, digits, speakers)


def to_dataset(columns: dict[str, list]):
    import datasets

    schema = datasets.Features({
        "features": datasets.Sequence(datasets.Value("float32")),
        "frames": datasets.Value("int32"),
        "digits": datasets.Sequence(datasets.Value("int8")),
        "speaker": datasets.Value("string"),
    })
    return datasets.Dataset.from_dict(columns, features=schema)


# --- batches ------------------------------------------------------------------------------

def utterances(table, n_mels: int, stack: int) -> list[dict]:
    """Arrow rows -> ``{"x": [frames, n_mels * stack], "digits": tensor}`` items.

    ``stack`` > 1 joins that many consecutive frames into one step (a lower frame rate
    with no information lost), which shortens the recurrence on long utterances."""
    import numpy as np
    import torch

    # whole Arrow columns at once: converting row by row costs ~1 ms an utterance
    arrow = table.with_format("arrow")[:]
    features, digits = arrow.column("features").combine_chunks(), arrow.column("digits").combine_chunks()
    values = torch.from_numpy(np.array(features.values, dtype=np.float32))
    bounds = np.asarray(features.offsets)
    labels = np.asarray(digits.values).astype(np.int64)
    label_bounds = np.asarray(digits.offsets)
    items = []
    for i in range(len(arrow)):
        x = values[bounds[i]:bounds[i + 1]].view(-1, n_mels)
        if stack > 1:
            pad = (-len(x)) % stack
            x = torch.cat([x, x[-1:].expand(pad, -1)]).reshape(-1, n_mels * stack)
        items.append({"x": x, "digits": torch.from_numpy(labels[label_bounds[i]:label_bounds[i + 1]])})
    return items


def collate_digits(items: list[dict]) -> dict:
    import torch
    from torch.nn.utils.rnn import pad_sequence

    return {
        "x": pad_sequence([it["x"] for it in items], batch_first=True),
        "lengths": torch.tensor([len(it["x"]) for it in items], dtype=torch.long),
        "y": torch.stack([it["digits"][0] for it in items]),
    }


def collate_strings(items: list[dict]) -> dict:
    """Padded features and CTC targets (digit d as class d + 1; 0 is the blank)."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    return {
        "x": pad_sequence([it["x"] for it in items], batch_first=True),
        "lengths": torch.tensor([len(it["x"]) for it in items], dtype=torch.long),
        "y": pad_sequence([it["digits"] + 1 for it in items], batch_first=True, padding_value=BLANK),
        "y_lengths": torch.tensor([len(it["digits"]) for it in items], dtype=torch.long),
    }


class BucketedBatches:
    """Whole batches of utterances of similar length, as a map-style dataset.

    On the CPU, a packed batch whose lengths differ widely costs several times as much in
    the backward pass as one of equal lengths (3.5x measured for an LSTM), so each batch
    groups utterances of similar length. With a ``seed`` (training) every epoch is a fresh
    shuffle drawn from ``(seed, epoch)``, so batch ``i`` depends on ``i`` alone, whatever
    order it is asked for in; without one (evaluation) every utterance comes exactly once.
    """

    WINDOW = 50
    """Utterances are sorted by length within windows of this many batches: similar
    lengths in a batch, yet random company across the epoch."""

    def __init__(self, items: list[dict], batch_size: int, collate, epochs: int = 1, seed: int | None = None):
        self.items, self.batch_size, self.collate = items, batch_size, collate
        self.epochs, self.seed = max(1, epochs), seed
        self.lengths = [len(it["x"]) for it in items]
        self.per_epoch = len(self.epoch_plan(0))
        self._cached: tuple[int, list] | None = None

    def epoch_plan(self, epoch: int) -> list:
        import numpy as np

        rng = np.random.default_rng([self.seed, epoch]) if self.seed is not None else None
        order = rng.permutation(len(self.items)) if rng is not None else np.arange(len(self.items))
        window = self.batch_size * self.WINDOW
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start:start + window], key=lambda i: self.lengths[i])
            batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        if rng is not None:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        return batches

    def __len__(self) -> int:
        return self.per_epoch * self.epochs

    def __getitem__(self, i: int) -> dict:
        epoch, k = divmod(i, self.per_epoch)
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self.epoch_plan(epoch))
        return self.collate([self.items[j] for j in self._cached[1][k]])


# --- CTC decoding and scoring -------------------------------------------------------------

def transcript(digits) -> str:
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


def ctc_greedy_decode(log_probs, lengths) -> list[list[int]]:
    """Best class per frame, repeats merged, blanks dropped: digits per utterance.

    ``log_probs`` is ``[batch, time, classes]``; frames past ``lengths[b]`` are ignored."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for b, n in enumerate(lengths.tolist()):
        path = best[b, :n].unique_consecutive()
        out.append([int(c) - 1 for c in path if c != BLANK])
    return out


PRUNE_LOG_PROB = -9.2  # log(1e-4)


def ctc_beam_decode(log_probs, beam_width: int) -> list[int]:
    """CTC prefix beam search (Hannun et al., 2014) over one utterance's ``[time, classes]``
    log-probabilities: it sums every frame path of a transcript, which greedy decoding cannot."""
    import numpy as np

    lp = np.asarray(log_probs, dtype=np.float64)
    # each prefix holds (log P ending in blank, log P ending in its last label)
    beams = {(): (0.0, -np.inf)}
    for t in range(lp.shape[0]):
        nxt: dict[tuple, list[float]] = {}
        # the usual pruning: a label below 1e-4 at a frame almost never changes the best beam
        labels = [c for c in np.flatnonzero(lp[t] > PRUNE_LOG_PROB).tolist() if c != BLANK]

        def add(prefix, blank, label):
            cur = nxt.setdefault(prefix, [-np.inf, -np.inf])
            cur[0], cur[1] = np.logaddexp(cur[0], blank), np.logaddexp(cur[1], label)

        for prefix, (p_blank, p_label) in beams.items():
            total = np.logaddexp(p_blank, p_label)
            add(prefix, total + lp[t, BLANK], -np.inf)
            for c in labels:
                if prefix and prefix[-1] == c:
                    add(prefix, -np.inf, p_label + lp[t, c])  # a repeat merges into the label
                    add(prefix + (c,), -np.inf, p_blank + lp[t, c])  # a blank separated them
                else:
                    add(prefix + (c,), -np.inf, total + lp[t, c])
        beams = dict(sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:beam_width])
    best = max(beams.items(), key=lambda kv: np.logaddexp(*kv[1]))[0]
    return [c - 1 for c in best]


def decode(out, lengths, beam_width: int) -> list[list[int]]:
    """Digits per utterance from the CTC head's outputs: greedy for ``beam_width`` <= 1."""
    if beam_width <= 1:
        return ctc_greedy_decode(out, lengths)
    lp = out.detach().float().log_softmax(-1).cpu().numpy()
    return [ctc_beam_decode(lp[b, :n], beam_width) for b, n in enumerate(lengths.tolist())]


# --- tasks --------------------------------------------------------------------------------

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

    def data_settings(self, profile: Profile) -> dict:
        opts = profile.options
        settings = {"version": DATA_VERSION, "features": FEATURES, "lengths": opts.get("lengths", self.lengths),
                    "sizes": opts["sizes"], "source": opts["source"], "hub": opts.get("hub"),
                    "tests": opts.get("tests", {}),
                    "real": file_digest(*asterisk_digit_files())}
        if opts["source"] == "espeak":
            version, accents, variants = espeak_voices()
            settings.update(espeak=version, accents=accents, variants=variants, voice_split=VOICE_SPLIT,
                            speed=self.speed_wpm, pitch=PITCH, word_gap=WORD_GAP_10MS)
        return settings

    def prepare(self, profile, cache_dir):
        import datasets

        settings = self.data_settings(profile)

        def build():
            return datasets.DatasetDict({name: to_dataset(cols) for name, cols in self.build_tables(profile).items()})

        tables, fp = cached(cache_dir, self.name, settings, build)
        stack = profile.options.get("stack", 1)
        split = {name: utterances(tables[name], FEATURES["n_mels"], stack) for name in tables}
        test_names = ["test", "real", *[n for n in tables if n not in ("train", "val", "test", "real")]]
        batch_size = profile.batch_size
        epochs = -(-profile.max_steps * batch_size // len(split["train"]))
        return TaskData(
            train=BucketedBatches(split["train"], batch_size, self.collate, epochs=epochs, seed=0),
            val=BucketedBatches(split["val"], batch_size, self.collate),
            test={n: BucketedBatches(split[n], batch_size, self.collate) for n in test_names},
            fingerprint=fingerprint(fp, stack), batched=True, shuffle=False,
            info={"input_size": FEATURES["n_mels"] * stack,
                  "speakers": {n: sorted(set(tables[n]["speaker"])) for n in ("val", "test")}},
        )

    def espeak_tables(self, profile: Profile) -> dict[str, dict[str, list]]:
        opts = profile.options
        _, accents, variants = espeak_voices()
        voices = split_voices(variants)
        lengths = tuple(opts.get("lengths", self.lengths))
        return {split: render_specs(utterance_specs(split, opts["sizes"][split], lengths, voices[split], accents,
                                                    seed=1234, speed_wpm=self.speed_wpm), FEATURES)
                for split in ("train", "val", "test")}


class SpokenDigits(SpeechTask):
    name = "speech-digits"
    shape = "many-to-one"
    description = ("Spoken-digit classification from log-mel features; espeak-ng voices, tested on held-out "
                   "voices and on a real human voice (Asterisk): accuracy")
    primary_metric = "accuracy"
    direction = "max"
    collate = staticmethod(collate_digits)
    speed_wpm = (80, 250)  # down to 80: the real recordings are slow, careful speech
    profiles = {
        "smoke": Profile(max_steps=20, batch_size=16, hidden_size=32, val_every=10,
                         options={"source": "espeak", "sizes": {"train": 160, "val": 40, "test": 40}, "stack": 2}),
        # most models' validation accuracy has levelled off by step 300
        "quick": Profile(max_steps=300, batch_size=32, hidden_size=128, lr=3e-3, val_every=100,
                         options={"source": "espeak", "sizes": {"train": 2000, "val": 250, "test": 400},
                                  "stack": 2}),
        "full": Profile(max_steps=30000, batch_size=128, hidden_size=256, num_layers=2, dropout=0.2, lr=1e-3,
                        val_every=1000, seeds=3, time_limit=4 * 3600,
                        options={"source": "hub", "sizes": {},
                                 "hub": {"path": "google/speech_commands", "name": "v0.02",
                                         "revision": "refs/convert/parquet",
                                         "splits": {"train": "train", "val": "validation", "test": "test"}},
                                 "tests": {"fsdd": {"path": "mteb/free-spoken-digit-dataset", "split": "test"}}}),
    }

    def build_tables(self, profile):
        opts = profile.options
        if opts["source"] == "espeak":
            tables = self.espeak_tables(profile)
        else:
            hub = opts["hub"]
            tables = {split: hub_rows(hub, name, FEATURES, opts["sizes"].get(split, 0))
                      for split, name in hub["splits"].items()}
        tables["real"] = asterisk_rows(FEATURES)
        for name, source in opts.get("tests", {}).items():
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

        pool = "last" if "causal" in model.provides else "mean"
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 10))
        net = ManyToOne(nn.Identity(), core, head, loss, update, pool)
        net.samples = lambda: {"real_voice": self.predict_real(net, data)}
        return net

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


class DigitStrings(SpeechTask):
    name = "speech-asr"
    shape = "seq2seq"
    description = ("Connected digit strings spoken by espeak-ng, recognised with a CTC head; "
                   "word and character error rates, also on spliced real recordings")
    primary_metric = "wer"
    direction = "min"
    lengths = (1, 4)
    collate = staticmethod(collate_strings)
    profiles = {
        "smoke": Profile(max_steps=20, batch_size=16, hidden_size=32, val_every=10,
                         options={"source": "espeak", "sizes": {"train": 120, "val": 30, "test": 30, "real": 20},
                                  "lengths": (1, 4), "stack": 4, "beam_width": 1}),
        "quick": Profile(max_steps=300, batch_size=32, hidden_size=128, lr=3e-3, val_every=100,
                         options={"source": "espeak", "sizes": {"train": 2000, "val": 200, "test": 400, "real": 100},
                                  "lengths": (1, 4), "stack": 4, "beam_width": 1}),
        "full": Profile(max_steps=40000, batch_size=64, hidden_size=256, num_layers=3, dropout=0.2, lr=1e-3,
                        val_every=1000, seeds=3, time_limit=6 * 3600,
                        options={"source": "espeak", "lengths": (1, 7),
                                 "sizes": {"train": 60000, "val": 2000, "test": 4000, "real": 1000},
                                 "stack": 2, "beam_width": 8}),
    }

    def build_tables(self, profile):
        opts = profile.options
        if opts["source"] != "espeak":
            raise ValueError(f"{self.name}: unknown source {opts['source']!r}; connected strings come from espeak-ng")
        tables = self.espeak_tables(profile)
        tables["real"] = spliced_asterisk_rows(opts["sizes"]["real"], tuple(opts.get("lengths", self.lengths)),
                                               FEATURES, seed=99)
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

        from rnnbench.nets import AlignedManyToMany

        core = model.build_core(data.info["input_size"], profile.hidden_size, profile.num_layers, profile.dropout)
        beam_width = profile.options.get("beam_width", 1)

        def loss(out, batch):
            log_probs = out.log_softmax(-1).transpose(0, 1)
            # zero_infinity: a core that shortened nothing can still meet an utterance too
            # short for its string; that one contributes no gradient instead of inf
            return F.ctc_loss(log_probs, batch["y"], batch["lengths"], batch["y_lengths"],
                              blank=BLANK, zero_infinity=True)

        def update(metrics, out, batch):
            refs = [(y[:n] - 1).tolist() for y, n in zip(batch["y"].cpu(), batch["y_lengths"].tolist())]
            self.score(metrics, decode(out, batch["lengths"], beam_width), refs)

        net = AlignedManyToMany(nn.Identity(), core,
                                nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 11)),
                                loss, update)
        net.count = lambda batch: batch["x"].size(0)
        net.samples = lambda: self.transcribe_examples(net, data, beam_width)
        return net

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
                out[name] = [{"reference": transcript(it["digits"]), "hypothesis": transcript(h)}
                             for it, h in zip(items, hyps)]
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


@hookimpl
def rnnbench_tasks():
    return [SpokenDigits(), DigitStrings()]
