"""Duplicates, near-duplicates and a split by group.

The music21 corpus holds some chorales twice (one harmonisation under two BWV numbers)
and several harmonisations of one hymn tune. A test chorale whose twin, or whose tune,
is in training would test memory. So: identical piano rolls are kept once; chorales whose
soprano melodies open alike (``same_tune``) are joined into one group, transitively; and
whole groups go to one split, dealt in the order of a stable hash of their names, so
that the split does not depend on the order the files are read in.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

INCIPIT = 8
"""Soprano intervals that name a tune exactly: the first 8 melodic steps (repeated notes
merged), the same in any key."""
OUTLINE = 12
"""Soprano notes compared when a tune is varied: the first 12 (repeated notes merged)."""
VARIANT_EDITS = 2
"""Edits (a note inserted, dropped or changed) by which two outlines of one tune may
differ. An exact incipit alone missed harmonisations that vary the tune by a passing note
or an upbeat: with music21 10.5.1, bwv102.7 beside bwv90.5, bwv101.7 and bwv416 ("Vater
unser im Himmelreich"), bwv125.6 beside bwv83.5 ("Mit Fried und Freud") and bwv111.6
beside bwv92.9 fell into different splits. Two edits in twelve notes join them (406
chorales in 215 groups with the exact incipits, the largest 13), three chain unrelated
tunes into groups of 20."""
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


def outline(melody: Sequence[int], length: int = OUTLINE) -> tuple[int, ...]:
    """The opening notes of a melody relative to its last note (a chorale ends on its
    tonic), repeated notes merged: the same for a tune in any key, and an extra upbeat
    or passing note moves only one entry."""
    merged = [p for i, p in enumerate(melody) if i == 0 or p != melody[i - 1]]
    return tuple(p - merged[-1] for p in merged[:length]) if merged else ()


def edit_distance(a: Sequence[int], b: Sequence[int], cap: int) -> int:
    """Levenshtein distance, or ``cap + 1`` as soon as it must exceed ``cap``."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        if min(current) > cap:
            return cap + 1
        previous = current
    return previous[-1]


def same_tune(a: Sequence[int], b: Sequence[int]) -> bool:
    """Whether two soprano melodies open as one tune: the same incipit in any key, or
    outlines within ``VARIANT_EDITS`` of each other."""
    return tune(a) == tune(b) or edit_distance(outline(a), outline(b), VARIANT_EDITS) <= VARIANT_EDITS


def groups(names: Sequence[str], melodies: Sequence[Sequence[int]]) -> list[str]:
    """Each chorale's group: the first name (in sorted order) among the chorales joined
    to it by ``same_tune``, directly or through others."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if root(i) != root(j) and same_tune(melodies[i], melodies[j]):
                parent[root(i)] = root(j)
    first: dict[int, str] = {}
    for i in sorted(range(len(names)), key=lambda k: names[k]):
        first.setdefault(root(i), names[i])
    return [first[root(i)] for i in range(len(names))]


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
