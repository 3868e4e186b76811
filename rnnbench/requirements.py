"""What a task's offline data needs from the machine, declared as data on the task.

A task lists its ``requirements`` (an executable, a file or folder, a Python module), each
with the package that provides it. The plugin locates files through its requirement, so
the path it reads and the path that ``rnnbench doctor`` and the set-up test check are the
same; ``doctor`` answers without importing torch, and the test suite checks that the
README's set-up installs every declared package and that the package really ships the
path (``dpkg -L``), whatever this machine happens to have.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from rnnbench.data import DataUnavailable

Kind = Literal["binary", "path", "python"]


@dataclass(frozen=True)
class Requirement:
    """One thing a task's offline data needs. Build it with ``binary``, ``path`` or
    ``python``; ``apt`` / ``pip`` name the package that provides it on Debian / PyPI."""

    kind: Kind
    name: str
    """The executable, the importable module, or what the file is (for messages)."""
    paths: tuple[str, ...] = ()
    """For ``path``: where it may be, in order; the first that exists is used. Put the
    location the ``apt`` package ships first; other layouts may follow."""
    apt: str | None = None
    pip: str | None = None
    """A pip requirement: a distribution, or an extra such as ``rnnbench[speech]``."""

    @classmethod
    def binary(cls, name: str, apt: str) -> "Requirement":
        return cls("binary", name, apt=apt)

    @classmethod
    def path(cls, name: str, *paths: str, apt: str) -> "Requirement":
        if not paths:
            raise ValueError(f"requirement {name!r} lists no path")
        return cls("path", name, tuple(paths), apt=apt)

    @classmethod
    def python(cls, module: str, pip: str) -> "Requirement":
        return cls("python", module, pip=pip)

    def locate(self) -> str | None:
        """Where it is on this machine, or None. Never imports the module it checks."""
        if self.kind == "binary":
            return shutil.which(self.name)
        if self.kind == "path":
            for p in self.paths:
                p = os.path.expandvars(os.path.expanduser(p))
                if os.path.exists(p):
                    return p
            return None
        spec = importlib.util.find_spec(self.name.split(".")[0])
        return spec.origin if spec is not None else None

    @property
    def what(self) -> str:
        if self.kind == "binary":
            return f"{self.name} is not installed"
        if self.kind == "python":
            return f"Python module {self.name} is not installed"
        return f"{self.name} ({self.paths[0]}) is missing"

    def fix(self) -> str:
        """The one command that provides it on this machine."""
        if self.pip:
            return f"pip install '{self.pip}'" if "[" in self.pip else f"pip install {self.pip}"
        if self.apt and _apt_installed(self.apt):
            # installed yet missing: its files were removed or another layout is expected
            return f"sudo apt-get install --reinstall {self.apt}"
        return f"sudo apt-get install {self.apt}"

    def unavailable(self) -> str:
        """One line for a task to raise (``DataUnavailable``): what is missing and the fix."""
        return f"{self.what}: {self.fix()}"


def _apt_installed(package: str) -> bool:
    try:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return status.endswith("ok installed")


def missing(requirements: tuple[Requirement, ...] | list[Requirement]) -> list[Requirement]:
    return [r for r in requirements if r.locate() is None]


def require(requirement: Requirement) -> str:
    """Its location, or ``DataUnavailable`` with the one line that says how to fix it."""
    found = requirement.locate()
    if found is None:
        raise DataUnavailable(requirement.unavailable())
    return found
