"""Bach's chorales from the music21 corpus, read into piano rolls.

The corpus ships with music21 (``music21/corpus/bach``): MusicXML files named by BWV
number, some with instrumental parts (horns, trumpets, a violin descant, continuo)
beside the four voices, plus a keyboard prelude (BWV 846), Humdrum copies of three
chorales and Roman-numeral analyses. Only MusicXML files with named or unnamed vocal
parts are read, and of those only the voices: the JSB Chorales of Boulanger-Lewandowski
et al. (2012) are four-voice harmonisations (Allan & Williams 2005).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rnnbench import Requirement

MUSIC21 = Requirement.python("music21", pip="rnnbench[music]")

LOWEST, PITCHES = 21, 88
"""MIDI 21 (A0) to 108 (C8): the 88 keys of a piano, as Boulanger-Lewandowski's rolls."""
FRAME = 1.0
"""Frame length in quarter notes: one frame per quarter note, as their JSB Chorales.
A frame holds the pitches sounding at its start (held and repeated notes look alike)."""
VOICES = ("soprano", "alto", "tenor", "bass")
EXTENSIONS = (".mxl", ".xml", ".musicxml")


@dataclass(frozen=True)
class Chorale:
    name: str
    """The file's name without its extension (``bwv269``, ``bwv248.12-2``)."""
    frames: list[list[int]]
    """Per frame, the sounding pitches as piano keys 0..87 (MIDI - 21), sorted."""
    melody: list[int]
    """The soprano's MIDI pitches, one per note onset (tied notes once, rests skipped)."""


def music21_version() -> str:
    import music21

    return music21.__version__


def chorale_files() -> list[Path]:
    """Every MusicXML file of the corpus's Bach folder, sorted by name."""
    from music21 import corpus

    return sorted((Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in EXTENSIONS), key=lambda p: p.name)


def vocal_parts(score) -> list:
    """The voices: parts named Soprano/Alto/Tenor/Bass (also "Soprano 1", or a voice part
    that names the instruments doubling it), or, where no part has a name, every part of a
    four-part score. Instrumental parts are left out; an empty list: not a chorale."""
    parts = list(score.parts)
    named = [p for p in parts if (p.partName or "").strip().lower().startswith(VOICES)]
    if named:
        return named
    if len(parts) == 4 and not any(p.partName for p in parts):
        return parts
    return []


def read(path: Path) -> Chorale | None:
    """The chorale's piano roll and soprano line; None when the file is not a chorale.
    A file music21 cannot parse (a damaged installation) raises ``DataUnavailable``."""
    from music21 import converter

    from rnnbench.data import DataUnavailable

    try:
        score = converter.parse(str(path))
    except Exception as exc:  # music21 raises its own exception classes, and others from its parsers
        raise DataUnavailable(
            f"music21 cannot read its corpus file {path} ({type(exc).__name__}: {exc}); "
            "reinstall it: pip install --force-reinstall music21"
        ) from None
    parts = vocal_parts(score)
    if not parts:
        return None
    frames = math.ceil(float(score.highestTime) / FRAME - 1e-9)
    roll: list[set[int]] = [set() for _ in range(frames)]
    for part in parts:
        for note in part.flatten().notes:
            start, length = float(note.offset), float(note.quarterLength)
            if length <= 0:  # grace notes take no time
                continue
            first = math.ceil(start / FRAME - 1e-9)
            end = start + length
            for t in range(first, frames):
                if t * FRAME >= end - 1e-9:
                    break
                for pitch in note.pitches:
                    key = int(pitch.midi) - LOWEST
                    if 0 <= key < PITCHES:
                        roll[t].add(key)
    return Chorale(path.name.rsplit(".", 1)[0], [sorted(f) for f in roll], soprano_line(parts[0]))


def soprano_line(part) -> list[int]:
    line = []
    for note in part.flatten().notes:
        tie = note.tie
        if tie is not None and tie.type in ("stop", "continue"):
            continue
        line.append(int(max(p.midi for p in note.pitches)))
    return line
