"""CONTRIBUTING.md works when followed literally: its blocks run as written, in order, in
one empty folder, with ``rnnbench`` and ``python`` from this environment first on PATH.

The convention the guide states at its top, and that this test holds it to:

- a ``python`` block whose first line names a file (``# norm_gru.py``) is a module the
  reader saves: it is written to the folder under that name;
- a ``python`` block whose first line is ``# excerpt of PATH`` quotes a file of this
  repository: each run of lines between ``...`` lines must appear in PATH verbatim, in order;
- any other ``python`` block is a script: run with ``python`` in the folder;
- a ``bash`` or ``sh`` block is typed as it stands: run by ``bash -e`` in the folder (each
  block in a shell of its own, so a block sets what it needs on its own lines); in a
  ``console`` block, the lines after ``$ `` are;
- ``<!-- not run: REASON -->`` just before a block exempts it, with its reason; there may be
  only MAX_NOT_RUN such blocks;
- a ``toml`` block must parse; a block of any other language fails the test, so that no
  new kind of block escapes it.

Inline ``rnnbench ...`` spans in the prose are references, not instructions. They, and the
rnnbench command lines of every shell block (those not run too), must be valid command
lines, which rnnbench's own argument parser checks; an inline span may also just name a
sub-command.

Everything the blocks write stays under pytest's tmp_path: the folder is there, and so are
the reader's home, ``RNNBENCH_CACHE`` and the other caches.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "CONTRIBUTING.md"
MAX_NOT_RUN = 3
LANGUAGES = {
    "python": "python",
    "py": "python",
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "console": "console",
    "toml": "toml",
}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$")
FILE_LINE = re.compile(r"#\s*(?P<name>[A-Za-z_][\w.-]*\.py)\s*")
EXCERPT_LINE = re.compile(r"#\s*excerpt of\s+(?P<path>\S+)\s*")
ELISION = re.compile(r"^\s*\.\.\.,?\s*$")
BLOCK_TIMEOUT = 300


@dataclass
class Block:
    line: int
    """Of the opening fence, counting from 1."""
    language: str
    """As written after the fence."""
    text: str
    """Dedented to the fence's indentation."""
    not_run: str | None = None
    """The reason of a ``<!-- not run: ... -->`` marker before the block."""

    @property
    def kind(self) -> str:
        return LANGUAGES.get(self.language, "unknown")

    @property
    def first_line(self) -> str:
        return (self.text.splitlines() or [""])[0]

    @property
    def file_name(self) -> str | None:
        match = FILE_LINE.fullmatch(self.first_line)
        return match["name"] if self.kind == "python" and match else None

    @property
    def excerpt_of(self) -> str | None:
        match = EXCERPT_LINE.fullmatch(self.first_line)
        return match["path"] if self.kind == "python" and match else None

    def __str__(self) -> str:
        return f"CONTRIBUTING.md line {self.line}: the ```{self.language} block"


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order, with the marker before each."""
    lines = markdown.splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        assert end < len(lines), f"CONTRIBUTING.md line {i + 1}: a block that is never closed"
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : end]]
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN.match(before)
        language = opening["info"].strip().split(" ")[0].lower()
        found.append(Block(i + 1, language, "\n".join(body) + "\n", marker["reason"] if marker else None))
        i = end + 1
    return found


def prose(markdown: str) -> str:
    """The text outside fenced blocks and HTML comments."""
    lines, inside, out = markdown.splitlines(), None, []
    for line in lines:
        opening = FENCE.match(line)
        if inside is None and opening:
            inside = opening["fence"]
        elif inside is not None and line.strip() == inside:
            inside = None
        elif inside is None:
            out.append(line)
    return re.sub(r"<!--.*?-->", "", "\n".join(out), flags=re.S)


def inline_commands(markdown: str) -> list[str]:
    """Inline code spans that are rnnbench command lines (optionally after VAR=value words)."""
    spans = re.findall(r"(?<!`)`([^`]+)`(?!`)", prose(markdown))
    commands = [" ".join(span.split()) for span in spans]
    return [c for c in commands if re.match(r"(?:[A-Z_][A-Z0-9_]*=\S*\s+)*rnnbench\s", c)]


def shell_text(block: Block) -> str:
    if block.kind == "console":
        return "\n".join(line[2:] for line in block.text.splitlines() if line.startswith("$ ")) + "\n"
    return block.text


def reader_environment(tmp_path: Path) -> dict[str, str]:
    """A reader's shell: this environment's ``rnnbench`` and ``python`` first on PATH, no
    PYTHONPATH or rnnbench settings of the test run, and a home and caches under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RNNBENCH_") and k != "PYTHONPATH"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["HOME"] = str(tmp_path / "home")
    env["RNNBENCH_CACHE"] = str(tmp_path / "cache")
    env["MPLCONFIGDIR"] = str(tmp_path / "matplotlib")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["HF_DATASETS_OFFLINE"] = env["HF_HUB_OFFLINE"] = "1"
    env["OMP_NUM_THREADS"] = "1"  # two smoke cells need no more, and the suite may run beside them
    return env


def run(block: Block, argv: list[str], folder: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        argv,
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    if proc.returncode:
        output = (proc.stdout + proc.stderr)[-4000:]
        pytest.fail(f"{block} fails (exit {proc.returncode}) as written:\n{block.text}\n--- output ---\n{output}")


GUIDE_BLOCKS = blocks(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_holds_only_blocks_this_test_understands():
    unknown = [f"{b} (language {b.language or 'none'})" for b in GUIDE_BLOCKS if b.kind == "unknown"]
    assert not unknown, "blocks of a language this test does not run or check: " + "; ".join(unknown)
    not_run = [b for b in GUIDE_BLOCKS if b.not_run is not None]
    assert all(b.not_run for b in not_run), "a not-run marker without its reason"
    assert len(not_run) <= MAX_NOT_RUN, "blocks not run: " + "; ".join(f"{b}: {b.not_run}" for b in not_run)
    # the extraction finds what the guide is made of (a parser that finds nothing passes nothing)
    assert {"norm_gru.py", "parity.py", "test_plugins.py"} <= {b.file_name for b in GUIDE_BLOCKS}
    assert sum(b.kind == "shell" and b.not_run is None for b in GUIDE_BLOCKS) >= 5
    assert any(b.excerpt_of for b in GUIDE_BLOCKS)


def test_excerpts_quote_their_files_verbatim():
    for block in (b for b in GUIDE_BLOCKS if b.excerpt_of):
        source = (ROOT / block.excerpt_of).read_text(encoding="utf-8").splitlines()
        chunks, chunk = [], []
        for line in block.text.splitlines()[1:]:
            if ELISION.match(line):
                chunks, chunk = chunks + [chunk], []
            else:
                chunk.append(line)
        start = 0
        for chunk in (c for c in chunks + [chunk] if c):
            at = next((i for i in range(start, len(source)) if source[i : i + len(chunk)] == chunk), None)
            assert at is not None, f"{block}: these lines are not in {block.excerpt_of} (in this order):\n" + "\n".join(
                chunk
            )
            start = at + len(chunk)


def rnnbench_arguments(command: str) -> list[str] | None:
    """The arguments of an rnnbench command line (``rnnbench ...``, ``python -m rnnbench.cli
    ...``, also behind ``VAR=value`` words or ``python -m pdb``), None for other commands."""
    words = shlex.split(command, comments=True)
    for i, word in enumerate(words):
        if word == "rnnbench" or (word == "rnnbench.cli" and words[i - 1] == "-m"):
            return words[i + 1 :]
    return None


def refused(argv: list[str]) -> str | None:
    """Why rnnbench's argument parser refuses ``argv`` (its last line), or None."""
    from rnnbench.cli import build_parser

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code:
            return (errors.getvalue().strip().splitlines() or ["refused"])[-1]
    return None


def test_every_rnnbench_command_line_is_valid():
    """Inline ones, and those of every shell block, run or not: a not-run block's commands
    are checked this far at least."""
    inline = inline_commands(GUIDE.read_text(encoding="utf-8"))
    assert inline, "no inline rnnbench command found: has the extraction broken?"
    typed = [line for b in GUIDE_BLOCKS if b.kind in ("shell", "console") for line in shell_text(b).splitlines()]
    invalid = []
    for command in inline + typed:
        argv = rnnbench_arguments(command)
        if argv is None:
            continue
        if len(argv) == 1 and command in inline:  # a sub-command named in passing (`rnnbench show` prints)
            argv.append("--help")
        why = refused(argv)
        if why:
            invalid.append(f"`{command}`: {why}")
    assert not invalid, "command lines rnnbench refuses: " + "; ".join(invalid)


def test_the_guide_works_when_followed_literally(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    env = reader_environment(tmp_path)
    for block in GUIDE_BLOCKS:
        if block.not_run is not None or block.excerpt_of:
            continue
        if block.kind == "toml":
            tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
            tomllib.loads(block.text)
        elif block.file_name:
            (folder / block.file_name).write_text(block.text, encoding="utf-8")
        elif block.kind == "python":
            run(block, ["python", "-c", block.text], folder, env)
        else:
            run(block, ["bash", "-e", "-o", "pipefail", "-c", shell_text(block)], folder, env)
