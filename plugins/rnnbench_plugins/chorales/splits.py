"""Duplicates, near-duplicates and a split by group.

The music21 corpus holds some chorales twice (one harmonisation under two BWV numbers)
and several harmonisations of one hymn tune. A test chorale whose twin, or whose tune,
is in training would test memory. So: identical piano rolls are kept once; chorales
that share the opening of their soprano melody exactly, in any key, form one group
(variants of a tune's opening escape it: ``INCIPIT``); and whole
groups go to one split, dealt in the order of a stable hash of their names, so that the
split does not depend on the order the files are read in.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

INCIPIT = 8
"""Soprano intervals that name a tune: the first 8 melodic steps (repeated notes merged).
Harmonisations of one tune share them, even in another key or with another ending;
two different tunes rarely do, and if they do they are only kept in one split.

The match is exact, so a harmonisation whose soprano varies the tune within those steps
(a passing note, a changed upbeat, the tune in the other mode) forms a group of its own
and may land in another split than its siblings. With music21 10.5.1 that happens, for
instance, to bwv102.7 (test) beside bwv90.5, bwv101.7 and bwv416 (train), all "Vater
unser im Himmelreich" (a passing note at the fifth step), and to bwv125.6 (test) beside
bwv83.5 (validation), "Mit Fried und Freud" (the eighth step). The split keeps whole
groups apart, not every tune."""
SHARES = (("train", 0.6), ("val", 0.2), ("test", 0.2))
"""JSB Chorales' 229/76/77 of 382 chorales (Allan & Williams 2005), as fractions."""


def deduplicate(names: Sequence[str], rolls: Sequence[Sequence]) -> list[int]:
    """Indices of the chorales to keep: the first of each set of identical rolls."""
    seen: set = set()
    kept = []
    for i, roll in enumerate(rolls):
        key = tuple(tuple(frame) for frame in roll)
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


def tune(melody: Sequence[int], length: int = INCIPIT) -> tuple[int, ...]:
    """The opening intervals of a melody, in semitones, repeated notes merged: the same
    for a tune in any key."""
    merged = [p for i, p in enumerate(melody) if i == 0 or p != melody[i - 1]]
    return tuple(b - a for a, b in zip(merged, merged[1:]))[:length]


def groups(names: Sequence[str], melodies: Sequence[Sequence[int]]) -> list[str]:
    """Each chorale's group: the first name (in sorted order) among the chorales that
    share its tune."""
    first: dict[tuple, str] = {}
    for name, melody in sorted(zip(names, melodies)):
        first.setdefault(tune(melody), name)
    return [first[tune(m)] for m in melodies]


def stable_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def assign(group_of: Sequence[str]) -> dict[str, str]:
    """Each group's split. Groups are taken in the order of a stable hash of their names
    (a shuffle that no run, seed or machine changes), and each goes to the split furthest
    below its share of the chorales dealt so far. A pure hash threshold would leave the
    shares to chance, and the few large groups (one tune harmonised 13 times) make that
    chance large: 262/89/55 chorales instead of 60/20/20 % of 406."""
    sizes: dict[str, int] = {}
    for g in group_of:
        sizes[g] = sizes.get(g, 0) + 1
    dealt = {split: 0 for split, _ in SHARES}
    total = 0
    out = {}
    for g in sorted(sizes, key=stable_hash):
        total += sizes[g]
        split = max(SHARES, key=lambda s: s[1] * total - dealt[s[0]])[0]
        dealt[split] += sizes[g]
        out[g] = split
    return out
