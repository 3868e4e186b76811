"""The README's set-up (the Makefile) provides everything a built-in task declares it needs.

Checked against what the packages contain, not against this machine: a Debian path must
be in the file list of a package the Makefile installs (``dpkg -L``), so a path that only
another package's post-install script creates (as ``/usr/share/asterisk/sounds/en`` is)
fails here on every machine."""

import ast
import importlib.metadata
import re
import subprocess
from pathlib import Path

import pytest
import tomllib

from rnnbench.testing import load_registry

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins" / "rnnbench_plugins"


def apt_packages() -> list[str]:
    line = re.search(r"^APT_PACKAGES\s*:=(.*)$", (ROOT / "Makefile").read_text(), re.M)
    return line.group(1).split()


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def installed_extras() -> set[str]:
    """The extras the Makefile's pip install names, with the extras they name in turn."""
    makefile = (ROOT / "Makefile").read_text()
    todo = re.search(r'pip install -q -e "\.\[([\w,-]+)\]"', makefile).group(1).split(",")
    seen: set[str] = set()
    while todo:
        extra = todo.pop()
        if extra not in seen:
            seen.add(extra)
            for spec in PROJECT["optional-dependencies"][extra]:
                nested = re.match(r"rnnbench\[([\w,-]+)\]", spec)
                todo += nested.group(1).split(",") if nested else []
    return seen


def pip_distributions(extras: set[str] | None = None) -> set[str]:
    """Distributions the Makefile's pip install gives (or only those of ``extras``)."""
    specs = list(PROJECT["dependencies"]) if extras is None else []
    for extra in installed_extras() if extras is None else extras:
        specs += PROJECT["optional-dependencies"][extra]
    return {_normal(re.split(r"[\s<>=!~\[;]", s, maxsplit=1)[0]) for s in specs} - {"rnnbench"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dpkg_files(package: str) -> set[str]:
    run = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    assert run.returncode == 0, f"dpkg -L {package} failed ({run.stderr.strip()}); run `make setup` first"
    return set(run.stdout.split("\n"))


def builtin_requirements():
    reg = load_registry()
    for name, task in sorted(reg.tasks.items()):
        if reg.plugin_of("task", name).distribution == "rnnbench":
            for req in task.requirements:
                yield pytest.param(req, id=f"{name}:{req.name}")


@pytest.mark.parametrize("req", list(builtin_requirements()))
def test_the_setup_installs_what_each_task_needs(req):
    assert req.apt or req.pip, f"{req.name}: say which package provides it"
    if req.pip:
        extra = re.fullmatch(r"rnnbench\[([\w-]+)\]", req.pip)
        if extra is None:
            assert _normal(req.pip) in pip_distributions(), f"{req.pip} is not installed by the Makefile's pip install"
            return
        assert extra.group(1) in installed_extras(), f"the Makefile does not install {req.pip}"
        # the extra must really bring the module: its distribution is listed there
        providers = {_normal(d) for d in importlib.metadata.packages_distributions().get(req.name, [])}
        assert providers & pip_distributions({extra.group(1)}), f"{req.pip} does not list what provides {req.name}"
        return
    assert req.apt in apt_packages(), f"{req.apt} is not in the Makefile's APT_PACKAGES"
    shipped = dpkg_files(req.apt)
    if req.kind == "binary":
        assert {f"/usr/bin/{req.name}", f"/bin/{req.name}"} & shipped, f"{req.apt} ships no {req.name}"
    else:
        # the first candidate is the one the package itself puts there; the others are
        # other layouts, which may exist or not
        assert req.paths[0] in shipped, f"{req.apt} does not ship {req.paths[0]} (dpkg -L {req.apt})"


def test_every_system_path_a_plugin_names_is_a_declared_requirement():
    """A path literal in plugin code that no requirement declares is an install step nobody checks."""
    declared = {p for task in load_registry().tasks.values() for r in task.requirements for p in r.paths}
    undeclared = []
    for source in sorted(PLUGINS.rglob("*.py")):  # packages too (speech/)
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.match(r"^/(usr|var|opt|etc|srv)/", node.value)
                and not any(d == node.value or d.startswith(node.value.rstrip("/") + "/") for d in declared)
            ):
                undeclared.append(f"{source.relative_to(PLUGINS)}:{node.lineno} {node.value}")
    assert not undeclared, undeclared


def test_makefile_installs_the_pins_first_and_the_extras_the_tests_need():
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.index('"$(TORCH)"') < makefile.index('-e ".[')
    assert "pytest" in pip_distributions()


def test_every_plugin_package_is_in_the_distribution():
    """setuptools ships only the packages pyproject lists: a plugin package missing there
    works from a checkout and breaks its entry point once installed."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("rnnbench_plugins",) + init.parent.relative_to(PLUGINS).parts)
        for init in PLUGINS.rglob("__init__.py")
    }
    assert found - listed == set()


def test_the_core_imports_only_its_own_dependencies():
    """First-party tasks' data libraries are extras; the core must not need them."""
    import sys

    allowed = pip_distributions(set()) | {
        _normal(re.split(r"[\s<>=!~\[;]", s, maxsplit=1)[0]) for s in PROJECT["dependencies"]
    }
    optional = pip_distributions({"ray"})  # the ray executor imports it only when chosen
    providers = importlib.metadata.packages_distributions()
    strays = []
    for source in sorted((ROOT / "rnnbench").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                else []
            )
            for top in {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"rnnbench"}:
                dists = {_normal(d) for d in providers.get(top, [top])}
                if not dists & (allowed | optional):
                    strays.append(f"{source.relative_to(ROOT)}: {top}")
    assert not strays, strays
