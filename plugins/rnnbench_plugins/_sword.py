"""The SWORD Bible modules that lm-word and translation read: what the machine needs
(``mod2imp`` and each module's ``.conf``, with the Debian package that ships it), where an
installed module lives, and its verses as ``mod2imp`` exports them, cleaned to plain text."""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

from rnnbench import Requirement
from rnnbench.data import DataUnavailable
from rnnbench.requirements import require

MOD2IMP = Requirement.binary("mod2imp", apt="libsword-utils")
DATA_ENVIRONMENT = ("SWORD_PATH",)
"""A SWORD_PATH folder of other modules is other data: a task reading SWORD declares it."""
PACKAGES = {
    "engKJV2006eb": "sword-text-kjv",
    "engWEB2015eb": "sword-text-web",
    "spaRV1909eb": "sword-text-sparv",
}
SWORD_ROOTS = ("/usr/share/sword", "/usr/local/share/sword", "~/.sword")
"""Where modules are installed: by Debian, by a SWORD built from source, by SWORD's own
installers (which lower-case the module's name). ``$SWORD_PATH`` comes before them all."""


# --- what the machine needs -----------------------------------------------------------------


def unavailable(module: str) -> str:
    """One line for a module ``mod2imp`` cannot export."""
    if module in PACKAGES:
        return module_requirement(module).unavailable()
    return f"SWORD module {module} is not installed, and no package rnnbench knows of ships it"


def module_requirement(module: str) -> Requirement:
    """The module's ``.conf``: where Debian puts it first, then ``$SWORD_PATH`` (which the
    reader searches first) and SWORD's other roots."""
    debian, *others = SWORD_ROOTS
    return Requirement.path(
        f"SWORD module {module}",
        f"{debian}/mods.d/{module}.conf",
        *(f"$SWORD_PATH/mods.d/{name}.conf" for name in dict.fromkeys((module, module.lower()))),
        *(f"{root}/mods.d/{module.lower()}.conf" for root in others),
        apt=PACKAGES[module],
    )


# --- an installed module ----------------------------------------------------------------------


def sword_roots() -> list[Path]:
    roots = [os.environ["SWORD_PATH"]] if os.environ.get("SWORD_PATH") else []
    return [Path(root).expanduser() for root in roots + list(SWORD_ROOTS)]


def module_confs(module: str):
    """``(root, conf path, conf text)`` of each installed copy of the module, in search
    order. A conf is the module's when it opens the module's section: its file name
    depends on who installed it."""
    for root in sword_roots():
        for conf in sorted((root / "mods.d").glob("*.conf")):
            text = conf.read_text(encoding="utf-8", errors="replace")
            if f"[{module}]" in text:
                yield root, conf, text


def module_files(module: str) -> list[Path]:
    """The conf and data files of the first installed copy that has its data (for a
    fingerprint of the module's exact bytes); [] if none has."""
    for root, conf, text in module_confs(module):
        m = re.search(r"^DataPath=(.+)$", text, re.M)
        data_dir = root / m.group(1).strip() if m else None
        if data_dir is not None and data_dir.is_dir():
            return [conf] + sorted(p for p in data_dir.iterdir() if p.is_file())
    return []


def module_version(module: str) -> str | None:
    """The ``Version=`` of the first installed copy's conf ("unversioned" if it has none),
    None if the module is not installed."""
    for _, _, text in module_confs(module):
        found = re.search(r"^Version=(.*)$", text, re.M)
        return found.group(1).strip() if found else "unversioned"
    return None


# --- its verses -------------------------------------------------------------------------------


class Verse(NamedTuple):
    ref: str
    """``Book C:V`` as mod2imp writes it; both KJV-versified modules name a verse alike."""
    book: str
    chapter: int
    verse: int
    markup: str
    """The verse's raw OSIS markup; ``clean_osis`` makes it text."""


_VERSE_REF = re.compile(r"^(.+) (\d+):(\d+)$")


def export_module(module: str) -> str:
    """The raw ``mod2imp`` export of a module, or one line saying what to install."""
    run = subprocess.run([require(MOD2IMP), module], capture_output=True, text=True)
    if run.returncode != 0 or "$$$" not in run.stdout:
        raise DataUnavailable(unavailable(module))
    return run.stdout


def parse_imp(imp: str) -> list[Verse]:
    """Every verse of a ``mod2imp`` export, in the module's order.

    Keys look like ``$$$Genesis 1:1``; module, testament, book and chapter headings
    (chapter or verse 0) are not verses and are skipped."""
    verses = []
    key, body = None, []

    def flush():
        if key is not None:
            verses.append(Verse(*key, "\n".join(body)))

    for line in imp.split("\n"):
        if line.startswith("$$$"):
            flush()
            ref = line[3:].strip()
            m = _VERSE_REF.match(ref)
            key = (
                (ref, m.group(1), int(m.group(2)), int(m.group(3)))
                if m and int(m.group(2)) > 0 and int(m.group(3)) > 0
                else None
            )
            body = []
        else:
            body.append(line)
    flush()
    return verses


def read_verses(module: str) -> list[Verse]:
    return parse_imp(export_module(module))


_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
# Section headings are the editors', not the text; a psalm's superscription is canonical,
# verse text in every translation.
_HEADING = re.compile(r"<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>", re.S)
_SPEAKER = re.compile(r"<speaker\b[^>]*>.*?</speaker>", re.S)  # the WEB's Song of Solomon
_TAG = re.compile(r"<[^>]*>")
_USFM = re.compile(r"\\\+?[a-z]+\d*\*?")  # stray USFM markers such as \nd left in a few KJV verses


def clean_osis(markup: str) -> str:
    """One verse of OSIS markup to plain text. Footnotes, headings and speaker labels go
    before the tags, or their words would run into the verse; KJV paragraph marks (¶) go
    too. Each task keys its cache on its own cleaning version: bump it with any change here."""
    text = _SPEAKER.sub(" ", _HEADING.sub(" ", _NOTE.sub(" ", markup)))
    text = html.unescape(_USFM.sub(" ", _TAG.sub("", text))).replace("¶", " ")
    return " ".join(text.split())
