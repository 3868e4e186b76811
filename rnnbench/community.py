"""The community plugin list (``community-plugins.txt``): the plugin distributions,
published on PyPI and pinned as ``name==version``, whose cells join the committed
leaderboards. The leaderboard workflow (``make community``) installs them, then
``rnnbench run --all`` trains only the cells that have no current result: a cell whose
record has the same config hash (rnnbench's and both plugins' versions, the settings,
the data) is kept, so adding a line costs that plugin's cells and no others.

The file is read strictly, because what it names is installed on the leaderboard
machine: a line is a comment, blank, or ``name==version`` (a PEP 440 public version, an
optional ``# comment`` after it). pip options (``--index-url``, ``-e``, ``-r``), URLs,
paths, extras, markers, ranges and local versions are refused with one line naming the
line, as is a distribution already installed here that declares no rnnbench plugin (e.g.
torch: the list cannot swap the core's libraries). After installing, each one must be
installed at its version and declare an ``rnnbench`` entry point.

    python -m rnnbench.community check community-plugins.txt
    python -m rnnbench.community install community-plugins.txt
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rnnbench.registry import GROUP

LIST = "community-plugins.txt"

_CORE = {"rnnbench"}


class CommunityListError(ValueError):
    """A line of the list that cannot be used; the message is one line naming it."""


class InstallError(RuntimeError):
    """pip failed, or a listed distribution is not installed as listed afterwards."""


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    line: int

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def key(self) -> str:
        return canonical(self.name)


def canonical(name: str) -> str:
    """A distribution's name as PyPI compares names (PEP 503)."""
    return canonicalize_name(name)


def parse(text: str, source: str = LIST) -> list[Entry]:
    """The entries of a list's ``text``; raises ``CommunityListError`` at the first line
    that is not a comment, blank or ``name==version``."""
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        entry = _entry(line, number, source)
        if entry.key in seen:
            raise CommunityListError(f"{source}:{number}: {entry.name} is listed already (line {seen[entry.key]})")
        seen[entry.key] = number
        entries.append(entry)
    return entries


def _entry(line: str, number: int, source: str) -> Entry:
    where = f"{source}:{number}"
    shown = line if len(line) <= 80 else line[:77] + "..."
    if line.startswith("-"):
        raise CommunityListError(f"{where}: pip options are not allowed ({shown!r}); a line is only name==version")
    if "://" in line or "@" in line or "/" in line or "\\" in line:
        raise CommunityListError(
            f"{where}: a URL or path is not allowed ({shown!r}); publish the distribution on PyPI and pin name==version"
        )
    try:
        req = Requirement(line)
    except InvalidRequirement:
        req = None
    specs = list(req.specifier) if req else []
    if not req or req.extras or req.marker or len(specs) != 1 or specs[0].operator not in ("==", "==="):
        raise CommunityListError(f"{where}: expected name==version, a pinned PyPI distribution; got {shown!r}")
    version = specs[0].version
    try:
        exact = specs[0].operator == "==" and Version(version).local is None
    except InvalidVersion:
        exact = False
    if not exact:
        raise CommunityListError(
            f"{where}: {version!r} is not an exact public version (like 1.2.0 or 0.3.1rc1); got {shown!r}"
        )
    if canonical(req.name) in _CORE:
        raise CommunityListError(f"{where}: {req.name} is rnnbench itself, not a community plugin")
    return Entry(req.name, version, number)


def read(path: str | Path) -> list[Entry]:
    """The entries of the list at ``path`` (``CommunityListError`` for a bad line, or a
    file that cannot be read)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommunityListError(f"{path}: cannot be read: {exc}") from None
    return parse(text, str(path))


def installed(path: Sequence[str] | None = None) -> dict[str, metadata.Distribution]:
    """Installed distributions (in ``path``, default ``sys.path``) by canonical name."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=list(path)) if path is not None else metadata.distributions():
        found.setdefault(canonical(dist.metadata["Name"] or ""), dist)
    return found


def _is_plugin(dist: metadata.Distribution) -> bool:
    return any(ep.group == GROUP for ep in dist.entry_points)


def refuse_installed_non_plugins(entries: list[Entry], path: Sequence[str] | None = None, source: str = LIST) -> None:
    """Before pip runs: a listed name that is installed here and declares no rnnbench
    plugin (torch, numpy, a tool) is one of the core's libraries, not a community plugin."""
    dists = installed(path)
    for entry in entries:
        if entry.key in dists and not _is_plugin(dists[entry.key]):
            raise CommunityListError(
                f"{source}:{entry.line}: {entry.name} is installed here and declares no rnnbench plugin "
                f"(no '{GROUP}' entry point); the list is for plugin distributions only"
            )


def check_installed(entries: list[Entry], path: Sequence[str] | None = None) -> None:
    """After pip: every entry installed at its version, declaring an rnnbench plugin."""
    dists = installed(path)
    for entry in entries:
        dist = dists.get(entry.key)
        if dist is None:
            raise InstallError(f"{entry.requirement}: not installed after pip ran")
        if not _same_version(dist.version, entry.version):
            raise InstallError(f"{entry.requirement}: version {dist.version} is installed instead")
        if not _is_plugin(dist):
            raise InstallError(f"{entry.requirement}: declares no rnnbench plugin (no '{GROUP}' entry point)")


def _same_version(installed_version: str, listed: str) -> bool:
    """PEP 440 equality (``1.0`` is ``1.0.0``, as pip resolves it); a legacy version that
    does not parse must match as written."""
    try:
        return Version(installed_version) == Version(listed)
    except InvalidVersion:
        return installed_version == listed


def pip_command(entries: list[Entry], pip_options: Sequence[str] = ()) -> list[str]:
    """pip, in this interpreter's environment, installing exactly the validated pins
    (``pip_options`` come from the caller, never from the list)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        *pip_options,
        *[e.requirement for e in entries],
    ]


def install(
    entries: list[Entry],
    pip_options: Sequence[str] = (),
    path: Sequence[str] | None = None,
    source: str = LIST,
    run=subprocess.run,
) -> None:
    """Install ``entries`` with pip and check they landed; ``path`` is where to look
    for installed distributions when ``pip_options`` install elsewhere (``--target``)."""
    if not entries:
        return
    refuse_installed_non_plugins(entries, path, source)
    done = run(pip_command(entries, pip_options))
    if done.returncode != 0:
        raise InstallError(f"pip install failed (exit {done.returncode}); its output is above")
    check_installed(entries, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rnnbench.community",
        description="Check or install the community plugin list (name==version lines).",
    )
    parser.add_argument("action", choices=["check", "install"], help="check: validate only; install: pip-install")
    parser.add_argument("file", nargs="?", default=LIST, help=f"the list (default {LIST})")
    args = parser.parse_args(argv)
    try:
        entries = read(args.file)
        if args.action == "install":
            install(entries, source=args.file)
    except CommunityListError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    listed = ", ".join(e.requirement for e in entries) or "none"
    verb = "installed" if args.action == "install" and entries else "listed"
    print(f"{args.file}: {len(entries)} community plugin distribution(s) {verb}: {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
