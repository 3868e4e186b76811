"""Plugin discovery and registration: entry points, ``--plugin`` modules, validation.

Order follows tox 4: entry points of the ``rnnbench`` group (first-party plugins are
among them), then modules named by ``RNNBENCH_PLUGINS`` and ``--plugin``, then
``check_pending()`` so that a misspelled hook is an error naming its plugin.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from rnnbench import hookspecs
from rnnbench.api import PROFILES, SHAPES, Model, Profile, Published, Task, is_slug
from rnnbench.requirements import Requirement

GROUP = "rnnbench"
ENV_VAR = "RNNBENCH_PLUGINS"
HEAVY_MODULES = ("torch", "lightning", "pytorch_lightning")
"""Modules that take seconds to import: a plugin imports them inside the functions that
use them, since every rnnbench command (``list`` too) imports every plugin."""


class PluginError(Exception):
    """A plugin could not be loaded or registered; the message is one line for the user."""


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    error: str | None = None
    heavy_import: str | None = None
    """Why importing the plugin is slow (it imports torch or lightning at its top level)."""

    @property
    def label(self) -> str:
        return f"plugin '{self.name}' ({self.distribution} {self.version})"


@dataclass
class Registry:
    tasks: dict[str, Task]
    models: dict[str, Model]
    plugins: dict[str, PluginInfo]
    owner: dict[tuple[str, str], str]
    """(kind, name) -> plugin name, for provenance and error messages."""
    spec: list[str]
    """The ``--plugin`` arguments this registry was built from (workers rebuild it)."""

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        return self.plugins[self.owner[(kind, name)]]


def parse_plugin_args(args: Iterable[str]) -> tuple[list[str], set[str]]:
    """Split ``MODULE`` / ``no:NAME`` items (env var first, then flags) into loads and blocks."""
    items = [s for s in os.environ.get(ENV_VAR, "").split(",") if s.strip()]
    items += list(args)
    loads, blocked = [], set()
    for item in (s.strip() for s in items):
        if item.startswith("no:"):
            blocked.add(item[3:])
        elif item not in loads:
            loads.append(item)
    return loads, blocked


def load(plugin_args: Iterable[str] = ()) -> Registry:
    """Discover, register and validate every plugin. Raises PluginError with one line."""
    plugin_args = list(plugin_args)
    loads, blocked = parse_plugin_args(plugin_args)
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}

    for ep in importlib.metadata.entry_points(group=GROUP):
        if ep.name in blocked or pm.get_plugin(ep.name) is not None:
            continue
        dist = ep.dist.name if ep.dist else "unknown"
        version = ep.dist.version if ep.dist else "?"
        info = PluginInfo(ep.name, ep.value, dist, version)
        infos[ep.name] = info
        try:
            module = _timed_import(ep.load, info)
        except Exception as exc:  # a broken plugin must not take the others down
            info.error = f"import failed: {type(exc).__name__}: {exc}"
            continue
        _register(pm, module, info)

    for modname in loads:
        if modname in blocked or modname in infos:
            continue
        info = PluginInfo(modname, modname, "(not installed)", "-")
        try:
            module = _timed_import(lambda: importlib.import_module(modname), info)
        except ModuleNotFoundError as exc:
            if exc.name and modname.startswith(exc.name):
                raise PluginError(f"--plugin {modname}: no such module; is it on PYTHONPATH or installed?") from None
            raise PluginError(f"--plugin {modname}: import failed: {exc}") from None
        except Exception as exc:
            raise PluginError(f"--plugin {modname}: import failed: {type(exc).__name__}: {exc}") from None
        if pm.is_registered(module):
            continue  # an installed plugin named again with -p: its entry point loaded it
        top = modname.split(".")[0]
        try:
            dist = importlib.metadata.packages_distributions().get(top, ["(not installed)"])[0]
            version = importlib.metadata.version(dist) if dist != "(not installed)" else "-"
        except Exception:
            dist, version = "(not installed)", "-"
        info.distribution, info.version = dist, version
        infos[modname] = info
        _register(pm, module, info)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        info = infos.get(pm.get_name(exc.plugin) or "", None)
        label = info.label if info else f"plugin {exc.plugin!r}"
        raise PluginError(f"{label}: {_first_line(exc)}") from None

    return _collect(pm, infos, plugin_args)


def _timed_import(load: Any, info: PluginInfo) -> Any:
    """``load()``, noting in ``info`` which heavy modules it imported and the seconds it
    took. A heavy module imported earlier (by another plugin, or a worker) is not counted:
    what matters is what this import adds to a command."""
    before = set(sys.modules)
    start = time.perf_counter()
    module = load()
    seconds = time.perf_counter() - start
    heavy = [name for name in HEAVY_MODULES if name in sys.modules and name not in before]
    if heavy:
        info.heavy_import = (
            f"imports {' and '.join(heavy)} at import time, {seconds:.1f} s added to every rnnbench command; "
            "import it inside the functions that use it"
        )
    return module


def _register(pm: pluggy.PluginManager, module: Any, info: PluginInfo) -> None:
    try:
        pm.register(module, name=info.name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"{info.label}: {_first_line(exc)}") from None
    info.hooks = sorted(h.name for h in pm.get_hookcallers(module) or [] if h.name.startswith("rnnbench_"))


def _collect(pm: pluggy.PluginManager, infos: dict[str, PluginInfo], spec: list[str]) -> Registry:
    """Gather every plugin's tasks and models. A plugin whose hook raises or returns
    something invalid is marked broken and contributes nothing, not half: one bad
    installed distribution must not stop `list`, or any run, for every other plugin."""
    tasks: dict[str, Task] = {}
    models: dict[str, Model] = {}
    owner: dict[tuple[str, str], str] = {}
    found: dict[str, list[tuple[str, Any]]] = {}
    for kind, hook, base in (("task", pm.hook.rnnbench_tasks, Task), ("model", pm.hook.rnnbench_models, Model)):
        # Call each implementation on its own so that every contribution is attributed.
        for impl in hook.get_hookimpls():
            info = infos[impl.plugin_name]
            found.setdefault(info.name, [])
            if info.error:
                continue
            try:
                contributed = impl.function()
            except Exception as exc:
                info.error = f"{hook.name}() raised {type(exc).__name__}: {_first_line(exc)}"
                continue
            if not isinstance(contributed, (list, tuple)):
                info.error = f"{hook.name}() must return a list of {base.__name__}, got {type(contributed).__name__}"
                continue
            found[info.name] += [(kind, item) for item in contributed]
    for name, info in infos.items():  # registration order: built-ins first
        if info.error or name not in found:
            continue
        staged: dict[tuple[str, str], Any] = {}
        try:
            for kind, item in found[name]:
                base = Task if kind == "task" else Model
                _validate(kind, item, base, info, {**owner, **{k: name for k in staged}})
                staged[(kind, item.name)] = item
        except PluginError as exc:
            info.error = str(exc).removeprefix(f"{info.label}: ")
            continue
        for (kind, item_name), item in staged.items():
            (tasks if kind == "task" else models)[item_name] = item
            owner[(kind, item_name)] = name
            getattr(info, f"{kind}s").append(item_name)
    return Registry(tasks, models, infos, owner, spec)


def _validate(kind: str, item: Any, base: type, info: PluginInfo, owner: dict) -> None:
    if not isinstance(item, base):
        raise PluginError(
            f"{info.label}: rnnbench_{kind}s() returned {type(item).__name__}, not an rnnbench.{base.__name__} instance"
        )
    name = item.name
    if not is_slug(name):
        raise PluginError(f"{info.label}: {kind} name {name!r} is not a slug ([a-z0-9][a-z0-9-]*)")
    if (kind, name) in owner:
        raise PluginError(f"{info.label}: {kind} '{name}' is already registered by plugin '{owner[(kind, name)]}'")
    revision = item.revision
    if not (isinstance(revision, int) and not isinstance(revision, bool) and revision >= 0):
        raise PluginError(f"{info.label}: {kind} '{name}' revision {revision!r} is not a whole number >= 0")
    if kind == "task":
        if item.shape not in SHAPES:
            raise PluginError(f"{info.label}: task '{name}' has shape {item.shape!r}, not one of {', '.join(SHAPES)}")
        if item.direction not in ("min", "max"):
            raise PluginError(f"{info.label}: task '{name}' direction must be 'min' or 'max'")
        missing = [p for p in PROFILES if p not in item.profiles]
        if missing:
            raise PluginError(f"{info.label}: task '{name}' lacks profile(s) {', '.join(missing)}")
        if not (isinstance(item.primary_metric, str) and item.primary_metric):
            raise PluginError(f"{info.label}: task '{name}' names no primary_metric")
        # doctor, the run's notes and the config hash read these as declared
        if not (isinstance(item.requirements, tuple) and all(isinstance(r, Requirement) for r in item.requirements)):
            raise PluginError(f"{info.label}: task '{name}' requirements must be a tuple of rnnbench.Requirement")
        published = item.published
        if not (isinstance(published, tuple) and all(isinstance(p, Published) for p in published)):
            raise PluginError(f"{info.label}: task '{name}' published must be a tuple of rnnbench.Published")
        unknown = sorted({p.profile for p in published if p.profile and p.profile not in item.profiles})
        if unknown:
            raise PluginError(
                f"{info.label}: task '{name}' publishes a result under profile(s) it lacks: {', '.join(unknown)}"
            )
        env = item.data_environment
        if not (isinstance(env, tuple) and all(isinstance(v, str) and v for v in env)):
            raise PluginError(
                f"{info.label}: task '{name}' data_environment must be a tuple of environment variable names"
            )
        # the family names a chart file and the profile a results folder
        family = item.family
        if family and not is_slug(family):
            raise PluginError(f"{info.label}: task '{name}' family {family!r} is not a slug ([a-z0-9][a-z0-9-]*)")
        for profile in item.profiles:
            if not is_slug(profile):
                raise PluginError(f"{info.label}: task '{name}' profile {profile!r} is not a slug ([a-z0-9][a-z0-9-]*)")
            if not isinstance(item.profiles[profile], Profile):
                raise PluginError(
                    f"{info.label}: task '{name}' profile '{profile}' is a "
                    f"{type(item.profiles[profile]).__name__}, not an rnnbench.Profile"
                )
            options = item.profiles[profile].options
            # the hashes read a dataclass's fields or a mapping's items; anything else has neither
            if not (
                isinstance(options, Mapping) or dataclasses.is_dataclass(options) and not isinstance(options, type)
            ):
                raise PluginError(
                    f"{info.label}: task '{name}' profile '{profile}' options are "
                    f"{type(options).__name__}, not a dataclass instance or a mapping"
                )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
