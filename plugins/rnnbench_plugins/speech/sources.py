"""Where the speech audio comes from, and what the machine needs for it.

- ``espeak-ng`` speaks the training, validation and synthetic test audio across its English
  accents, voice variants, speaking rates and pitches. Voice variants are split three ways,
  so the synthetic test split is spoken only by voices the model never heard in training;
- ``asterisk-core-sounds-en-wav`` ships one woman's studio recordings of the ten digits
  (8 kHz): the real-voice test set, showing how far synthetic training transfers;
- hub datasets in the hub's audio layout (``google/speech_commands``, FSDD), decoded with
  ``soundfile`` (``datasets.Audio`` decoding needs torchcodec).

Each source ends as feature columns (``features.rows``), ready for the cache.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from rnnbench import Requirement
from rnnbench.data import DataUnavailable, hub_dataset
from rnnbench.requirements import require
from rnnbench_plugins.speech.features import SAMPLE_RATE, log_mel, read_audio, rows

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

VOICE_SPLIT = {"test": 0.15, "val": 0.10}
"""Fractions of espeak-ng's voice variants that only the test / validation splits use."""
PITCH = (10, 90)
WORD_GAP_10MS = (0, 12)
"""Extra pause between the words of a digit string, in espeak-ng's 10 ms units."""

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
REQUIREMENTS = (
    ESPEAK,
    ASTERISK_DIGITS,
    Requirement.python("soundfile", pip="rnnbench[speech]"),
    Requirement.python("librosa", pip="rnnbench[speech]"),
)


# --- espeak-ng ----------------------------------------------------------------------------


def espeak_binary() -> str:
    return require(ESPEAK)


def espeak_voices() -> tuple[str, list[str], list[str]]:
    """``(version, accents, variants)``: the English accents espeak-ng can speak by itself
    (MBROLA voices need extra packages) and the voice variants that can be put on them."""
    exe = espeak_binary()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    listing = subprocess.run([exe, "--voices=en"], capture_output=True, text=True).stdout
    accents = sorted(
        {
            line.split()[1]
            for line in listing.splitlines()[1:]
            if len(line.split()) > 4 and line.split()[4].startswith("gmw/")
        }
    )
    listing = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True).stdout
    # a variant whose file name holds a space cannot be named on the command line: skipped
    variants = sorted(set(re.findall(r"!v/(\S+)(?=\s{2,}|\s*$)", listing, flags=re.M)))
    if not accents or not variants:
        raise DataUnavailable("espeak-ng lists no English voices: sudo apt-get install --reinstall espeak-ng-data")
    return version, accents, variants


def synthesize(text: str, voice: str, speed: int, pitch: int, word_gap: int = 0):
    """espeak-ng speaking ``text``, as float32 samples at ``SAMPLE_RATE``."""
    out = subprocess.run(
        [espeak_binary(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(word_gap), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    return read_audio(out)


def split_voices(variants: list[str]) -> dict[str, list[str]]:
    """Voice variants per split, disjoint, the same on every machine with the same espeak-ng."""
    import numpy as np

    order = [variants[i] for i in np.random.default_rng(0).permutation(len(variants))]
    n_test = max(1, round(VOICE_SPLIT["test"] * len(order)))
    n_val = max(1, round(VOICE_SPLIT["val"] * len(order)))
    return {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}


def utterance_specs(
    split: str, size: int, lengths: tuple[int, int], voices, accents, seed: int, speed_wpm: tuple[int, int] = (120, 250)
) -> list[dict]:
    """What each synthetic utterance says and how: digits, voice, rate, pitch, pauses.

    Single digits cycle through 0-9 so every class is equally frequent."""
    import numpy as np

    rng = np.random.default_rng([seed, ("train", "val", "test").index(split)])
    specs = []
    for i in range(size):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        digits = [i % 10] if lengths == (1, 1) else [int(d) for d in rng.integers(0, 10, n)]
        specs.append(
            {
                "digits": digits,
                "voice": f"{accents[rng.integers(len(accents))]}+{voices[rng.integers(len(voices))]}",
                "speed": int(rng.integers(*speed_wpm)),
                "pitch": int(rng.integers(*PITCH)),
                "gap": int(rng.integers(WORD_GAP_10MS[0], WORD_GAP_10MS[1] + 1)) if n > 1 else 0,
                "seed": int(rng.integers(2**31)),
            }
        )
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


# --- the real recordings ------------------------------------------------------------------


def asterisk_digit_files() -> list[Path]:
    folder = Path(require(ASTERISK_DIGITS))
    files = [folder / f"{d}.wav" for d in range(10)]
    if not all(f.is_file() for f in files):
        raise DataUnavailable(f"{ASTERISK_DIGITS.name} in {folder} are incomplete: {ASTERISK_DIGITS.fix()}")
    return files


def asterisk_rows(features: dict) -> dict[str, list]:
    """The ten real recordings, one utterance per digit."""
    waves = [read_audio(str(f)) for f in asterisk_digit_files()]
    return rows([log_mel(w, features, d) for d, w in enumerate(waves)], [[d] for d in range(10)], ["asterisk"] * 10)


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


# --- hub datasets -------------------------------------------------------------------------


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


def hub_rows(source: dict, split: str, features: dict, limit: int = 0) -> dict[str, list]:
    feats, digits, speakers = [], [], []
    for i, (wave, digit, speaker) in enumerate(hub_digit_examples(load_hub_split(source, split))):
        if limit and i >= limit:
            break
        feats.append(log_mel(wave, features, i))
        digits.append([digit])
        speakers.append(speaker)
    return rows(feats, digits, speakers)
